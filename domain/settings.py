"""Typed settings read from the environment, with defaults for a local run."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    env: Literal["development", "production"] = Field("development", alias="ORDERFLOW_ENV")
    database_url: str = "sqlite:///var/orderflow.db"
    redis_url: str = "redis://127.0.0.1:6379/0"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_timeout_s: float = 10.0
    mail_from: str = "orders@orderflow.localhost"

    # Where the validate step looks users up: this database, or the users API over HTTP.
    user_lookup: Literal["local", "http"] = "local"
    users_api_url: str = "http://127.0.0.1:8000"
    users_api_timeout_s: float = 5.0

    # Sandbox gateway behaviour: latency as "0", "50" or a range "20-100" in milliseconds,
    # and the share of calls (0 to 1) that time out as a real gateway sometimes does.
    gateway_latency_ms: str = "0"
    gateway_failure_rate: float = Field(0.0, ge=0.0, le=1.0)

    # Seconds a client should wait before polling a job again.
    poll_after_s: int = 1

    # The sweeper re-dispatches a step that has not moved for step_deadline_s seconds and
    # fails an order still unfinished order_max_age_s seconds after it was placed.
    step_deadline_s: float = Field(300.0, gt=0)
    order_max_age_s: float = Field(3600.0, gt=0)
    # Deliveries of one step (retries included) before the order fails instead of looping.
    max_step_attempts: int = Field(10, ge=1)

    # Fault injection for crash tests: when this file exists as a sandbox gateway finishes a
    # charge or refund, the process deletes the file and kills itself with SIGKILL before
    # the result is recorded. Leave unset outside tests.
    sandbox_crash_file: str | None = None


@lru_cache
def get_settings() -> Settings:
    return Settings()
