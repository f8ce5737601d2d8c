"""The synchronous peer: an order endpoint that runs every step inline before it responds.

    BENCH_USERS_API_URL=http://127.0.0.1:8000 BENCH_USERS_API_KEY=... BENCH_PEER_LATENCY_MS=50 \
        uvicorn bench.sync_peer:app

POST /orders validates the user with GET /users/{id} on an orderflow API, then sleeps
BENCH_PEER_LATENCY_MS for the charge and again for the notification, the latency that
orderflow's sandbox gateways add with GATEWAY_LATENCY_MS, and returns 200. The endpoints are
plain `def` functions, so FastAPI runs them in its thread pool as a typical synchronous
service would.
"""

import os
import time

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

USERS_API_URL = os.environ.get("BENCH_USERS_API_URL", "http://127.0.0.1:8000")
# The operator key of that API, sent as X-API-Key because GET /users/{id} needs a reader.
USERS_API_KEY = os.environ.get("BENCH_USERS_API_KEY", "")
LATENCY_S = float(os.environ.get("BENCH_PEER_LATENCY_MS", "50")) / 1000

app = FastAPI(title="orderflow sync peer")
users_api = httpx.Client(base_url=USERS_API_URL, headers={"X-API-Key": USERS_API_KEY}, timeout=10)


class PeerOrder(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_id: str


@app.get("/healthz")
def health() -> dict:
    return {"status": "ok"}


@app.post("/orders")
def submit_order(order: PeerOrder) -> dict:
    """Validate the user, charge and notify inline, then return the outcome."""
    response = users_api.get(f"/users/{order.user_id}")
    if response.status_code != 200:
        raise HTTPException(status_code=422, detail=f"user {order.user_id} not found")

    time.sleep(LATENCY_S)  # the charge
    time.sleep(LATENCY_S)  # the notification
    return {"user_id": order.user_id, "status": "completed"}
