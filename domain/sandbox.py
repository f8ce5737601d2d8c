"""Simulated latency and transient failures, shared by the sandbox gateways and providers."""

import logging
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatencyProfile:
    """A uniform delay between `low_ms` and `high_ms` milliseconds per remote call."""

    low_ms: float = 0.0
    high_ms: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "LatencyProfile":
        """Read "0", "50" or a range "20-100" (milliseconds)."""
        low, _, high = text.strip().partition("-")
        low_ms = float(low)
        high_ms = float(high) if high else low_ms
        if low_ms < 0 or high_ms < low_ms:
            raise ValueError(f"invalid latency {text!r}: use milliseconds as '50' or '20-100'")
        return cls(low_ms, high_ms)


@dataclass
class SandboxBehaviour:
    """The misbehaviour of a sandbox: latency, and the share of calls that time out."""

    latency: LatencyProfile = field(default_factory=LatencyProfile)
    failure_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    # See Settings.sandbox_crash_file.
    crash_file: Path | None = None

    def wait(self) -> None:
        delay_ms = self.rng.uniform(self.latency.low_ms, self.latency.high_ms)
        if delay_ms > 0:
            self.sleep(delay_ms / 1000)

    def fails(self) -> bool:
        return self.failure_rate > 0 and self.rng.random() < self.failure_rate

    def maybe_crash(self) -> None:
        """Kill this process if the crash file exists (fault injection for tests)."""
        if self.crash_file is None:
            return
        try:
            self.crash_file.unlink()
        except FileNotFoundError:
            return
        log.warning("Crash file found: killing process %s with SIGKILL", os.getpid())
        os.kill(os.getpid(), signal.SIGKILL)
