"""Receivables (应收/收汇跟踪): per sale, payout and declaration, how far the money has come back —
sold → paid out → received → settled (结汇) — in the original currency and in CNY, the outstanding money by
age, and the alerts the FX and tax rules call for.

Figures (``receivables_repository`` computes them in SQL, for every sale at once):

* **sold** — the sale's value: item price less promotions, minor units of the sale currency (the loop's
  realised value); cancelled, refunded and returned lines hold no receivable;
* **paid out** — what the platform's payouts carry for it (its items, net of fees and refunds);
* **received** — the part of that its payouts' bank matches cover (收汇);
* **settled** — the part of that converted to CNY (结汇), with the CNY fen the conversions gave;
* **outstanding** — the sale's value not received yet: all of it until a payout carries the sale, then in
  the ratio ``received / paid out`` (fees the platform netted count as received, 汇发〔2020〕11号: overseas
  fees may be netted against proceeds, domain.md §4).

CNY values of sold and outstanding money use the rate of the sale's date (``rates`` rule ``sale_date``); a
missing rate is listed (``"USD 2026-03-14"``) and its CNY value is ``None`` — never a guessed rate.
``settled_cny`` is what the bank actually gave.

Rules (domain.md):

* **收汇 deadline** — proceeds of an export are received by 30 April of the year after export (§3.5, rule
  [S27]; also the rebate's condition, §4 "Tax link"). A declaration whose linked sales are not received in
  full raises ``proceeds_due_soon`` from 30 days before the deadline and ``proceeds_overdue`` from the day
  after it. A declaration line with proceeds evidence (received outside the payouts, or 视同收汇, recorded
  in tax) has nothing outstanding.
* **Deferred receipts over 90 days** — a Class A exporter reports a receipt deferred more than 90 days after
  export in the goods-trade monitoring system (§4 "Trade credit reporting", [S34]). A sale with money
  outstanding more than 90 days after its date raises ``deferred_receipt_over_90_days`` (day 91 on).

Every function takes ``as_of`` (default: today, UTC) so a view is reproducible: sales dated after it,
declarations exported after it and payouts deposited after it are left out, and ages count from it. The
money recorded so far (payouts, matches, 结汇) is used as it is now. Read-only: no audit rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration
from tradeloop.finance import rates
from tradeloop.finance.money_models import Payout
from tradeloop.finance.receivables_repository import STATES, ReceivablesRepository
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.models import utcnow
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.sales.models import SalesOrderLine
from tradeloop.warehouse import aging

#: Age buckets (days since the sale): the overseas-warehouse industry's, as for stock age (库龄).
BUCKETS = aging.LABELS
#: A declaration's deadline alert starts this many days before 30 April.
DUE_SOON_DAYS = 30
#: A Class A exporter reports receipts deferred more than this many days (domain.md §4).
DEFERRED_DAYS = 90
ALERT_KINDS = ("proceeds_overdue", "proceeds_due_soon", "deferred_receipt_over_90_days")


def today() -> date:
    return utcnow().date()


def proceeds_due(export_date: date) -> date:
    """收汇 deadline of an export: 30 April of the year after it (domain.md §3.5, §4)."""
    return date(export_date.year + 1, 4, 30)


def _end_of(day: date) -> datetime:
    """The first instant after ``day`` (UTC): sales dated ``day`` or earlier are before it."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


def last_export_day_alerted(as_of: date) -> date:
    """The last export date whose 30 April deadline falls on or before ``as_of`` + 30 days."""
    horizon = as_of + timedelta(days=DUE_SOON_DAYS)
    year = horizon.year - 1 if horizon >= date(horizon.year, 4, 30) else horizon.year - 2
    return min(date(year, 12, 31), as_of)


def _check_state(state: str | None) -> None:
    if state and state not in STATES:
        raise ValidationFailed("Unknown receivable state.", errors=[FieldError(
            "state", f"must be one of {', '.join(STATES)}", f"须为 {'、'.join(STATES)} 之一")],
            message_zh="应收状态无效")


