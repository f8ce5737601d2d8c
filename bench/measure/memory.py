"""Resident set size of the API and the worker (each process plus its children), via psutil."""

from typing import Any

from bench.stack import OrderflowStack

MIB = 1024 * 1024


def rss_snapshot(stack: OrderflowStack, orders: int) -> dict[str, Any]:
    """Return the RSS of the stack's API and worker after `orders` orders, in MiB."""
    return {
        "orders": orders,
        "api_rss_mib": round(stack.api.rss_bytes() / MIB, 1),
        "worker_rss_mib": round(stack.worker.rss_bytes() / MIB, 1),
    }


def rss_growth(first: dict[str, Any], second: dict[str, Any]) -> dict[str, float]:
    """Return the relative RSS growth from `first` to `second` snapshot, as fractions."""
    return {
        "api": round(second["api_rss_mib"] / first["api_rss_mib"] - 1, 4),
        "worker": round(second["worker_rss_mib"] / first["worker_rss_mib"] - 1, 4),
    }
