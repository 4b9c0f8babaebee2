"""What pages of products and single products answer, kept in this worker's memory as the
responses' bytes: a warm read costs PostgreSQL no statement and the API no serialisation.

Operators may write products with SQL, and keygate serves such a change from the next request
(docs/contract.md, Products), on every worker. What keeps that true:
- migration 0004's trigger NOTIFYs `keygate_products` at the commit of every change, and every
  notification clears this cache, as does every (re)connect of the LISTEN connection, since
  what was notified while it was down is lost (app/core/notifications.py);
- a kept answer is served only after `Notifications.caught_up()`, which has every change
  committed before the request arrived reach this cache first;
- nothing is kept or served while the worker is not listening: reads then go to PostgreSQL;
- an answer read before a notification is not kept after it (its rows may predate the
  change): the generation counter, bumped by every clear, is checked before keeping;
- a write through the API clears this worker's cache as soon as it returns (the trigger tells
  the others).

Every (limit, offset) pair and every id is a key, and offsets go to 2**31: the least recently
used answers go once there are MAX_ENTRIES of them or MAX_BYTES in all."""

from collections import OrderedDict
from decimal import Decimal
from enum import Enum
from typing import Final, Protocol

from app.core.notifications import Notifications
from app.products.repository import Product, ProductRepository

NOTIFY_CHANNEL: Final = "keygate_products"  # migration 0004's trigger
MAX_ENTRIES: Final = 1024
MAX_BYTES: Final = 4 * 1024 * 1024

# A page is (limit, offset), a product (id,). A product's answer is None when it does not exist.
Key = tuple[int, ...]
Answer = bytes | None


class _Absent(Enum):
    ABSENT = "absent"


ABSENT: Final = _Absent.ABSENT


class ProductRenderer(Protocol):
    """The response bodies, as the API shapes them."""

    def page(self, products: list[Product], *, total: int, limit: int, offset: int) -> bytes: ...

    def product(self, product: Product) -> bytes: ...


class ProductCache:
    """Reads through to the repository and keeps what they answer; writes through to it."""

    def __init__(
        self,
        repository: ProductRepository,
        notifications: Notifications,
        render: ProductRenderer,
    ) -> None:
        self._repository = repository
        self._notifications = notifications
        self._render = render
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._bytes = 0
        self._generation = 0

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0
        self._generation += 1

    async def page_json(self, *, limit: int, offset: int) -> bytes:
        key = (limit, offset)
        kept = await self._kept(key)
        if isinstance(kept, bytes):
            return kept
        generation = self._generation
        products, total = await self._repository.page(limit=limit, offset=offset)
        body = self._render.page(products, total=total, limit=limit, offset=offset)
        self._keep(key, body, generation)
        return body

    async def product_json(self, product_id: int) -> bytes | None:
        """None when there is no such product."""
        key = (product_id,)
        kept = await self._kept(key)
        if kept is not ABSENT:
            return kept
        generation = self._generation
        product = await self._repository.get(product_id)
        body = None if product is None else self._render.product(product)
        self._keep(key, body, generation)
        return body

    async def create(self, *, name: str, price: Decimal) -> Product:
        try:
            return await self._repository.create(name=name, price=price)
        finally:
            self.clear()  # also after an error: the write may have committed

    async def update(self, product_id: int, changes: dict[str, object]) -> Product | None:
        try:
            return await self._repository.update(product_id, changes)
        finally:
            self.clear()

    async def delete(self, product_id: int) -> bool:
        try:
            return await self._repository.delete(product_id)
        finally:
            self.clear()

    async def _kept(self, key: Key) -> Answer | _Absent:
        # Only an answer that is there waits for the round trip: a read that goes to
        # PostgreSQL anyway sees every change committed before it.
        if key not in self._answers or not await self._notifications.caught_up():
            return ABSENT
        answer = self._answers.get(key, ABSENT)  # a notification may have cleared it since
        if answer is not ABSENT:
            self._answers.move_to_end(key)
        return answer

    def _keep(self, key: Key, answer: Answer, generation: int) -> None:
        if generation != self._generation or not self._notifications.is_listening:
            return
        replaced = self._answers.pop(key, None)
        self._answers[key] = answer
        self._bytes += _size(answer) - _size(replaced)
        while len(self._answers) > MAX_ENTRIES or self._bytes > MAX_BYTES:
            _, evicted = self._answers.popitem(last=False)
            self._bytes -= _size(evicted)


def _size(answer: Answer) -> int:
    return 0 if answer is None else len(answer)
