"""The HTTP user directory against the real users API served by uvicorn on loopback."""


import httpx
import pytest

from domain.bootstrap import bootstrap
from domain.errors import LookupUnavailable, NotFound
from domain.users import HttpUserDirectory, LocalUserDirectory
from ops.ports import free_port
from tests.builders import OPERATOR, add_user
from tests.conftest import RecordingPublisher


@pytest.fixture
def users_api(api_server) -> str:
    return api_server


def http_directory(base_url: str, headers: dict | None = None) -> HttpUserDirectory:
    return HttpUserDirectory(httpx.Client(base_url=base_url, timeout=2, headers=OPERATOR if headers is None else headers))


def test_http_lookup_matches_local(container, users_api):
    user = add_user(container, notify_via="sms", phone="+447700900123")
    assert http_directory(users_api).lookup(user.id) == LocalUserDirectory(container.users.uow_factory).lookup(user.id)


def test_http_lookup_sees_disabled_user(container, users_api):
    user = add_user(container, active=False)
    assert http_directory(users_api).lookup(user.id).active is False


def test_bootstrap_sends_users_api_key(container, settings, users_api):
    user = add_user(container)
    worker = bootstrap(settings.model_copy(update={"user_lookup": "http", "users_api_url": users_api}), RecordingPublisher())
    try:
        assert worker.saga.directory.lookup(user.id).id == user.id
    finally:
        worker.dispose()


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key"}])
def test_http_lookup_without_operator_key(container, users_api, headers):
    user = add_user(container)
    with pytest.raises(LookupUnavailable, match="USERS_API_KEY"):
        http_directory(users_api, headers).lookup(user.id)


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
