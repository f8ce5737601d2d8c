"""How much load each measurement applies: the full run, the --quick run, and --scale."""

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PoolSettings:
    """The Celery worker pool used for orderflow and for the bare chain alike."""

    pool: str = "threads"
    concurrency: int = 16


@dataclass(frozen=True)
class Counts:
    """Request and order counts; every loop also stops at its duration bound."""

    http_ceiling_requests: int = 200_000
    chain_light: int = 200
    chain_saturation: int = 2_000
    light_orders: int = 100
    # POST /orders requests by concurrent clients.
    intake_requests: dict[int, int] = field(default_factory=lambda: {1: 300, 16: 1_500, 64: 3_000})
    # Orders after which the RSS of the API and the worker is taken, on an idle stack.
    memory_checkpoints: tuple[int, int] = (1_000, 10_000)
    latency_saturation_orders: int = 1_000
    peer_requests: int = 2_000
    # Requests of each open-loop load at the comparison rate (orderflow, then the sync peer).
    rate_requests: int = 1_000
    replay_limit: int | None = None

    def scaled(self, factor: float) -> "Counts":
        """Return these counts multiplied by `factor`, each at least 1 (5 for samples)."""

        def scale(value: int, minimum: int = 1) -> int:
            return max(minimum, round(value * factor))

        return dataclasses.replace(
            self,
            http_ceiling_requests=scale(self.http_ceiling_requests, 50),
            chain_light=scale(self.chain_light, 5),
            chain_saturation=scale(self.chain_saturation, 5),
            light_orders=scale(self.light_orders, 5),
            intake_requests={clients: scale(count, 5) for clients, count in self.intake_requests.items()},
            memory_checkpoints=(scale(self.memory_checkpoints[0], 5), scale(self.memory_checkpoints[1], 10)),
            latency_saturation_orders=scale(self.latency_saturation_orders, 5),
            peer_requests=scale(self.peer_requests, 5),
            rate_requests=scale(self.rate_requests, 5),
        )


FULL_COUNTS = Counts()
QUICK_COUNTS = Counts(
    http_ceiling_requests=50_000,
    chain_light=50,
    chain_saturation=300,
    light_orders=20,
    intake_requests={1: 100, 16: 300, 64: 600},
    memory_checkpoints=(200, 2_000),
    latency_saturation_orders=200,
    peer_requests=400,
    rate_requests=300,
)


@dataclass(frozen=True)
class Durations:
    """Upper bounds in seconds; a measurement that reaches one reports what it finished."""

    load_s: float = 20.0
    drain_s: float = 300.0
    startup_s: float = 60.0
    order_timeout_s: float = 30.0
    replay_s: float = 300.0

    def scaled(self, factor: float) -> "Durations":
        # Startup and per-order timeouts do not shrink with the load.
        return dataclasses.replace(self, load_s=max(2.0, self.load_s * min(factor, 1.0)))


@dataclass(frozen=True)
class BenchConfig:
    counts: Counts
    durations: Durations
    pool: PoolSettings
    quick: bool
    scale: float
    intake_latency_clients: int = 16
    peer_clients: int = 16
    latency_ms: int = 50
    # Light load: how often a client asks whether its order is final. The latency itself is
    # read from the order's final update, so a longer interval only lightens the polls' load.
    poll_interval_s: float = 0.02
    # "wrk", "httpx", or "auto" for wrk when /usr/bin/wrk exists.
    load_generator: str = "auto"
