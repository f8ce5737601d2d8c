"""ASGI middleware that makes POST /users, /products and /orders safe to retry.

A client sends `Idempotency-Key: <unique string>`; see domain/idempotency.py for the rules.
The request body is fingerprinted after JSON canonicalisation, so a retry that only
reorders keys or changes whitespace counts as the same request. Keys are scoped to the
caller, identified by a hash of its Authorization header (anonymous callers share one scope).
"""

import hashlib
import json
import logging

from anyio import to_thread
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from domain.errors import IdempotencyKeyReused, RequestInProgress
from domain.idempotency import MAX_KEY_LENGTH, StoredResponse
from domain.schemas import FieldError

log = logging.getLogger(__name__)

IDEMPOTENT_PATHS = frozenset({"/users", "/products", "/orders"})
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

        recorder = _ResponseRecorder(send)
        try:
            await self.app(scope, _replaying(body, receive), recorder.send)
        except BaseException:
            await to_thread.run_sync(service.release, caller, key)
            raise

        if recorder.status_code >= 500:
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
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "auth:" + hashlib.sha256(value).hexdigest()
    return "anonymous"


def _fingerprint(scope: Scope, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(scope["method"].encode() + scope["path"].encode() + b"\n" + canonical).hexdigest()


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
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
