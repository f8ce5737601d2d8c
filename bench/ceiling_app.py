"""The bare HTTP ceiling: a plain ASGI app that reads the request body and returns a small JSON.

Run as `uvicorn bench.ceiling_app:app`, with the same uvicorn options as orderflow's API, so
that requests/s here is the most one uvicorn process can serve on this machine.
"""

import json

RESPONSE_BODY = json.dumps({"order_id": "0" * 32, "job_id": "0" * 32, "status_url": "/jobs/" + "0" * 32}).encode()
RESPONSE_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(RESPONSE_BODY)).encode())]


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return

    more_body = True
    while more_body:
        message = await receive()
        more_body = message.get("more_body", False)

    await send({"type": "http.response.start", "status": 200, "headers": RESPONSE_HEADERS})
    await send({"type": "http.response.body", "body": RESPONSE_BODY})


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
