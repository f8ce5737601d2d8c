from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.responses import errors
from api.security import OperatorCaller

router = APIRouter(tags=["operations"])

METRICS_RESPONSE = {200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}


@router.get("/metrics", response_class=Response, responses={**METRICS_RESPONSE, **errors(401, 413)})
def metrics(request: Request, _caller: OperatorCaller) -> Response:
    """Prometheus metrics of this API process (operators only)."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
