#!/usr/bin/env python3
"""Developer entry point, run with any Python 3.11 or newer.

    python3 dev.py up [--replay DATA_DIR]   run the local stack (python -m ops.stack)
    python3 dev.py test [PYTEST_ARGS ...]   run the test suite (python -m pytest)

Both commands first make sure that .venv exists and has the project installed with its dev
extras (`pip install -e ".[dev]"`), then run inside that virtualenv from the repository
root. The install is skipped
while .venv/.orderflow-install-stamp is newer than pyproject.toml, so editing pyproject.toml
triggers a reinstall on the next run. Only the standard library is used here, because this
script runs before the virtualenv exists.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / "bin"
VENV_PYTHON = VENV_BIN / "python"
INSTALL_STAMP = VENV / ".orderflow-install-stamp"
PYPROJECT = ROOT / "pyproject.toml"
MIN_PYTHON = (3, 11)

USAGE = """usage: python3 dev.py up [--replay DATA_DIR]
       python3 dev.py test [PYTEST_ARGS ...]

commands:
  up     run Redis, the API, Celery worker and beat, Flower and an SMTP sink locally
  test   run pytest inside .venv from the repository root. Arguments go to pytest
         unchanged, so paths in them are relative to the repository root."""


class SetupError(RuntimeError):
    """The virtualenv could not be created or the project could not be installed into it."""


def install_is_current() -> bool:
    return INSTALL_STAMP.exists() and INSTALL_STAMP.stat().st_mtime > PYPROJECT.stat().st_mtime


def run_step(command: list[str], failure_hint: str) -> None:
    print(f"dev.py: running {' '.join(command)}", flush=True)
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SetupError(
            f"{' '.join(command)} failed with exit code {result.returncode}. {failure_hint}"
        )


def ensure_venv() -> None:
    """Create .venv and install the project into it, unless the install stamp is current."""
    if not VENV_PYTHON.exists():
        run_step(
            [sys.executable, "-m", "venv", str(VENV)],
            "On Debian and Ubuntu, install the python3-venv package first.",
        )
    if install_is_current():
        return
    run_step(
        [str(VENV_PYTHON), "-m", "pip", "install", "-e", ".[dev]"],
        "Fix the error above, or delete .venv to start from a new virtualenv.",
    )
    INSTALL_STAMP.touch()


def venv_environment() -> dict[str, str]:
    """Return this process's environment with .venv activated, as `source activate` would."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", os.defpath)])
    env.pop("PYTHONHOME", None)
    return env


def exec_python(arguments: list[str]) -> None:
    """Replace this process with the virtualenv's Python running `arguments`."""
    os.chdir(ROOT)
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), *arguments], venv_environment())


def parse_up_args(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 dev.py up", description="Run the local stack.")
    parser.add_argument(
        "--replay",
        metavar="DATA_DIR",
        help="replay the data in DATA_DIR through the API once it is healthy",
    )
    return parser.parse_args(arguments)


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"dev.py: Python 3.11 or newer is required, this is {sys.version.split()[0]}",
              file=sys.stderr)
        return 2
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if not argv or argv[0] not in {"up", "test"}:
        print(USAGE, file=sys.stderr)
        return 2

    command, arguments = argv[0], argv[1:]
    if command == "up":
        replay_dir = parse_up_args(arguments).replay
        # A relative DATA_DIR is resolved against the caller's directory, before the chdir.
        stack_args = ["--replay", str(Path(replay_dir).resolve())] if replay_dir else []
        python_args = ["-m", "ops.stack", *stack_args]
    else:
        python_args = ["-m", "pytest", *arguments]

    try:
        ensure_venv()
    except SetupError as error:
        print(f"dev.py: {error}", file=sys.stderr)
        return 1
    exec_python(python_args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
