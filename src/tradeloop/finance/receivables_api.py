"""Receivables (应收/收汇跟踪): the summary with the aging of outstanding money, the sales, payouts and
declarations with how far their money has come back, and the alerts (收汇 deadline, deferred receipts)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from tradeloop.finance import receivables
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/finance/receivables", tags=["finance"])

AsOf = Annotated[date | None, Query(description="the day the view is taken on (default: today, UTC); ages and "
                                                "deadlines count from it, later sales are left out")]


class BucketRead(BaseModel):
    label: str = Field(description="days since the sale: 0-30, 31-60, 61-90, 91-180, 181-365, >365")
    sales: int = Field(description="sales with money outstanding in the bucket")
    outstanding_minor: int
    outstanding_cny: int | None = Field(description="CNY fen at each sale date's rate; null when a rate is missing")


class CurrencyRead(BaseModel):
    currency: str
    sales: int
    sold_minor: int = Field(description="item price less promotions of the receivable sales, minor units")
    paid_out_minor: int = Field(description="their payout items, net of fees and refunds")
    received_minor: int = Field(description="the part of paid out matched to bank credits (收汇)")
    settled_minor: int = Field(description="the part of received converted to CNY (结汇)")
    settled_cny: int = Field(description="CNY fen the conversions gave")
    outstanding_minor: int = Field(description="sold value not received yet (= the sum of the aging buckets)")
    sold_cny: int | None = Field(description="at each sale date's rate; null when a rate is missing")
    outstanding_cny: int | None
    by_state: dict[str, int] = Field(description="sales per state: sold, paid_out, partly_received, received, "
                                     "partly_settled, settled")
    aging: list[BucketRead]
    missing_rates: list[str] = Field(description="'CUR YYYY-MM-DD' of every rate that was missing")


class OpenPayoutsRead(BaseModel):
    currency: str
    payouts: int = Field(description="payouts not received in full")
    total_minor: int
    received_minor: int
    open_minor: int
    oldest: date | None = Field(description="the oldest deposit date (or settlement period end)")
    oldest_days: int | None


class SummaryRead(BaseModel):
    as_of: date
    buckets: list[str]
    currencies: list[CurrencyRead]
    by_state: dict[str, int]
    sold_cny: int | None
    outstanding_cny: int | None
    settled_cny: int
    missing_rates: list[str]
    payouts: list[OpenPayoutsRead]


class ConversionRef(BaseModel):
    source: str
    rate_day: date
    rate: str = Field(description="CNY per unit (exact decimal as text)")


class SaleRead(BaseModel):
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
    settled_cny: int = Field(description="CNY fen the 结汇 of its share gave")
    outstanding_minor: int
    state: str
    age_days: int
    payout_items: int
    first_deposit: date | None
    sold_cny: int | None = Field(description="at the sale date's rate (rule sale_date); null when missing")
    paid_out_cny: int | None
    received_cny: int | None
    outstanding_cny: int | None
    conversion: ConversionRef | None
    missing_rate: str | None = Field(description="'CUR YYYY-MM-DD' when the sale date's rate is missing")


class PayoutReceivableRead(BaseModel):
    id: uuid.UUID
    source: str
    settlement_id: str
    marketplace: str | None
    currency: str
    total_minor: int
    received_minor: int = Field(description="matched to bank credits")
    open_minor: int = Field(description="not matched yet")
    status: str
    deposit_date: date | None
    since: date | None = Field(description="deposit date, else the end of the settlement period")
    age_days: int | None
    sales_lines: int = Field(description="sales lines its items are linked to")


class DeclarationMoneyRead(BaseModel):
    sales: int
    sold_minor: int
    paid_out_minor: int
    received_minor: int
    settled_minor: int
    outstanding_minor: int


class DeclarationReceivableRead(BaseModel):
    id: uuid.UUID
    cop_no: str
    entry_id: str | None
    invt_no: str | None
    mode: str
    ie_date: date
    deadline: date = Field(description="收汇 deadline: 30 April of the year after export")
    days_to_deadline: int = Field(description="negative: days past it")
    state: str = Field(description="nothing_sold, received, open, due_soon (within 30 days) or overdue")
    money: dict[str, DeclarationMoneyRead] = Field(description="per sale currency: the shares of its linked sales "
                                                   "by the units its lines gave them")


class AlertRead(BaseModel):
    kind: str = Field(description="proceeds_overdue, proceeds_due_soon or deferred_receipt_over_90_days")
    subject: str = Field(description="declaration or sale")
    id: uuid.UUID
    reference: str
    entry_id: str | None
    currency: str
    outstanding_minor: int
    outstanding_cny: int | None = Field(description="sales: at the sale date's rate; declarations: null")
    days: int = Field(description="overdue: days past the deadline; due soon: days left; deferred: days since "
                      "the sale")
    day: date = Field(description="the deadline, or the sale date")
    message_en: str
    message_zh: str


class DeferredTotal(BaseModel):
    sales: int
    outstanding_minor: int


class AlertsRead(BaseModel):
    as_of: date
    declarations: list[AlertRead]
    sales: list[AlertRead] = Field(description="a page of the deferred sales, newest first")
    next_cursor: str | None
    deferred_totals: dict[str, DeferredTotal] = Field(description="all deferred sales, per currency")


def sale_read(s: receivables.SaleReceivable) -> SaleRead:
    conv = s.conversion
    data = {k: v for k, v in vars(s).items() if k != "conversion"}
    return SaleRead(**data, conversion=ConversionRef(source=conv.source, rate_day=conv.rate_day, rate=str(conv.rate))
                    if conv else None)


def alert_read(a: receivables.Alert) -> AlertRead:
    return AlertRead(**vars(a))


@router.get("", response_model=SummaryRead)
def get_summary(principal: CurrentPrincipal, db: DB, as_of: AsOf = None):
    """Per currency: sold, paid out, received, settled and outstanding money, sales per state, the outstanding
    money in age buckets (days since the sale) in minor units and CNY, and the payouts not received in full."""
    s = receivables.summary(db, principal=principal, as_of=as_of)
    return SummaryRead(as_of=s.as_of, buckets=list(receivables.BUCKETS), by_state=s.by_state, sold_cny=s.sold_cny,
                       outstanding_cny=s.outstanding_cny, settled_cny=s.settled_cny, missing_rates=s.missing_rates,
                       payouts=[OpenPayoutsRead(**vars(p)) for p in s.payouts],
                       currencies=[CurrencyRead(**{**vars(c), "aging": [BucketRead(**vars(b)) for b in c.aging]})
                                   for c in s.currencies])


@router.get("/sales", response_model=Page[SaleRead])
def list_sales(principal: CurrentPrincipal, db: DB, as_of: AsOf = None, cursor: Cursor = None, limit: Limit = None,
               state: Annotated[str | None, Query(description="sold, paid_out, partly_received, received, "
                                                              "partly_settled or settled")] = None,
               currency: str | None = None, channel: str | None = None,
               deferred: Annotated[bool, Query(description="only sales with money outstanding more than 90 days "
                                                           "after the sale")] = False):
    """Receivable sales (newest first) with sold, paid out, received, settled and outstanding money."""
    rows, nxt = receivables.sales_page(db, principal=principal, as_of=as_of, cursor=cursor, limit=limit, state=state,
                                       currency=currency, channel=channel, deferred_only=deferred)
    return Page(items=[sale_read(r) for r in rows], next_cursor=nxt)


@router.get("/payouts", response_model=Page[PayoutReceivableRead])
def list_payouts(principal: CurrentPrincipal, db: DB, as_of: AsOf = None, cursor: Cursor = None,
                 limit: Limit = None, currency: str | None = None,
                 open: Annotated[bool, Query(description="only payouts not received in full")] = False):
    """Payouts deposited by ``as_of`` (newest first): total, matched to bank credits, open remainder, age."""
    rows, nxt = receivables.payouts_page(db, principal=principal, as_of=as_of, cursor=cursor, limit=limit,
                                         currency=currency, open_only=open)
    return Page(items=[PayoutReceivableRead(
        id=r.payout.id, source=r.payout.source, settlement_id=r.payout.settlement_id,
        marketplace=r.payout.marketplace, currency=r.payout.currency, total_minor=r.payout.total_minor,
        received_minor=r.payout.received_minor, open_minor=r.open_minor, status=r.payout.status,
        deposit_date=r.payout.deposit_date, since=r.since, age_days=r.age_days, sales_lines=r.sales_lines)
        for r in rows], next_cursor=nxt)


@router.get("/declarations", response_model=Page[DeclarationReceivableRead])
def list_declarations(principal: CurrentPrincipal, db: DB, as_of: AsOf = None, cursor: Cursor = None,
                      limit: Limit = None):
    """Exported declarations (newest first) with the money of the sales their goods went to and the 收汇
    deadline."""
    rows, nxt = receivables.declarations_page(db, principal=principal, as_of=as_of, cursor=cursor, limit=limit)
    return Page(items=[DeclarationReceivableRead(
        id=r.declaration.id, cop_no=r.declaration.cop_no, entry_id=r.declaration.entry_id,
        invt_no=r.declaration.invt_no, mode=r.declaration.mode, ie_date=r.declaration.ie_date, deadline=r.deadline,
        days_to_deadline=r.days_to_deadline, state=r.state,
        money={c: DeclarationMoneyRead(**vars(m)) for c, m in sorted(r.money.items())}) for r in rows],
        next_cursor=nxt)


@router.get("/alerts", response_model=AlertsRead)
def list_alerts(principal: CurrentPrincipal, db: DB, as_of: AsOf = None, cursor: Cursor = None, limit: Limit = None):
    """(a) Declarations whose sales are not received in full, from 30 days before their 收汇 deadline (30 April
    of the year after export) — ``proceeds_due_soon`` — and after it — ``proceeds_overdue``; (b) sales with
    money outstanding more than 90 days after the sale — ``deferred_receipt_over_90_days`` (a Class A exporter
    reports them) — a page of them, with the totals of all."""
    a = receivables.alerts(db, principal=principal, as_of=as_of, cursor=cursor, limit=limit)
    return AlertsRead(as_of=a.as_of, declarations=[alert_read(x) for x in a.declarations],
                      sales=[alert_read(x) for x in a.sales], next_cursor=a.next_cursor,
                      deferred_totals={c: DeferredTotal(sales=n, outstanding_minor=t)
                                       for c, (n, t) in a.deferred_totals.items()})
