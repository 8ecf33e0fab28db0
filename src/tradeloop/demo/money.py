"""The money side of the demo year, through the real services and importers: platform settlements,
bank statements, matching (收汇) and FX settlement (结汇), the bamboo trader's purchase invoices, and the
export VAT rebate claims. Every file is written into ``DATA_DIR/demo-files/`` in its real layout and goes
through the importer a person would use; amounts are integer minor units from the imported sales, so every
file adds up exactly.

* **Amazon settlements** (``settlements/amazon-*.txt``, Settlement Report V2 flat file): one file per
  marketplace per 14-day settlement period that has closed, written from the silk maker's imported sales —
  per order line the principal, the promotion, the sales tax or VAT Amazon collects and withholds as
  marketplace facilitator / deemed supplier, and the referral commission; a refund (principal, tax,
  promotion and commission back, the refund administration fee) for every order Amazon reports as
  returned, posted on the day of the return; the monthly subscription fee, the period's advertising, and
  a reserve held for orders not yet delivered (posted in the last three days) that the next settlement
  releases. The sales were fulfilled by the merchant from the operator's overseas warehouses
  (``fulfillment-id`` MFN, as the order reports say), so there are no FBA fulfilment fees: the warehouse
  operator bills its fees outside Amazon. Amazon.com files write ISO dates and decimal points, Amazon.de
  files ``DD.MM.YYYY`` dates and decimal commas, as the two marketplaces do.
* **PingPong** (``settlements/pingpong-*.csv``): the bamboo trader's Shopify takings are collected in its
  PingPong account, one row per order line (the buyer's payment, with the processing fee), and withdrawn
  to its bank account every 14 days (a ``提现`` row). The firm publishes no layout, so the trader saves its
  own ``pingpong`` profile through the service: the starter layout plus the SKU column of its export.
* **Bank statements**: the silk maker's USD account as monthly camt.053 files, its EUR account as monthly
  MT940 files, the bamboo trader's USD account as monthly camt.053 files; complete months only. Each
  payout arrives one to four days after its deposit date: most for the exact amount, naming the settlement
  (matched by reference), some without a reference (matched by amount), some a few units short for an
  intermediary bank's fee (within the matching tolerance); one credit pays two Amazon.com settlements at
  once (many to one); one Amazon.de settlement arrives in two parts, the first without a reference (a
  person matches it by hand), the rest ten days later naming it; one credit is a buyer's direct
  remittance that no payout explains, left for a person. Debits: the monthly account fee and the transfers
  out for 结汇. The statements are imported month by month, ``auto_match`` running after each month as it
  would when the statement comes in.
* **结汇**: most months the silk maker converts its largest USD credit (and some EUR credits) to CNY a few
  days after it arrives, and the bamboo trader now and then; the bank's rate is the ECB cross rate of the
  day less a 0.15 % spread (the demo has no bank's quote).
* **Purchase invoices** (``bamboo-purchase-invoices.xlsx``, 数电发票 as listed by the e-Tax bureau with a SKU
  column): the bamboo trader's suppliers in Anji invoice each month's exported quantities (9810 and the
  9610 parcels, rounded up to whole cartons of ten) a week before the export, except the latest month,
  whose invoices have not come yet; then ``auto_allocate``.
* **Rebate claims**: the silk maker (生产企业, 免抵退) pre-rebates one Amazon.de declaration under HWC-YT right
  after it sailed (this stage runs before any sale is imported, so none of it is sold yet), the tax office
  approves it three weeks after the export date, and it is reconciled against the sales at the end of last
  month; then one normal 免抵退 claim per export month for the first six months of the year, each declared
  and approved, with the period's domestic output VAT and input VAT as fictional figures and the credit
  carried from the claim before. These claims take the units sold and paid as the chain stands when the
  demo is built (the services read the chain as of now), dated with their period and approval day. The
  manufacturer's FOB is converted at the customs rate of the export month: the demo has no published
  customs rates, so it imports, as source ``customs``, the ECB cross rate of the third Wednesday of the
  month before each month (the day the customs rate is commonly taken from) — a stand-in, so named in the
  file. The bamboo trader (外贸企业, 免退税) would get a claim of the lines whose chain is complete; none is:
  its 10-digit HS lines are the demo's placeholders (``year.HS_PLACEHOLDERS``) without a rebate rate, so
  its candidates name the missing rate — that piece is left missing rather than invented. ``returns_due``
  then scans for returns home of claimed units (the year's returns are restocked or disposed of abroad, so
  none is due).

Dates: settlements, statements and 结汇 carry the dates the files and the bank give; claims take their
period and the approval and reconciliation days given here. Stamped at build time, since those services
stamp "now": the creation of payouts, bank entries, matches and claims, and a claim's ``declared_at``.
"""

from __future__ import annotations

import csv
import io
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from tradeloop.demo.plan import BAMBOO_US, SILK_DE, SILK_US, YearPlan, month_start

CENT = Decimal("0.01")
PERIOD = timedelta(days=14)
#: Amazon referral fee per SKU and marketplace (clothing and accessories, home), a typical schedule.
COMMISSION = {("Amazon.com", "SC-MUL-90"): Decimal("0.17"), ("Amazon.com", "BL-CREPE-M"): Decimal("0.17"),
              ("Amazon.com", "PC-22MM"): Decimal("0.15"), ("Amazon.de", "SC-MUL-90"): Decimal("0.15"),
              ("Amazon.de", "BL-CREPE-M"): Decimal("0.15"), ("Amazon.de", "PC-22MM"): Decimal("0.15")}
SUBSCRIPTION = {"USD": 3999, "EUR": 3900}
SPREAD = Decimal("0.0015")  # the bank's 结汇 rate: ECB cross rate less this share
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _text(minor: int, comma: bool = False) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}{',' if comma else '.'}{cents:02d}"


