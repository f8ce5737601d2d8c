from fastapi import APIRouter, Request, Response, status

from api.deps import ContainerDep
from api.rate_limits import client_address
from api.responses import errors
from api.routes.auth import RateLimitsDep
from api.security import OperatorCaller, ReaderCaller
from domain.errors import NotFound
from domain.models import User
from domain.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=errors(409, 413, 422, 429),
)
def create_user(
    body: UserCreate, request: Request, response: Response, container: ContainerDep, rate_limits: RateLimitsDep
) -> UserPublic:
    """Register a user. The password is stored as an Argon2id hash and never returned."""
    rate_limits.hit_registration(client_address(request))
    user = container.users.register(body)
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id))
    return public_user(user)


@router.get("/users/{user_id}", response_model=UserPublic, responses=errors(401, 404, 413, 422))
def read_user(user_id: str, caller: ReaderCaller, container: ContainerDep) -> UserPublic:
    """Read a user: yourself, or anyone as an operator. Other users are not found."""
    if not caller.may_read(user_id):
        raise NotFound("user", user_id)
    return public_user(container.users.get(user_id))


def public_user(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        name=user.name,
        email=user.email,
        phone=user.phone,
        notify_via=user.notify_via,
        active=user.active,
        created_at=user.created_at,
    )


@router.patch("/users/{user_id}", response_model=UserPublic, responses=errors(401, 404, 413, 422))
def update_user(user_id: str, body: UserUpdate, _caller: OperatorCaller, container: ContainerDep) -> UserPublic:
    """Enable or disable a user (operators only); a disabled user cannot log in, and new orders fail validation."""
    return public_user(container.users.set_active(user_id, body.active))
