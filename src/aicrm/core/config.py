"""One typed settings object for the whole product."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "local-development-secret-change-me"


class Settings(BaseSettings):
    """Settings read from the environment (prefix ``AICRM_``) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="AICRM_", env_file=".env", extra="ignore")

    mode: str = "local"  # local | production
    database_url: str = "sqlite:///./aicrm.db"
    secret_key: str = DEFAULT_SECRET
    data_dir: Path = Path(".aicrm")
    access_token_minutes: int = 60 * 8
    # Web sessions: signed cookie; Secure by default outside local mode (None = decide from mode).
    session_max_age_seconds: int = 60 * 60 * 8
    cookie_secure: bool | None = None
    # Failed logins allowed per (username, client address) within the sliding window.
    login_max_failures: int = 5
    login_window_seconds: int = 300
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "crm@localhost"
    log_level: str = "INFO"
    # Support assistant: "auto" uses sentence embeddings when the nlp extra is installed, "0" forces TF-IDF, "1"
    # requires embeddings; warm_up builds the models in the background at server start.
    assistant_embeddings: str = "auto"
    assistant_warm_up: bool = True
    assistant_torch_threads: str = "one"  # "one" while encoding a single message, or "default"
    # Recommendations: categories customers buy again (consumables) and at most this many per category.
    rebuy_categories: list[str] = ["Tea", "Coffee"]
    max_recommendations_per_category: int = 4

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        # A default secret outside local mode would let anyone forge sessions and tokens.
        if self.mode != "local" and self.secret_key == DEFAULT_SECRET:
            raise ValueError("AICRM_SECRET_KEY must be set to a private value outside local mode")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` after changing the environment)."""
    return Settings()