@dataclass
class MoneyCounts:
    payouts: dict[str, int] = field(default_factory=dict)  # source -> payouts
    statement_files: dict[str, int] = field(default_factory=dict)  # format -> files
    entries: int = 0
    auto_matched: int = 0
    manual: int = 0
    left: int = 0
    fx_settlements: int = 0
    invoices: int = 0
    claims: int = 0
    approved: int = 0
    trader_claims: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Deposit:
    """A payout as the bank will see it."""
    owner: str
    source: str
    settlement_id: str
    payout_id: uuid.UUID
    currency: str
    total: int
    deposit: date
    market: str


# --- customs rates and the HWC-YT pre-rebate (before any sale is imported) ----------------------------


def _third_wednesday(month: date) -> date:
    first = month.replace(day=1)
    return first + timedelta(days=(2 - first.weekday()) % 7 + 14)


def customs_rates(db, folder: Path, plan: YearPlan, *, system) -> int:
    """A customs rate per month of the year's exports (USD, EUR), the ECB cross rate of the third Wednesday
    of the month before (see the module text), written as a CSV and imported as source ``customs``."""
    from tradeloop.finance import rates

    months = plan.months
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "currency", "rate"])
    rows = 0
    with db.transaction() as s:
        for month in months:
            day = _third_wednesday(month_start(month, 1))
            for cur in ("USD", "EUR"):
                conv = rates.find(s, cur, day)
                if conv is None:
                    continue
                writer.writerow([month.isoformat(), cur, str(conv.rate.quantize(Decimal("0.0001")))])
                rows += 1
        name = "customs-rates-DEMO-stand-in-ECB-third-Wednesday.csv"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(out.getvalue(), encoding="utf-8")
        rates.import_rates(s, principal=system, filename=name, data=out.getvalue().encode(), source="customs")
    return rows


def _inputs(estimate: int, n: int, carried: int) -> dict:
    """The period's figures of a manufacturer claim, in fen: fictional, plausible for a silk apparel maker —
    some domestic sales, input VAT of about four fifths of the claim's 免抵退税额 (so part of it is refunded
    and part is 免抵), and the credit the claim before carried forward."""
    output = 960_000 + 115_000 * n  # 当期内销销项税额: domestic sales
    return {"domestic_output_vat_minor": output, "input_vat_minor": output + estimate * 4 // 5,
            "opening_credit_minor": carried}


def pre_rebate(db, plan: YearPlan, ids: dict, *, silk) -> uuid.UUID | None:
    """HWC-YT: the silk maker pre-rebates the Amazon.de declaration of the fifth month right after it
    sailed; approved three weeks after the export date."""
    from tradeloop.tax import claims
    from tradeloop.tax.claim_models import BusinessType, ClaimMethod

    exp = next((e for e in plan.exports if e.lane is SILK_DE and e.n == 5), None)
    if exp is None or exp.ie_date + timedelta(days=21) > plan.today:
        return None
    with db.transaction() as s:
        cands = [c for c in claims.candidates(s, silk, ClaimMethod.MANUFACTURER, BusinessType.HWC_YT,
                                              f"{exp.ie_date:%Y-%m}", declaration_ids=[ids[id(exp)]]) if c.complete]
        if not cands:
            return None
        estimate = sum(c.estimate_minor or 0 for c in cands)
        claim = claims.create_claim(s, principal=silk, method=ClaimMethod.MANUFACTURER,
                                    business_type=BusinessType.HWC_YT, period=f"{exp.ie_date:%Y-%m}",
                                    lines=[claims.LineRequest(c.declaration_line_id) for c in cands],
                                    note="海外仓预退（演示）", **_inputs(estimate, 0, 0))
        claims.declare(s, principal=silk, claim_id=claim.id)
        claims.approve(s, principal=silk, claim_id=claim.id, approved_minor=claim.refund_minor,
                       approved_on=exp.ie_date + timedelta(days=21))
        return claim.id


# --- settlements ---------------------------------------------------------------------------------------


AMAZON_COLUMNS = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
                  "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
                  "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id",
                  "posted-date", "posted-date-time", "order-item-code", "merchant-order-item-id",
                  "merchant-adjustment-item-id", "sku", "quantity-purchased", "promotion-id")


@dataclass
class _Tx:
    """One row of a settlement before it is written."""
    posted: datetime
    kind: str  # Order | Refund | other-transaction | ServiceFee
    amount_type: str
    description: str
    amount: int
    order_id: str = ""
    sku: str = ""
    qty: int | None = None
    adjustment: str = ""
    promotion: str = ""


def _sales(session, principal, channel: str) -> list:
    from tradeloop.sales.models import SalesOrderLine as L
    from tradeloop.sales.repository import SalesRepository

    stmt = SalesRepository(session, principal).filtered(channel=channel).with_only_columns(
        L.marketplace, L.external_order_id, L.sku, L.quantity, L.item_price_minor, L.item_tax_minor,
        L.discount_minor, L.shipping_minor, L.status, L.order_date, L.source_updated_at, L.line_id, L.currency)
    return list(session.execute(stmt.order_by(L.order_date, L.external_order_id, L.line_id)))


