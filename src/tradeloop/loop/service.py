"""The closed loop per declaration line: where every exported unit is now, and the conservation check.

For every line of a declaration customs released (800 and beyond), each unit is in exactly one state::

    exported = in transit + on hand + sold + disposed + returned to China + recorded losses

* in transit — declared but not yet counted at a warehouse: exported − (good + damaged units counted on
  inbound lines) − (short − over on closed inbound lines);
* on hand — the lots' projected on-hand (not re-derived from movements, so a lost update shows);
* sold — outbound movements less the returned units (restocked, disposed or sent home after return);
* disposed — disposals of stock and of returned units; returned to China — 退运 of stock and of returns;
* recorded losses — damaged on arrival, short (− over) on closed inbound orders, adjustments and stock
  counts (out − in).

The quantities come from independent records (the declaration, the inbound counts, the lots' projection
and the movements): in transit comes from the inbound counts, on hand from the lots, everything else
from the movements. So the equation fails — naming the declaration and line — when any of them is
missing or wrong: a movement removed, a lot changed without its movement, units counted on an inbound
line but never booked as a receipt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.kit.tenancy import Principal
from tradeloop.loop.repository import LoopRepository
from tradeloop.warehouse.stock_models import MovementKind as K


@dataclass
class LineLoop:
    declaration_id: uuid.UUID
    cop_no: str
    invt_no: str | None
    entry_id: str | None
    line_id: uuid.UUID
    gnum: int
    sku: str
    name: str
    exported: Decimal
    declared_value_minor: int
    currency: str
    received: int = 0
    in_transit: Decimal = Decimal(0)
    on_hand: int = 0
    allocated: int = 0
    sold: int = 0
    returned: int = 0
    disposed: int = 0
    returned_to_origin: int = 0
    losses: int = 0
    movements: dict[str, int] = field(default_factory=dict)

    @property
    def accounted(self) -> Decimal:
        return (self.in_transit + self.on_hand + self.sold + self.disposed + self.returned_to_origin
                + self.losses)

    @property
    def balanced(self) -> bool:
        return self.accounted == self.exported and self.in_transit >= 0

    def violation(self) -> str | None:
        if self.balanced:
            return None
        parts = (f"in transit {self.in_transit} + on hand {self.on_hand} + sold {self.sold} + disposed "
                 f"{self.disposed} + returned to China {self.returned_to_origin} + losses {self.losses} = "
                 f"{self.accounted}")
        why = "more units counted at warehouses than were declared" if self.in_transit < 0 else \
            f"{parts}, not the {self.exported} exported"
        return f"declaration {self.cop_no} ({self.invt_no or 'no invtNo'}) line {self.gnum} {self.sku}: {why}"


def _line(decl: Declaration, line: DeclarationLine, counts: dict, moves: dict, stock: tuple[int, int]) -> LineLoop:
    m = moves
    loop = LineLoop(decl.id, decl.cop_no, decl.invt_no, decl.entry_id, line.id, line.gnum, line.item_no,
                    line.gname, line.qty, line.total_minor, decl.currency, movements=dict(m))
    received, damaged, closed_diff = counts.get("received", 0), counts.get("damaged", 0), counts.get("closed_diff", 0)
    loop.received = m.get(K.RECEIPT, 0)
    loop.in_transit = line.qty - received - damaged - closed_diff
    loop.on_hand, loop.allocated = stock
    loop.returned = m.get(K.RETURN_RESTOCK, 0) + m.get(K.RETURN_DISPOSE, 0) + m.get(K.RETURN_TO_ORIGIN_FROM_RETURN, 0)
    loop.sold = m.get(K.OUTBOUND, 0) - loop.returned
    loop.disposed = m.get(K.DISPOSE, 0) + m.get(K.RETURN_DISPOSE, 0)
    loop.returned_to_origin = m.get(K.RETURN_TO_ORIGIN, 0) + m.get(K.RETURN_TO_ORIGIN_FROM_RETURN, 0)
    loop.losses = (damaged + closed_diff + m.get(K.ADJUST_OUT, 0) - m.get(K.ADJUST_IN, 0) + m.get(K.COUNT_LOSS, 0)
                   - m.get(K.COUNT_GAIN, 0))
    return loop


def declaration_loop(session: Session, *, principal: Principal,
                     declaration_id: uuid.UUID | None = None) -> list[LineLoop]:
    """Every exported line (of one declaration, or all), with where its units are."""
    repo = LoopRepository(session, principal)
    pairs = repo.exported_lines(declaration_id)
    ids = [li.id for _d, li in pairs]
    out = []
    for i in range(0, len(ids), 500):
        chunk = pairs[i:i + 500]
        chunk_ids = ids[i:i + 500]
        counts, moves, stock = repo.inbound_counts(chunk_ids), repo.movements_by_kind(chunk_ids), \
            repo.on_hand(chunk_ids)
        out.extend(_line(d, li, counts.get(li.id, {}), moves.get(li.id, {}), stock.get(li.id, (0, 0)))
                   for d, li in chunk)
    return out


def check(session: Session, *, principal: Principal) -> list[str]:
    """The violations of quantity conservation, one text per declaration line (empty when all balance)."""
    return [v for v in (line.violation() for line in declaration_loop(session, principal=principal)) if v]
