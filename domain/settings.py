"""Typed settings read from the environment, with defaults for a local run.

The secrets have development defaults so that a local stack runs without setup. With
ORDERFLOW_ENV=production the API refuses to start while a secret is missing or still has its
development value (see `production_problems`).
"""

import hashlib
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults. They are public, so production must replace them.
DEV_JWT_SECRET = "orderflow-development-jwt-secret-do-not-use-in-production"
DEV_OPERATOR_API_KEY = "orderflow-dev-operator-key"
DEV_OPERATOR_API_KEY_SHA256 = hashlib.sha256(DEV_OPERATOR_API_KEY.encode()).hexdigest()
MIN_JWT_SECRET_BYTES = 32


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

    # Authentication. JWT_SECRET signs access tokens (HS256). OPERATOR_API_KEY_SHA256 is the
    # hex SHA-256 digest of the operator key sent as X-API-Key; the key itself is not stored.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    access_token_lifetime_s: int = Field(900, ge=60, le=86_400)
    operator_api_key_sha256: SecretStr = SecretStr(DEV_OPERATOR_API_KEY_SHA256)
    # The plain operator key that workers send to the users API when USER_LOOKUP=http.
    users_api_key: SecretStr = SecretStr(DEV_OPERATOR_API_KEY)

    # Rate limits, in the notation of the `limits` library ("10 per 15 minutes"). Failed
    # logins are counted per account and per client address; registrations per address.
    login_limit_per_account: str = "10 per 15 minutes"
    login_limit_per_address: str = "100 per 15 minutes"
    registration_limit_per_address: str = "20 per hour"
    # Where the counts live, shared by every API process. Unset means REDIS_URL; "memory://"
    # keeps them in each process (and is the fallback when REDIS_URL is empty too).
    rate_limit_storage_url: str | None = None

    # Largest request body in bytes; larger requests get 413 before anything parses them.
    # 128 KiB fits an order of MAX_ITEMS_PER_ORDER lines with the longest SKUs and largest
    # quantities: about 94 KB as compact JSON, 120 KB indented by two spaces.
    max_request_body_bytes: int = Field(131_072, ge=1024)

    # Origins allowed to call the API from a browser, comma separated. Empty: no CORS headers.
    cors_allow_origins: Annotated[list[str], NoDecode] = []

    @field_validator("operator_api_key_sha256")
    @classmethod
    def _hex_digest(cls, value: SecretStr) -> SecretStr:
        digest = value.get_secret_value().strip().lower()
        if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
            raise ValueError("OPERATOR_API_KEY_SHA256 must be 64 hex digits, e.g. the output of `printf %s KEY | sha256sum`")
        return SecretStr(digest)

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def production_problems(self) -> list[str]:
        """Return what is unsafe about the API secrets in production, one message each."""
        if self.env != "production":
            return []
        problems = []
        jwt_secret = self.jwt_secret.get_secret_value()
        if jwt_secret == DEV_JWT_SECRET:
            problems.append("JWT_SECRET is not set or has the development value: set a random secret of at least 32 bytes")
        elif len(jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            problems.append(f"JWT_SECRET is shorter than {MIN_JWT_SECRET_BYTES} bytes: set a random secret of at least 32 bytes")
        if self.operator_api_key_sha256.get_secret_value().lower() == DEV_OPERATOR_API_KEY_SHA256:
            problems.append("OPERATOR_API_KEY_SHA256 is not set or is the hash of the development key: set the SHA-256 hex digest of a random key")
        return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
