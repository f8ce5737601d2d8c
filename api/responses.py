"""OpenAPI descriptions of the error responses that the routes share."""

from domain.schemas import ErrorBody

ERRORS = {
    404: {"model": ErrorBody, "description": "Unknown id"},
    409: {"model": ErrorBody, "description": "A unique value is already taken"},
    422: {"model": ErrorBody, "description": "Invalid request; `fields` names each invalid field"},
}
