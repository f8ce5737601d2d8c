"""The whole stack as separate processes, driven over HTTP like a shop's front-end would."""

import asyncio
import time

import httpx
import pytest

from tests.builders import DECLINED_CARD, OPERATOR, card, product_fields, register

pytestmark = pytest.mark.e2e

JOB_DEADLINE_S = 60


@pytest.fixture
def client(stack):
    with httpx.Client(base_url=stack.api_url, timeout=10) as client:
        yield client


def create_product(client: httpx.Client, **overrides) -> dict:
    response = client.post("/products", json=product_fields(**overrides), headers=OPERATOR)
    assert response.status_code == 201, response.text
    return response.json()


def wait_for_job(client: httpx.Client, status_url: str, auth: dict) -> dict:
    deadline = time.monotonic() + JOB_DEADLINE_S
    while time.monotonic() < deadline:
        response = client.get(status_url, headers=auth)
        job = response.json()
        if job["state"] in ("succeeded", "failed"):
            assert "retry-after" not in response.headers
            return job
        assert "retry-after" in response.headers
        time.sleep(0.1)
    raise AssertionError(f"job {status_url} did not finish within {JOB_DEADLINE_S} s")


def order_body(product: dict, quantity: int, payment: dict) -> dict:
    return {"items": [{"sku": product["sku"], "quantity": quantity}], "payment": payment}


def submit(client: httpx.Client, auth: dict, product: dict, quantity: int, payment: dict) -> dict:
    response = client.post("/orders", json=order_body(product, quantity, payment), headers=auth)
    assert response.status_code == 202, response.text
    return response.json()


def test_approved_order_completes_with_mail(client, stack):
    user, auth = register(client)
    product = create_product(client, price="3.39", stock=10)

    accepted = submit(client, auth, product, 3, card())
    job = wait_for_job(client, accepted["status_url"], auth)

    assert job["state"] == "succeeded"
    order = client.get(f"/orders/{accepted['order_id']}", headers=auth).json()
    assert (order["status"], order["total"], order["payment"]["last4"]) == ("completed", "10.17", "4242")
    mails = [mail for mail in stack.smtp.wait_for(1) if accepted["order_id"] in mail.subject]
    assert [mail.rcpt_tos for mail in mails] == [(user["email"],)]


def test_declined_card_restores_stock(client):
    _user, auth = register(client)
    product = create_product(client, stock=4)

    job = wait_for_job(client, submit(client, auth, product, 4, card(DECLINED_CARD))["status_url"], auth)

    assert (job["state"], job["error"]) == ("failed", "payment declined: card_declined")
    assert client.get(f"/products/{product['id']}").json()["stock"] == 4


def test_disabled_user_fails_validation(client):
    # A token issued before the user was disabled stays valid until it expires, but the order
    # it places fails validation.
    user, auth = register(client)
    assert client.patch(f"/users/{user['id']}", json={"active": False}, headers=OPERATOR).status_code == 200
    product = create_product(client, stock=4)

    job = wait_for_job(client, submit(client, auth, product, 1, card())["status_url"], auth)

    assert (job["state"], job["error"]) == ("failed", "user is disabled")
    assert client.get(f"/products/{product['id']}").json()["stock"] == 4


def test_twenty_concurrent_orders_sell_five(client, stack):
    product = create_product(client, stock=5)
    logins = [register(client)[1] for _number in range(20)]

    async def submit_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as session:
            responses = await asyncio.gather(
                *(session.post("/orders", json=order_body(product, 1, card()), headers=auth) for auth in logins)
            )
        assert {response.status_code for response in responses} == {202}
        return [response.json() for response in responses]

    jobs = [wait_for_job(client, accepted["status_url"], auth) for accepted, auth in zip(asyncio.run(submit_all()), logins, strict=True)]

    assert sum(job["state"] == "succeeded" for job in jobs) == 5
    assert {job["error"] for job in jobs if job["state"] == "failed"} == {f"out of stock: {product['sku']} (requested 1)"}
    assert client.get(f"/products/{product['id']}").json()["stock"] == 0
