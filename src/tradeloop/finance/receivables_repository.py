"""Queries of the receivables (应收/收汇跟踪): every sale's money chain — sold, paid out, received, settled —
aggregated in SQL, per sale, per day and currency, per payout and per declaration (tenant-scoped).

One statement builds the figures of every sale (``_sale_figures``), so the list, the aging totals and the
declarations' shares can never disagree:

* ``paid_out`` — the sale's payout items (transfers to the bank excluded), net of fees and refunds;
* ``received`` — of each payout's part, the share its bank matches cover: ``part × min(received, total) //
  total`` (a payout of zero or less has nothing to receive);
* ``settled`` / ``settled_cny`` — of each payout's part, the share of the FX settlements (结汇) of the credits
  it was matched to: ``part × converted // total`` (each credit's settlements shared over its matches);
* ``outstanding`` — the sale's value (item price less promotions, minor units) not yet received: all of it
  while no payout carries the sale, then ``sold − sold × received // paid_out``; nothing when its items net to
  zero or less (refunded in full);
* ``state`` — ``sold`` (no payout item yet), ``paid_out`` (in a payout, nothing received), ``partly_received``,
  ``received``, ``partly_settled``, ``settled``.

The shares round down (floor) like ``loop.service._add_proceeds``; SQL integer division truncates towards
zero, so ``_floordiv`` corrects negative numerators (refunds) and both databases give the same integers.
Sums are cast to BIGINT (PostgreSQL's SUM of a bigint is a numeric, which would not divide as an integer).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Select, and_, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.finance.money_models import (
    BankEntry,
    FxSettlement,
    ItemKind,
    Payout,
    PayoutItem,
    PayoutStatus,
    ReceiptMatch,
)
from tradeloop.kit.pagination import paginate
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.loop.repository import EXPORTED
from tradeloop.sales.models import LineStatus, SalesOrderLine
from tradeloop.warehouse.stock_models import Allocation, StockLot

#: Sales lines that hold no receivable: never sold, or the buyer's money went back.
NOT_RECEIVABLE = (LineStatus.CANCELLED, LineStatus.REFUNDED, LineStatus.RETURNED)
#: Modes whose declaration names its sale (order number + SKU) instead of reaching it through stock lots:
#: 9610 retail parcels, 9710 B2B direct export, 1210 bonded-zone export (as tax.claims.SALE_AT_EXPORT).
SALE_AT_EXPORT = ("9610", "9710", "1210")
STATES = ("sold", "paid_out", "partly_received", "received", "partly_settled", "settled")


def _big(expr):
    return cast(expr, BigInteger)


def _floordiv(a, b):
    """``a // b`` rounded down like Python for ``b > 0`` (SQL integer division truncates towards zero)."""
    return case((a >= 0, a // b), else_=-((b - 1 - a) // b))


def as_date(value) -> date | None:
    """A day column as a date: PostgreSQL gives a date, SQLite the text ``YYYY-MM-DD``."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class ReceivablesRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    def _day(self, column):
        """The UTC calendar day of a timestamp column."""
        if self.session.get_bind().dialect.name == "postgresql":
            return cast(func.timezone("UTC", column), Date)
        return func.date(column)

    # --- the figures of every sale ---------------------------------------------------------------------

    def _payout_fx(self):
        """Per payout: money of it converted to CNY (its currency's minor units) and the CNY fen it gave."""
        me = self.me
        fx = (select(FxSettlement.bank_entry_id.label("entry_id"),
                     _big(func.sum(FxSettlement.amount_minor)).label("converted"),
                     _big(func.sum(FxSettlement.cny_minor)).label("cny"))
              .where(FxSettlement.enterprise_id == me, FxSettlement.bank_entry_id.is_not(None))
              .group_by(FxSettlement.bank_entry_id).subquery("fx"))
        return (select(ReceiptMatch.payout_id.label("payout_id"),
                       _big(func.sum(_floordiv(fx.c.converted * ReceiptMatch.amount_minor, BankEntry.amount_minor)))
                       .label("converted"),
                       _big(func.sum(_floordiv(fx.c.cny * ReceiptMatch.amount_minor, BankEntry.amount_minor)))
                       .label("cny"))
                .join(BankEntry, (BankEntry.enterprise_id == ReceiptMatch.enterprise_id)
                      & (BankEntry.id == ReceiptMatch.bank_entry_id))
                .join(fx, fx.c.entry_id == ReceiptMatch.bank_entry_id)
                .where(ReceiptMatch.enterprise_id == me, BankEntry.amount_minor > 0)
                .group_by(ReceiptMatch.payout_id).subquery("payout_fx"))

    def _sale_parts(self):
        """Per sales line: paid out, item count, received, settled, settled CNY, first deposit date."""
        me = self.me
        items = (select(PayoutItem.sales_line_id.label("sid"), PayoutItem.payout_id.label("pid"),
                        _big(func.sum(PayoutItem.amount_minor)).label("part"), func.count().label("n"))
                 .where(PayoutItem.enterprise_id == me, PayoutItem.sales_line_id.is_not(None),
                        PayoutItem.kind != ItemKind.TRANSFER)
                 .group_by(PayoutItem.sales_line_id, PayoutItem.payout_id).subquery("items"))
        fx = self._payout_fx()
        total = Payout.total_minor
        got = case((Payout.received_minor < total, Payout.received_minor), else_=total)

        def share(of):
            return _big(func.sum(case((total > 0, _floordiv(items.c.part * of, total)), else_=0)))

        return (select(items.c.sid.label("sid"), _big(func.sum(items.c.part)).label("paid_out"),
                       _big(func.sum(items.c.n)).label("item_count"), share(got).label("received"),
                       share(func.coalesce(fx.c.converted, 0)).label("settled"),
                       share(func.coalesce(fx.c.cny, 0)).label("settled_cny"),
                       func.min(Payout.deposit_date).label("deposit_date"))
                .join(Payout, (Payout.enterprise_id == me) & (Payout.id == items.c.pid))
                .outerjoin(fx, fx.c.payout_id == items.c.pid)
                .group_by(items.c.sid).subquery("parts"))

    def _sale_figures(self, until: datetime) -> tuple[list, list, object]:
        """(labelled figure columns, where-clauses, the parts subquery to outer-join on ``parts.c.sid``) of the
        receivable sales dated before ``until``."""
        s = SalesOrderLine
        parts = self._sale_parts()
        sold = s.item_price_minor - s.discount_minor
        paid = func.coalesce(parts.c.paid_out, 0)
        n = func.coalesce(parts.c.item_count, 0)
        got = func.coalesce(parts.c.received, 0)
        settled = func.coalesce(parts.c.settled, 0)
        outstanding = case((sold <= 0, 0), (n == 0, sold), (paid <= 0, 0), (got >= paid, 0), (got <= 0, sold),
                           else_=sold - _floordiv(sold * got, paid))
        state = case((n == 0, "sold"), ((paid > 0) & (got <= 0), "paid_out"), ((paid > 0) & (got < paid),
                                                                                 "partly_received"),
                     (settled <= 0, "received"), (settled < got, "partly_settled"), else_="settled")
        columns = [sold.label("sold"), paid.label("paid_out"), n.label("items"), got.label("received"),
                   settled.label("settled"), func.coalesce(parts.c.settled_cny, 0).label("settled_cny"),
                   outstanding.label("outstanding"), state.label("state"), parts.c.deposit_date.label("deposit_date")]
        where = [s.enterprise_id == self.me, s.currency.is_not(None), s.status.not_in(NOT_RECEIVABLE),
                 s.order_date < until]
        return columns, where, parts

    def _figures_subquery(self, until: datetime, name: str = "sale"):
        s = SalesOrderLine
        columns, where, parts = self._sale_figures(until)
        return (select(s.id.label("id"), s.currency.label("currency"), s.quantity.label("quantity"),
                       s.channel.label("channel"), s.order_date.label("order_date"),
                       self._day(s.order_date).label("day"), *columns)
                .outerjoin(parts, parts.c.sid == s.id).where(*where).subquery(name))

    # --- reads -----------------------------------------------------------------------------------------

    def by_day(self, *, until: datetime) -> list[tuple]:
        """(currency, sale day, state, sales, sold, paid out, received, settled, settled CNY, outstanding, sales
        with money outstanding) of the receivable sales dated before ``until``, one row per currency, day and
        state."""
        f = self._figures_subquery(until)
        rows = self.session.execute(
            select(f.c.currency, f.c.day, f.c.state, func.count(), _big(func.sum(f.c.sold)),
                   _big(func.sum(f.c.paid_out)), _big(func.sum(f.c.received)), _big(func.sum(f.c.settled)),
                   _big(func.sum(f.c.settled_cny)), _big(func.sum(f.c.outstanding)),
                   _big(func.sum(case((f.c.outstanding > 0, 1), else_=0))))
            .group_by(f.c.currency, f.c.day, f.c.state))
        return [(cur, as_date(day), state, int(n), *(int(v or 0) for v in sums))
                for cur, day, state, n, *sums in rows]

    def sales_page(self, *, until: datetime, cursor: str | None, limit: int | None, state: str | None = None,
                   currency: str | None = None, channel: str | None = None, unreceived_before: datetime | None = None):
        """A page of receivable sales (newest first): (sales line, sold, paid out, items, received, settled,
        settled CNY, outstanding, state, first deposit date). ``unreceived_before``: only sales dated before it
        with money outstanding (the deferred-receipt alert)."""
        s = SalesOrderLine
        columns, where, parts = self._sale_figures(until)
        by_name = {c.name: c for c in columns}
        stmt = select(s, *columns).outerjoin(parts, parts.c.sid == s.id).where(*where)
        if state:
            stmt = stmt.where(by_name["state"].element == state)
        if currency:
            stmt = stmt.where(s.currency == currency.strip().upper())
        if channel:
            stmt = stmt.where(s.channel == channel.strip().lower())
        if unreceived_before is not None:
            stmt = stmt.where(s.order_date < unreceived_before, by_name["outstanding"].element > 0)
        return paginate(self.session, stmt, s.id, cursor=cursor, limit=limit, tuples=True)

    def unreceived_totals(self, *, until: datetime, before: datetime) -> list[tuple[str, int, int]]:
        """(currency, sales, outstanding) of the sales dated before ``before`` with money outstanding."""
        f = self._figures_subquery(until)
        rows = self.session.execute(
            select(f.c.currency, func.count(), _big(func.sum(f.c.outstanding)))
            .where(f.c.outstanding > 0, f.c.order_date < before)
            .group_by(f.c.currency).order_by(f.c.currency))
        return [(cur, int(n), int(total or 0)) for cur, n, total in rows]

    def channels(self) -> list[str]:
        return list(self.session.scalars(select(SalesOrderLine.channel).where(SalesOrderLine.enterprise_id == self.me)
                                         .distinct().order_by(SalesOrderLine.channel)))

    # --- payouts ---------------------------------------------------------------------------------------

    def _payouts(self, *, until: date, status: str | None = None, currency: str | None = None,
                 open_only: bool = False) -> Select:
        stmt = select(Payout).where(Payout.enterprise_id == self.me,
                                    (Payout.deposit_date.is_(None)) | (Payout.deposit_date <= until))
        if status:
            stmt = stmt.where(Payout.status == status)
        if open_only:
            stmt = stmt.where(Payout.status != PayoutStatus.RECEIVED, Payout.total_minor > 0)
        if currency:
            stmt = stmt.where(Payout.currency == currency.strip().upper())
        return stmt

    def payouts_page(self, *, until: date, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self._payouts(until=until, **filters), Payout.id, cursor=cursor, limit=limit)

    def linked_sales(self, payout_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Per payout: how many sales lines its items are linked to."""
        if not payout_ids:
            return {}
        return {pid: int(n) for pid, n in self.session.execute(
            select(PayoutItem.payout_id, func.count(func.distinct(PayoutItem.sales_line_id)))
            .where(PayoutItem.enterprise_id == self.me, PayoutItem.payout_id.in_(payout_ids),
                   PayoutItem.sales_line_id.is_not(None))
            .group_by(PayoutItem.payout_id))}

    def open_payouts(self, *, until: date) -> list[tuple]:
        """(currency, payouts, total, received, oldest deposit date, oldest period end) of the payouts not
        received in full."""
        p = self._payouts(until=until, open_only=True).subquery()
        got = case((p.c.received_minor < p.c.total_minor, p.c.received_minor), else_=p.c.total_minor)
        rows = self.session.execute(
            select(p.c.currency, func.count(), _big(func.sum(p.c.total_minor)), _big(func.sum(got)),
                   func.min(p.c.deposit_date), func.min(p.c.period_end))
            .group_by(p.c.currency).order_by(p.c.currency))
        return [(cur, int(n), int(total or 0), int(got or 0), as_date(first), end)
                for cur, n, total, got, first, end in rows]

    # --- declarations ----------------------------------------------------------------------------------

    def _exported(self, *, until: date) -> Select:
        return select(Declaration).where(Declaration.enterprise_id == self.me, Declaration.status.in_(EXPORTED),
                                         Declaration.ie_date <= until)

    def declarations_page(self, *, until: date, cursor: str | None, limit: int | None):
        return paginate(self.session, self._exported(until=until), Declaration.id, cursor=cursor, limit=limit)

    def declarations(self, *, until: date, exported_until: date | None = None,
                     ids: list[uuid.UUID] | None = None) -> dict[uuid.UUID, Declaration]:
        stmt = self._exported(until=until)
        if exported_until is not None:
            stmt = stmt.where(Declaration.ie_date <= exported_until)
        if ids is not None:
            if not ids:
                return {}
            stmt = stmt.where(Declaration.id.in_(ids))
        return {d.id: d for d in self.session.scalars(stmt)}

    def _links(self, declarations: list):
        """(declaration line, sales line, units): units shipped from the line's lots for the sale (9810 and any
        stock abroad), or the whole sale its 9610/9710/1210 declaration names (order number + SKU); only the
        lines of the exported declarations meeting ``declarations`` (where-clauses on ``Declaration``)."""
        me, s = self.me, SalesOrderLine
        wanted = (select(DeclarationLine.id)
                  .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                        & (Declaration.id == DeclarationLine.declaration_id))
                  .where(DeclarationLine.enterprise_id == me, Declaration.status.in_(EXPORTED), *declarations))
        stock = (select(StockLot.declaration_line_id.label("dline"), s.id.label("sid"),
                        _big(func.sum(Allocation.qty)).label("units"))
                 .select_from(Allocation)
                 .join(StockLot, (StockLot.enterprise_id == Allocation.enterprise_id)
                       & (StockLot.id == Allocation.lot_id))
                 .join(s, (s.enterprise_id == Allocation.enterprise_id) & (s.outbound_line_id == Allocation.line_id))
                 .where(Allocation.enterprise_id == me, Allocation.state == "shipped",
                        StockLot.declaration_line_id.in_(wanted))
                 .group_by(StockLot.declaration_line_id, s.id))
        named = (select(DeclarationLine.id.label("dline"), s.id.label("sid"), _big(s.quantity).label("units"))
                 .select_from(Declaration)
                 .join(DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
                       & (DeclarationLine.declaration_id == Declaration.id))
                 .join(s, (s.enterprise_id == Declaration.enterprise_id) & (s.external_order_id == Declaration.order_no)
                       & (s.sku == DeclarationLine.item_no))
                 .where(Declaration.enterprise_id == me, Declaration.mode.in_(SALE_AT_EXPORT),
                        Declaration.status.in_(EXPORTED), *declarations))
        both = union_all(stock, named).subquery("both_links")
        return (select(both.c.dline, both.c.sid, func.max(both.c.units).label("units"))
                .group_by(both.c.dline, both.c.sid).subquery("links"))

    def declaration_figures(self, *, until: datetime, declaration_ids: list[uuid.UUID] | None = None,
                            exported_until: date | None = None) -> list[tuple]:
        """(declaration id, sale currency, sales, sold, paid out, received, settled, outstanding) — each linked
        sale's figures shared by the units each of the declaration's lines gave it (floor, per line; ``sales``
        counts (line, sale) pairs). A line with proceeds evidence (received outside the payouts, or 视同收汇,
        recorded in tax) has nothing outstanding."""
        from tradeloop.tax.claim_models import ProceedsEvidence

        if declaration_ids is not None and not declaration_ids:
            return []
        declarations = []
        if declaration_ids is not None:
            declarations.append(Declaration.id.in_(declaration_ids))
        if exported_until is not None:
            declarations.append(Declaration.ie_date <= exported_until)
        f = self._figures_subquery(until)
        links = self._links(declarations)
        units = case((links.c.units > f.c.quantity, f.c.quantity), else_=links.c.units)

        def share(column):
            return _big(func.sum(_floordiv(column * units, f.c.quantity)))

        # per declaration line first (one pass over the links), then the lines of each declaration
        per_line = (select(links.c.dline.label("dline"), f.c.currency.label("currency"), func.count().label("n"),
                           share(f.c.sold).label("sold"), share(f.c.paid_out).label("paid_out"),
                           share(f.c.received).label("received"), share(f.c.settled).label("settled"),
                           share(f.c.outstanding).label("outstanding"))
                    .select_from(links).join(f, f.c.id == links.c.sid).where(f.c.quantity > 0)
                    .group_by(links.c.dline, f.c.currency).subquery("per_line"))
        evidenced = ProceedsEvidence.id.is_not(None)
        stmt = (select(DeclarationLine.declaration_id, per_line.c.currency, _big(func.sum(per_line.c.n)),
                       *(_big(func.sum(per_line.c[k])) for k in ("sold", "paid_out", "received", "settled")),
                       _big(func.sum(case((evidenced, literal(0)), else_=per_line.c.outstanding))))
                .select_from(per_line)
                .join(DeclarationLine, (DeclarationLine.enterprise_id == self.me)
                      & (DeclarationLine.id == per_line.c.dline))
                .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                      & (Declaration.id == DeclarationLine.declaration_id))
                .outerjoin(ProceedsEvidence, and_(ProceedsEvidence.enterprise_id == DeclarationLine.enterprise_id,
                                                  ProceedsEvidence.declaration_line_id == DeclarationLine.id))
                .where(Declaration.status.in_(EXPORTED), *declarations))
        rows = self.session.execute(stmt.group_by(DeclarationLine.declaration_id, per_line.c.currency))
        return [(did, cur, int(n), *(int(v or 0) for v in sums)) for did, cur, n, *sums in rows]

