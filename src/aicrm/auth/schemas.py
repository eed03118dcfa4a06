"""Request and response shapes for users, tokens and settings."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

RoleName = Literal["admin", "manager", "analyst", "agent"]


class UserCreate(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    role: RoleName
    full_name: str | None = Field(default=None, max_length=256)


class UserUpdate(BaseModel):
    role: RoleName | None = None
    full_name: str | None = Field(default=None, max_length=256)
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str | None
    role: str
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class UserPage(BaseModel):
    items: list[UserRead]
    total: int


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class SettingsRead(BaseModel):
    """The running configuration, with secrets withheld."""

    mode: str
    database: str
    secret_key_is_default: bool
    access_token_minutes: int
    session_max_age_seconds: int
    cookie_secure: bool
    login_max_failures: int
    login_window_seconds: int
    smtp_host: str
    smtp_port: int
    smtp_sender: str
    log_level: str
