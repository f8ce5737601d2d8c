"""Turns domain errors and invalid requests into HTTP responses with one error body.

Every error response is `{"error": {"code", "message", "fields": [{"field", "message"}]}}`.
Validation messages never echo the input value back: it may be a card number or a password.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from domain.errors import (
    Conflict,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from domain.schemas import ErrorBody, ErrorDetail, FieldError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, fields: list[FieldError] | None = None, headers=None) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, fields=fields or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(InvalidRequest, _invalid_domain_request)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(PermissionDenied, _permission_denied)
    app.add_exception_handler(TooManyRequests, _too_many_requests)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    fields = [FieldError(field=_field_name(item), message=_message(item)) for item in error.errors()]
    summary = "; ".join(f"{field.field}: {field.message}" for field in fields)
    return error_response(422, "invalid_request", f"The request is invalid. {summary}", fields)


async def _invalid_domain_request(_request: Request, error: InvalidRequest) -> JSONResponse:
    return error_response(422, "invalid_request", str(error), [FieldError(field=error.field, message=str(error))])


async def _not_found(_request: Request, error: NotFound) -> JSONResponse:
    return error_response(404, "not_found", str(error))


async def _conflict(_request: Request, error: Conflict) -> JSONResponse:
    return error_response(409, "conflict", str(error), [FieldError(field=error.field, message=str(error))])


async def _not_authenticated(_request: Request, error: NotAuthenticated) -> JSONResponse:
    # RFC 9110, 11.6.1: a 401 names the scheme that would authenticate the request.
    challenge = "Bearer" if error.scheme == "Bearer" else 'ApiKey header="X-API-Key"'
    return error_response(401, "not_authenticated", str(error), headers={"WWW-Authenticate": challenge})


async def _permission_denied(_request: Request, error: PermissionDenied) -> JSONResponse:
    fields = [FieldError(field=error.field, message=str(error))] if error.field else []
    return error_response(403, "forbidden", str(error), fields)


async def _too_many_requests(_request: Request, error: TooManyRequests) -> JSONResponse:
    return error_response(429, "too_many_requests", str(error), headers={"Retry-After": str(error.retry_after_s)})


HTTP_ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
}


async def _http_error(_request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code == 400 and isinstance(error.__cause__, UnicodeDecodeError):
        # FastAPI responds 400 to a body that is not UTF-8, which is invalid JSON like any other.
        message = "The request body is not valid JSON: send UTF-8 text."
        return error_response(422, "invalid_request", message, [FieldError(field="body", message=message)])
    code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
    return error_response(error.status_code, code, str(error.detail), headers=getattr(error, "headers", None))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("Unhandled error", extra={"path": request.url.path})
    return error_response(500, "internal_error", "An unexpected error occurred; it has been logged.")


def _field_name(item: dict) -> str:
    if item["type"] == "json_invalid":
        return "body"
    # Drop the "body"/"query"/"path" prefix and the payment method tags pydantic adds.
    location = item["loc"]
    parts = [str(part) for part in location[1:] if part not in ("card", "paypal")]
    return ".".join(parts) or str(location[0])


def _message(item: dict) -> str:
    message = item["msg"]
    return message.removeprefix("Value error, ")
