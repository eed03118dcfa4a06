"""The FastAPI application factory: REST API, dashboard pages, docs, metrics, one error handler."""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from aicrm import __version__
from aicrm.auth.ratelimit import SlidingWindowLimiter
from aicrm.core.config import Settings, get_settings
from aicrm.core.db import get_engine
from aicrm.core.errors import AicrmError
from aicrm.core.migrate import ensure_schema
from aicrm.web import filters
from aicrm.web.errors import handle_error
from aicrm.web.metrics import Metrics, MetricsMiddleware, SecurityHeadersMiddleware
from aicrm.web.routes import route_templates

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "aicrm_session"

# Routers mounted by the app, as "module:attribute". Add a domain's router here; an entry in OPTIONAL_ROUTERS is
# skipped while its module does not exist yet (the assistant adds ``aicrm/assistant/router.py`` later).
ROUTERS: list[str] = [
    "aicrm.auth.router:router",
    "aicrm.customers.router:router",
    "aicrm.orders.router:router",
    "aicrm.products.router:router",
    "aicrm.feedback.router:router",
    "aicrm.support.router:router",
    "aicrm.ml.router:router",
    "aicrm.assistant.router:router",
    "aicrm.web.pages:router",
]
OPTIONAL_ROUTERS: set[str] = {"aicrm.assistant.router:router"}

DESCRIPTION = """The aicrm REST API. Sign in with `POST /api/auth/token` (OAuth2 password form: `username` is the
e-mail) and send `Authorization: Bearer <token>`. Every list takes `limit`/`offset` and `format=csv`;
`/api/customers` also pages with a cursor (pass the page's `next_after` as `after`), as fast on the last page as on
the first. Errors always look like `{"error": {"code", "message", "details", "hint"}}`. The dashboard is at `/`."""


def include_routers(app: FastAPI, specs: list[str]) -> None:
    """Mount each ``module:attribute`` router (missing optional modules are skipped)."""
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if spec in OPTIONAL_ROUTERS and importlib.util.find_spec(module_name) is None:
            continue
        app.include_router(getattr(importlib.import_module(module_name), attr or "router"))


class VendorAsset:
    """A large third-party script served from an installed package, gzip-compressed once and cached by browsers."""

    def __init__(self, path: Path, media_type: str = "application/javascript") -> None:
        self.path = path
        self.media_type = media_type
        self._raw: bytes | None = None
        self._gz: bytes | None = None
        self.etag = ""

    def response(self, request: Request) -> Response:
        if self._raw is None:
            self._raw = self.path.read_bytes()
            self._gz = gzip.compress(self._raw, compresslevel=6)
            self.etag = '"' + hashlib.sha256(self._raw).hexdigest()[:16] + '"'
        headers = {"Cache-Control": "public, max-age=86400", "ETag": self.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(self._gz, media_type=self.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(self._raw, media_type=self.media_type, headers=headers)


def _docs_assets() -> Path:
    """Swagger UI and ReDoc bundles shipped by the ``fastapi-offline`` package (no CDN at run time)."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def create_app(engine: Engine | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The aicrm web application over ``engine`` (default: the configured store), schema brought up to date."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    ensure_schema(engine=engine)
    from aicrm.auth import service as auth_service

    with Session(engine) as session:
        auth_service.ensure_roles(session=session)

    app = FastAPI(title="aicrm", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", swagger_ui_oauth2_redirect_url=None)
    cookie_secure = settings.cookie_secure if settings.cookie_secure is not None else settings.mode != "local"
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.cookie_secure = cookie_secure
    app.state.login_limiter = SlidingWindowLimiter(max_events=settings.login_max_failures,
                                                   window_seconds=settings.login_window_seconds)
    app.state.templates = templates = Jinja2Templates(directory=str(HERE / "templates"))
    filters.register(templates.env)
    app.state.metrics = metrics = Metrics(engine)

    for exc_type in (AicrmError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, handle_error)

    include_routers(app, ROUTERS)
    _add_operational_routes(app, engine)

    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie=SESSION_COOKIE,
                       max_age=settings.session_max_age_seconds, same_site="lax", https_only=cookie_secure)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics,  # added last = outermost: times everything
                       templates=lambda: route_templates(app))
    return app


def _add_operational_routes(app: FastAPI, engine: Engine) -> None:
    plotly_js = VendorAsset(Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")))

    @app.get("/api/health", tags=["health"])
    def health() -> JSONResponse:
        """Liveness and store reachability (no sign-in needed)."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except Exception:  # report, do not raise: a health check must answer
            database = "unreachable"
        return JSONResponse({"status": "ok" if database == "ok" else "degraded", "database": database,
                             "version": __version__}, status_code=200 if database == "ok" else 503)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        body, content_type = app.state.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="aicrm API",
                                   swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static/docs/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg",
                                   swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/redoc", include_in_schema=False)
    def redoc():
        return get_redoc_html(openapi_url="/openapi.json", title="aicrm API",
                              redoc_js_url="/static/docs/redoc.standalone.js",
                              redoc_favicon_url="/static/favicon.svg", with_google_fonts=False)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_bundle(request: Request) -> Response:
        return plotly_js.response(request)

    app.mount("/static/docs", StaticFiles(directory=_docs_assets()), name="docs-static")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
