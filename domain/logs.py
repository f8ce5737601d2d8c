"""Log configuration for orderflow processes: ids passed in `extra` appear on every line.

Call `configure_logging()` once at process start (the API entry point, the worker's
logging signal); never at import.
"""

import logging
import os

# Attributes every LogRecord has; anything else on a record came from `extra`.
# Celery's own `data` extra repeats its message text, so it is left out.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "data"}

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class ContextFormatter(logging.Formatter):
    """Append the record's `extra` fields as `key=value` pairs after the message."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        if not context:
            return line
        pairs = " ".join(f"{key}={value}" for key, value in sorted(context.items()))
        return f"{line} [{pairs}]"


def configure_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(ContextFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))


def use_context_formatter(logger: logging.Logger) -> None:
    """Give an already configured logger's handlers the context formatter (for Celery)."""
    for handler in logger.handlers:
        handler.setFormatter(ContextFormatter(FORMAT))
