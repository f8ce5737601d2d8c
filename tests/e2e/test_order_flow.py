"""The whole stack as separate processes, driven over HTTP like a shop's front-end would."""

import asyncio
import time

import httpx
import pytest

from tests.builders import DECLINED_CARD, card, product_fields, user_fields

pytestmark = pytest.mark.e2e

JOB_DEADLINE_S = 60


@pytest.fixture
def client(stack):
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        yield client


def create(client: httpx.Client, path: str, body: dict) -> dict:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_job(client: httpx.Client, status_url: str) -> dict:
    deadline = time.monotonic() + JOB_DEADLINE_S
    while time.monotonic() < deadline:
        response = client.get(status_url)
        job = response.json()
        if job["state"] in ("succeeded", "failed"):
            assert "retry-after" not in response.headers
            return job
        assert "retry-after" in response.headers
        time.sleep(0.1)
    raise AssertionError(f"job {status_url} did not finish within {JOB_DEADLINE_S} s")


def submit(client: httpx.Client, user: dict, product: dict, quantity: int, payment: dict) -> dict:
    response = client.post("/orders", json={"user_id": user["id"], "items": [{"sku": product["sku"], "quantity": quantity}], "payment": payment})
    assert response.status_code == 202, response.text
    return response.json()


def test_approved_order_completes_with_mail(client, stack):
    user = create(client, "/users", user_fields())
    product = create(client, "/products", product_fields(price="3.39", stock=10))

    accepted = submit(client, user, product, 3, card())
    job = wait_for_job(client, accepted["status_url"])

    assert job["state"] == "succeeded"
    order = client.get(f"/orders/{accepted['order_id']}").json()
    assert (order["status"], order["total"], order["payment"]["last4"]) == ("completed", "10.17", "4242")
    mails = [mail for mail in stack.smtp.wait_for(1) if accepted["order_id"] in mail.subject]
    assert [mail.rcpt_tos for mail in mails] == [(user["email"],)]


def test_declined_card_restores_stock(client):
    user = create(client, "/users", user_fields())
    product = create(client, "/products", product_fields(stock=4))

    job = wait_for_job(client, submit(client, user, product, 4, card(DECLINED_CARD))["status_url"])

    assert (job["state"], job["error"]) == ("failed", "payment declined: card_declined")
    assert client.get(f"/products/{product['id']}").json()["stock"] == 4


def test_disabled_user_fails_validation(client):
    user = create(client, "/users", user_fields())
    assert client.patch(f"/users/{user['id']}", json={"active": False}).status_code == 200
    product = create(client, "/products", product_fields(stock=4))

    job = wait_for_job(client, submit(client, user, product, 1, card())["status_url"])

    assert (job["state"], job["error"]) == ("failed", "user is disabled")
    assert client.get(f"/products/{product['id']}").json()["stock"] == 4


def test_twenty_concurrent_orders_sell_five(client, stack):
    product = create(client, "/products", product_fields(stock=5))
    users = [create(client, "/users", user_fields()) for _number in range(20)]

    async def submit_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as session:
            responses = await asyncio.gather(
                *(session.post("/orders", json={"user_id": user["id"], "items": [{"sku": product["sku"], "quantity": 1}], "payment": card()}) for user in users)
            )
        assert {response.status_code for response in responses} == {202}
        return [response.json() for response in responses]

    jobs = [wait_for_job(client, accepted["status_url"]) for accepted in asyncio.run(submit_all())]

    assert sum(job["state"] == "succeeded" for job in jobs) == 5
    assert {job["error"] for job in jobs if job["state"] == "failed"} == {f"out of stock: {product['sku']} (requested 1)"}
    assert client.get(f"/products/{product['id']}").json()["stock"] == 0
