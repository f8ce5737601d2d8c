import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from kombu import Connection
from sqlalchemy import text

from api.deps import ContainerDep
from api.responses import errors
from domain.schemas import Health
from workers.app import app as celery_app

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

BROKER_CHECK_TIMEOUT_S = 2


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}, **errors(413)})
def health(container: ContainerDep) -> JSONResponse:
    """Report whether the database and the broker are reachable (503 if either is not)."""
    report = Health(status="ok", database=_database_ok(container), broker=_broker_ok(container))
    if not (report.database and report.broker):
        report.status = "degraded"
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ok" else 503)


def _database_ok(container) -> bool:
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception as error:
        log.warning("Health check: database unreachable: %r", error)
        return False


def _broker_ok(container) -> bool:
    try:
        with Connection(celery_app.conf.broker_url, connect_timeout=BROKER_CHECK_TIMEOUT_S) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_S)
        return True
    except Exception as error:
        log.warning("Health check: broker unreachable: %r", error)
        return False
