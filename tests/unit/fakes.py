"""In-memory fakes of the repositories and the unit of work, for domain unit tests."""

from domain.payments.sandbox_gateway import LedgerEntry, SandboxLedger


class FakeUserRepository:
    def __init__(self) -> None:
        self.rows = {}

    def add(self, user) -> None:
        user.id = user.id or f"user-{len(self.rows) + 1}"
        self.rows[user.id] = user

    def get(self, user_id):
        return self.rows.get(user_id)

    def get_by_email(self, email):
        return next((user for user in self.rows.values() if user.email == email), None)


class FakeProductRepository:
    def __init__(self) -> None:
        self.rows = {}

    def add(self, product) -> None:
        product.id = product.id or f"product-{len(self.rows) + 1}"
        self.rows[product.id] = product

    def get(self, product_id):
        return self.rows.get(product_id)

    def get_by_sku(self, sku):
        return next((product for product in self.rows.values() if product.sku == sku), None)

    def list(self, offset, limit, sku=None):
        products = sorted(self.rows.values(), key=lambda product: product.sku)
        if sku is not None:
            products = [product for product in products if product.sku == sku]
        return products[offset : offset + limit]


class FakeUnitOfWork:
    """Shares its repositories across uses, like a database; counts commits."""

    def __init__(self) -> None:
        self.users = FakeUserRepository()
        self.products = FakeProductRepository()
        self.commits = 0

    def __call__(self, read_only: bool = False):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def commit(self) -> None:
        self.commits += 1


class InMemoryLedger(SandboxLedger):
    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}

    def get(self, idempotency_key):
        return self.entries.get(idempotency_key)

    def record(self, entry):
        return self.entries.setdefault(entry.idempotency_key, entry)
