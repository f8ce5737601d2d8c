"""ASGI middleware that makes POST /users, /products and /orders safe to retry.

A client sends `Idempotency-Key: <unique string>`; see domain/idempotency.py for the rules.
The request body is fingerprinted after JSON canonicalisation, so a retry that only
reorders keys or changes whitespace counts as the same request. Keys are scoped to the
caller: the user of a valid access token (so a retry with a new token still matches), else
the operator, else a hash of the credentials sent. Anonymous callers share one scope.
"""

import hashlib
import json
import logging

from anyio import to_thread
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from domain.errors import IdempotencyKeyReused, NotAuthenticated, RequestInProgress
from domain.idempotency import MAX_KEY_LENGTH, IdempotencyClaim, StoredResponse
from domain.schemas import FieldError

log = logging.getLogger(__name__)

IDEMPOTENT_PATHS = frozenset({"/users", "/products", "/orders"})
# Name under request.state of the claim a route may complete in its own transaction.
STATE_KEY = "idempotency_claim"
HEADER = "Idempotency-Key"
# Response headers worth replaying; the rest (date, length) are regenerated.
REPLAYED_HEADERS = ("location", "retry-after")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _idempotency_key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return

        if not 0 < len(key) <= MAX_KEY_LENGTH:
            message = f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters long"
            await error_response(422, "invalid_request", message, [FieldError(field=HEADER, message=message)])(scope, receive, send)
            return

        body = await _read_body(receive)
        if body is None:
            log.info("Client disconnected before sending the whole body", extra={"path": scope["path"]})
            return
        await self._handle(scope, receive, send, key, body)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, key: str, body: bytes) -> None:
        service = scope["app"].state.container.idempotency
        caller = _caller(scope)

        try:
            stored = await to_thread.run_sync(service.claim, caller, key, _fingerprint(scope, body))
        except IdempotencyKeyReused as error:
            await error_response(422, "idempotency_key_reused", str(error), [FieldError(field=HEADER, message=str(error))])(scope, _no_body, send)
            return
        except RequestInProgress as error:
            await error_response(409, "request_in_progress", str(error), headers={"Retry-After": "1"})(scope, _no_body, send)
            return

        if stored is not None:
            await _replay(stored, scope, send)
            return

        # Routes that create something store their response in the same transaction (see
        # OrderService.submit), so a crash after that commit cannot run the request twice.
        scope.setdefault("state", {})[STATE_KEY] = IdempotencyClaim(caller, key)
        recorder = _ResponseRecorder(send)
        try:
            await self.app(scope, _replaying(body, receive), recorder.send)
        except BaseException:
            await to_thread.run_sync(service.release, caller, key)
            raise

        # A server error or an exhausted rate limit is not the request's result, so the key is
        # released and a retry with it runs the request again.
        if recorder.status_code >= 500 or recorder.status_code == 429:
            await to_thread.run_sync(service.release, caller, key)
        else:
            await to_thread.run_sync(service.complete, caller, key, recorder.stored())


class _ResponseRecorder:
    """Passes the response on to the client and keeps a copy to store."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status_code = 500
        self.headers: dict[str, str] = {}
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status_code = message["status"]
            self.headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))
        await self._send(message)

    def stored(self) -> StoredResponse:
        headers = {name: self.headers[name] for name in REPLAYED_HEADERS if name in self.headers}
        body = json.loads(self.body) if self.body else None
        return StoredResponse(self.status_code, body, headers)


async def _replay(stored: StoredResponse, scope: Scope, send: Send) -> None:
    response = JSONResponse(stored.body, status_code=stored.status_code, headers=stored.headers | {"Idempotent-Replayed": "true"})
    await response(scope, _no_body, send)


def _idempotency_key(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in IDEMPOTENT_PATHS:
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            return value.decode("latin-1")
    return None


def _caller(scope: Scope) -> str:
    container = scope["app"].state.container
    authorization = _header(scope, b"authorization")
    api_key = _header(scope, b"x-api-key")

    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() == b"bearer" and token:
        try:
            return "user:" + container.tokens.user_id(token.decode("latin-1"))
        except NotAuthenticated:
            pass
    if api_key and container.operator_key.matches(api_key.decode("latin-1")):
        return "operator"
    if authorization or api_key:
        return "credentials:" + hashlib.sha256(authorization + b"\n" + api_key).hexdigest()
    return "anonymous"


def _header(scope: Scope, name: bytes) -> bytes:
    for header, value in scope["headers"]:
        if header == name:
            return value
    return b""


def _fingerprint(scope: Scope, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        # Not JSON, or nested too deeply to parse: the raw bytes identify the request.
        canonical = body
    return hashlib.sha256(scope["method"].encode() + scope["path"].encode() + b"\n" + canonical).hexdigest()


async def _read_body(receive: Receive) -> bytes | None:
    """Read the whole request body; None if the client disconnected before its end."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            return bytes(body)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app once, then pass through (to see a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
