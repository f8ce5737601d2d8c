"""The targets: each figure divided by its ceiling or reference, checked against a bound."""

import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

COMPARISONS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    name: str
    figure: float | None
    reference: float | None
    unit: str
    comparison: str
    bound: float

    @property
    def ratio(self) -> float | None:
        if self.figure is None or not self.reference:
            return None
        return round(self.figure / self.reference, 3)

    @property
    def met(self) -> bool | None:
        """Whether ratio <comparison> bound holds; None when a figure is missing."""
        if self.ratio is None:
            return None
        return COMPARISONS[self.comparison](self.ratio, self.bound)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "met": self.met}


def evaluate_targets(results: dict[str, Any]) -> list[Target]:
    chain = results["ceilings"]["chain"]
    http = results["ceilings"]["http"]
    zero = results["zero_latency"]
    gateway = results["gateway_latency"]
    intake_64 = zero["intake"].get("64", {}).get("latency", {})
    latency_ms = gateway["gateway_latency_ms"]
    at_rate, peer_at_rate = gateway["intake_at_rate"], gateway["sync_peer"]["at_rate"]
    snapshots = zero["memory"]["snapshots"]
    first, second = snapshots[0], snapshots[-1]
    memory_span = f"{first['orders']:,} to {second['orders']:,} orders"

    return [
        Target("completed orders/s ÷ bare chain chains/s", zero["saturation"]["completed_per_s"], chain["saturation"]["per_s"], "per s", ">=", 1.0),
        Target("light-load submit-to-final p50 ÷ bare chain p50", zero["light_load"]["latency"]["p50_ms"], chain["light"]["latency"]["p50_ms"], "ms", "<=", 1.5),
        Target("POST /orders accepted/s at 64 clients ÷ bare uvicorn", zero["intake"].get("64", {}).get("per_s"), http["per_s"], "per s", ">=", 0.5),
        Target("POST /orders p99 ÷ p50 at 64 clients", intake_64.get("p99_ms"), intake_64.get("p50_ms"), "ms", "<", 10.0),
        Target(f"completed orders/s at {latency_ms} ms ÷ at 0 ms", gateway["saturation"]["completed_per_s"], zero["saturation"]["completed_per_s"], "per s", ">=", 0.8),
        Target(
            f"sync peer p50 ÷ POST /orders p50 ({latency_ms} ms, both at {at_rate['rate_per_s']:g} requests/s)",
            peer_at_rate["latency"]["p50_ms"], at_rate["latency"]["p50_ms"], "ms", ">=", 10.0,
        ),
        # The same ratio with 16 clients each, where it compares throughput more than latency.
        Target(
            f"sync peer p50 ÷ POST /orders p50 ({latency_ms} ms, {gateway['intake']['clients']} clients each)",
            gateway["sync_peer"]["latency"]["p50_ms"], gateway["intake"]["latency"]["p50_ms"], "ms", ">=", 10.0,
        ),
        Target(f"API RSS, {memory_span}", second["api_rss_mib"], first["api_rss_mib"], "MiB", "<", 1.10),
        Target(f"worker RSS, {memory_span}", second["worker_rss_mib"], first["worker_rss_mib"], "MiB", "<", 1.10),
    ]
