"""The closed loop per declaration line: where every exported unit is now, and the conservation check.

For every line of a declaration customs released (800 and beyond), each unit is in exactly one state::

    exported = in transit + on hand + sold + disposed + returned to China + recorded losses

* in transit — declared but not yet counted at a warehouse: exported − (good + damaged units counted on
  inbound lines) − (short − over on closed inbound lines); for 9610/9710 (goods sent straight to the buyer,
  never stocked abroad) the exported units count as sold when customs releases them;
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
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.kit.models import utcnow
from tradeloop.kit.tenancy import Principal
from tradeloop.loop.repository import LoopRepository
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.warehouse import aging
from tradeloop.warehouse.stock_models import MovementKind as K

#: Modes whose goods go straight to the buyer (9610 retail parcels, 9710 B2B direct export), not to a
#: warehouse abroad: domain.md §1.1.
DIRECT_MODES = ("9610", "9710")

#: ``rate(currency, day)``: CNY per one unit of ``currency`` on ``day``, or None when no rate is known.
RateLookup = Callable[[str, date], Decimal | None]


def no_rates(currency: str, day: date) -> Decimal | None:
    """A rate source that knows no rates (tests): CNY is CNY, every other currency is missing."""
    return Decimal(1) if currency == "CNY" else None


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
    damaged: int = 0
    #: short − over on closed inbound orders.
    short: int = 0
    movements: dict[str, int] = field(default_factory=dict)
    #: Units shipped to buyers through outbound lines linked to sales lines, net of inspected returns.
    sold_linked: int = 0
    #: Realised sales value of those units per sale currency (item price less promotions, minor units).
    sales_value: dict[str, int] = field(default_factory=dict)
    #: The same in CNY (fen) at the rate of each sale's order date; None when a rate is missing.
    sales_value_cny: int | None = 0
    #: "USD 2026-03-14"-style keys of the rates that were missing.
    missing_rates: list[str] = field(default_factory=list)
    #: Units on hand per age bucket (库龄, days since the lot's receipt).
    abroad_by_age: dict[str, int] = field(default_factory=lambda: dict.fromkeys(aging.LABELS, 0))
    #: What the platforms paid out for those units (their payout items, net of fees and refunds), per currency;
    #: the part of it received in a bank account (matched credits); the part of that converted to CNY (结汇), in
    #: the currency and as the CNY fen it gave.
    paid_out: dict[str, int] = field(default_factory=dict)
    proceeds_received: dict[str, int] = field(default_factory=dict)
    settled: dict[str, int] = field(default_factory=dict)
    settled_cny: int = 0
    #: Sold units whose sale is more than 90 days old and whose payout is not received in full (a Class A
    #: exporter reports deferred receipts over 90 days: domain.md §4).
    unpaid_over_90_days: int = 0

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
    loop.damaged, loop.short = damaged, closed_diff
    loop.losses = (damaged + closed_diff + m.get(K.ADJUST_OUT, 0) - m.get(K.ADJUST_IN, 0) + m.get(K.COUNT_LOSS, 0)
                   - m.get(K.COUNT_GAIN, 0))
    if decl.mode in DIRECT_MODES and not counts and not m:
        # 9610 / 9710: the goods travel straight to the buyer — sold when customs releases them, never stocked
        loop.sold = int(line.qty)
        loop.in_transit = line.qty - loop.sold
    return loop


def declaration_loop(session: Session, *, principal: Principal, declaration_id: uuid.UUID | None = None,
                     declaration_ids: list[uuid.UUID] | None = None, rates: RateLookup | None = None,
                     as_of: date | None = None, values: bool = True) -> list[LineLoop]:
    """Every exported line (of one declaration, of several, or all), with where its units are and, with
    ``values``, what the sold ones realised and how old the units still abroad are."""
    repo = LoopRepository(session, principal)
    pairs = repo.exported_lines([declaration_id] if declaration_id is not None else declaration_ids)
    ids = [li.id for _d, li in pairs]
    out = []
    as_of = as_of or utcnow().date()
    refs = ReferenceLookup(session)
    if rates is None:  # the imported rates, at each sale's date (finance.rates, rule sale_date)
        from tradeloop.finance.rates import RateBook

        rates = RateBook(session, "sale_date")
    for i in range(0, len(ids), 500):
        chunk = pairs[i:i + 500]
        chunk_ids = ids[i:i + 500]
        counts, moves, stock = repo.inbound_counts(chunk_ids), repo.movements_by_kind(chunk_ids), \
            repo.on_hand(chunk_ids)
        lines = [_line(d, li, counts.get(li.id, {}), moves.get(li.id, {}), stock.get(li.id, (0, 0)))
                 for d, li in chunk]
        if values:
            _add_values(repo, refs, {li.line_id: li for li in lines}, rates)
            for lot in repo.lots_abroad(chunk_ids):
                by_age = next(li for li in lines if li.line_id == lot.declaration_line_id).abroad_by_age
                by_age[aging.bucket(aging.age_days(lot.received_at, as_of))] += lot.on_hand
        out.extend(lines)
    return out


def _add_values(repo: LoopRepository, refs: ReferenceLookup, lines: dict[uuid.UUID, LineLoop],
                rates: RateLookup) -> None:
    """Sold units linked to sales and their realised value. A sales line's value (item price less
    promotions) is split over the lots its units came from by cumulative rounding in a fixed lot order, so
    the parts add up to the line's value exactly, whichever declaration is looked at; units returned by the
    buyer (inspected) take their share back."""
    rows, sales, allocs = repo.lineage_of(list(lines))
    if not rows:
        return
    returned = repo.returned_units(sorted({r[2] for r in rows}))
    share: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for sid, parts in allocs.items():
        qty, _cur, price, discount, _day = sales[sid]
        net, total = (price or 0) - (discount or 0), max(qty, sum(q for _l, _r, q in parts))
        cum = prev = 0
        for lot_id, _received, q in parts:
            cum += q
            upto = net * cum // total
            share[(sid, lot_id)] += upto - prev
            prev = upto
    missing: dict[uuid.UUID, set] = defaultdict(set)
    cny_cache: dict[tuple[str, date], Decimal | None] = {}
    units: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)  # (declaration line, sales line) -> kept
    for line_id, sid, outbound_id, lot_id, q in sorted(rows, key=lambda r: (r[2], r[3], r[1])):
        line = lines[line_id]
        back = min(q, returned.get((outbound_id, lot_id), 0))
        if back:
            returned[(outbound_id, lot_id)] -= back
        kept = q - back
        line.sold_linked += kept
        units[(line_id, sid)] += kept
        qty, currency, _price, _discount, day = sales[sid]
        value = share[(sid, lot_id)] * kept // q if q else 0
        if not currency or not value:
            continue
        line.sales_value[currency] = line.sales_value.get(currency, 0) + value
        when = day.date() if isinstance(day, datetime) else day
        key = (currency, when)
        if key not in cny_cache:
            cny_cache[key] = rates(currency, when)
        rate, digits = cny_cache[key], refs.minor_units(currency)
        if rate is None or digits is None:
            missing[line_id].add(f"{currency} {when.isoformat()}")
            continue
        if line.sales_value_cny is not None:
            cny = (Decimal(value).scaleb(-digits) * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            line.sales_value_cny += int(cny.scaleb(2))
    for line_id, keys in missing.items():
        lines[line_id].sales_value_cny = None
        lines[line_id].missing_rates = sorted(keys)
    _add_proceeds(repo, lines, sales, units)


def _add_proceeds(repo: LoopRepository, lines: dict[uuid.UUID, LineLoop], sales: dict,
                  units: dict[tuple[uuid.UUID, uuid.UUID], int]) -> None:
    """Money back for the sold units: each sales line's payout items shared over its units (floor), the
    received part in the ratio its payout was matched to bank credits, the settled part in the ratio of the
    FX settlements of those credits."""
    proceeds = repo.proceeds(sorted({sid for _l, sid in units}))
    settled = repo.settled_share(sorted({p[5] for items in proceeds.values() for p in items}))
    cutoff = (utcnow() - timedelta(days=90)).date()
    for (line_id, sid), kept in units.items():
        if not kept:
            continue
        line, (qty, _cur, _price, _discount, day) = lines[line_id], sales[sid]
        paid_in_full = bool(proceeds.get(sid)) and all(got >= total for _c, _a, total, got, _d, _p in proceeds[sid])
        if not paid_in_full and (day.date() if isinstance(day, datetime) else day) < cutoff:
            line.unpaid_over_90_days += kept
        for cur, amount, total, got, _deposit, pid in proceeds.get(sid, ()):
            part = amount * kept // qty if qty else 0
            line.paid_out[cur] = line.paid_out.get(cur, 0) + part
            if total > 0:
                line.proceeds_received[cur] = line.proceeds_received.get(cur, 0) + part * min(got, total) // total
                converted, cny = settled.get(pid, (0, 0))
                line.settled[cur] = line.settled.get(cur, 0) + part * converted // total
                line.settled_cny += part * cny // total


def check(session: Session, *, principal: Principal) -> list[str]:
    """The violations of quantity conservation, one text per declaration line (empty when all balance)."""
    return [v for v in (line.violation() for line in declaration_loop(session, principal=principal, values=False))
            if v]


# --- views: one declaration, a page of declarations, one sale's lineage ------------------------------

#: The unit counts a declaration's total adds up over its lines.
COUNTS = ("received", "damaged", "short", "on_hand", "allocated", "sold", "sold_linked", "returned", "disposed",
          "returned_to_origin", "losses")


@dataclass
class DeclarationLoop:
    declaration: Declaration
    lines: list[LineLoop]
    #: Rebates of the declaration (tax.claims.tax_summary): claimed, approved, reversed by reconciliation,
    #: repayment due / repaid for returns, and what is overdue.
    tax: dict = field(default_factory=dict)

    @property
    def totals(self) -> dict:
        out: dict = {k: sum(getattr(li, k) for li in self.lines) for k in COUNTS}
        out["exported"] = sum((li.exported for li in self.lines), Decimal(0))
        out["in_transit"] = sum((li.in_transit for li in self.lines), Decimal(0))
        out["declared_value_minor"] = sum(li.declared_value_minor for li in self.lines)
        value: dict[str, int] = defaultdict(int)
        for li in self.lines:
            for cur, v in li.sales_value.items():
                value[cur] += v
        out["sales_value"] = dict(sorted(value.items()))
        cny = [li.sales_value_cny for li in self.lines]
        out["sales_value_cny"] = None if any(v is None for v in cny) else sum(cny)
        out["missing_rates"] = sorted({k for li in self.lines for k in li.missing_rates})
        ages = dict.fromkeys(aging.LABELS, 0)
        for li in self.lines:
            for k, v in li.abroad_by_age.items():
                ages[k] += v
        out["abroad_by_age"] = ages
        for key in ("paid_out", "proceeds_received", "settled"):
            money: dict[str, int] = defaultdict(int)
            for li in self.lines:
                for cur, v in getattr(li, key).items():
                    money[cur] += v
            out[key] = dict(sorted(money.items()))
        out["settled_cny"] = sum(li.settled_cny for li in self.lines)
        out["unpaid_over_90_days"] = sum(li.unpaid_over_90_days for li in self.lines)
        out["balanced"] = all(li.balanced for li in self.lines)
        return out

    @property
    def proceeds_due(self) -> date:
        """收汇 deadline: 30 April of the year after export (domain.md §3.5, §4)."""
        return date(self.declaration.ie_date.year + 1, 4, 30)

    @property
    def proceeds_overdue(self) -> bool:
        """Past the deadline with realised sales not received in full (in any sale currency)."""
        totals = self.totals
        return utcnow().date() > self.proceeds_due and any(
            totals["proceeds_received"].get(cur, 0) < v for cur, v in totals["sales_value"].items())


def one_declaration(session: Session, *, principal: Principal, declaration_id: uuid.UUID,
                    rates: RateLookup | None = None) -> DeclarationLoop:
    """The loop of one exported declaration; 404 when it is not the caller's or not exported (released)."""
    from tradeloop.kit.errors import NotFound

    repo = LoopRepository(session, principal)
    decl = repo.declaration(declaration_id)
    lines = declaration_loop(session, principal=principal, declaration_id=declaration_id, rates=rates) \
        if decl is not None else []
    if decl is None or not lines:
        raise NotFound("No exported declaration with this id.", message_zh="未找到该已放行的出口申报")
    return DeclarationLoop(decl, lines, _tax(session, principal, [decl.id]).get(decl.id, {}))