class Converter:
    """Amounts of a currency on a day -> CNY fen at the day's rate (rule ``sale_date``), remembering the
    rates that were missing. A zero amount needs no rate."""

    def __init__(self, session: Session):
        self.book = rates.RateBook(session, "sale_date")
        self.refs = ReferenceLookup(session)
        self.missing: set[str] = set()

    def conversion(self, currency: str, day: date) -> rates.Conversion | None:
        conv = self.book.conversion(currency, day)
        if conv is None or self.refs.minor_units(currency) is None:
            self.missing.add(f"{currency} {day.isoformat()}")
            return None
        return conv

    def cny(self, currency: str, day: date, amount: int) -> int | None:
        if amount == 0:
            return 0
        conv = self.conversion(currency, day)
        if conv is None:
            return None
        return rates.to_cny_minor(amount, self.refs.minor_units(currency), conv)


# --- the aging view and the summary ---------------------------------------------------------------------


@dataclass
class Bucket:
    label: str
    sales: int = 0
    outstanding_minor: int = 0
    #: CNY fen at each sale day's rate; None when a rate is missing.
    outstanding_cny: int | None = 0


def age_buckets(days: Iterable[tuple[date, int, int]], as_of: date,
                to_cny: Callable[[date, int], int | None]) -> list[Bucket]:
    """Outstanding money of one currency by age: ``days`` are (sale day, sales with money outstanding,
    outstanding minor units); each day's amount is converted once (``to_cny``) and falls in one bucket, so
    the buckets add up exactly to the total."""
    out = {label: Bucket(label) for label in BUCKETS}
    for day, sales, amount in days:
        b = out[aging.bucket(max(0, (as_of - day).days))]
        b.sales += sales
        b.outstanding_minor += amount
        cny = to_cny(day, amount)
        b.outstanding_cny = None if cny is None or b.outstanding_cny is None else b.outstanding_cny + cny
    return list(out.values())


@dataclass
class CurrencyReceivables:
    currency: str
    sales: int = 0
    sold_minor: int = 0
    paid_out_minor: int = 0
    received_minor: int = 0
    settled_minor: int = 0
    settled_cny: int = 0
    outstanding_minor: int = 0
    sold_cny: int | None = 0
    outstanding_cny: int | None = 0
    by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    aging: list[Bucket] = field(default_factory=list)
    missing_rates: list[str] = field(default_factory=list)


@dataclass
class OpenPayouts:
    currency: str
    payouts: int
    total_minor: int
    received_minor: int
    open_minor: int
    oldest: date | None
    oldest_days: int | None


@dataclass
class Summary:
    as_of: date
    currencies: list[CurrencyReceivables]
    by_state: dict[str, int]
    sold_cny: int | None
    outstanding_cny: int | None
    settled_cny: int
    missing_rates: list[str]
    payouts: list[OpenPayouts]


def _add(total: int | None, part: int | None) -> int | None:
    return None if total is None or part is None else total + part


def summary(session: Session, *, principal: Principal, as_of: date | None = None) -> Summary:
    """Receivables per currency (sold, paid out, received, settled, outstanding, sales per state) with the
    outstanding money in age buckets, and the payouts not received in full."""
    principal.tenant(Action.READ)
    as_of = as_of or today()
    repo = ReceivablesRepository(session, principal)
    fx = Converter(session)
    per: dict[str, CurrencyReceivables] = {}
    days: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for cur, day, state, n, sold, paid, got, settled, settled_cny, outstanding, owing in \
            repo.by_day(until=_end_of(as_of)):
        c = per.setdefault(cur, CurrencyReceivables(cur))
        c.sales += n
        c.by_state[state] += n
        c.sold_minor += sold
        c.paid_out_minor += paid
        c.received_minor += got
        c.settled_minor += settled
        c.settled_cny += settled_cny
        c.outstanding_minor += outstanding
        d = days[cur][day]
        d[0] += sold
        d[1] += owing
        d[2] += outstanding
    for cur, c in per.items():
        before = set(fx.missing)
        for day, (sold, _n, _out) in days[cur].items():
            c.sold_cny = _add(c.sold_cny, fx.cny(cur, day, sold))
        c.aging = age_buckets(((day, n, out) for day, (_s, n, out) in days[cur].items()), as_of,
                              lambda day, amount, cur=cur: fx.cny(cur, day, amount))
        c.outstanding_cny = 0
        for b in c.aging:
            c.outstanding_cny = _add(c.outstanding_cny, b.outstanding_cny)
        c.missing_rates = sorted(fx.missing - before)
    currencies = [per[k] for k in sorted(per)]
    by_state = {s: sum(c.by_state[s] for c in currencies) for s in STATES}
    sold_cny: int | None = 0
    outstanding_cny: int | None = 0
    for c in currencies:
        sold_cny, outstanding_cny = _add(sold_cny, c.sold_cny), _add(outstanding_cny, c.outstanding_cny)
    payouts = []
    for cur, n, total, got, first_deposit, first_end in repo.open_payouts(until=as_of):
        oldest = min([d for d in (first_deposit, first_end.date() if first_end else None) if d], default=None)
        payouts.append(OpenPayouts(cur, n, total, got, total - got, oldest,
                                   max(0, (as_of - oldest).days) if oldest else None))
    return Summary(as_of, currencies, by_state, sold_cny, outstanding_cny, sum(c.settled_cny for c in currencies),
                   sorted(fx.missing), payouts)


