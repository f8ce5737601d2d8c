"""The HTTP user directory against the real users API served by uvicorn on loopback."""

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from api.app import create_app
from domain.errors import LookupUnavailable, NotFound
from domain.users import HttpUserDirectory, LocalUserDirectory
from ops.ports import free_port
from tests.builders import add_user


@pytest.fixture
def users_api(container) -> Iterator[str]:
    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def http_directory(base_url: str) -> HttpUserDirectory:
    return HttpUserDirectory(httpx.Client(base_url=base_url, timeout=2))


def test_http_lookup_matches_local(container, users_api):
    user = add_user(container, notify_via="sms", phone="+447700900123")
    assert http_directory(users_api).lookup(user.id) == LocalUserDirectory(container.users.uow_factory).lookup(user.id)


def test_http_lookup_sees_disabled_user(container, users_api):
    user = add_user(container, active=False)
    assert http_directory(users_api).lookup(user.id).active is False


def test_http_lookup_unknown_user(users_api):
    with pytest.raises(NotFound):
        http_directory(users_api).lookup("missing")


def test_http_lookup_unreachable_is_transient():
    closed = f"http://127.0.0.1:{free_port('127.0.0.1')}"
    with pytest.raises(LookupUnavailable):
        http_directory(closed).lookup("anyone")


def test_local_lookup_unknown_user(container):
    with pytest.raises(NotFound):
        LocalUserDirectory(container.users.uow_factory).lookup("missing")
