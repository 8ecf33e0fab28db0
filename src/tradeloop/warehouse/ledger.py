"""The stock ledger: the one module that changes stock, and the one place that locks.

Every change is a movement row plus one *conditional* update of its lot::

    UPDATE stock_lots SET on_hand = on_hand + :d_on, allocated = allocated + :d_alloc
     WHERE id = :lot AND on_hand + :d_on >= 0 AND allocated + :d_alloc >= 0
       AND allocated + :d_alloc <= on_hand + :d_on

If no row matched, the stock was not there and the caller's transaction is rolled back whole. On
PostgreSQL (READ COMMITTED) a concurrent writer of the same lot makes the update wait for the row lock and
then re-evaluates the condition against the committed values, so two transactions can never both take the
last units; on SQLite every write transaction holds the database write lock from ``BEGIN IMMEDIATE``. The
CHECK constraints on ``stock_lots`` are the last line of defence. Lots are always touched in the same
order — (sku, received_at, id) — so two transactions never wait on each other in a cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from tradeloop.kit.errors import Conflict
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.tenancy import Principal
from tradeloop.warehouse.stock_models import EFFECT, MovementKind, StockLot, StockMovement


class InsufficientStock(Conflict):
    type_slug = "insufficient-stock"
    title = "Insufficient stock"


@dataclass(frozen=True)
class Document:
    """What a movement belongs to (an inbound, outbound or return order, an adjustment …)."""

    type: str
    id: uuid.UUID | None = None
    number: str | None = None


@dataclass(frozen=True)
class BatchMove:
    lot: StockLot
    kind: MovementKind
    qty: int
    document: Document
    occurred_at: datetime | None = None
    reason: str | None = None


def lock_order(lot: StockLot) -> tuple:
    return (lot.sku, lot.received_at, lot.id)


class StockLedger:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    # --- lots -----------------------------------------------------------------------------------

    def lot(self, enterprise_id: uuid.UUID, lot_id: uuid.UUID, *, for_update: bool = False) -> StockLot | None:
        stmt = select(StockLot).where(StockLot.enterprise_id == enterprise_id, StockLot.id == lot_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt.execution_options(populate_existing=True))

    def lot_for(self, *, enterprise_id: uuid.UUID, warehouse_owner_id: uuid.UUID, warehouse_id: uuid.UUID,
                sku: str, product_id: uuid.UUID | None, declaration_id: uuid.UUID | None,
                declaration_line_id: uuid.UUID | None, lot_code: str, received_at: datetime) -> StockLot:
        """The lot of this SKU and declaration line in this warehouse, created on first receipt."""
        key = str(declaration_line_id) if declaration_line_id else f"code:{lot_code}"
        dialect = self.session.get_bind().dialect.name
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(StockLot).values(
            enterprise_id=enterprise_id, id=uuid7(), warehouse_owner_id=warehouse_owner_id,
            warehouse_id=warehouse_id, sku=sku, product_id=product_id, declaration_id=declaration_id,
            declaration_line_id=declaration_line_id, lot_key=key, lot_code=lot_code, received_at=received_at,
            on_hand=0, allocated=0, created_at=utcnow(), updated_at=utcnow())
        self.session.execute(ins.on_conflict_do_nothing(index_elements=["enterprise_id", "warehouse_id", "sku",
                                                                        "lot_key"]))
        return self.session.scalar(select(StockLot).where(
            StockLot.enterprise_id == enterprise_id, StockLot.warehouse_id == warehouse_id, StockLot.sku == sku,
            StockLot.lot_key == key).execution_options(populate_existing=True))

    def fifo_lots(self, enterprise_id: uuid.UUID, warehouse_id: uuid.UUID, sku: str) -> list[StockLot]:
        """Lots with available units, oldest receipt first."""
        return list(self.session.scalars(self._lots(enterprise_id, warehouse_id, sku).where(
            StockLot.on_hand > StockLot.allocated).execution_options(populate_existing=True)))

    @staticmethod
    def _lots(enterprise_id: uuid.UUID, warehouse_id: uuid.UUID, sku: str) -> Select:
        return select(StockLot).where(StockLot.enterprise_id == enterprise_id, StockLot.warehouse_id == warehouse_id,
                                      StockLot.sku == sku).order_by(StockLot.received_at, StockLot.id)

    # --- movements ------------------------------------------------------------------------------

    def move(self, lot: StockLot, kind: MovementKind, qty: int, *, document: Document, actor: str,
             reason: str | None = None, occurred_at: datetime | None = None) -> StockMovement | None:
        """Apply one movement to ``lot``; None when the lot lacks the stock (nothing was changed)."""
        if qty <= 0:
            raise ValueError("movement quantities are positive")
        sign_on, sign_alloc = EFFECT[kind]
        d_on, d_alloc = sign_on * qty, sign_alloc * qty
        if d_on or d_alloc:
            new_on, new_alloc = StockLot.on_hand + d_on, StockLot.allocated + d_alloc
            row = self.session.execute(
                update(StockLot).where(and_(StockLot.enterprise_id == lot.enterprise_id, StockLot.id == lot.id,
                                            new_on >= 0, new_alloc >= 0, new_alloc <= new_on))
                .values(on_hand=new_on, allocated=new_alloc, updated_at=utcnow())
                .returning(StockLot.on_hand, StockLot.allocated)
                .execution_options(synchronize_session=False)).first()
            if row is None:
                return None
            # keep the in-session copy true without another read, and without marking it changed (the row is
            # already written: a dirty object would be flushed again)
            set_committed_value(lot, "on_hand", row[0])
            set_committed_value(lot, "allocated", row[1])
        movement = {"enterprise_id": lot.enterprise_id, "id": uuid7(), "lot_id": lot.id,
                    "warehouse_owner_id": lot.warehouse_owner_id, "warehouse_id": lot.warehouse_id, "sku": lot.sku,
                    "kind": kind.value, "qty": qty, "d_on_hand": d_on, "d_allocated": d_alloc,
                    "document_type": document.type, "document_id": document.id, "document_no": document.number,
                    "reason": reason, "occurred_at": occurred_at or utcnow(), "actor": actor[:200],
                    "created_at": utcnow()}
        self.session.execute(insert(StockMovement).values(**movement))
        return StockMovement(**movement)

    def must_move(self, lot: StockLot, kind: MovementKind, qty: int, **kw) -> StockMovement:
        moved = self.move(lot, kind, qty, **kw)
        if moved is None:
            raise InsufficientStock(
                f"Lot {lot.lot_code} of {lot.sku} has {lot.on_hand} on hand and {lot.allocated} allocated: "
                f"cannot apply {kind.value} of {qty}.", message_zh=f"批次 {lot.lot_code}（{lot.sku}）库存不足，"
                f"无法执行该操作", sku=lot.sku, lot=lot.lot_code)
        return moved

    def allocate_fifo(self, enterprise_id: uuid.UUID, warehouse_id: uuid.UUID, sku: str, qty: int, *,
                      document: Document, actor: str) -> list[tuple[StockLot, int]]:
        """Reserve ``qty`` of ``sku`` from the oldest lots first. All or nothing: raises InsufficientStock
        (and the caller rolls back) when the available units do not cover ``qty``."""
        remaining, taken = qty, []
        while remaining > 0:
            lots = self.fifo_lots(enterprise_id, warehouse_id, sku)
            available = sum(lot.on_hand - lot.allocated for lot in lots)
            if available < remaining:
                raise InsufficientStock(
                    f"Not enough {sku} in stock: {qty} wanted, {available + qty - remaining} available.",
                    message_zh=f"{sku} 可用库存不足：需要 {qty}，可用 {available + qty - remaining}",
                    sku=sku, wanted=qty, available=available + qty - remaining)
            for lot in lots:
                take = min(remaining, lot.on_hand - lot.allocated)
                if take <= 0:
                    continue
                if self.move(lot, MovementKind.ALLOCATE, take, document=document, actor=actor) is None:
                    break  # changed under us since the read: read again
                taken.append((lot, take))
                remaining -= take
                if remaining == 0:
                    break
        return taken

    # --- many orders at once (fulfilment of an imported sales file) ------------------------------

    def lock_available(self, enterprise_id: uuid.UUID, warehouse_id: uuid.UUID, skus: Iterable[str]) -> list[StockLot]:
        """The lots of ``skus`` in a warehouse that have available units, locked (``FOR UPDATE`` on PostgreSQL;
        SQLite's write transaction holds the database) in the one global lock order. Until the caller's
        transaction ends nobody else can take their units, so a plan made from them holds."""
        skus = sorted(set(skus))
        if not skus:
            return []
        return list(self.session.scalars(
            select(StockLot).where(StockLot.enterprise_id == enterprise_id, StockLot.warehouse_id == warehouse_id,
                                   StockLot.sku.in_(skus), StockLot.on_hand > StockLot.allocated)
            .order_by(StockLot.sku, StockLot.received_at, StockLot.id).with_for_update()
            .execution_options(populate_existing=True)))

    def apply_many(self, moves: list[BatchMove], *, actor: str) -> None:
        """Many movements in one go: one conditional update per lot with the lot's net change (lots in the
        global lock order), and the movement rows in one ``executemany``. All or nothing: raises
        InsufficientStock (the caller rolls back) when a lot would go below zero or over-allocated."""
        net: dict[uuid.UUID, list] = {}
        now = utcnow()
        rows = []
        for m in moves:
            if m.qty <= 0:
                raise ValueError("movement quantities are positive")
            sign_on, sign_alloc = EFFECT[m.kind]
            d_on, d_alloc = sign_on * m.qty, sign_alloc * m.qty
            entry = net.setdefault(m.lot.id, [m.lot, 0, 0])
            entry[1] += d_on
            entry[2] += d_alloc
            lot = m.lot
            rows.append({"enterprise_id": lot.enterprise_id, "id": uuid7(), "lot_id": lot.id,
                         "warehouse_owner_id": lot.warehouse_owner_id, "warehouse_id": lot.warehouse_id,
                         "sku": lot.sku, "kind": m.kind.value, "qty": m.qty, "d_on_hand": d_on,
                         "d_allocated": d_alloc, "document_type": m.document.type, "document_id": m.document.id,
                         "document_no": m.document.number, "reason": m.reason, "occurred_at": m.occurred_at or now,
                         "actor": actor[:200], "created_at": now})
        for lot, d_on, d_alloc in sorted(net.values(), key=lambda e: lock_order(e[0])):
            if not d_on and not d_alloc:
                continue
            new_on, new_alloc = StockLot.on_hand + d_on, StockLot.allocated + d_alloc
            row = self.session.execute(
                update(StockLot).where(and_(StockLot.enterprise_id == lot.enterprise_id, StockLot.id == lot.id,
                                            new_on >= 0, new_alloc >= 0, new_alloc <= new_on))
                .values(on_hand=new_on, allocated=new_alloc, updated_at=now)
                .returning(StockLot.on_hand, StockLot.allocated)
                .execution_options(synchronize_session=False)).first()
            if row is None:
                raise InsufficientStock(
                    f"Lot {lot.lot_code} of {lot.sku} cannot take a net change of {d_on} on hand and {d_alloc} "
                    f"allocated.", message_zh=f"批次 {lot.lot_code}（{lot.sku}）库存不足，无法执行该操作",
                    sku=lot.sku, lot=lot.lot_code)
            set_committed_value(lot, "on_hand", row[0])
            set_committed_value(lot, "allocated", row[1])
        if rows:
            self.session.execute(insert(StockMovement.__table__), rows)

    # --- reads for the services -----------------------------------------------------------------

    def lots_by_id(self, enterprise_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StockLot]:
        ids = list(set(ids))
        if not ids:
            return {}
        rows = self.session.scalars(select(StockLot).where(StockLot.enterprise_id == enterprise_id,
                                                           StockLot.id.in_(ids))
                                    .execution_options(populate_existing=True))
        return {lot.id: lot for lot in rows}
