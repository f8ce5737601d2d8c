"""Users: registration, lookup and the directory the saga validates them against."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import IntegrityError

from domain.errors import Conflict, InvalidCredentials, LookupUnavailable, NotFound
from domain.models import User
from domain.passwords import PasswordHasher
from domain.schemas import UserCreate, canonical_email
from domain.service import Service
from domain.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Customer:
    """The user data that order processing needs, without the password hash."""

    id: str
    name: str
    email: str
    phone: str | None
    notify_via: str
    active: bool


class UserService(Service):
    def __init__(self, uow_factory: Callable[[], UnitOfWork], hasher: PasswordHasher, **kwargs) -> None:
        super().__init__(**kwargs)
        self.uow_factory = uow_factory
        self.hasher = hasher

    def register(self, request: UserCreate) -> User:
        user = User(
            name=request.name,
            email=request.email,
            password_hash=self.hasher.hash(request.password),
            phone=request.phone,
            notify_via=request.notify_via,
            active=True,
            created_at=self.clock(),
        )

        with self.uow_factory() as uow:
            if uow.users.get_by_email(request.email) is not None:
                raise Conflict("email", f"a user with email {request.email} already exists")
            uow.users.add(user)
            try:
                uow.commit()
            except IntegrityError:
                # A concurrent registration with the same email won the race.
                raise Conflict("email", f"a user with email {request.email} already exists") from None

        self.log.info("Registered user", extra={"user_id": user.id})
        return user

    def authenticate(self, email: str, password: str) -> User:
        """Return the active user with this email and password, else raise InvalidCredentials.

        Every failure costs one Argon2 verification (against a dummy hash for an unknown
        email), so neither the response nor its timing reveals whether an email is registered.
        """
        address = canonical_email(email)
        with self.uow_factory(read_only=True) as uow:
            user = uow.users.get_by_email(address) if address is not None else None

        password_ok = self.hasher.verify(user.password_hash if user else None, password)
        if user is None or not password_ok or not user.active:
            self.log.info("Login failed", extra={"user_id": user.id if user else None})
            raise InvalidCredentials()
        return user

    def get(self, user_id: str) -> User:
        with self.uow_factory(read_only=True) as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("user", user_id)
            return user

    def set_active(self, user_id: str, active: bool) -> User:
        with self.uow_factory() as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("user", user_id)
            user.active = active
            uow.commit()

        self.log.info("Changed user activity", extra={"user_id": user_id, "active": active})
        return user


class UserDirectory(ABC):
    """Looks up the customer behind an order. Raises NotFound or LookupUnavailable."""

    @abstractmethod
    def lookup(self, user_id: str) -> Customer: ...


class LocalUserDirectory(UserDirectory):
    """Reads users from this service's own database."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def lookup(self, user_id: str) -> Customer:
        with self.uow_factory(read_only=True) as uow:
            user = uow.users.get(user_id)
            if user is None:
                raise NotFound("user", user_id)
            return _customer_from(user.__dict__)


class HttpUserDirectory(UserDirectory):
    """Reads users from the users API, as when the users service is deployed on its own.

    The API serves GET /users/{id} only to the user or an operator, so the client must send
    the operator key (`X-API-Key`, from USERS_API_KEY; see `bootstrap`).
    """

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def lookup(self, user_id: str) -> Customer:
        try:
            response = self.client.get(f"/users/{user_id}")
        except httpx.HTTPError as error:
            raise LookupUnavailable(f"users API request failed: {error!r}") from error

        if response.status_code == 404:
            raise NotFound("user", user_id)
        if response.status_code in (401, 403):
            raise LookupUnavailable(f"users API rejected the operator key ({response.status_code}): check USERS_API_KEY")
        if response.status_code != 200:
            raise LookupUnavailable(f"users API returned HTTP {response.status_code} for user {user_id}")
        return _customer_from(response.json())


def _customer_from(fields: dict) -> Customer:
    return Customer(
        id=fields["id"],
        name=fields["name"],
        email=fields["email"],
        phone=fields.get("phone"),
        notify_via=fields["notify_via"],
        active=fields["active"],
    )