# --- per sale -------------------------------------------------------------------------------------------


@dataclass
class SaleReceivable:
    id: uuid.UUID
    channel: str
    marketplace: str | None
    order_id: str
    sku: str
    quantity: int
    sale_date: date
    status: str
    currency: str
    sold_minor: int
    paid_out_minor: int
    received_minor: int
    settled_minor: int
    settled_cny: int
    outstanding_minor: int
    state: str
    age_days: int
    payout_items: int
    first_deposit: date | None
    #: At the sale date's rate (``conversion``); None with ``missing_rate`` when no rate is known.
    sold_cny: int | None = None
    paid_out_cny: int | None = None
    received_cny: int | None = None
    outstanding_cny: int | None = None
    conversion: rates.Conversion | None = None
    missing_rate: str | None = None


def _sale(row, as_of: date, fx: Converter) -> SaleReceivable:
    line: SalesOrderLine
    line, sold, paid, n, got, settled, settled_cny, outstanding, state, first_deposit = row
    day = line.order_date.astimezone(UTC).date()
    out = SaleReceivable(line.id, line.channel, line.marketplace, line.external_order_id, line.sku, line.quantity,
                         day, line.status, line.currency, int(sold), int(paid), int(got), int(settled),
                         int(settled_cny), int(outstanding), state, max(0, (as_of - day).days), int(n),
                         first_deposit)
    out.conversion = fx.conversion(line.currency, day)
    if out.conversion is None:
        out.missing_rate = f"{line.currency} {day.isoformat()}"
    else:
        digits = fx.refs.minor_units(line.currency)
        out.sold_cny, out.paid_out_cny, out.received_cny, out.outstanding_cny = (
            rates.to_cny_minor(v, digits, out.conversion) for v in (out.sold_minor, out.paid_out_minor,
                                                                    out.received_minor, out.outstanding_minor))
    return out


def sales_page(session: Session, *, principal: Principal, as_of: date | None = None, cursor: str | None = None,
               limit: int | None = None, state: str | None = None, currency: str | None = None,
               channel: str | None = None, deferred_only: bool = False) -> tuple[list[SaleReceivable], str | None]:
    """The receivable sales, newest first, each with its figures and state; ``deferred_only``: the sales with
    money outstanding more than 90 days after their date (the alert's list)."""
    principal.tenant(Action.READ)
    _check_state(state)
    as_of = as_of or today()
    rows, nxt = ReceivablesRepository(session, principal).sales_page(
        until=_end_of(as_of), cursor=cursor, limit=limit, state=state, currency=currency, channel=channel,
        unreceived_before=_end_of(as_of - timedelta(days=DEFERRED_DAYS + 1)) if deferred_only else None)
    fx = Converter(session)
    return [_sale(r, as_of, fx) for r in rows], nxt


# --- per payout -----------------------------------------------------------------------------------------


@dataclass
class PayoutReceivable:
    payout: Payout
    open_minor: int
    #: The deposit date, else the end of the settlement period: what the age counts from.
    since: date | None
    age_days: int | None
    sales_lines: int


