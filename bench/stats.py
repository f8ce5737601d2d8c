"""Summary statistics shared by the load generators and the report."""

from ops.replay_report import percentile

__all__ = ["latency_summary_ms", "percentile", "rate"]


def latency_summary_ms(seconds: list[float]) -> dict[str, float | None]:
    """Return p50, p99, max and mean of `seconds`, in milliseconds rounded to 0.01 ms."""
    return {
        "p50_ms": _to_ms(percentile(seconds, 50)),
        "p99_ms": _to_ms(percentile(seconds, 99)),
        "max_ms": _to_ms(max(seconds) if seconds else None),
        "mean_ms": _to_ms(sum(seconds) / len(seconds) if seconds else None),
        "samples": len(seconds),
    }


def rate(count: int, duration_s: float) -> float | None:
    """Return `count` per second over `duration_s`, or None for an empty interval."""
    if duration_s <= 0:
        return None
    return round(count / duration_s, 2)


def _to_ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)