def _amazon_transactions(lines: list, market: str) -> list[_Tx]:
    """Order rows when the line shipped (two days after the order, as the order report updates it), and
    refund rows when Amazon reports the return."""
    txs: list[_Tx] = []
    eu = market == "Amazon.de"
    for li in lines:
        if li.marketplace != market or li.status not in ("shipped", "returned"):
            continue
        posted = li.order_date + timedelta(days=2, hours=3)
        rate = COMMISSION[(market, li.sku)]
        price, tax, promo = li.item_price_minor, li.item_tax_minor, li.discount_minor
        principal = price - tax if eu else price  # Amazon.de prices include VAT
        commission = -_round(Decimal(price - promo) * rate)  # on what the buyer paid (with VAT in the EU)
        common = {"order_id": li.external_order_id, "sku": li.sku, "qty": li.quantity}
        withheld = ("ItemWithheldTax", "MarketplaceFacilitatorVAT-Principal" if eu
                    else "MarketplaceFacilitatorTax-Principal")
        rows = [("ItemPrice", "Principal", principal), ("ItemPrice", "Tax", tax), (*withheld, -tax),
                ("Promotion", "Principal", -promo), ("ItemFees", "Commission", commission)]
        for at, desc, amount in rows:
            if amount:
                txs.append(_Tx(posted, "Order", at, desc, amount, promotion="DEAL-Q4" if at == "Promotion" else "",
                               **common))
        if li.status == "returned":
            back = li.source_updated_at or posted + timedelta(days=9)
            adj = f"AMZ-ADJ-{zlib.crc32(li.external_order_id.encode()) % 10**8:08d}"
            admin = -min(500, _round(Decimal(-commission) * Decimal("0.2")))
            for at, desc, amount in [("ItemPrice", "Principal", -principal), ("ItemPrice", "Tax", -tax),
                                     (*withheld, tax), ("Promotion", "Principal", promo),
                                     ("ItemFees", "Commission", -commission),
                                     ("ItemFees", "RefundCommission", admin)]:
                if amount:
                    txs.append(_Tx(back, "Refund", at, desc, amount, adjustment=adj,
                                   promotion="DEAL-Q4" if at == "Promotion" else "", **common))
    return txs


@dataclass
class _Settlement:
    sid: str
    start: datetime
    end: datetime
    deposit: datetime
    currency: str
    market: str
    rows: list[_Tx]

    @property
    def total(self) -> int:
        return sum(t.amount for t in self.rows)


def _amazon_settlements(txs: list[_Tx], market: str, currency: str, now: datetime, base: int) -> list[_Settlement]:
    """The closed 14-day settlements of a marketplace: the period's transactions, the subscription fee on the
    1st of each month, the advertising, and the reserve for orders posted in the last three days."""
    if not txs:
        return []
    txs = sorted(txs, key=lambda t: t.posted)
    first = txs[0].posted
    start = datetime.combine(first.date(), time(8), tzinfo=UTC)
    if start > first:
        start -= timedelta(days=1)
    out: list[_Settlement] = []
    reserve = 0
    i = 0
    n = 0
    while start + PERIOD + timedelta(days=1) <= now:
        end = start + PERIOD
        rows: list[_Tx] = []
        while i < len(txs) and txs[i].posted < end:
            rows.append(txs[i])
            i += 1
        sales = sum(t.amount for t in rows if t.kind == "Order" and t.description == "Principal")
        if reserve:
            rows.insert(0, _Tx(start, "other-transaction", "other-transaction", "Previous Reserve Amount Balance",
                               reserve))
        day = start.date().replace(day=1)
        while day < end.date():
            at = datetime.combine(day, time(0), tzinfo=UTC)
            if start <= at < end:
                rows.append(_Tx(at, "other-transaction", "other-transaction", "Subscription Fee",
                                -SUBSCRIPTION[currency]))
            day = month_start(day, -1)
        if sales:
            rows.append(_Tx(end - timedelta(days=1), "ServiceFee", "Cost of Advertising", "TransactionTotalAmount",
                            -_round(Decimal(sales) * Decimal("0.025"))))
        late = end - timedelta(days=3)  # what orders not yet delivered brought in, held back
        reserve = sum(t.amount for t in rows if t.kind == "Order" and t.posted >= late)
        if reserve > 0:
            rows.append(_Tx(end, "other-transaction", "other-transaction", "Current Reserve Amount", -reserve))
        else:
            reserve = 0
        rows.sort(key=lambda t: (t.posted, t.order_id))
        out.append(_Settlement(str(base + n * 1_031), start, end, end + timedelta(days=2), currency, market, rows))
        n += 1
        start = end
    return out


def _amazon_file(st: _Settlement) -> bytes:
    eu = st.market == "Amazon.de"

    def when(d: datetime, with_time: bool = True) -> str:
        if eu:
            return d.strftime("%d.%m.%Y %H:%M:%S UTC" if with_time else "%d.%m.%Y")
        return d.strftime("%Y-%m-%d %H:%M:%S UTC" if with_time else "%Y-%m-%d")

    def head(d: datetime) -> str:
        return d.strftime("%d.%m.%Y %H:%M:%S UTC") if eu else d.isoformat()

    lines = ["\t".join(AMAZON_COLUMNS)]
    lines.append("\t".join([st.sid, head(st.start), head(st.end), head(st.deposit), _text(st.total, eu),
                            st.currency] + [""] * 18))
    dates: dict[datetime, str] = {}
    items: dict[tuple[str, str], str] = {}
    for t in st.rows:
        posted = dates.get(t.posted)
        if posted is None:
            posted = dates[t.posted] = f"{when(t.posted, False)}\t{when(t.posted)}"
        if t.order_id:
            code = items.get((t.order_id, t.sku))
            if code is None:  # Amazon's order-item-code (fictional, stable per order line)
                code = items[(t.order_id, t.sku)] = f"{zlib.crc32(f'{t.order_id}/{t.sku}'.encode()):014d}"
            head_cells = f"{st.sid}\t\t\t\t\t{st.currency}\t{t.kind}\t{t.order_id}\t\t{t.adjustment}\t\t{st.market}"
            lines.append(f"{head_cells}\t{t.amount_type}\t{t.description}\t{_text(t.amount, eu)}\tMFN\t{posted}\t"
                         f"{code}\t\t\t{t.sku}\t{t.qty}\t{t.promotion}")
        else:
            lines.append(f"{st.sid}\t\t\t\t\t{st.currency}\t{t.kind}\t\t\t\t\t\t{t.amount_type}\t{t.description}\t"
                         f"{_text(t.amount, eu)}\t\t{posted}\t\t\t\t\t\t")
    return ("\n".join(lines) + "\n").encode("utf-8")


PINGPONG_COLUMNS = {"payout_id": "提现单号", "date": "创建时间", "type": "交易类型", "gross": "交易金额",
                    "fees": "手续费", "net": "到账金额", "currency": "币种", "order_id": "订单号", "sku": "商品SKU",
                    "reference": "流水号"}

