"""Domain errors. The API maps each to one HTTP status in `api/errors.py`.

OrderflowError
├── NotFound                  an id that does not exist
├── Conflict                  a unique value already taken
├── InvalidRequest            input the schema accepts but the domain rejects
├── NotAuthenticated          missing, invalid or expired credentials
│   └── InvalidCredentials    a login with an unknown email, a wrong password or a disabled user
├── PermissionDenied          valid credentials that do not allow the request
├── TooManyRequests           a rate limit is exhausted; `retry_after_s` is the wait in seconds
├── IdempotencyKeyReused      an Idempotency-Key sent again with a different request
├── RequestInProgress         an Idempotency-Key whose first request is still running
├── OrderRejected             a business rule failed an order (no retry)
│   ├── UserNotAllowed        unknown or disabled user
│   ├── OutOfStock
│   └── PaymentDeclined       the gateway said no; `code` names why
├── NotificationRejected      the provider refused the message for good (bad address)
└── TransientError            worth retrying with backoff
    ├── GatewayUnavailable    payment gateway timeout or 5xx
    ├── NotifierUnavailable   SMTP or SMS provider did not take the message
    └── LookupUnavailable     the users service did not answer
"""


class OrderflowError(Exception):
    """Base of every error the domain raises on purpose."""


class NotFound(OrderflowError):
    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} was not found")
        self.kind = kind
        self.key = key


class Conflict(OrderflowError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidRequest(OrderflowError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotAuthenticated(OrderflowError):
    """`scheme` is the authentication scheme the request needs: "Bearer" or "ApiKey"."""

    def __init__(self, message: str, scheme: str = "Bearer") -> None:
        super().__init__(message)
        self.scheme = scheme


class InvalidCredentials(NotAuthenticated):
    def __init__(self) -> None:
        # One message for every cause, so a response does not reveal whether an email is registered.
        super().__init__("Incorrect email or password.")


class PermissionDenied(OrderflowError):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


class TooManyRequests(OrderflowError):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IdempotencyKeyReused(OrderflowError):
    pass


class RequestInProgress(OrderflowError):
    pass


class OrderRejected(OrderflowError):
    """A business rule failed the order; the message is the failure reason shown to clients."""


class UserNotAllowed(OrderRejected):
    pass


class OutOfStock(OrderRejected):
    def __init__(self, sku: str, requested: int) -> None:
        super().__init__(f"out of stock: {sku} (requested {requested})")
        self.sku = sku


class PaymentDeclined(OrderRejected):
    def __init__(self, code: str) -> None:
        super().__init__(f"payment declined: {code}")
        self.code = code


class NotificationRejected(OrderflowError):
    pass


class TransientError(OrderflowError):
    """A failure of a remote system that may succeed when tried again later."""


class GatewayUnavailable(TransientError):
    pass


class NotifierUnavailable(TransientError):
    pass


class LookupUnavailable(TransientError):
    pass