def payouts_page(session: Session, *, principal: Principal, as_of: date | None = None, cursor: str | None = None,
                 limit: int | None = None, status: str | None = None, currency: str | None = None,
                 open_only: bool = False) -> tuple[list[PayoutReceivable], str | None]:
    """Payouts deposited by ``as_of`` (newest first): total, matched to bank credits, open remainder, age."""
    principal.tenant(Action.READ)
    as_of = as_of or today()
    repo = ReceivablesRepository(session, principal)
    rows, nxt = repo.payouts_page(until=as_of, cursor=cursor, limit=limit, status=status, currency=currency,
                                  open_only=open_only)
    linked = repo.linked_sales([p.id for p in rows])
    out = []
    for p in rows:
        since = p.deposit_date or (p.period_end.date() if p.period_end else None)
        open_minor = max(0, p.total_minor - min(p.received_minor, p.total_minor))
        out.append(PayoutReceivable(p, open_minor, since, max(0, (as_of - since).days) if since else None,
                                    linked.get(p.id, 0)))
    return out, nxt


# --- per declaration ------------------------------------------------------------------------------------


@dataclass
class DeclarationMoney:
    sales: int = 0
    sold_minor: int = 0
    paid_out_minor: int = 0
    received_minor: int = 0
    settled_minor: int = 0
    outstanding_minor: int = 0


@dataclass
class DeclarationReceivable:
    declaration: Declaration
    as_of: date
    #: Per sale currency, the shares of its linked sales.
    money: dict[str, DeclarationMoney] = field(default_factory=dict)

    @property
    def deadline(self) -> date:
        return proceeds_due(self.declaration.ie_date)

    @property
    def days_to_deadline(self) -> int:
        """Days from ``as_of`` to the deadline (negative: days past it)."""
        return (self.deadline - self.as_of).days

    @property
    def outstanding(self) -> dict[str, int]:
        return {c: m.outstanding_minor for c, m in sorted(self.money.items()) if m.outstanding_minor}

    @property
    def state(self) -> str:
        """nothing_sold (no linked sale yet) / received (nothing outstanding) / overdue (past 30 April with
        money outstanding) / due_soon (within 30 days of it) / open."""
        if not self.money:
            return "nothing_sold"
        if not self.outstanding:
            return "received"
        if self.as_of > self.deadline:
            return "overdue"
        return "due_soon" if self.days_to_deadline <= DUE_SOON_DAYS else "open"


def _declaration_money(rows: list[tuple]) -> dict[uuid.UUID, dict[str, DeclarationMoney]]:
    out: dict[uuid.UUID, dict[str, DeclarationMoney]] = defaultdict(dict)
    for did, cur, n, sold, paid, got, settled, outstanding in rows:
        out[did][cur] = DeclarationMoney(n, sold, paid, got, settled, outstanding)
    return out


def declarations_page(session: Session, *, principal: Principal, as_of: date | None = None,
                      cursor: str | None = None, limit: int | None = None
                      ) -> tuple[list[DeclarationReceivable], str | None]:
    """Exported declarations (newest first) with the receivables of the sales their goods went to, the 收汇
    deadline and whether it is near or past."""
    principal.tenant(Action.READ)
    as_of = as_of or today()
    repo = ReceivablesRepository(session, principal)
    decls, nxt = repo.declarations_page(until=as_of, cursor=cursor, limit=limit)
    money = _declaration_money(repo.declaration_figures(until=_end_of(as_of), declaration_ids=[d.id for d in decls]))
    return [DeclarationReceivable(d, as_of, money.get(d.id, {})) for d in decls], nxt


# --- alerts ---------------------------------------------------------------------------------------------


@dataclass
class Alert:
    kind: str
    #: declaration or sale, and its id.
    subject: str
    id: uuid.UUID
    #: The declaration's copNo (and entryId), or the sale's channel, order id and SKU.
    reference: str
    currency: str
    outstanding_minor: int
    #: Overdue: days past the deadline; due soon: days left; deferred: days since the sale.
    days: int
    #: The deadline (declarations) or the sale date.
    day: date
    message_en: str
    message_zh: str
    outstanding_cny: int | None = None
    entry_id: str | None = None


@dataclass
class Alerts:
    as_of: date
    declarations: list[Alert]
    sales: list[Alert]
    next_cursor: str | None
    #: Every deferred sale (not only this page): per currency, (sales, outstanding minor units).
    deferred_totals: dict[str, tuple[int, int]]


def _money_text(refs: ReferenceLookup, minor: int, currency: str) -> str:
    digits = refs.minor_units(currency)
    digits = 2 if digits is None else digits
    return f"{currency} {minor / 10 ** digits:,.{digits}f}"


