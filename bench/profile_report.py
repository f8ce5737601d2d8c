"""Summaries of py-spy's collapsed stacks (`py-spy record --format raw`): where samples fall.

Each line of the input is `frame;frame;...;frame COUNT`, outermost frame first. py-spy puts
the process and the thread as the first frames, and they are dropped here. A frame reads
`function (path:line)`. With `--function`, the line is the function's first line, so all
samples in one function count as one frame.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The component a frame belongs to, by the first of these fragments found in its path.
COMPONENTS = (
    ("sqlite3", "sqlite3 driver"),
    ("sqlalchemy", "SQLAlchemy"),
    ("kombu", "kombu"),
    ("celery", "Celery"),
    ("redis", "redis-py"),
    ("pydantic", "pydantic"),
    ("email_validator", "email-validator"),
    ("fastapi", "FastAPI"),
    ("starlette", "Starlette"),
    ("uvicorn", "uvicorn"),
    ("anyio", "anyio"),
    ("httpx", "httpx"),
    ("httpcore", "httpx"),
    ("logging", "logging"),
    ("smtplib", "smtplib"),
    ("/domain/", "orderflow domain"),
    ("/api/", "orderflow api"),
    ("/workers/", "orderflow workers"),
    ("/threading.py", "threading"),
    ("/selectors.py", "selectors"),
)


@dataclass(frozen=True)
class Stack:
    frames: tuple[str, ...]
    samples: int


def read_stacks(path: Path) -> list[Stack]:
    stacks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text, _, count = line.rpartition(" ")
        if not text or not count.isdigit():
            continue
        frames = tuple(frame for frame in text.split(";") if not frame.startswith(("process ", "thread ")))
        if frames:
            stacks.append(Stack(frames, int(count)))
    return stacks


def self_samples(stacks: Iterable[Stack]) -> Counter[str]:
    """Count samples by the innermost frame, where the time was spent."""
    counts: Counter[str] = Counter()
    for stack in stacks:
        counts[stack.frames[-1]] += stack.samples
    return counts


def inclusive_samples(stacks: Iterable[Stack]) -> Counter[str]:
    """Count samples by every frame on the stack, once per stack even under recursion."""
    counts: Counter[str] = Counter()
    for stack in stacks:
        for frame in set(stack.frames):
            counts[frame] += stack.samples
    return counts


def component_samples(stacks: Iterable[Stack]) -> Counter[str]:
    """Count samples by the component of the innermost frame (see COMPONENTS)."""
    counts: Counter[str] = Counter()
    for stack in stacks:
        counts[component_of(stack.frames[-1])] += stack.samples
    return counts


def component_of(frame: str) -> str:
    for fragment, component in COMPONENTS:
        if fragment in frame:
            return component
    return "other"


def render_summary(title: str, stacks: list[Stack], top: int = 15) -> str:
    """Return a plain-text summary: samples by component, by innermost frame and by frame."""
    total = sum(stack.samples for stack in stacks) or 1
    sections = [f"== {title}: {total} samples"]
    for heading, counts in (
        ("by component of the innermost frame", component_samples(stacks)),
        ("innermost frames (self)", self_samples(stacks)),
        ("frames on the stack (inclusive)", inclusive_samples(stacks)),
    ):
        sections.append(f"-- {heading}")
        sections += [f"{count / total:6.1%}  {frame}" for frame, count in counts.most_common(top)]
    return "\n".join(sections)
