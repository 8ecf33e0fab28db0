"""Aggregates over customs, inbound and the stock ledger, per declaration line (tenant-scoped)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine, DeclarationStatus
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.sales.models import SalesOrderLine
from tradeloop.warehouse.stock_models import (
    Allocation,
    InboundLine,
    InboundOrder,
    InboundStatus,
    ReturnLine,
    ReturnOrder,
    StockLot,
    StockMovement,
)

#: Customs released the goods: from here on the units exist abroad (or on their way).
EXPORTED = (DeclarationStatus.RELEASED, DeclarationStatus.CLOSED, DeclarationStatus.SUMMARISED,
            DeclarationStatus.DECLARED)


class LoopRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    def exported_lines(self, declaration_ids: list[uuid.UUID] | None = None
                       ) -> list[tuple[Declaration, DeclarationLine]]:
        stmt = select(Declaration, DeclarationLine).join(
            DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
            & (DeclarationLine.declaration_id == Declaration.id)).where(
            Declaration.enterprise_id == self.me, Declaration.status.in_(EXPORTED))
        if declaration_ids is not None:
            stmt = stmt.where(Declaration.id.in_(declaration_ids))
        return [(d, li) for d, li in self.session.execute(stmt.order_by(Declaration.ie_date, Declaration.cop_no,
                                                                         DeclarationLine.gnum))]

    def inbound_counts(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        """Per declaration line: units counted good and damaged on every inbound line, and short and over on
        closed ones (the count is final only when the inbound order is closed)."""
        closed = InboundOrder.status == InboundStatus.RECEIVED
        rows = self.session.execute(select(
            InboundLine.declaration_line_id, func.sum(InboundLine.received_qty), func.sum(InboundLine.damaged_qty),
            func.sum(case((closed, InboundLine.expected_qty), else_=0)),
            func.sum(case((closed, InboundLine.received_qty + InboundLine.damaged_qty), else_=0)))
            .join(InboundOrder, (InboundOrder.enterprise_id == InboundLine.enterprise_id)
                  & (InboundOrder.id == InboundLine.inbound_id))
            .where(InboundLine.enterprise_id == self.me, InboundLine.declaration_line_id.in_(line_ids),
                   InboundOrder.status != InboundStatus.CANCELLED)
            .group_by(InboundLine.declaration_line_id))
        out = {}
        for line_id, received, damaged, closed_expected, closed_counted in rows:
            out[line_id] = {"received": int(received or 0), "damaged": int(damaged or 0),
                            "closed_diff": int(closed_expected or 0) - int(closed_counted or 0)}
        return out

    def movements_by_kind(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        rows = self.session.execute(select(StockLot.declaration_line_id, StockMovement.kind,
                                           func.sum(StockMovement.qty))
                                    .join(StockLot, (StockLot.enterprise_id == StockMovement.enterprise_id)
                                          & (StockLot.id == StockMovement.lot_id))
                                    .where(StockMovement.enterprise_id == self.me,
                                           StockLot.declaration_line_id.in_(line_ids))
                                    .group_by(StockLot.declaration_line_id, StockMovement.kind))
        out: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
        for line_id, kind, qty in rows:
            out[line_id][kind] = int(qty or 0)
        return out

    def on_hand(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
        """(on hand, allocated) from the lots' projection — not from the movements, so a lost update shows."""
        rows = self.session.execute(select(StockLot.declaration_line_id, func.sum(StockLot.on_hand),
                                           func.sum(StockLot.allocated))
                                    .where(StockLot.enterprise_id == self.me,
                                           StockLot.declaration_line_id.in_(line_ids))
                                    .group_by(StockLot.declaration_line_id))
        return {line_id: (int(on or 0), int(al or 0)) for line_id, on, al in rows}

    def lots_abroad(self, line_ids: list[uuid.UUID]) -> list[StockLot]:
        return list(self.session.scalars(select(StockLot).where(
            StockLot.enterprise_id == self.me, StockLot.declaration_line_id.in_(line_ids), StockLot.on_hand > 0)
            .order_by(StockLot.received_at)))


    def sold_allocations(self, line_ids: list[uuid.UUID]) -> list[tuple]:
        """Shipped allocations of these declaration lines' lots that a sales line is linked to: (declaration
        line, sales line id, outbound id, lot id, qty)."""
        lot_join = (StockLot.enterprise_id == Allocation.enterprise_id) & (StockLot.id == Allocation.lot_id)
        sale_join = ((SalesOrderLine.enterprise_id == Allocation.enterprise_id)
                     & (SalesOrderLine.outbound_line_id == Allocation.line_id))
        return [tuple(r) for r in self.session.execute(
            select(StockLot.declaration_line_id, SalesOrderLine.id, Allocation.outbound_id, Allocation.lot_id,
                   Allocation.qty)
            .join(StockLot, lot_join).join(SalesOrderLine, sale_join)
            .where(Allocation.enterprise_id == self.me, Allocation.state == "shipped",
                   StockLot.declaration_line_id.in_(line_ids)))]

    def lineage_of(self, line_ids: list[uuid.UUID]) -> tuple[list[tuple], dict, dict]:
        """In one query: the sales lines that took units of these declaration lines' lots, with ALL their shipped
        allocations (whichever declaration those came from). Returns (rows for these declaration lines as
        ``sold_allocations`` gives them, sales line -> (quantity, currency, item price, discount, order date),
        sales line -> [(lot id, received_at, qty)] in a fixed order)."""
        lot_join = (StockLot.enterprise_id == Allocation.enterprise_id) & (StockLot.id == Allocation.lot_id)
        sale_join = ((SalesOrderLine.enterprise_id == Allocation.enterprise_id)
                     & (SalesOrderLine.outbound_line_id == Allocation.line_id))
        touched = (select(SalesOrderLine.id).select_from(Allocation).join(StockLot, lot_join)
                   .join(SalesOrderLine, sale_join)
                   .where(Allocation.enterprise_id == self.me, Allocation.state == "shipped",
                          StockLot.declaration_line_id.in_(line_ids)))
        wanted = set(line_ids)
        rows, sales, allocs = [], {}, defaultdict(list)
        found = self.session.execute(
                select(SalesOrderLine.id, SalesOrderLine.quantity, SalesOrderLine.currency,
                       SalesOrderLine.item_price_minor, SalesOrderLine.discount_minor, SalesOrderLine.order_date,
                       StockLot.declaration_line_id, Allocation.outbound_id, Allocation.lot_id, StockLot.received_at,
                       Allocation.qty)
                .select_from(Allocation).join(StockLot, lot_join).join(SalesOrderLine, sale_join)
                .where(Allocation.enterprise_id == self.me, Allocation.state == "shipped",
                       SalesOrderLine.id.in_(touched))
                .order_by(SalesOrderLine.id, StockLot.received_at, Allocation.lot_id, Allocation.id))
        for (sid, qty, cur, price, discount, day, decl_line, outbound_id, lot_id, received_at, q) in found:
            sales[sid] = (qty, cur, price, discount, day)
            allocs[sid].append((lot_id, received_at, int(q)))
            if decl_line in wanted:
                rows.append((decl_line, sid, outbound_id, lot_id, int(q)))
        return rows, sales, allocs

    def sales_lines_with_allocations(self, sales_line_ids: list[uuid.UUID]) -> tuple[dict, dict]:
        """The sales lines (id -> (quantity, currency, item price, discount, order date)) and ALL their shipped
        allocations in a fixed order (id -> [(lot id, received_at, qty)]), so a line's value is split over
        its lots the same way whichever declaration is looked at."""
        lines, allocs = {}, defaultdict(list)
        for i in range(0, len(sales_line_ids), 500):
            chunk = sales_line_ids[i:i + 500]
            for row in self.session.execute(select(
                    SalesOrderLine.id, SalesOrderLine.quantity, SalesOrderLine.currency,
                    SalesOrderLine.item_price_minor, SalesOrderLine.discount_minor, SalesOrderLine.order_date)
                    .where(SalesOrderLine.enterprise_id == self.me, SalesOrderLine.id.in_(chunk))):
                lines[row[0]] = tuple(row[1:])
            for sid, lot_id, received_at, qty in self.session.execute(
                    select(SalesOrderLine.id, Allocation.lot_id, StockLot.received_at, Allocation.qty)
                    .join(Allocation, (Allocation.enterprise_id == SalesOrderLine.enterprise_id)
                          & (Allocation.line_id == SalesOrderLine.outbound_line_id))
                    .join(StockLot, (StockLot.enterprise_id == Allocation.enterprise_id)
                          & (StockLot.id == Allocation.lot_id))
                    .where(SalesOrderLine.enterprise_id == self.me, SalesOrderLine.id.in_(chunk),
                           Allocation.state == "shipped")
                    .order_by(SalesOrderLine.id, StockLot.received_at, Allocation.lot_id, Allocation.id)):
                allocs[sid].append((lot_id, received_at, int(qty)))
        return lines, allocs

    def returned_units(self, outbound_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
        """Units back from the buyer and inspected (restocked, disposed or sent home), per (outbound, lot)."""
        out: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
        joined = (ReturnOrder.enterprise_id == ReturnLine.enterprise_id) & (ReturnOrder.id == ReturnLine.return_id)
        for i in range(0, len(outbound_ids), 500):
            for outbound_id, lot_id, qty in self.session.execute(
                    select(ReturnOrder.outbound_id, ReturnLine.lot_id, func.sum(ReturnLine.qty))
                    .join(ReturnOrder, joined)
                    .where(ReturnLine.enterprise_id == self.me, ReturnOrder.outbound_id.in_(outbound_ids[i:i + 500]),
                           ReturnLine.disposition.is_not(None))
                    .group_by(ReturnOrder.outbound_id, ReturnLine.lot_id)):
                out[(outbound_id, lot_id)] += int(qty or 0)
        return out

    def declarations_page(self, *, cursor: str | None, limit: int | None, q: str | None = None,
                          warehouse_id: uuid.UUID | None = None):
        """The tenant's exported declarations, newest first (cursor pages)."""
        stmt = select(Declaration).where(Declaration.enterprise_id == self.me, Declaration.status.in_(EXPORTED))
        if q:
            stmt = stmt.where(contains_any([Declaration.cop_no, Declaration.invt_no, Declaration.entry_id,
                                            Declaration.bill_no], q.strip()))
        if warehouse_id is not None:
            stmt = stmt.where(Declaration.warehouse_id == warehouse_id)
        return paginate(self.session, stmt, Declaration.id, cursor=cursor, limit=limit)

    def lineage(self, sales_line_id: uuid.UUID) -> list[tuple]:
        """Where the units of one sales line came from: (declaration, declaration line, lot, allocation qty,
        allocation state)."""
        return list(self.session.execute(
            select(Declaration, DeclarationLine, StockLot, Allocation.qty, Allocation.state)
            .select_from(SalesOrderLine)
            .join(Allocation, (Allocation.enterprise_id == SalesOrderLine.enterprise_id)
                  & (Allocation.line_id == SalesOrderLine.outbound_line_id))
            .join(StockLot, (StockLot.enterprise_id == Allocation.enterprise_id) & (StockLot.id == Allocation.lot_id))
            .outerjoin(DeclarationLine, (DeclarationLine.enterprise_id == StockLot.enterprise_id)
                       & (DeclarationLine.id == StockLot.declaration_line_id))
            .outerjoin(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                       & (Declaration.id == DeclarationLine.declaration_id))
            .where(SalesOrderLine.enterprise_id == self.me, SalesOrderLine.id == sales_line_id)
            .order_by(StockLot.received_at, StockLot.id)).tuples())

    def sales_line(self, sales_line_id: uuid.UUID) -> SalesOrderLine | None:
        return self.session.scalar(select(SalesOrderLine).where(SalesOrderLine.enterprise_id == self.me,
                                                                SalesOrderLine.id == sales_line_id))

    def declaration(self, declaration_id: uuid.UUID) -> Declaration | None:
        return self.session.scalar(select(Declaration).where(Declaration.enterprise_id == self.me,
                                                             Declaration.id == declaration_id))

    def proceeds(self, sales_line_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple]]:
        """Per sales line, what its payouts carried: [(currency, net amount of its items (transfers excluded),
        payout total, payout received, payout deposit date, payout id)]."""
        from tradeloop.finance.money_models import ItemKind, Payout, PayoutItem

        out: dict[uuid.UUID, list[tuple]] = defaultdict(list)
        for i in range(0, len(sales_line_ids), 500):
            for sid, cur, amount, total, got, day, pid in self.session.execute(
                    select(PayoutItem.sales_line_id, PayoutItem.currency, func.sum(PayoutItem.amount_minor),
                           Payout.total_minor, Payout.received_minor, Payout.deposit_date, Payout.id)
                    .join(Payout, (Payout.enterprise_id == PayoutItem.enterprise_id)
                          & (Payout.id == PayoutItem.payout_id))
                    .where(PayoutItem.enterprise_id == self.me, PayoutItem.sales_line_id.in_(sales_line_ids[i:i + 500]),
                           PayoutItem.kind != ItemKind.TRANSFER)
                    .group_by(PayoutItem.sales_line_id, PayoutItem.currency, Payout.total_minor,
                              Payout.received_minor, Payout.deposit_date, Payout.id)):
                out[sid].append((cur, int(amount or 0), int(total or 0), int(got or 0), day, pid))
        return out

    def settled_share(self, payout_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int]]:
        """Per payout: (money of it converted to CNY, in its currency's minor units; CNY fen received for it) —
        each matched credit's FX settlements shared over its matches in proportion."""
        from tradeloop.finance.money_models import BankEntry, FxSettlement, ReceiptMatch

        if not payout_ids:
            return {}
        matches = list(self.session.execute(select(ReceiptMatch.payout_id, ReceiptMatch.bank_entry_id,
                                                   ReceiptMatch.amount_minor, BankEntry.amount_minor)
                                            .join(BankEntry, (BankEntry.enterprise_id == ReceiptMatch.enterprise_id)
                                                  & (BankEntry.id == ReceiptMatch.bank_entry_id))
                                            .where(ReceiptMatch.enterprise_id == self.me,
                                                   ReceiptMatch.payout_id.in_(payout_ids))))
        entries = sorted({m[1] for m in matches})
        fx = dict(((e, (int(a or 0), int(c or 0))) for e, a, c in self.session.execute(
            select(FxSettlement.bank_entry_id, func.sum(FxSettlement.amount_minor), func.sum(FxSettlement.cny_minor))
            .where(FxSettlement.enterprise_id == self.me, FxSettlement.bank_entry_id.in_(entries))
            .group_by(FxSettlement.bank_entry_id)))) if entries else {}
        out: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
        for pid, entry_id, part, entry_amount in matches:
            converted, cny = fx.get(entry_id, (0, 0))
            if converted and entry_amount:
                out[pid][0] += converted * part // entry_amount
                out[pid][1] += cny * part // entry_amount
        return {k: (v[0], v[1]) for k, v in out.items()}
