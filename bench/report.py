"""The benchmark's output: tables on stdout, a JSON file and the docs/benchmarks.md page."""

import json
from pathlib import Path
from typing import Any

from bench.targets import Target

# A load generator busier than this share of one CPU may have limited the figure it measured.
LOADGEN_BUSY_SHARE = 0.9

FIGURE_HEADER = ("figure", "value", "p50 ms", "p99 ms", "detail")
TARGET_HEADER = ("target", "figure", "ceiling / reference", "ratio", "bound", "met")


def figure_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    ceilings, zero, gateway = results["ceilings"], results["zero_latency"], results["gateway_latency"]
    latency_ms = gateway["gateway_latency_ms"]
    rows = [
        _load_row("bare uvicorn requests/s", ceilings["http"]),
        ("bare chain chains/s at saturation", _number(ceilings["chain"]["saturation"]["per_s"]), "", "", f"{ceilings['chain']['saturation']['done']} chains of 4 no-op tasks"),
        _latency_row("bare chain send-to-done, one at a time", ceilings["chain"]["light"]["latency"], f"{ceilings['chain']['light']['chains']} chains"),
    ]
    for clients, intake in zero["intake"].items():
        row = _load_row(f"POST /orders accepted/s, {_clients(clients)}", intake)
        rows.append((*row[:4], f"{row[4]}; API CPU {intake['api_cpu_ms_per_request']} ms per request"))
    rows += [
        _saturation_row("completed orders/s at saturation", zero["saturation"]),
        _saturation_row("completed orders/s, top-up batch", zero["saturation_top_up"]),
        _latency_row("submit-to-final, one order at a time", zero["light_load"]["latency"], f"{zero['light_load']['orders']} orders, to the order's final update (polled every {zero['light_load']['poll_interval_s'] * 1000:g} ms)"),
        _saturation_row(f"completed orders/s at saturation, {latency_ms} ms", gateway["saturation"]),
        _load_row(f"POST /orders accepted/s, {_clients(gateway['intake']['clients'])}, {latency_ms} ms", gateway["intake"]),
        _load_row(f"sync peer requests/s, {latency_ms} ms per call", gateway["sync_peer"]),
        _rate_row(f"POST /orders at {gateway['intake_at_rate']['rate_per_s']:g} requests/s, {latency_ms} ms", gateway["intake_at_rate"]),
        _rate_row(f"sync peer at {gateway['sync_peer']['at_rate']['rate_per_s']:g} requests/s, {latency_ms} ms per call", gateway["sync_peer"]["at_rate"]),
    ]
    for snapshot in zero["memory"]["snapshots"]:
        rows.append((f"RSS after {snapshot['orders']:,} orders", f"API {snapshot['api_rss_mib']} MiB", "", "", f"worker {snapshot['worker_rss_mib']} MiB"))
    if "replay" in zero:
        replay = zero["replay"]
        rows.append(("replay orders/s", _number(replay["orders_per_s"]), "", "", f"completed share {replay['completed_share']}, {replay['invoices_replayed']} invoices from the directory named {Path(replay['data_dir']).name!r}"))
    return rows


def target_rows(targets: list[Target]) -> list[tuple[str, ...]]:
    met_text = {True: "met", False: "not met", None: "not measured"}
    return [
        (
            target.name,
            f"{_number(target.figure)} {target.unit}",
            f"{_number(target.reference)} {target.unit}",
            _number(target.ratio),
            f"{target.comparison} {target.bound:g}",
            met_text[target.met],
        )
        for target in targets
    ]


def loadgen_notes(results: dict[str, Any]) -> list[str]:
    """Name every load whose generator was busy enough to have limited it."""
    loads = {"bare uvicorn": results["ceilings"]["http"], "sync peer": results["gateway_latency"]["sync_peer"]}
    loads |= {f"POST /orders at {clients} clients": intake for clients, intake in results["zero_latency"]["intake"].items()}
    notes = []
    for name, load in loads.items():
        share = load["loadgen_cpu_s"] / load["duration_s"] if load["duration_s"] else 0
        if share > LOADGEN_BUSY_SHARE:
            notes.append(f"The load generator used {share:.0%} of a CPU during {name}, so that figure may be a floor of what the server can do.")
    return notes


def text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [_text_line(header, widths), _text_line(tuple("-" * width for width in widths), widths)]
    lines += [_text_line(row, widths) for row in rows]
    return "\n".join(lines)


def markdown_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _load_row(name: str, load: dict[str, Any]) -> tuple[str, ...]:
    detail = f"{load['ok']} of {load['requests']} requests as expected in {load['duration_s']} s, {load['load_generator']}"
    return (name, _number(load["per_s"]), _number(load["latency"]["p50_ms"]), _number(load["latency"]["p99_ms"]), detail)


def _rate_row(name: str, load: dict[str, Any]) -> tuple[str, ...]:
    detail = f"{load['ok']} of {load['requests']} requests as expected, open loop, httpx"
    return (name, _number(load["per_s"]), _number(load["latency"]["p50_ms"]), _number(load["latency"]["p99_ms"]), detail)


def _saturation_row(name: str, batch: dict[str, Any]) -> tuple[str, ...]:
    detail = f"{batch['completed']} of {batch['orders']} orders completed in {batch['span_s']} s, {batch['failed']} failed, {batch['not_final']} not final"
    return (name, _number(batch["completed_per_s"]), "", "", detail)


def _latency_row(name: str, latency: dict[str, Any], detail: str) -> tuple[str, ...]:
    return (name, "", _number(latency["p50_ms"]), _number(latency["p99_ms"]), detail)


def _clients(count: int | str) -> str:
    return "1 client" if int(count) == 1 else f"{count} clients"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def _text_line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
