from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from api.deps import ContainerDep
from api.responses import ERRORS
from domain.schemas import JobView, OrderAccepted, OrderCreate, OrderView
from domain.steps import Step

router = APIRouter(tags=["orders"])


@router.post("/orders", status_code=status.HTTP_202_ACCEPTED, response_model=OrderAccepted, responses=ERRORS)
def submit_order(
    body: OrderCreate, request: Request, response: Response, background: BackgroundTasks, container: ContainerDep
) -> OrderAccepted:
    """Store an order and queue its processing; poll `status_url` for the outcome."""
    order, message_id = container.orders.submit(body)

    # Published after the response is sent, in the thread pool. If the broker is down, the
    # outbox relay publishes it later, so the client gets its 202 either way.
    background.add_task(container.outbox.publish, message_id, Step.VALIDATE_USER, order.id)

    status_url = str(request.url_for("read_job", job_id=order.job_id))
    response.headers["Location"] = status_url
    response.headers["Retry-After"] = str(container.settings.poll_after_s)
    return OrderAccepted(order_id=order.id, job_id=order.job_id, status_url=status_url)


@router.get("/orders/{order_id}", response_model=OrderView, responses=ERRORS)
def read_order(order_id: str, container: ContainerDep) -> OrderView:
    """Read an order with its step timeline, payment summary and failure reason."""
    return container.orders.view(order_id)


@router.get("/jobs/{job_id}", response_model=JobView, responses=ERRORS)
def read_job(job_id: str, response: Response, container: ContainerDep) -> JobView:
    """Poll an order's processing job; `Retry-After` is set until the job has finished."""
    job = container.orders.job(job_id)
    if job.state in ("queued", "running"):
        response.headers["Retry-After"] = str(container.settings.poll_after_s)
    return job
