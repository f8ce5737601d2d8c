"""The wired services of a worker process, built on first use and rebuilt after a fork."""

from domain.bootstrap import Container, bootstrap
from domain.settings import get_settings
from workers.app import app
from workers.publisher import CeleryPublisher

_container: Container | None = None


def container() -> Container:
    global _container
    if _container is None:
        _container = bootstrap(get_settings(), CeleryPublisher(app))
    return _container


def reset_container() -> None:
    global _container
    if _container is not None:
        _container.engine.dispose(close=False)
    _container = None


def use_container(replacement: Container) -> None:
    """Make the worker use `replacement` (tests wire their own database and SMTP server)."""
    global _container
    _container = replacement
