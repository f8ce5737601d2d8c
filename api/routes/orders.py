from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from api.deps import ContainerDep
from api.idempotency import STATE_KEY
from api.responses import errors
from api.security import ReaderCaller, UserCaller
from domain.errors import NotFound, PermissionDenied
from domain.idempotency import StoredResponse
from domain.models import Order
from domain.schemas import JobView, OrderAccepted, OrderCreate, OrderView
from domain.steps import Step

router = APIRouter(tags=["orders"])


@router.post(
    "/orders",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=OrderAccepted,
    responses=errors(401, 403, 409, 413, 422),
)
def submit_order(
    body: OrderCreate,
    caller: UserCaller,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    container: ContainerDep,
) -> OrderAccepted:
    """Store an order for the caller and queue its processing; poll `status_url` for the outcome.

    `user_id` may be left out; when sent, it must be the caller's own id.
    """
    if body.user_id is not None and body.user_id != caller.user_id:
        raise PermissionDenied("user_id", "user_id must be your own user id, or left out")
    def accepted(order: Order) -> StoredResponse:
        status_url = str(request.url_for("read_job", job_id=order.job_id))
        headers = {"location": status_url, "retry-after": str(container.settings.poll_after_s)}
        return StoredResponse(202, _accepted(order, status_url).model_dump(), headers)

    claim = getattr(request.state, STATE_KEY, None)
    order, message_id = container.orders.submit(body, caller.user_id, claim, accepted)
    request.app.state.metrics.orders_accepted.inc()

    # Published after the response is sent, in the thread pool. If the broker is down, the
    # outbox relay publishes it later, so the client gets its 202 either way.
    background.add_task(container.outbox.publish, message_id, Step.VALIDATE_USER, order.id)

    stored = accepted(order)
    response.headers["Location"] = stored.headers["location"]
    response.headers["Retry-After"] = stored.headers["retry-after"]
    return OrderAccepted(**stored.body)


def _accepted(order: Order, status_url: str) -> OrderAccepted:
    return OrderAccepted(order_id=order.id, job_id=order.job_id, status_url=status_url)


@router.get("/orders/{order_id}", response_model=OrderView, responses=errors(401, 404, 413, 422))
def read_order(order_id: str, caller: ReaderCaller, container: ContainerDep) -> OrderView:
    """Read an order with its step timeline, payment summary and failure reason.

    Only its owner and operators see an order; to anyone else it is not found.
    """
    order = container.orders.view(order_id)
    if not caller.may_read(order.user_id):
        raise NotFound("order", order_id)
    return order


@router.get("/jobs/{job_id}", response_model=JobView, responses=errors(401, 404, 413, 422))
def read_job(job_id: str, response: Response, caller: ReaderCaller, container: ContainerDep) -> JobView:
    """Poll an order's processing job; `Retry-After` is set until the job has finished.

    Only the order's owner and operators see a job; to anyone else it is not found.
    """
    job, owner_id = container.orders.job_with_owner(job_id)
    if not caller.may_read(owner_id):
        raise NotFound("job", job_id)
    if job.state in ("queued", "running"):
        response.headers["Retry-After"] = str(container.settings.poll_after_s)
    return job
