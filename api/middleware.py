"""Pure ASGI middleware: the request body size limit and the security headers."""

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

# The API serves JSON only: no scripts, frames, styles or images on its responses.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": API_CSP,
}
# Responses to these paths, and to any request carrying credentials, get Cache-Control: no-store.
NO_STORE_PATHS = frozenset({"/auth/token"})
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")


class RequestBodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit.

    An HTTPException, so that FastAPI's body parsing re-raises it and the app's handler turns it
    into the 413 error body. BodySizeLimitMiddleware responds to it when it escapes the app (as
    from IdempotencyMiddleware, which reads the body outside the exception handlers).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.")


class BodySizeLimitMiddleware:
    """Respond 413 to a request body over `max_bytes`, before anything parses it.

    A Content-Length over the limit is rejected before the app runs. Bodies without one
    (chunked) are counted as they stream, and the first chunk over the limit ends the request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send, RequestBodyTooLarge(self.max_bytes))
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestBodyTooLarge as error:
            if response_started:
                raise
            await self._reject(scope, receive, send, error)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, error: RequestBodyTooLarge) -> None:
        # The rest of the body is not read, so the connection cannot be reused.
        response = error_response(413, "payload_too_large", error.detail, headers={"Connection": "close"})
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add the standard security headers to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        no_store = scope["path"] in NO_STORE_PATHS or any(name in CREDENTIAL_HEADERS for name, _value in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