def _pingpong_file(lines: list, now: datetime) -> tuple[bytes, list[tuple[str, datetime]]]:
    """The trader's PingPong transactions: each paid Shopify line (gross, the processing fee of 2.9 % plus
    0.30 per order, net) and a 提现 every 14 days taking the balance to the bank. Returns the CSV and the
    withdrawals (id, time)."""
    tz = SHANGHAI
    paid = [li for li in lines if li.status not in ("cancelled",)]
    if not paid:
        return b"", []
    paid.sort(key=lambda li: (li.order_date, li.external_order_id, li.line_id))
    start = datetime.combine(paid[0].order_date.astimezone(tz).date(), time(0), tzinfo=tz)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(PINGPONG_COLUMNS.values()))
    withdrawals = []
    i = 0
    seen_orders: set[str] = set()
    n = 0
    while start + PERIOD + timedelta(hours=10) <= now:
        end = start + PERIOD
        wid = f"PP{end:%Y%m%d}{n + 1:03d}"
        balance = 0
        while i < len(paid) and paid[i].order_date < end:
            li = paid[i]
            i += 1
            gross = li.item_price_minor + li.item_tax_minor + li.shipping_minor
            fee = _round(Decimal(gross) * Decimal("0.029")) + (30 if li.external_order_id not in seen_orders else 0)
            seen_orders.add(li.external_order_id)
            ref = f"PPF{zlib.crc32(f'{li.external_order_id}/{li.line_id}'.encode()):010d}"
            writer.writerow([wid, li.order_date.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"), "收款", _text(gross),
                             _text(fee), _text(gross - fee), "USD", li.external_order_id, li.sku, ref])
            balance += gross - fee
        at = end + timedelta(hours=10)
        if balance > 0:
            writer.writerow([wid, at.strftime("%Y-%m-%d %H:%M:%S"), "提现", _text(-balance), "0.00", _text(-balance),
                             "USD", "", "", f"PPW{end:%y%m%d}{n + 1:03d}"])
            withdrawals.append((wid, at))
            n += 1
        start = end
    return out.getvalue().encode("utf-8-sig"), withdrawals


def settlements(db, folder: Path, *, silk, bamboo, counts: MoneyCounts, step=lambda share: None,
                now: datetime | None = None) -> list[Deposit]:
    """Write the settlement files and import each with ``import_settlement``; the payouts as deposits."""
    from tradeloop.finance import payouts

    now = now or datetime.now(UTC)
    folder = folder / "settlements"
    folder.mkdir(parents=True, exist_ok=True)
    deposits: list[Deposit] = []
    with db.transaction(write=False) as s:
        amazon = _sales(s, silk, "amazon")
        shop = _sales(s, bamboo, "shopify")
    todo = [(market, currency, st) for market, currency, base in (("Amazon.com", "USD", 17_384_520_011),
                                                                  ("Amazon.de", "EUR", 29_106_730_027))
            for st in _amazon_settlements(_amazon_transactions(amazon, market), market, currency, now, base)]
    weight = sum(len(st.rows) for _m, _c, st in todo) * 1.15 or 1
    done = 0
    for market, currency, st in todo:
        name = f"amazon-{market[7:].lower()}-settlement-{st.end:%Y%m%d}-{st.sid}.txt"
        data = _amazon_file(st)
        (folder / name).write_bytes(data)
        with db.transaction() as s:
            result = payouts.import_settlement(s, principal=silk, filename=name, data=data, channel="amazon")
        detail = result.details[0]
        deposits.append(Deposit("silk", "amazon", st.sid, uuid.UUID(detail["id"]), currency, detail["total_minor"],
                                st.deposit.date(), market))
        counts.payouts["amazon"] = counts.payouts.get("amazon", 0) + 1
        done += len(st.rows)
        step(done / weight)
    data, withdrawals = _pingpong_file(shop, now)
    if withdrawals:
        tz = SHANGHAI
        first, last = min(w for _i, w in withdrawals), max(w for _i, w in withdrawals)
        name = f"pingpong-transactions-{first:%Y%m%d}-{last:%Y%m%d}.csv"
        (folder / name).write_bytes(data)
        with db.transaction() as s:
            payouts.create_profile(s, principal=bamboo, data={
                "name": "pingpong", "columns": PINGPONG_COLUMNS, "date_format": "%Y-%m-%d %H:%M:%S",
                "timezone": "Asia/Shanghai", "sign_convention": "fees_positive", "default_currency": "USD",
                "type_map": {"收款": "principal", "退款": "refund", "提现": "transfer", "手续费": "fee"}})
            result = payouts.import_settlement(s, principal=bamboo, filename=name, data=data, channel="pingpong")
        when = {wid: at.astimezone(tz).date() for wid, at in withdrawals}
        for d in result.details:
            deposits.append(Deposit("bamboo", "pingpong", d["settlement_id"], uuid.UUID(d["id"]), d["currency"],
                                    d["total_minor"], when[d["settlement_id"]], "Shopify"))
        counts.payouts["pingpong"] = len(result.details)
    return deposits


# --- bank statements -----------------------------------------------------------------------------------


@dataclass
class _Entry:
    booking: date
    credit: bool
    amount: int
    bank_ref: str
    remittance: str
    counterparty: str = ""
    e2e: str = ""
    role: str = "payout"  # payout | partial | rest | fee | fx | unmatched
    deposits: list[Deposit] = field(default_factory=list)
    converts: _Entry | None = None  # a 结汇 transfer: the credit it converts
    cny: int = 0
    rate: Decimal | None = None


@dataclass
class _Account:
    owner: str
    currency: str
    fmt: str  # camt | mt940
    number: str
    name: str
    prefix: str
    opening: int
    cny_account: str
    fee: int
    entries: list[_Entry] = field(default_factory=list)


def _accounts() -> list[_Account]:
    return [_Account("silk", "USD", "camt", "466378901234", "WUJIANG YUNJIN SILK APPAREL CO LTD", "WJU", 1_254_030,
                     "466378900018", 1000),
            _Account("silk", "EUR", "mt940", "466378905678", "WUJIANG YUNJIN SILK APPAREL CO LTD", "WJE", 325_000,
                     "466378900018", 800),
            _Account("bamboo", "USD", "camt", "571903418826", "HANGZHOU ZHUYUN KITCHENWARE TRADING CO LTD", "HZU",
                     486_215, "571903410047", 1000)]


