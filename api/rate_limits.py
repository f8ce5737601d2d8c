"""Rate limits on logins and registrations, counted with the `limits` library.

Counts live in Redis (RATE_LIMIT_STORAGE_URL, else REDIS_URL), so every API process shares
them. The window moves, so a burst cannot straddle two fixed windows. Accounts are
keyed by a SHA-256 digest of the normalised email, so Redis contains no email addresses.

If the storage fails (Redis down), requests are let through and a warning is logged at most
once a minute: logins stay available, and Argon2 still makes every guess expensive.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass

import limits
from fastapi import Request
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from domain.errors import TooManyRequests
from domain.settings import Settings

log = logging.getLogger(__name__)

MEMORY_STORAGE = "memory://"
# Redis calls give up after this many seconds, so a dead Redis cannot stall a login.
REDIS_TIMEOUT_S = 1.0
STORAGE_WARNING_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Limit:
    name: str
    item: limits.RateLimitItem


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.storage_url = _storage_url(settings)
        self._limiter = MovingWindowRateLimiter(_storage(self.storage_url))
        self.login_per_account = Limit("login-account", _parse("LOGIN_LIMIT_PER_ACCOUNT", settings.login_limit_per_account))
        self.login_per_address = Limit("login-address", _parse("LOGIN_LIMIT_PER_ADDRESS", settings.login_limit_per_address))
        self.registration_per_address = Limit(
            "registration-address", _parse("REGISTRATION_LIMIT_PER_ADDRESS", settings.registration_limit_per_address)
        )
        self._last_storage_warning = -math.inf

    def check_login(self, account: str, address: str) -> None:
        """Raise TooManyRequests if failed logins for the account or from the address ran out."""
        self._check(self.login_per_account, account_key(account))
        self._check(self.login_per_address, address)

    def record_failed_login(self, account: str, address: str) -> None:
        self._hit(self.login_per_account, account_key(account))
        self._hit(self.login_per_address, address)

    def hit_registration(self, address: str) -> None:
        """Count a registration attempt; raise TooManyRequests when the address has none left."""
        if not self._hit(self.registration_per_address, address):
            raise self._exhausted(self.registration_per_address, address, "Too many registrations from this address.")

    def _check(self, limit: Limit, key: str) -> None:
        try:
            allowed = self._limiter.test(limit.item, limit.name, key)
        except StorageError as error:
            self._warn_storage_failed(error)
            return
        if not allowed:
            raise self._exhausted(limit, key, "Too many failed logins.")

    def _hit(self, limit: Limit, key: str) -> bool:
        try:
            return self._limiter.hit(limit.item, limit.name, key)
        except StorageError as error:
            self._warn_storage_failed(error)
            return True

    def _exhausted(self, limit: Limit, key: str, message: str) -> TooManyRequests:
        try:
            reset_at = self._limiter.get_window_stats(limit.item, limit.name, key).reset_time
        except StorageError:
            reset_at = time.time() + limit.item.get_expiry()
        retry_after_s = max(1, math.ceil(reset_at - time.time()))
        log.warning("Rate limit reached", extra={"limit": limit.name, "retry_after_s": retry_after_s})
        return TooManyRequests(f"{message} Retry after {retry_after_s} s.", retry_after_s)

    def _warn_storage_failed(self, error: StorageError) -> None:
        now = time.monotonic()
        if now - self._last_storage_warning >= STORAGE_WARNING_INTERVAL_S:
            self._last_storage_warning = now
            log.warning("Rate limit storage failed, letting requests through: %r", error.storage_error)


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def client_address(request: Request) -> str:
    # Behind a reverse proxy this is the proxy's address unless uvicorn runs with
    # --forwarded-allow-ips set to the proxy, which makes it read X-Forwarded-For.
    return request.client.host if request.client else "unknown"


def _storage_url(settings: Settings) -> str:
    url = settings.rate_limit_storage_url or settings.redis_url
    if not url:
        log.warning("Neither RATE_LIMIT_STORAGE_URL nor REDIS_URL is set: rate limits are counted in this process only")
        return MEMORY_STORAGE
    if url == MEMORY_STORAGE:
        log.warning("Rate limits are counted in this process only (RATE_LIMIT_STORAGE_URL=memory://)")
    return url


def _storage(url: str):
    if url.startswith(("redis://", "rediss://")):
        return storage_from_string(
            url, wrap_exceptions=True, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
    return storage_from_string(url, wrap_exceptions=True)


def _parse(name: str, value: str) -> limits.RateLimitItem:
    try:
        return limits.parse(value)
    except ValueError as error:
        raise ValueError(f"invalid {name}={value!r}: write it like '10 per 15 minutes' ({error})") from None