def declaration_alerts(session: Session, *, principal: Principal, as_of: date | None = None) -> list[Alert]:
    """Declarations whose linked sales are not received in full, 30 days before their 30 April deadline or
    past it: one alert per declaration and sale currency, the most overdue first."""
    principal.tenant(Action.READ)
    as_of = as_of or today()
    repo = ReceivablesRepository(session, principal)
    decls = repo.declarations(until=as_of, exported_until=last_export_day_alerted(as_of))
    if not decls:
        return []
    money = _declaration_money(repo.declaration_figures(until=_end_of(as_of), declaration_ids=list(decls)))
    refs = ReferenceLookup(session)
    out = []
    for did, d in decls.items():
        view = DeclarationReceivable(d, as_of, money.get(did, {}))
        overdue = as_of > view.deadline
        if not overdue and view.days_to_deadline > DUE_SOON_DAYS:
            continue
        ref = d.cop_no + (f" / {d.entry_id}" if d.entry_id else "")
        for cur, amount in view.outstanding.items():
            text = _money_text(refs, amount, cur)
            if overdue:
                days = -view.days_to_deadline
                en = (f"Declaration {ref} (exported {d.ie_date}): {text} of its sales not received, {days} days "
                      f"past the 收汇 deadline {view.deadline} (30 April of the year after export).")
                zh = (f"申报单 {ref}（{d.ie_date} 出口）：{text} 销售款未收汇，已超过收汇期限 {view.deadline}"
                      f"（出口次年4月30日）{days} 天。")
            else:
                days = view.days_to_deadline
                en = (f"Declaration {ref} (exported {d.ie_date}): {text} of its sales not received; the 收汇 "
                      f"deadline {view.deadline} is in {days} days.")
                zh = (f"申报单 {ref}（{d.ie_date} 出口）：{text} 销售款未收汇，距收汇期限 {view.deadline} 还有 "
                      f"{days} 天。")
            out.append(Alert("proceeds_overdue" if overdue else "proceeds_due_soon", "declaration", d.id, d.cop_no,
                             cur, amount, days, view.deadline, en, zh, entry_id=d.entry_id))
    return sorted(out, key=lambda a: (a.kind != "proceeds_overdue", -a.days if a.kind == "proceeds_overdue"
                                      else a.days, a.reference, a.currency))


def sale_alert(s: SaleReceivable, refs: ReferenceLookup) -> Alert:
    ref = f"{s.channel} {s.order_id} {s.sku}"
    text = _money_text(refs, s.outstanding_minor, s.currency)
    en = (f"Sale {ref} of {s.sale_date}: {text} not received {s.age_days} days after the sale. A Class A exporter "
          f"reports receipts deferred more than 90 days (trade credit reporting).")
    zh = (f"销售 {ref}（{s.sale_date}）：{text} 在销售后 {s.age_days} 天仍未收汇。A类企业延期收款超过90天须在"
          f"货物贸易外汇监测系统报告。")
    return Alert("deferred_receipt_over_90_days", "sale", s.id, ref, s.currency, s.outstanding_minor, s.age_days,
                 s.sale_date, en, zh, outstanding_cny=s.outstanding_cny)


def alerts(session: Session, *, principal: Principal, as_of: date | None = None, cursor: str | None = None,
           limit: int | None = None) -> Alerts:
    """(a) declarations near or past their 收汇 deadline with sales not received in full (all of them);
    (b) sales with money outstanding more than 90 days after the sale (a page, newest first, with the totals
    of all of them)."""
    principal.tenant(Action.READ)
    as_of = as_of or today()
    decls = declaration_alerts(session, principal=principal, as_of=as_of)
    sales, nxt = sales_page(session, principal=principal, as_of=as_of, cursor=cursor, limit=limit,
                            deferred_only=True)
    refs = ReferenceLookup(session)
    totals = ReceivablesRepository(session, principal).unreceived_totals(
        until=_end_of(as_of), before=_end_of(as_of - timedelta(days=DEFERRED_DAYS + 1)))
    return Alerts(as_of, decls, [sale_alert(s, refs) for s in sales], nxt,
                  {cur: (n, total) for cur, n, total in totals})
