"""Domain errors; the API maps each to one HTTP status and the JSON error shape."""


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """Also what another tenant's id looks like: never reveal that it exists."""

    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class Invalid(DomainError):
    code = "invalid"


class TooLarge(DomainError):
    """A body or file over a configured size limit (HTTP 413)."""

    code = "too_large"


class UnsupportedType(DomainError):
    """A content type we do not accept here (HTTP 415)."""

    code = "unsupported_media_type"
