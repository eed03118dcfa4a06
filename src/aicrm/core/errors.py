"""Domain errors. Services raise these; the web layer maps them to one uniform error body."""

from __future__ import annotations


class AicrmError(Exception):
    """Base of every error aicrm raises on purpose; ``hint`` says what to do next."""

    status_code = 400
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None, details: list | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or []

    def __str__(self) -> str:
        parts = [self.message, *[f"  {d}" for d in self.details[:5]]]
        if len(self.details) > 5:
            parts.append(f"  ... and {len(self.details) - 5} more")
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


class NotFoundError(AicrmError):
    status_code = 404
    code = "not_found"


class ConflictError(AicrmError):
    status_code = 409
    code = "conflict"


class ValidationFailed(AicrmError):
    status_code = 422
    code = "validation_error"


class PermissionDenied(AicrmError):
    status_code = 403
    code = "forbidden"


class AuthenticationFailed(AicrmError):
    status_code = 401
    code = "unauthorized"


class RateLimited(AicrmError):
    status_code = 429
    code = "rate_limited"


class ModelNotTrained(AicrmError):
    status_code = 409
    code = "model_not_trained"


class ImportRejected(ValidationFailed):
    """A file was refused; ``details`` lists ``{file, line, column, reason}`` for each bad row."""

    code = "import_rejected"