def _tax(session: Session, principal: Principal, declaration_ids: list[uuid.UUID]) -> dict:
    from tradeloop.tax.claims import tax_summary

    return tax_summary(session, principal, declaration_ids) if declaration_ids else {}


def declarations_page(session: Session, *, principal: Principal, cursor: str | None, limit: int | None,
                      q: str | None = None, warehouse_id: uuid.UUID | None = None,
                      rates: RateLookup | None = None) -> tuple[list[DeclarationLoop], str | None]:
    repo = LoopRepository(session, principal)
    decls, nxt = repo.declarations_page(cursor=cursor, limit=limit, q=q, warehouse_id=warehouse_id)
    lines = declaration_loop(session, principal=principal, declaration_ids=[d.id for d in decls], rates=rates) \
        if decls else []
    by_decl: dict[uuid.UUID, list[LineLoop]] = defaultdict(list)
    for li in lines:
        by_decl[li.declaration_id].append(li)
    tax = _tax(session, principal, [d.id for d in decls])
    return [DeclarationLoop(d, by_decl[d.id], tax.get(d.id, {})) for d in decls], nxt


def lineage(session: Session, *, principal: Principal, sales_line_id: uuid.UUID) -> list[dict]:
    """Which declaration lines (through which lots) the units of one sales line came from."""
    from tradeloop.kit.errors import NotFound

    repo = LoopRepository(session, principal)
    if repo.sales_line(sales_line_id) is None:
        raise NotFound("Sales line not found.", message_zh="未找到该销售行")
    return [{"declaration_id": d.id if d else None, "cop_no": d.cop_no if d else None,
             "entry_id": (li.entry_id or d.entry_id) if d else None, "gnum": li.gnum if li else None,
             "declaration_line_id": li.id if li else None, "lot_id": lot.id, "lot_code": lot.lot_code,
             "warehouse_id": lot.warehouse_id, "received_at": lot.received_at, "qty": int(qty), "state": state}
            for d, li, lot, qty, state in repo.lineage(sales_line_id)]


def by_month(session: Session, *, principal: Principal) -> list[dict]:
    """The loop by export month over every exported declaration (quantities only, so it stays cheap): units
    exported, received at a warehouse, sold, and the rebate approved for the month's declarations."""
    repo = LoopRepository(session, principal)
    months = {d.id: d.ie_date.strftime("%Y-%m") for d, _li in repo.exported_lines()}
    out: dict[str, dict] = {}
    for li in declaration_loop(session, principal=principal, values=False):
        row = out.setdefault(months[li.declaration_id], {"exported": Decimal(0), "received": 0, "sold": 0,
                                                          "rebate_approved_minor": 0})
        row["exported"] += li.exported
        row["received"] += li.received
        row["sold"] += li.sold
    for decl_id, tax in _tax(session, principal, list(months)).items():
        out[months[decl_id]]["rebate_approved_minor"] += tax.get("approved_minor", 0)
    return [{"month": m, **v} for m, v in sorted(out.items())]
