"""The caller of a request: a user with a bearer access token, an operator with the API key, or anonymous.

Routes depend on one of `UserCaller`, `ReaderCaller` or `OperatorCaller`. Each raises
NotAuthenticated (401) when the credentials it needs are missing or invalid.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from api.deps import ContainerDep
from domain.errors import NotAuthenticated

API_KEY_HEADER = "X-API-Key"
TOKEN_URL = "/auth/token"

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="An access token from POST /auth/token, sent as `Authorization: Bearer <token>`.",
)
api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="The operator API key. The server stores only its SHA-256 digest.",
)

BearerToken = Annotated[str | None, Depends(bearer_scheme)]
ApiKey = Annotated[str | None, Depends(api_key_scheme)]


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a user (`user_id`), an operator, or both."""

    user_id: str | None = None
    operator: bool = False

    def may_read(self, owner_id: str) -> bool:
        return self.operator or self.user_id == owner_id


def _user_id(token: str | None, container) -> str | None:
    return container.tokens.user_id(token) if token else None


def _is_operator(key: str | None, container) -> bool:
    if not key:
        return False
    if not container.operator_key.matches(key):
        raise NotAuthenticated(f"The {API_KEY_HEADER} header is not a valid operator key.", scheme="ApiKey")
    return True


def require_user(token: BearerToken, container: ContainerDep) -> Caller:
    user_id = _user_id(token, container)
    if user_id is None:
        raise NotAuthenticated("This request needs an access token: get one from POST /auth/token and send it as `Authorization: Bearer <token>`.")
    return Caller(user_id=user_id)


def require_reader(token: BearerToken, key: ApiKey, container: ContainerDep) -> Caller:
    """Accept a user's access token or the operator key; routes check ownership themselves."""
    caller = Caller(user_id=_user_id(token, container), operator=_is_operator(key, container))
    if caller.user_id is None and not caller.operator:
        raise NotAuthenticated("This request needs an access token from POST /auth/token or the operator key in X-API-Key.")
    return caller


def require_operator(key: ApiKey, container: ContainerDep) -> Caller:
    if not _is_operator(key, container):
        raise NotAuthenticated(f"This request needs the operator key in the {API_KEY_HEADER} header.", scheme="ApiKey")
    return Caller(operator=True)


UserCaller = Annotated[Caller, Depends(require_user)]
ReaderCaller = Annotated[Caller, Depends(require_reader)]
OperatorCaller = Annotated[Caller, Depends(require_operator)]
