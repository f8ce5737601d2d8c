"""Credentials: short-lived access tokens for users and the operator API key.

A user logs in with email and password (`UserService.authenticate`) and gets a JWT signed with
HS256 whose `sub` is the user id. Operators send a shared key in `X-API-Key`; the settings hold
only its SHA-256 digest, so a leaked configuration does not leak the key.
"""

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt

from domain.clock import Clock, utc_now
from domain.errors import NotAuthenticated

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti"]


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in_s: int


class AccessTokens:
    """Issues and verifies access tokens. Verification raises NotAuthenticated."""

    def __init__(self, secret: str, lifetime_s: int, clock: Clock = utc_now) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, user_id: str) -> AccessToken:
        now = self._clock()
        claims = {
            "sub": user_id,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_s),
            "jti": uuid.uuid4().hex,
        }
        return AccessToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self.lifetime_s)

    def user_id(self, token: str) -> str:
        """Return the user id of a valid, unexpired token."""
        try:
            # Only HS256 is accepted, so a token cannot pick "none" or another algorithm.
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("The access token has expired: get a new one from POST /auth/token.") from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated("The access token is invalid: get one from POST /auth/token.") from None

        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise NotAuthenticated("The access token is invalid: get one from POST /auth/token.")
        return subject


class OperatorKey:
    """Checks a presented operator key against the SHA-256 digest from the settings."""

    def __init__(self, sha256_hex: str) -> None:
        self._digest = bytes.fromhex(sha256_hex)

    def matches(self, key: str) -> bool:
        presented = hashlib.sha256(key.encode()).digest()
        # Constant-time comparison, so response times do not reveal how much of a guess is right.
        return hmac.compare_digest(presented, self._digest)
