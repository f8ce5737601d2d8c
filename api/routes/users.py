from fastapi import APIRouter, Request, Response, status

from api.deps import ContainerDep
from api.responses import ERRORS
from domain.models import User
from domain.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(tags=["users"])


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic, responses=ERRORS)
def create_user(body: UserCreate, request: Request, response: Response, container: ContainerDep) -> UserPublic:
    """Register a user. The password is stored as an Argon2id hash and never returned."""
    user = container.users.register(body)
    response.headers["Location"] = str(request.url_for("read_user", user_id=user.id))
    return public_user(user)


@router.get("/users/{user_id}", response_model=UserPublic, responses=ERRORS)
def read_user(user_id: str, container: ContainerDep) -> UserPublic:
    """Read a user."""
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


@router.patch("/users/{user_id}", response_model=UserPublic, responses=ERRORS)
def update_user(user_id: str, body: UserUpdate, container: ContainerDep) -> UserPublic:
    """Enable or disable a user; a disabled user's new orders fail validation."""
    return public_user(container.users.set_active(user_id, body.active))
