"""Closed-loop load with wrk (Debian package `wrk`), when /usr/bin/wrk exists.

wrk spends far less CPU per request than an httpx client: on a 2-core machine it drove the
bare endpoint at about 30,000 requests/s where httpx reached about 800. So with wrk, the bare
uvicorn ceiling measures the server instead of the load generator. A Lua script sends the
requests in turn, stops after `max_requests` responses, and prints a JSON summary.
"""

import json
import logging
import math
import resource
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.stats import rate

log = logging.getLogger(__name__)

WRK = Path("/usr/bin/wrk")
# One thread: wrk then needs one of the machine's cores and the server keeps the other.
THREADS = 1
REQUEST_TIMEOUT_S = 60
RESULT_MARKER = "BENCH_RESULT "

# Globals of the thread's Lua state: its requests, its request limit, its counters and the
# monotonic times of its first request and last response. After `limit` responses the thread
# stops and sends SIGINT to its own process: wrk's handler for it ends the run and prints the
# summary, where wrk would otherwise idle until -d runs out. The span is timed with
# clock_gettime because wrk's own duration would include that idle time. Both calls go
# through LuaJIT's FFI; Debian's wrk 4.1 links LuaJIT.
SCRIPT = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
int getpid(void);
int kill(int pid, int sig);
]]
local CLOCK_MONOTONIC = 1
local SIGINT = 2
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local requests = %(requests)s
local expected = %(expected)d
local threads = {}
local index = 0

function setup(thread)
  thread:set("limit", %(limit)d)
  table.insert(threads, thread)
end

function init(args)
  ok, other, responses = 0, 0, 0
  first_us = now_us()
  last_us = first_us
end

function request()
  index = index + 1
  local entry = requests[(index %% #requests) + 1]
  return wrk.format("%(method)s", nil, entry.headers, entry.body)
end

function response(status, headers, body)
  responses = responses + 1
  last_us = now_us()
  if status == expected then ok = ok + 1 else other = other + 1 end
  if responses == limit then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), SIGINT)
  end
end

function done(summary, latency, requests)
  local ok_total, other_total = 0, 0
  local first, last = math.huge, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    other_total = other_total + thread:get("other")
    first = math.min(first, thread:get("first_us"))
    last = math.max(last, thread:get("last_us"))
  end
  local errors = summary.errors
  io.write(string.format(
    '%(marker)s{"ok": %%d, "other": %%d, "requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, '
    .. '"max_us": %%d, "mean_us": %%f, "socket_errors": %%d}\\n',
    ok_total, other_total, summary.requests, last - first, latency:percentile(50), latency:percentile(99),
    latency.max, latency.mean, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def available() -> bool:
    return WRK.exists()


def closed_loop(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run the load that `spec` describes (see bench.loadgen.closed_loop) with wrk."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-", delete=False) as script:
        script.write(_script(spec))
    command = [
        str(WRK), "-t", str(THREADS), "-c", str(spec["concurrency"]), "-d", f"{math.ceil(spec['max_duration_s'])}s",
        "--timeout", f"{REQUEST_TIMEOUT_S}s", "-s", script.name, spec["url"],
    ]
    log.debug("Running %s", " ".join(command))
    cpu_before = _children_cpu_seconds()
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    finally:
        Path(script.name).unlink(missing_ok=True)
    cpu_s = _children_cpu_seconds() - cpu_before

    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed with exit code {completed.returncode}: {completed.stderr[-2000:]}")
    return _result(completed, spec, cpu_s)


def _script(spec: dict[str, Any]) -> str:
    entries = [_lua_request(request) for request in spec.get("requests") or [{"headers": {}, "body": None}]]
    return SCRIPT % {
        "requests": "{" + ",\n".join(entries) + "}",
        "expected": spec["expected_status"],
        "limit": spec["max_requests"],
        "method": spec["method"],
        "marker": RESULT_MARKER,
    }


def _lua_request(request: dict[str, Any]) -> str:
    """Return a Lua table {headers = {...}, body = ...}; a body of None sends no body."""
    headers = dict(request["headers"])
    body = "nil"
    if request["body"] is not None:
        headers["Content-Type"] = "application/json"
        body = _lua_string(json.dumps(request["body"]))
    # The spaces keep "[" and a long string's "[[" apart: "[[[" would open a long string.
    lua_headers = ", ".join(f"[ {_lua_string(name)} ] = {_lua_string(value)}" for name, value in headers.items())
    return f"{{headers = {{{lua_headers}}}, body = {body}}}"


def _lua_string(text: str) -> str:
    # A long bracket string takes the JSON as it is; the level is raised until it cannot close early.
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _result(completed: subprocess.CompletedProcess, spec: dict[str, Any], cpu_s: float) -> dict[str, Any]:
    line = next((line for line in completed.stdout.splitlines() if line.startswith(RESULT_MARKER)), None)
    if line is None:
        # wrk reports an error in the script but still exits with 0 and its own summary.
        raise RuntimeError(f"wrk printed no {RESULT_MARKER.strip()} line, so the benchmark's Lua script failed: {completed.stderr[-1000:]} {completed.stdout[-1000:]}")
    raw = json.loads(line.removeprefix(RESULT_MARKER))
    duration_s = raw["duration_us"] / 1e6
    outcomes = {str(spec["expected_status"]): raw["ok"]}
    if raw["other"]:
        outcomes["other status"] = raw["other"]
    if raw["socket_errors"]:
        outcomes["socket error"] = raw["socket_errors"]
    return {
        "requests": raw["requests"],
        "ok": raw["ok"],
        "outcomes": outcomes,
        "duration_s": round(duration_s, 3),
        "per_s": rate(raw["ok"], duration_s),
        # wrk's latency statistics cover every response, whatever its status.
        "latency": {
            "p50_ms": round(raw["p50_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2),
            "max_ms": round(raw["max_us"] / 1000, 2),
            "mean_ms": round(raw["mean_us"] / 1000, 2),
            "samples": raw["ok"] + raw["other"],
        },
        "loadgen_cpu_s": round(cpu_s, 3),
        "load_generator": "wrk",
    }


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
