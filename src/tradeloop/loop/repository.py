"""Aggregates over customs, inbound and the stock ledger, per declaration line (tenant-scoped)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine, DeclarationStatus
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.warehouse.stock_models import (
    InboundLine,
    InboundOrder,
    InboundStatus,
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

    def exported_lines(self, declaration_id: uuid.UUID | None = None) -> list[tuple[Declaration, DeclarationLine]]:
        stmt = select(Declaration, DeclarationLine).join(
            DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
            & (DeclarationLine.declaration_id == Declaration.id)).where(
            Declaration.enterprise_id == self.me, Declaration.status.in_(EXPORTED))
        if declaration_id is not None:
            stmt = stmt.where(Declaration.id == declaration_id)
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

