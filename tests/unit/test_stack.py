from pathlib import Path

import pytest

from ops.stack import (
    QUEUES,
    REPLAY_REGISTRATION_LIMIT,
    StackConfig,
    StackError,
    build_processes,
    child_environment,
    redact_url,
)


def option_value(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]


def test_config_defaults_match_local_contract():
    config = StackConfig.from_environ({})

    assert config.api_url == "http://127.0.0.1:8000"
    assert config.flower_url == "http://127.0.0.1:5555"
    assert (config.smtp_host, config.smtp_port) == ("127.0.0.1", 8025)
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.worker_concurrency == 8


def test_config_reads_environment():
    environ = {
        "API_HOST": "0.0.0.0",
        "API_PORT": "9000",
        "FLOWER_HOST": "::1",
        "FLOWER_PORT": "9555",
        "SMTP_PORT": "2525",
        "REDIS_URL": "redis://127.0.0.1:6380/1",
        "CELERY_WORKER_CONCURRENCY": "3",
    }

    config = StackConfig.from_environ(environ, var_dir=Path("/tmp/stack-var"))

    assert config.api_url == "http://127.0.0.1:9000"
    assert config.flower_url == "http://[::1]:9555"
    assert config.smtp_port == 2525
    assert config.redis_url == "redis://127.0.0.1:6380/1"
    assert config.worker_concurrency == 3
    assert config.var_dir == Path("/tmp/stack-var")


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "8.5"])
def test_config_rejects_invalid_port(raw):
    with pytest.raises(StackError, match=f"invalid API_PORT={raw!r}"):
        StackConfig.from_environ({"API_PORT": raw})


def test_processes_without_private_redis_or_replay():
    processes = build_processes(StackConfig(), python="python")

    assert list(processes) == ["api", "worker", "beat", "flower", "smtp"]


def test_processes_with_private_redis_and_replay(tmp_path):
    redis_command = ["redis-server", "--port", "7000"]

    processes = build_processes(StackConfig(), redis_command, replay_dir=tmp_path, python="python")

    assert list(processes) == ["redis", "api", "worker", "beat", "flower", "smtp", "replay"]
    assert processes["redis"] == redis_command


def test_api_process_serves_asgi_app():
    config = StackConfig(api_host="127.0.0.1", api_port=8123)

    api = build_processes(config, python="python")["api"]

    assert api[:4] == ["python", "-m", "uvicorn", "api.main:app"]
    assert option_value(api, "--host") == "127.0.0.1"
    assert option_value(api, "--port") == "8123"


def test_worker_consumes_all_queues_with_threads():
    worker = build_processes(StackConfig(worker_concurrency=5), python="python")["worker"]

    assert worker[:6] == ["python", "-m", "celery", "-A", "workers.app", "worker"]
    assert option_value(worker, "--queues").split(",") == list(QUEUES)
    assert set(QUEUES) == {"users", "inventory", "payments", "notifications", "orderflow"}
    assert option_value(worker, "--pool") == "threads"
    assert option_value(worker, "--concurrency") == "5"


def test_beat_and_smtp_write_to_var_dir(tmp_path):
    processes = build_processes(StackConfig(var_dir=tmp_path), python="python")

    assert "beat" in processes["beat"]
    assert option_value(processes["beat"], "--schedule") == str(tmp_path / "celerybeat-schedule")
    assert option_value(processes["smtp"], "--mbox") == str(tmp_path / "mail.mbox")


def test_flower_bound_to_flower_host():
    config = StackConfig(flower_host="127.0.0.1", flower_port=5600)

    flower = build_processes(config, python="python")["flower"]

    assert "flower" in flower
    assert "--address=127.0.0.1" in flower
    assert "--port=5600" in flower


def test_replay_waits_for_healthz(tmp_path):
    config = StackConfig(api_host="0.0.0.0", api_port=8001)

    replay = build_processes(config, replay_dir=tmp_path, python="python")["replay"]

    separator = replay.index("--")
    assert replay[:4] == ["python", "-m", "ops.run_when_healthy", "http://127.0.0.1:8001/healthz"]
    assert replay[separator + 1:] == [
        "python", "-m", "ops.replay", str(tmp_path), "--api-url", "http://127.0.0.1:8001",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://user:s3cret@cache:6379/0", "redis://user:***@cache:6379/0"),
    ],
)
def test_redact_url_hides_password(url, expected):
    assert redact_url(url) == expected


def test_replay_raises_registration_limit():
    env = child_environment({}, "redis://127.0.0.1:6379/0", replay=True)

    assert env["REGISTRATION_LIMIT_PER_ADDRESS"] == REPLAY_REGISTRATION_LIMIT


def test_registration_limit_from_environment_kept():
    environ = {"REGISTRATION_LIMIT_PER_ADDRESS": "5 per hour"}

    assert child_environment(environ, "redis://127.0.0.1:6379/0", replay=True)["REGISTRATION_LIMIT_PER_ADDRESS"] == "5 per hour"
    assert "REGISTRATION_LIMIT_PER_ADDRESS" not in child_environment({}, "redis://127.0.0.1:6379/0")


def test_defaults_bind_api_and_flower_to_loopback():
    config = StackConfig.from_environ({})

    assert (config.api_host, config.flower_host) == ("127.0.0.1", "127.0.0.1")
