"""Reads of stock and of inbound, outbound and return orders.

Two parties see a document: the exporter whose stock it is (``enterprise_id``) and the operator of the
warehouse it is in (``warehouse_owner_id``) — the operator only for its own warehouses, and only the
stock of exporters that use them. Everyone else gets 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, insert, or_, select
from sqlalchemy.orm import Session

from tradeloop.catalog.repository import ProductRepository
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.warehouse.models import WarehouseClient
from tradeloop.warehouse.stock_models import (
    Allocation,
    InboundLine,
    InboundOrder,
    InboundStatus,
    OutboundLine,
    OutboundOrder,
    ReturnLine,
    ReturnOrder,
    StockLot,
    StockMovement,
)


def _visible(model, me: uuid.UUID):
    """The exporter's own rows, and for a warehouse operator the rows in its warehouses of exporters that
    still use them (a client link exists)."""
    client = exists().where(WarehouseClient.enterprise_id == model.warehouse_owner_id,
                            WarehouseClient.warehouse_id == model.warehouse_id,
                            WarehouseClient.client_enterprise_id == model.enterprise_id)
    return or_(model.enterprise_id == me, and_(model.warehouse_owner_id == me, client))


class StockRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    def _one(self, model, row_id: uuid.UUID, what_en: str, what_zh: str, *, for_update: bool = False):
        stmt = select(model).where(_visible(model, self.me), model.id == row_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound(f"{what_en} not found.", message_zh=f"未找到该{what_zh}")
        return row

    # --- stock ----------------------------------------------------------------------------------

    def lots(self, *, warehouse_id: uuid.UUID | None = None, sku: str | None = None, q: str | None = None,
             declaration_id: uuid.UUID | None = None, in_stock: bool = True) -> Select:
        stmt = select(StockLot).where(_visible(StockLot, self.me))
        if warehouse_id:
            stmt = stmt.where(StockLot.warehouse_id == warehouse_id)
        if sku:
            stmt = stmt.where(StockLot.sku == sku)
        if q:
            stmt = stmt.where(contains_any([StockLot.sku, StockLot.lot_code], q))
        if declaration_id:
            stmt = stmt.where(StockLot.declaration_id == declaration_id)
        if in_stock:
            stmt = stmt.where(StockLot.on_hand > 0)
        return stmt

    def lot_rows(self, **filters) -> list[StockLot]:
        """Lots oldest receipt first (the FIFO order)."""
        return list(self.session.scalars(self.lots(**filters).order_by(StockLot.received_at, StockLot.id)))

    def sku_known(self, sku: str) -> bool:
        """The SKU has a lot visible to the caller (even empty), or is a product of the caller's catalogue."""
        if self.session.scalar(self.lots(sku=sku, in_stock=False).limit(1)) is not None:
            return True
        return bool(ProductRepository(self.session, self.principal).by_sku([sku]))

    def lot(self, lot_id: uuid.UUID) -> StockLot:
        return self._one(StockLot, lot_id, "Stock lot", "库存批次")

    def lots_page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.lots(**filters), StockLot.id, cursor=cursor, limit=limit)

    def balances(self, *, warehouse_id: uuid.UUID | None = None, sku: str | None = None,
                 enterprise_id: uuid.UUID | None = None) -> list[tuple]:
        """(enterprise_id, warehouse_id, sku, on_hand, allocated, lots, oldest receipt) per SKU and warehouse."""
        stmt = select(StockLot.enterprise_id, StockLot.warehouse_id, StockLot.sku, func.sum(StockLot.on_hand),
                      func.sum(StockLot.allocated), func.count(), func.min(StockLot.received_at)).where(
            _visible(StockLot, self.me), StockLot.on_hand > 0)
        if warehouse_id:
            stmt = stmt.where(StockLot.warehouse_id == warehouse_id)
        if sku:
            stmt = stmt.where(StockLot.sku == sku)
        if enterprise_id:
            stmt = stmt.where(StockLot.enterprise_id == enterprise_id)
        stmt = stmt.group_by(StockLot.enterprise_id, StockLot.warehouse_id, StockLot.sku).order_by(
            StockLot.sku, StockLot.warehouse_id)
        return [tuple(r) for r in self.session.execute(stmt)]

    def movements(self, *, lot_id: uuid.UUID | None = None, warehouse_id: uuid.UUID | None = None,
                  sku: str | None = None, since: datetime | None = None) -> Select:
        stmt = select(StockMovement).where(_visible(StockMovement, self.me))
        if lot_id:
            stmt = stmt.where(StockMovement.lot_id == lot_id)
        if warehouse_id:
            stmt = stmt.where(StockMovement.warehouse_id == warehouse_id)
        if sku:
            stmt = stmt.where(StockMovement.sku == sku)
        if since:
            stmt = stmt.where(StockMovement.occurred_at >= since)
        return stmt.order_by(StockMovement.id)

    def on_hand_before(self, lot_id: uuid.UUID, movement_id: uuid.UUID) -> int:
        """The lot's on-hand just before ``movement_id`` (the start of a running balance)."""
        return int(self.session.scalar(select(func.coalesce(func.sum(StockMovement.d_on_hand), 0)).where(
            _visible(StockMovement, self.me), StockMovement.lot_id == lot_id, StockMovement.id < movement_id)))

    def movement_rows(self, **filters) -> list[StockMovement]:
        return list(self.session.scalars(self.movements(**filters)))

    # --- documents ------------------------------------------------------------------------------

    def inbound(self, inbound_id: uuid.UUID, *, for_update: bool = False) -> InboundOrder:
        return self._one(InboundOrder, inbound_id, "Inbound order", "入库单", for_update=for_update)

    def inbound_lines(self, order: InboundOrder) -> list[InboundLine]:
        return list(self.session.scalars(select(InboundLine).where(
            InboundLine.enterprise_id == order.enterprise_id, InboundLine.inbound_id == order.id)
            .order_by(InboundLine.line_no)))

    def inbounds(self, *, status: str | None = None, warehouse_id: uuid.UUID | None = None,
                 shipment_id: uuid.UUID | None = None) -> Select:
        stmt = select(InboundOrder).where(_visible(InboundOrder, self.me))
        if status:
            stmt = stmt.where(InboundOrder.status == status)
        if warehouse_id:
            stmt = stmt.where(InboundOrder.warehouse_id == warehouse_id)
        if shipment_id:
            stmt = stmt.where(InboundOrder.shipment_id == shipment_id)
        return stmt

    def expected_for(self, declaration_line_id: uuid.UUID) -> int:
        """Units already expected on inbound orders (not cancelled) for one declaration line."""
        return int(self.session.scalar(select(func.coalesce(func.sum(InboundLine.expected_qty), 0)).join(
            InboundOrder, (InboundOrder.enterprise_id == InboundLine.enterprise_id)
            & (InboundOrder.id == InboundLine.inbound_id)).where(
            InboundLine.enterprise_id == self.me, InboundLine.declaration_line_id == declaration_line_id,
            InboundOrder.status != InboundStatus.CANCELLED)))

    def open_inbound_for(self, shipment_id: uuid.UUID) -> InboundOrder | None:
        return self.session.scalar(self.inbounds(shipment_id=shipment_id).where(
            InboundOrder.status != InboundStatus.CANCELLED).limit(1))

    def discrepancies(self, *, declaration_id: uuid.UUID | None = None,
                      shipment_id: uuid.UUID | None = None) -> list[tuple[InboundOrder, InboundLine]]:
        """Inbound lines whose count differs from what was expected (short, over, damaged)."""
        joined = (InboundLine.enterprise_id == InboundOrder.enterprise_id) & (InboundLine.inbound_id == InboundOrder.id)
        stmt = select(InboundOrder, InboundLine).join(InboundLine, joined).where(
            _visible(InboundOrder, self.me), InboundOrder.status == InboundStatus.RECEIVED,
            or_(InboundLine.damaged_qty > 0, InboundLine.received_qty + InboundLine.damaged_qty
                != InboundLine.expected_qty))
        if declaration_id:
            stmt = stmt.where(InboundLine.declaration_id == declaration_id)
        if shipment_id:
            stmt = stmt.where(InboundOrder.shipment_id == shipment_id)
        return [(o, li) for o, li in self.session.execute(stmt.order_by(InboundOrder.number, InboundLine.line_no))]

    def outbound(self, outbound_id: uuid.UUID, *, for_update: bool = False) -> OutboundOrder:
        return self._one(OutboundOrder, outbound_id, "Outbound order", "出库单", for_update=for_update)

    def outbound_lines(self, order: OutboundOrder) -> list[OutboundLine]:
        return list(self.session.scalars(select(OutboundLine).where(
            OutboundLine.enterprise_id == order.enterprise_id, OutboundLine.outbound_id == order.id)
            .order_by(OutboundLine.line_no)))

    def outbounds(self, *, status: str | None = None, warehouse_id: uuid.UUID | None = None,
                  q: str | None = None) -> Select:
        stmt = select(OutboundOrder).where(_visible(OutboundOrder, self.me))
        if status:
            stmt = stmt.where(OutboundOrder.status == status)
        if warehouse_id:
            stmt = stmt.where(OutboundOrder.warehouse_id == warehouse_id)
        if q:
            stmt = stmt.where(contains_any([OutboundOrder.number, OutboundOrder.reference, OutboundOrder.tracking_no,
                                            OutboundOrder.ship_to_name], q))
        return stmt

    def outbound_references(self, references: list[str]) -> set[str]:
        """Which of these sales references already have an outbound order of the caller."""
        found: set[str] = set()
        for i in range(0, len(references), 500):
            found.update(self.session.scalars(select(OutboundOrder.reference).where(
                OutboundOrder.enterprise_id == self.me, OutboundOrder.reference.in_(references[i:i + 500]))))
        return found

    def outbounds_by_reference(self, references: list[str]) -> dict[str, tuple[OutboundOrder, list[OutboundLine]]]:
        """The caller's outbound orders with these references, with their lines."""
        found: dict[str, tuple[OutboundOrder, list[OutboundLine]]] = {}
        for i in range(0, len(references), 500):
            orders = {o.id: o for o in self.session.scalars(select(OutboundOrder).where(
                OutboundOrder.enterprise_id == self.me, OutboundOrder.reference.in_(references[i:i + 500])))}
            lines: dict[uuid.UUID, list[OutboundLine]] = {oid: [] for oid in orders}
            if orders:
                for line in self.session.scalars(select(OutboundLine).where(
                        OutboundLine.enterprise_id == self.me, OutboundLine.outbound_id.in_(list(orders)))
                        .order_by(OutboundLine.line_no)):
                    lines[line.outbound_id].append(line)
            found.update({o.reference: (o, lines[o.id]) for o in orders.values()})
        return found

    def add_outbound_batch(self, orders: list[dict], lines: list[dict], allocations: list[dict]) -> None:
        """Insert many outbound orders with their lines and allocations (one ``executemany`` each); the
        stock itself moves through ``ledger.StockLedger.apply_many`` in the same transaction."""
        for model, rows in ((OutboundOrder, orders), (OutboundLine, lines), (Allocation, allocations)):
            if rows:
                self.session.execute(insert(model.__table__), rows)

    def allocations(self, order: OutboundOrder, *, state: str | None = None) -> list[Allocation]:
        stmt = select(Allocation).where(Allocation.enterprise_id == order.enterprise_id,
                                        Allocation.outbound_id == order.id)
        if state:
            stmt = stmt.where(Allocation.state == state)
        return list(self.session.scalars(stmt.order_by(Allocation.id)))

    def return_order(self, return_id: uuid.UUID, *, for_update: bool = False) -> ReturnOrder:
        return self._one(ReturnOrder, return_id, "Return order", "退货单", for_update=for_update)

    def return_lines(self, order: ReturnOrder) -> list[ReturnLine]:
        return list(self.session.scalars(select(ReturnLine).where(
            ReturnLine.enterprise_id == order.enterprise_id, ReturnLine.return_id == order.id)
            .order_by(ReturnLine.line_no)))

    def returned_by_lot(self, outbound_id: uuid.UUID, enterprise_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """Units already returned per lot against one outbound order (a unit comes back at most once)."""
        joined = (ReturnOrder.enterprise_id == ReturnLine.enterprise_id) & (ReturnOrder.id == ReturnLine.return_id)
        rows = self.session.execute(select(ReturnLine.lot_id, func.sum(ReturnLine.qty)).join(ReturnOrder, joined)
            .where(ReturnOrder.enterprise_id == enterprise_id, ReturnOrder.outbound_id == outbound_id)
            .group_by(ReturnLine.lot_id))
        return {lot: int(n) for lot, n in rows}

    def returns(self, *, status: str | None = None) -> Select:
        stmt = select(ReturnOrder).where(_visible(ReturnOrder, self.me))
        if status:
            stmt = stmt.where(ReturnOrder.status == status)
        return stmt

    def page(self, stmt: Select, id_column, *, cursor: str | None, limit: int | None):
        return paginate(self.session, stmt, id_column, cursor=cursor, limit=limit)

    # --- reads for the stock pages (read-only; offset paging and totals) ---------------------------

    def balance_rows(self, *, warehouse_id: uuid.UUID | None = None, q: str | None = None,
                     enterprise_id: uuid.UUID | None = None) -> Select:
        """Per exporter, warehouse and SKU, over the lots in stock: columns enterprise_id, warehouse_id, sku,
        on_hand, allocated, available, lots, oldest — a statement the pages sort, page and export."""
        stmt = select(StockLot.enterprise_id, StockLot.warehouse_id, StockLot.sku,
                      func.sum(StockLot.on_hand).label("on_hand"), func.sum(StockLot.allocated).label("allocated"),
                      func.sum(StockLot.on_hand - StockLot.allocated).label("available"),
                      func.count().label("lots"), func.min(StockLot.received_at).label("oldest")).where(
            _visible(StockLot, self.me), StockLot.on_hand > 0)
        if warehouse_id:
            stmt = stmt.where(StockLot.warehouse_id == warehouse_id)
        if q:
            stmt = stmt.where(contains_any([StockLot.sku], q))
        if enterprise_id:
            stmt = stmt.where(StockLot.enterprise_id == enterprise_id)
        return stmt.group_by(StockLot.enterprise_id, StockLot.warehouse_id, StockLot.sku)

    def lots_by_ids(self, ids) -> dict[uuid.UUID, StockLot]:
        """Visible lots by id (lot codes for allocation and return lines)."""
        ids = list({i for i in ids if i})
        if not ids:
            return {}
        rows = self.session.scalars(select(StockLot).where(_visible(StockLot, self.me), StockLot.id.in_(ids)))
        return {lot.id: lot for lot in rows}

    def ledger(self, *, lot_id: uuid.UUID | None = None, warehouse_id: uuid.UUID | None = None,
               sku: str | None = None, enterprise_id: uuid.UUID | None = None) -> Select:
        """Movements oldest first, narrowed to a lot, or to a SKU (in a warehouse, of one exporter)."""
        stmt = self.movements(lot_id=lot_id, warehouse_id=warehouse_id, sku=sku)
        if enterprise_id:
            stmt = stmt.where(StockMovement.enterprise_id == enterprise_id)
        return stmt

    def ledger_on_hand_before(self, movement_id: uuid.UUID, *, lot_id: uuid.UUID | None = None,
                              warehouse_id: uuid.UUID | None = None, sku: str | None = None,
                              enterprise_id: uuid.UUID | None = None) -> int:
        """On hand of the same selection as :meth:`ledger` just before ``movement_id`` (a page's start balance)."""
        stmt = self.ledger(lot_id=lot_id, warehouse_id=warehouse_id, sku=sku, enterprise_id=enterprise_id) \
            .order_by(None).where(StockMovement.id < movement_id).with_only_columns(
            func.coalesce(func.sum(StockMovement.d_on_hand), 0))
        return int(self.session.scalar(stmt))

    def status_counts(self, model) -> dict[str, int]:
        """Visible documents (InboundOrder, OutboundOrder or ReturnOrder) per status."""
        rows = self.session.execute(select(model.status, func.count()).where(_visible(model, self.me))
                                    .group_by(model.status))
        return {status: int(n) for status, n in rows}

    def inbound_totals(self, order_ids) -> dict[uuid.UUID, tuple[int, int, int, int]]:
        """Per inbound order: (lines, expected, received, damaged)."""
        ids = list(order_ids)
        if not ids:
            return {}
        joined = (InboundLine.enterprise_id == InboundOrder.enterprise_id) & (InboundLine.inbound_id == InboundOrder.id)
        rows = self.session.execute(
            select(InboundOrder.id, func.count(), func.sum(InboundLine.expected_qty),
                   func.sum(InboundLine.received_qty), func.sum(InboundLine.damaged_qty)).join(InboundLine, joined)
            .where(_visible(InboundOrder, self.me), InboundOrder.id.in_(ids)).group_by(InboundOrder.id))
        return {i: (int(n), int(e or 0), int(r or 0), int(d or 0)) for i, n, e, r, d in rows}

    def outbound_totals(self, order_ids) -> dict[uuid.UUID, tuple[int, int]]:
        """Per outbound order: (lines, units)."""
        ids = list(order_ids)
        if not ids:
            return {}
        joined = ((OutboundLine.enterprise_id == OutboundOrder.enterprise_id)
                  & (OutboundLine.outbound_id == OutboundOrder.id))
        rows = self.session.execute(
            select(OutboundOrder.id, func.count(), func.sum(OutboundLine.qty)).join(OutboundLine, joined)
            .where(_visible(OutboundOrder, self.me), OutboundOrder.id.in_(ids)).group_by(OutboundOrder.id))
        return {i: (int(n), int(q or 0)) for i, n, q in rows}

    def return_totals(self, order_ids) -> dict[uuid.UUID, tuple[int, int]]:
        """Per return order: (lines, units)."""
        ids = list(order_ids)
        if not ids:
            return {}
        joined = (ReturnLine.enterprise_id == ReturnOrder.enterprise_id) & (ReturnLine.return_id == ReturnOrder.id)
        rows = self.session.execute(
            select(ReturnOrder.id, func.count(), func.sum(ReturnLine.qty)).join(ReturnLine, joined)
            .where(_visible(ReturnOrder, self.me), ReturnOrder.id.in_(ids)).group_by(ReturnOrder.id))
        return {i: (int(n), int(q or 0)) for i, n, q in rows}