def _h(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def _plan_entries(accounts: list[_Account], deposits: list[Deposit], last_day: date) -> None:
    """Credits for the deposits (see the module text for the variants), the planted unmatched credit."""
    by_key = {(a.owner, a.currency): a for a in accounts}
    us = [d for d in deposits if d.market == "Amazon.com"]
    de = [d for d in deposits if d.market == "Amazon.de"]
    shop = [d for d in deposits if d.source == "pingpong"]
    pair = (us[6], us[7]) if len(us) > 9 else None
    partial = next((d for k, d in enumerate(de) if k >= 4 and d.deposit.day >= 18
                    and d.deposit + timedelta(days=12) <= last_day), None)
    seq_of = {id(d): k for group in (us, de, shop) for k, d in enumerate(group)}
    for d in deposits:
        acct = by_key[(d.owner, d.currency)]
        seq = seq_of[id(d)]
        booked = d.deposit + timedelta(days=1 + _h(d.settlement_id) % 4)
        if pair and d is pair[0]:
            continue
        if pair and d is pair[1]:
            both = pair[0].total + pair[1].total
            acct.entries.append(_Entry(d.deposit, True, both, "", "AMAZON.COM SERVICES LLC DISBURSEMENT",
                                       "AMAZON.COM SERVICES LLC", "NOTPROVIDED", deposits=list(pair)))
            continue
        if d.source == "amazon" and d.currency == "USD":
            who = "AMAZON.COM SERVICES LLC"
            if seq % 5 == 2:  # an intermediary bank took its fee; no settlement named
                acct.entries.append(_Entry(booked, True, d.total - 1500, "", "AMAZON.COM SERVICES LLC DISBURSEMENT",
                                           who, "NOTPROVIDED", deposits=[d]))
            elif seq % 7 == 4:
                acct.entries.append(_Entry(booked, True, d.total, "", "AMAZON PAYMENTS INC MARKETPLACE US", who,
                                           "NOTPROVIDED", deposits=[d]))
            else:
                acct.entries.append(_Entry(booked, True, d.total, "", f"AMAZON SETTLEMENT {d.settlement_id} US "
                                           "MARKETPLACE", who, f"AMZN-SETTLE-{d.settlement_id}", deposits=[d]))
        elif d.source == "amazon":
            who = "AMAZON PAYMENTS EUROPE S.C.A."
            if d is partial:
                first = d.total * 3 // 5
                acct.entries.append(_Entry(d.deposit + timedelta(days=2), True, first, "",
                                           "AMAZON PAYMENTS EUROPE S.C.A. TEILAUSZAHLUNG AMAZON.DE", who,
                                           role="partial", deposits=[d]))
                acct.entries.append(_Entry(d.deposit + timedelta(days=12), True, d.total - first, "",
                                           f"AMAZON PAYMENTS EUROPE S.C.A. RESTZAHLUNG SETTLEMENT {d.settlement_id}",
                                           who, d.settlement_id, role="rest", deposits=[d]))
            elif seq % 4 == 1:
                acct.entries.append(_Entry(booked, True, d.total - 800, "", "AMAZON PAYMENTS EUROPE S.C.A. "
                                           "MARKETPLACE AMAZON.DE", who, deposits=[d]))
            else:
                acct.entries.append(_Entry(booked, True, d.total, "", "AMAZON PAYMENTS EUROPE S.C.A. SETTLEMENT "
                                           f"{d.settlement_id} MARKETPLACE AMAZON.DE PERIOD", who, d.settlement_id,
                                           deposits=[d]))
        else:
            who = "PINGPONG GLOBAL HOLDINGS LTD"
            when = d.deposit + timedelta(days=1)
            if seq % 5 == 1:
                acct.entries.append(_Entry(when, True, d.total - 1200, "", "INWARD REMITTANCE PINGPONG", who,
                                           "NOTPROVIDED", deposits=[d]))
            elif seq % 6 == 3:
                acct.entries.append(_Entry(when, True, d.total, "", "INWARD REMITTANCE PINGPONG", who, "NOTPROVIDED",
                                           deposits=[d]))
            else:
                acct.entries.append(_Entry(when, True, d.total, "", f"PINGPONG WITHDRAWAL {d.settlement_id}", who,
                                           d.settlement_id, deposits=[d]))
    # a buyer paid a sample order straight into the USD account: no payout explains it
    if len(us) > 12:
        day = us[12].deposit + timedelta(days=2)
        by_key[("silk", "USD")].entries.append(_Entry(
            day, True, 186_000, "", f"PO {day.year}-118 SILK SCARVES SAMPLE ORDER", "MAPLE AND THREAD BOUTIQUE LLC",
            f"MT-PO-{day.year}-118", role="unmatched"))


def _plan_debits(session, accounts: list[_Account], months: list[date]) -> None:
    """The monthly account fee, and the 结汇 transfers: the largest USD credit of each month (silk), some EUR
    credits (every other month) and the bamboo trader's largest credit every third month, converted three
    days after they arrive at the ECB cross rate of the day less the bank's spread."""
    from tradeloop.finance import rates

    for acct in accounts:
        for k, month in enumerate(months):
            end = month_start(month, -1) - timedelta(days=1)
            credits = [e for e in acct.entries if e.credit and e.role in ("payout", "rest")
                       and month <= e.booking <= end - timedelta(days=3)]
            convert = acct.owner == "silk" and (acct.currency == "USD" or k % 2 == 1) or \
                (acct.owner == "bamboo" and k % 3 == 2)
            if credits and convert:
                credit = max(credits, key=lambda e: e.amount)
                day = credit.booking + timedelta(days=3)
                conv = rates.find(session, acct.currency, day)
                if conv is not None:
                    rate = (conv.rate * (1 - SPREAD)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
                    text = f"FX SETTLEMENT {acct.currency}/CNY {rate} TO CNY A/C {acct.cny_account}"
                    acct.entries.append(_Entry(day, False, credit.amount, "", text, acct.name, role="fx",
                                               converts=credit, cny=_round(Decimal(credit.amount) * rate), rate=rate))
            acct.entries.append(_Entry(end, False, acct.fee, "", "ACCOUNT MAINTENANCE FEE "
                                       f"{month:%b %Y}".upper(), role="fee"))


def _number(accounts: list[_Account]) -> None:
    for acct in accounts:
        acct.entries.sort(key=lambda e: (e.booking, not e.credit, e.remittance))
        per_day: dict[date, int] = defaultdict(int)
        for e in acct.entries:
            per_day[e.booking] += 1
            e.bank_ref = f"{acct.prefix}{e.booking:%y%m%d}{per_day[e.booking]:04d}"


def _camt(acct: _Account, month: date, seq: int, opening: int, entries: list[_Entry]) -> bytes:
    end = month_start(month, -1) - timedelta(days=1)
    closing = opening + sum(e.amount if e.credit else -e.amount for e in entries)
    credits = [e for e in entries if e.credit]
    debits = [e for e in entries if not e.credit]

    def amt(minor: int) -> str:
        return _text(abs(minor))

    def bal(code: str, minor: int, day: date) -> str:
        return (f"      <Bal>\n        <Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>\n"
                f"        <Amt Ccy=\"{acct.currency}\">{amt(minor)}</Amt>\n"
                f"        <CdtDbtInd>{'CRDT' if minor >= 0 else 'DBIT'}</CdtDbtInd>\n"
                f"        <Dt><Dt>{day.isoformat()}</Dt></Dt>\n      </Bal>\n")

    created = datetime.combine(end + timedelta(days=1), time(1, 30)).isoformat() + "+08:00"
    net = sum(e.amount for e in credits) - sum(e.amount for e in debits)
    parts = [f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             f"<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n"
             f"    <GrpHdr>\n      <MsgId>{acct.prefix}-STMT-{month:%Y%m}</MsgId>\n"
             f"      <CreDtTm>{created}</CreDtTm>\n    </GrpHdr>\n    <Stmt>\n"
             f"      <Id>{acct.currency}-{acct.number}-{month:%Y%m}</Id>\n      <ElctrncSeqNb>{seq}</ElctrncSeqNb>\n"
             f"      <LglSeqNb>{seq}</LglSeqNb>\n      <CreDtTm>{created}</CreDtTm>\n"
             f"      <FrToDt>\n        <FrDtTm>{month.isoformat()}T00:00:00+08:00</FrDtTm>\n"
             f"        <ToDtTm>{end.isoformat()}T23:59:59+08:00</ToDtTm>\n      </FrToDt>\n"
             f"      <Acct>\n        <Id><Othr><Id>{acct.number}</Id></Othr></Id>\n"
             f"        <Ccy>{acct.currency}</Ccy>\n        <Nm>{escape(acct.name)} {acct.currency} A/C</Nm>\n"
             f"      </Acct>\n",
             bal("OPBD", opening, month), bal("CLBD", closing, end),
             f"      <TxsSummry>\n        <TtlNtries>\n          <NbOfNtries>{len(entries)}</NbOfNtries>\n"
             f"          <Sum>{amt(sum(e.amount for e in entries))}</Sum>\n"
             f"          <TtlNetNtry>\n            <Amt>{amt(net)}</Amt>\n"
             f"            <CdtDbtInd>{'CRDT' if net >= 0 else 'DBIT'}</CdtDbtInd>\n          </TtlNetNtry>\n"
             f"        </TtlNtries>\n        <TtlCdtNtries>\n          <NbOfNtries>{len(credits)}</NbOfNtries>\n"
             f"          <Sum>{amt(sum(e.amount for e in credits))}</Sum>\n        </TtlCdtNtries>\n"
             f"        <TtlDbtNtries>\n          <NbOfNtries>{len(debits)}</NbOfNtries>\n"
             f"          <Sum>{amt(sum(e.amount for e in debits))}</Sum>\n        </TtlDbtNtries>\n"
             f"      </TxsSummry>\n"]
    for n, e in enumerate(entries, start=1):
        if e.role == "fee":
            code = "        <BkTxCd><Prtry><Cd>CHG</Cd></Prtry></BkTxCd>\n"
        elif e.role == "fx":
            code = ("        <BkTxCd><Domn><Cd>FORX</Cd><Fmly><Cd>SPOT</Cd><SubFmlyCd>OTHR</SubFmlyCd></Fmly>"
                    "</Domn></BkTxCd>\n")
        else:
            code = ("        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>XBCT</SubFmlyCd></Fmly>"
                    "</Domn></BkTxCd>\n")
        details = ""
        if e.role != "fee":
            role = "Dbtr" if e.credit else "Cdtr"
            details = (f"        <NtryDtls>\n          <TxDtls>\n            <Refs>\n"
                       f"              <EndToEndId>{escape(e.e2e or 'NOTPROVIDED')}</EndToEndId>\n"
                       f"            </Refs>\n            <Amt Ccy=\"{acct.currency}\">{amt(e.amount)}</Amt>\n"
                       f"            <CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd>\n"
                       f"            <RltdPties><{role}><Pty><Nm>{escape(e.counterparty)}</Nm></Pty></{role}>"
                       f"</RltdPties>\n            <RmtInf><Ustrd>{escape(e.remittance)}</Ustrd></RmtInf>\n"
                       f"          </TxDtls>\n        </NtryDtls>\n")
        parts.append(f"      <Ntry>\n        <NtryRef>{n}</NtryRef>\n"
                     f"        <Amt Ccy=\"{acct.currency}\">{amt(e.amount)}</Amt>\n"
                     f"        <CdtDbtInd>{'CRDT' if e.credit else 'DBIT'}</CdtDbtInd>\n"
                     f"        <Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>{e.booking.isoformat()}</Dt></BookgDt>\n"
                     f"        <ValDt><Dt>{e.booking.isoformat()}</Dt></ValDt>\n"
                     f"        <AcctSvcrRef>{e.bank_ref}</AcctSvcrRef>\n{code}{details}"
                     + (f"        <AddtlNtryInf>{escape(e.remittance)}</AddtlNtryInf>\n" if e.role == "fee" else "")
                     + "      </Ntry>\n")
    parts.append("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n")
    return "".join(parts).encode("utf-8")


def _mt940(acct: _Account, month: date, seq: int, opening: int, entries: list[_Entry]) -> bytes:
    end = month_start(month, -1) - timedelta(days=1)
    start_bal = month - timedelta(days=1)
    closing = opening + sum(e.amount if e.credit else -e.amount for e in entries)

    def balance(tag: str, minor: int, day: date) -> str:
        return f":{tag}:{'C' if minor >= 0 else 'D'}{day:%y%m%d}{acct.currency}{_text(abs(minor), True)}"

    out = [f":20:{acct.prefix}{acct.currency}{month:%y%m}", f":25:{acct.number}", f":28C:{seq:05d}/001",
           balance("60F", opening, start_bal)]
    for e in entries:
        kind = "NCHG" if e.role == "fee" else "NFEX" if e.role == "fx" else "NTRF"
        ref = (e.e2e or "NONREF")[:16]
        out.append(f":61:{e.booking:%y%m%d}{e.booking:%m%d}{'C' if e.credit else 'D'}{_text(e.amount, True)}"
                   f"{kind}{ref}//{e.bank_ref}")
        text = e.remittance.upper()  # the texts above name the payer already
        info = [text[i:i + 65] for i in range(0, min(len(text), 390), 65)]
        out.append(f":86:{info[0]}")
        out.extend(info[1:])
    out += [balance("62F", closing, end), balance("64", closing, end), "-"]
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def bank(db, folder: Path, plan: YearPlan, deposits: list[Deposit], *, silk, bamboo, counts: MoneyCounts) -> None:
    """Write each account's monthly statements, then month by month: import them, ``auto_match``, the one
    manual match, and the 结汇 of the month."""
    from tradeloop.finance import matching, statements
    from tradeloop.finance.statement_repository import StatementRepository

    months = list(plan.months)
    last_day = month_start(plan.today) - timedelta(days=1)
    accounts = _accounts()
    _plan_entries(accounts, deposits, last_day)
    for acct in accounts:
        acct.entries = [e for e in acct.entries if months[0] <= e.booking <= last_day]
    with db.transaction(write=False) as s:
        _plan_debits(s, accounts, months)
    _number(accounts)
    folder = folder / "bank"
    folder.mkdir(parents=True, exist_ok=True)
    principal = {"silk": silk, "bamboo": bamboo}
    balance = {id(a): a.opening for a in accounts}
    entry_ids: dict[str, uuid.UUID] = {}
    for k, month in enumerate(months):
        end = month_start(month, -1) - timedelta(days=1)
        for acct in accounts:
            rows = [e for e in acct.entries if month <= e.booking <= end]
            if acct.fmt == "camt":
                data = _camt(acct, month, k + 1, balance[id(acct)], rows)
                name = f"{acct.owner}-{acct.currency.lower()}-{acct.number}-camt053-{month:%Y-%m}.xml"
            else:
                data = _mt940(acct, month, k + 1, balance[id(acct)], rows)
                name = f"{acct.owner}-{acct.currency.lower()}-{acct.number}-mt940-{month:%Y-%m}.sta"
            balance[id(acct)] += sum(e.amount if e.credit else -e.amount for e in rows)
            (folder / name).write_bytes(data)
            with db.transaction() as s:
                result = statements.import_statement(s, principal=principal[acct.owner], filename=name, data=data)
                for st_id in result.statement_ids:
                    for row in StatementRepository(s, principal[acct.owner]).entries_of(st_id):
                        entry_ids[row.bank_ref] = row.id
            counts.statement_files[result.format] = counts.statement_files.get(result.format, 0) + 1
            counts.entries += result.inserted
        for p in principal.values():
            with db.transaction() as s:
                result = matching.auto_match(s, principal=p)
            counts.auto_matched += result.entries_matched
            if k == len(months) - 1:
                counts.left += len(result.left)
        with db.transaction() as s:
            for acct in accounts:
                for e in acct.entries:
                    if not month <= e.booking <= end:
                        continue
                    if e.role == "partial":  # a person assigns the part-payment to the settlement
                        matching.match(s, principal=principal[acct.owner], entry_id=entry_ids[e.bank_ref],
                                       payout_id=e.deposits[0].payout_id,
                                       note="亚马逊欧洲分两笔付款，此为第一笔（约六成），余款随后到账")
                        counts.manual += 1
                    elif e.role == "fx":
                        matching.record_settlement(
                            s, principal=principal[acct.owner], reference=f"FX{e.bank_ref}", settled_on=e.booking,
                            currency=acct.currency, amount_minor=e.amount, cny_minor=e.cny,
                            bank_entry_id=entry_ids[e.converts.bank_ref],
                            note=f"结汇牌价 {e.rate}（演示：欧洲央行参考汇率套算价减银行点差）")
                        counts.fx_settlements += 1


# --- purchase invoices ---------------------------------------------------------------------------------

SUPPLIERS = {
    "BB-BOARD-L": ("330523", "MA28AJ1C5", "安吉竹海竹木制品有限公司", "*竹制品*竹砧板", "大号 45×30cm", "块"),
    "BB-CHOP-10P": ("330523", "MA28AJ1C5", "安吉竹海竹木制品有限公司", "*竹制品*竹筷子", "10双装", "套"),
    "BB-UTEN-6": ("330523", "MA2B7K9D3", "安吉县天荒坪竹韵厨具厂", "*竹制品*竹制厨具", "六件套", "套"),
    "BB-STEAM-10": ("330523", "MA2B7K9D3", "安吉县天荒坪竹韵厨具厂", "*竹制品*竹蒸笼", "10寸双层", "个"),
}
COST = {"BB-BOARD-L": Decimal("28.50"), "BB-UTEN-6": Decimal("14.20"), "BB-STEAM-10": Decimal("24.00"),
        "BB-CHOP-10P": Decimal("6.80")}


def invoices(db, folder: Path, plan: YearPlan, *, bamboo, counts: MoneyCounts) -> None:
    """One invoice per supplier and export month (the last month's not come yet), as an .xlsx list, then
    ``auto_allocate``."""
    from openpyxl import Workbook

    from tradeloop.demo import fictional_uscc
    from tradeloop.tax import invoices as service

    need: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_export: dict[date, date] = {}
    for exp in plan.exports:
        if exp.lane is BAMBOO_US:
            first_export[exp.month] = exp.ie_date
            for sku, qty, _p in exp.lines:
                need[exp.month][sku] += qty
    for order in plan.retail:
        shipped = (order.at + timedelta(hours=8)).date() + timedelta(days=1)
        month = month_start(shipped)
        for li in order.lines:
            need[month][li.sku] += li.qty
    wb = Workbook()
    ws = wb.active
    ws.title = "进项发票"
    ws.append(["发票代码", "发票号码", "开票日期", "销方税号", "销方名称", "货物或应税劳务名称", "规格型号", "SKU",
               "单位", "数量", "金额", "税率", "税额"])
    n = 0
    for month in plan.months[:-1]:
        issued = first_export.get(month, month.replace(day=10)) - timedelta(days=7)
        by_seller: dict[str, list[str]] = defaultdict(list)
        for sku in sorted(need[month]):
            by_seller[SUPPLIERS[sku][1]].append(sku)
        for org, skus in sorted(by_seller.items()):
            n += 1
            number = f"{issued:%y}332{_h(org, month) % 10**6:06d}{n:09d}"  # 数电发票: 20 digits
            for sku in skus:
                division, _o, seller, goods, model, unit = SUPPLIERS[sku]
                qty = -(-need[month][sku] // 10) * 10
                amount = (COST[sku] * qty).quantize(CENT)
                vat = (amount * Decimal("0.13")).quantize(CENT, rounding=ROUND_HALF_UP)
                ws.append(["", number, issued.isoformat(), fictional_uscc(division, org), seller, goods, model, sku,
                           unit, qty, f"{amount:.2f}", "13%", f"{vat:.2f}"])
    buf = io.BytesIO()
    wb.save(buf)
    name = "bamboo-purchase-invoices.xlsx"
    (folder / name).write_bytes(buf.getvalue())
    with db.transaction() as s:
        result = service.import_invoices(s, principal=bamboo, filename=name, data=buf.getvalue())
        service.auto_allocate(s, principal=bamboo)  # the latest month's lines stay uncovered
    counts.invoices = result.invoices


# --- rebate claims -------------------------------------------------------------------------------------


def rebate_claims(db, plan: YearPlan, ids: dict, *, silk, bamboo, pre_claim: uuid.UUID | None,
                  counts: MoneyCounts) -> None:
    """Reconcile the pre-rebate, one 免抵退 claim per export month of the first half of the year, a 免退税
    claim of the bamboo trader's complete chains (none while its HS lines lack a rebate rate), and the
    returns scan."""
    from tradeloop.tax import claims
    from tradeloop.tax.claim_models import BusinessType, ClaimMethod

    last_day = month_start(plan.today) - timedelta(days=1)
    if pre_claim is None:
        counts.notes.append("no HWC-YT pre-rebate was made (its declaration is missing or its chain incomplete)")
    else:
        with db.transaction() as s:
            claims.reconcile(s, principal=silk, claim_id=pre_claim, as_of=last_day)
            counts.claims += 1
            counts.approved += 1
    carried = 0
    months = plan.months[:6]
    month_of = {ids[id(e)]: e.month for e in plan.exports if e.lane in (SILK_US, SILK_DE) and e.month in months}
    with db.transaction(write=False) as s:  # every chain once; each claim's period is in its lines' window
        complete = [c for c in claims.candidates(s, silk, ClaimMethod.MANUFACTURER, BusinessType.NORMAL,
                                                 declaration_ids=list(month_of)) if c.complete]
    for k, month in enumerate(months):
        period = month_start(month, -2)
        approved_on = month_start(period, -1) + timedelta(days=24)
        if approved_on > plan.today:
            break
        cands = [c for c in complete if month_of[c.declaration_id] == month]
        if not cands:
            continue
        with db.transaction() as s:
            estimate = sum(c.estimate_minor or 0 for c in cands)
            claim = claims.create_claim(s, principal=silk, method=ClaimMethod.MANUFACTURER,
                                        business_type=BusinessType.NORMAL, period=f"{period:%Y-%m}",
                                        lines=[claims.LineRequest(c.declaration_line_id) for c in cands],
                                        **_inputs(estimate, k + 1, carried))
            claims.declare(s, principal=silk, claim_id=claim.id)
            claims.approve(s, principal=silk, claim_id=claim.id, approved_minor=claim.refund_minor,
                           approved_on=approved_on)
            carried = claim.carry_forward_minor or 0
            counts.claims += 1
            counts.approved += 1
    period = f"{month_start(plan.today, 1):%Y-%m}"
    with db.transaction() as s:  # 免退税 only where the chain is complete: a real rebate rate, invoices, proceeds
        complete = [c for c in claims.candidates(s, bamboo, ClaimMethod.TRADER, BusinessType.NORMAL, period)
                    if c.complete]
        if complete:  # not with the placeholder HS lines, whose rebate rate is unknown
            claim = claims.create_claim(s, principal=bamboo, method=ClaimMethod.TRADER,
                                        business_type=BusinessType.NORMAL, period=period,
                                        lines=[claims.LineRequest(c.declaration_line_id) for c in complete])
            claims.declare(s, principal=bamboo, claim_id=claim.id)
            counts.claims += 1
            counts.trader_claims += 1
    with db.transaction() as s:
        claims.returns_due(s, principal=silk)
