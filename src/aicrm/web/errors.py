"""The one error handler: every error becomes ``{"error": {"code", "message", "details", "hint"}}`` (or a page)."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import quote

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from aicrm.core.errors import AicrmError

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited", 500: "internal_error"}
MACHINE_PREFIXES = ("/api", "/openapi.json", "/metrics", "/docs", "/redoc", "/static")


def _field(loc: tuple) -> tuple[str, str]:
    """``("body", "customer", "email")`` -> ("customer.email", "body")."""
    parts = [str(p) for p in loc]
    where = parts[0] if parts and parts[0] in ("body", "query", "path", "header", "cookie") else ""
    name = ".".join(parts[1:] if where else parts) or where
    return name, where


def _validation_details(exc: RequestValidationError) -> tuple[str, list[dict]]:
    details = []
    for err in exc.errors():
        name, where = _field(tuple(err.get("loc", ())))
        details.append({"field": name, "location": where, "message": err.get("msg", "invalid"),
                        "type": err.get("type", "")})
    if not details:
        return "The request is not valid.", details
    first = details[0]
    more = f" (and {len(details) - 1} more problem(s))" if len(details) > 1 else ""
    return f"Invalid {first['location'] or 'value'} field '{first['field']}': {first['message']}{more}.", details


def describe(exc: Exception) -> tuple[int, str, str, list, str | None, dict[str, str]]:
    """(status, code, message, details, hint, headers) for any exception."""
    headers: dict[str, str] = {}
    if isinstance(exc, AicrmError):
        status, code, message, details, hint = exc.status_code, exc.code, exc.message, exc.details, exc.hint
        if getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, RequestValidationError):
        status, code, hint = 422, "validation_error", "Fix the named field(s) and send the request again."
        message, details = _validation_details(exc)
    elif isinstance(exc, StarletteHTTPException):
        status = exc.status_code
        code = HTTP_CODES.get(status, "error")
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        message = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else {
            404: "Nothing here: no such page or endpoint.",
            405: "This endpoint does not accept that HTTP method."}.get(status, phrase)
        details, hint = [], ("See /docs for the endpoints." if status in (404, 405) else None)
        headers.update(exc.headers or {})
    else:
        status, code, details = 500, "internal_error", []
        message = "Something went wrong on the server; the request was not completed."
        hint = "Try again; if it persists, the server log has the details."
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return status, code, message, details, hint, headers


def wants_page(request: Request) -> bool:
    """Whether this request came from a person's browser page rather than an API client."""
    if request.url.path.startswith(MACHINE_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "") or "hx-request" in request.headers


async def handle_error(request: Request, exc: Exception) -> Response:
    """Map any error to the uniform JSON body, or to a page / redirect for the dashboard."""
    status, code, message, details, hint, headers = describe(exc)
    if wants_page(request):
        if status == 401:
            target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            if "hx-request" in request.headers:
                return Response(status_code=204, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        templates = getattr(request.app.state, "templates", None)
        if templates is not None:
            from aicrm.web.pages import page_context

            context = page_context(request, user=getattr(request.state, "user", None))
            context.update(status=status, code=code, message=message, hint=hint)
            template = "_error_fragment.html" if "hx-request" in request.headers else "error.html"
            return templates.TemplateResponse(request, template, context, status_code=status, headers=headers)
    body = {"error": {"code": code, "message": message, "details": details, "hint": hint}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)
