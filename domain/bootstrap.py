"""The one place where orderflow is wired together; both the API and the workers call it."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.auth import AccessTokens, OperatorKey
from domain.catalog import CatalogService
from domain.database import create_db_engine, create_session_factory
from domain.idempotency import IdempotencyService
from domain.notifications import EmailNotifier, Notifier, SmsNotifier
from domain.orders import OrderService
from domain.outbox import OutboxRelay, TaskPublisher
from domain.passwords import PasswordHasher
from domain.payments import CreditCardProcessor, PaymentProcessor, PayPalProcessor
from domain.payments.card import TokenVault
from domain.payments.sandbox_gateway import SandboxGateway, SqlSandboxLedger
from domain.saga import OrderSaga
from domain.sandbox import LatencyProfile, SandboxBehaviour
from domain.settings import Settings
from domain.sweeper import Sweeper, SweepPolicy
from domain.unit_of_work import UnitOfWork
from domain.users import HttpUserDirectory, LocalUserDirectory, UserDirectory, UserService


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    users: UserService
    tokens: AccessTokens
    operator_key: OperatorKey
    catalog: CatalogService
    orders: OrderService
    saga: OrderSaga
    outbox: OutboxRelay
    idempotency: IdempotencyService
    sweeper: Sweeper

    def dispose(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings, publisher: TaskPublisher, engine: Engine | None = None) -> Container:
    engine = engine or create_db_engine(settings.database_url)
    session_factory = create_session_factory(engine)
    read_session_factory = create_session_factory(engine, read_only=True)
    uow_factory = partial(UnitOfWork, session_factory, read_session_factory)

    processors = _payment_processors(settings, session_factory, read_session_factory)
    saga = OrderSaga(
        uow_factory,
        directory=_user_directory(settings, uow_factory),
        processors=processors,
        notifiers=_notifiers(settings, session_factory),
        max_step_attempts=settings.max_step_attempts,
    )

    return Container(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        users=UserService(uow_factory, PasswordHasher()),
        tokens=AccessTokens(settings.jwt_secret.get_secret_value(), settings.access_token_lifetime_s),
        operator_key=OperatorKey(settings.operator_api_key_sha256.get_secret_value()),
        catalog=CatalogService(uow_factory),
        orders=OrderService(uow_factory, card_processor=processors["card"]),
        saga=saga,
        outbox=OutboxRelay(uow_factory, publisher),
        idempotency=IdempotencyService(session_factory),
        sweeper=Sweeper(uow_factory, saga, _sweep_policy(settings)),
    )


def _behaviour(settings: Settings) -> SandboxBehaviour:
    return SandboxBehaviour(
        latency=LatencyProfile.parse(settings.gateway_latency_ms),
        failure_rate=settings.gateway_failure_rate,
        crash_file=Path(settings.sandbox_crash_file) if settings.sandbox_crash_file else None,
    )


def _sweep_policy(settings: Settings) -> SweepPolicy:
    return SweepPolicy(
        step_deadline=timedelta(seconds=settings.step_deadline_s),
        max_age=timedelta(seconds=settings.order_max_age_s),
    )


def _payment_processors(settings: Settings, session_factory, read_session_factory) -> dict[str, PaymentProcessor]:
    ledger = SqlSandboxLedger(session_factory, read_session_factory)
    card = CreditCardProcessor(SandboxGateway("card", ledger, _behaviour(settings)), TokenVault())
    paypal = PayPalProcessor(SandboxGateway("paypal", ledger, _behaviour(settings)))
    return {card.method: card, paypal.method: paypal}


def _notifiers(settings: Settings, session_factory) -> dict[str, Notifier]:
    email = EmailNotifier(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_timeout_s)
    sms = SmsNotifier(session_factory, _behaviour(settings))
    return {email.channel: email, sms.channel: sms}


def _user_directory(settings: Settings, uow_factory) -> UserDirectory:
    if settings.user_lookup == "http":
        client = httpx.Client(
            base_url=settings.users_api_url,
            timeout=settings.users_api_timeout_s,
            headers={"X-API-Key": settings.users_api_key.get_secret_value()},
        )
        return HttpUserDirectory(client)
    return LocalUserDirectory(uow_factory)
