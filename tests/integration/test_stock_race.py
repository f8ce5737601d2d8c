"""Concurrent orders for the last units never oversell, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor

from domain.models import OrderStatus
from domain.steps import Step
from tests.builders import add_product, add_user, order_request

ORDERS = 20
STOCK = 5


def validated_orders(container, product, count: int) -> list[str]:
    user = add_user(container)
    order_ids = []
    for _number in range(count):
        order, _message = container.orders.submit(order_request(user, product, quantity=1), user.id)
        assert container.saga.validate_user(order.id) == [Step.RESERVE_STOCK]
        order_ids.append(order.id)
    return order_ids


def test_twenty_orders_for_five_units(container):
    product = add_product(container, stock=STOCK)
    order_ids = validated_orders(container, product, ORDERS)

    with ThreadPoolExecutor(max_workers=ORDERS) as pool:
        list(pool.map(container.saga.reserve_stock, order_ids))

    statuses = [container.orders.view(order_id).status for order_id in order_ids]
    assert statuses.count(OrderStatus.RESERVED) == STOCK
    assert statuses.count(OrderStatus.FAILED) == ORDERS - STOCK
    assert container.catalog.get(product.id).stock == 0


def test_release_and_reserve_race(container):
    product = add_product(container, stock=1)
    first, second = validated_orders(container, product, 2)
    container.saga.reserve_stock(first)
    container.saga.fail(first, "test", "cancelled by test")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda call: call(), [lambda: container.saga.release_stock(first), lambda: container.saga.reserve_stock(second)]))

    container.saga.refund_payment(first)

    # Whichever ran first, the one unit is either on the shelf or reserved by the second order.
    reserved_units = sum(1 for order_id in (first, second) if container.orders.view(order_id).status == OrderStatus.RESERVED)
    assert container.catalog.get(product.id).stock + reserved_units == 1
    assert container.orders.view(first).status == OrderStatus.FAILED
