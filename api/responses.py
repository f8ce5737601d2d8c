"""OpenAPI descriptions of the error responses, so each route declares every status it returns."""

from domain.schemas import ErrorBody

_DESCRIPTIONS = {
    401: "Missing, invalid or expired credentials; `WWW-Authenticate` names the scheme",
    403: "The credentials do not allow this request; `fields` names the field at fault",
    404: "Unknown id, or an id the caller may not see",
    409: "A unique value is already taken, or a request with this Idempotency-Key is still running",
    413: "The request body is larger than MAX_REQUEST_BODY_BYTES",
    422: "Invalid request; `fields` names each invalid field",
    429: "A rate limit is exhausted; `Retry-After` gives the seconds to wait",
}


def errors(*statuses: int) -> dict:
    """Return the `responses=` entries of route decorators for these error statuses."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses}

