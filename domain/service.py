"""The base class of domain services."""

import logging

from domain.clock import Clock, utc_now


class Service:
    """Gives a service a logger named after its class and the clock it reads time from.

    Services get everything else they use (units of work, processors, notifiers) as
    constructor arguments, so tests can pass fakes and `bootstrap` wires the real ones.
    """

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.log = logging.getLogger(f"{type(self).__module__}.{type(self).__name__}")
