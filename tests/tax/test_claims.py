"""Rebate claims built on real exports, stock, sales and invoices (both databases): the worked examples of
domain.md §3.4 through claims, the document chain, no double claims, the 9810 pre-rebate (HWC-YT) and its
three reconciliation outcomes, returns within 6 months, the detail files and tenancy."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, principal_of, submit
from tradeloop.catalog import service as catalog
from tradeloop.catalog.schemas import ProductCreate
from tradeloop.customs import service as customs
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.enterprises.uscc import check_character
from tradeloop.finance import rates as fx
from tradeloop.finance.money_models import Payout, PayoutItem
from tradeloop.kit.errors import Conflict, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import system_principal
from tradeloop.sales import fulfilment
from tradeloop.sales import service as sales
from tradeloop.sales.models import SalesOrderLine
from tradeloop.tax import claims, files, invoices
from tradeloop.tax.claim_models import RebateClaimLine, RebateRepayment
from tradeloop.tax.models import PurchaseInvoice, PurchaseInvoiceLine
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.stock_models import StockLot
from tradeloop.warehouse.stock_schemas import InboundCreate, LotAction, ReceiveIn

SELLER = "91320509MA7HCRF1W" + check_character("91320509MA7HCRF1W")
LAMP, BATTERY, SCARF, BLOUSE = "LED-LAMP-01", "LI-BATT-01", "SILK-SCARF-01", "SILK-BLOUSE-02"


# --- building the world through the real services ------------------------------------------------------


class Exporter:
    """Exports of tenant a through customs (simulator), stock, sales, payouts and invoices."""

    def __init__(self, db, world, tmp_path):
        self.db, self.world, self.tmp = db, world, tmp_path
        self.p = principal_of(world.a)
        self.folders = ExchangeFolders(tmp_path / "exchange").ensure()
        self.sim = CustomsSimulator(self.folders)
        self.n = 0
        add_products(db, world.a)
        with db.transaction() as s:
            for sku, name, hs in ((LAMP, "LED灯", "9405210010"), (BATTERY, "锂离子蓄电池", "8507600090")):
                catalog.create_product(s, principal=self.p, data=ProductCreate(
                    sku=sku, name_zh=name, declared_name=name, declared_elements="0|0|无品牌", hs_code=hs,
                    customs_unit="011", unit1="011", unit1_factor=1, gross_weight_kg="0.5", net_weight_kg="0.4"))

    def export(self, lines: list[tuple[str, int, str]], ie_date: date, *, entry: bool = True):
        """A released 9810 declaration of (sku, qty, price in USD) lines; with ``entry``, summarised until
        customs gives its entryId (报关单号)."""
        self.n += 1
        body = body_9810(self.world, ie_date=ie_date.isoformat(), logistics_no=f"SZX2025{self.n:06d}",
                         bill_no=f"COSU63{self.n:06d}",
                         lines=[{"sku": sku, "qty": str(q), "price": price} for sku, q, price in lines])
        decl = create(self.db, self.world.a, body)
        submit(self.db, self.world.a, decl.id)
        exchange_round(self.db, self.folders, self.sim)
        decl, _lines, _docs = load(self.db, self.world.a, decl.id)
        if entry:
            month = decl.closed_at.astimezone(customs.build.BEIJING).strftime("%Y-%m")
            with self.db.transaction() as s:
                customs.create_summaries(s, principal=self.p, month=month, config=customs.ExchangeConfig())
            exchange_round(self.db, self.folders, self.sim)
        decl, lines_, _docs = load(self.db, self.world.a, decl.id)
        assert (decl.entry_id is not None) == entry
        return decl, lines_

    def invoice(self, decl_line, amount: str, *, number: str | None = None, rate: str = "13%"):
        """A purchase invoice for exactly the line's units, allocated to it by hand."""
        self.n += 1
        no = number or f"{self.n:08d}"
        qty = int(decl_line.qty)
        vat = (Decimal(amount) * Decimal(rate.rstrip("%")) / 100).quantize(Decimal("0.01"))
        text = ("发票代码,发票号码,开票日期,销方税号,销方名称,货物或应税劳务名称,规格型号,单位,数量,金额,税率,税额\n"
                f"3200251130,{no},2025-01-08,{SELLER},供货厂,*货物*{decl_line.item_no},{decl_line.item_no},个,"
                f"{qty},{amount},{rate},{vat}\n")
        with self.db.transaction() as s:
            invoices.import_invoices(s, principal=self.p, filename=f"{no}.csv", data=text.encode())
            line = s.scalar(select(PurchaseInvoiceLine).join(
                PurchaseInvoice, PurchaseInvoice.id == PurchaseInvoiceLine.invoice_id).where(
                PurchaseInvoice.invoice_no == no))
            invoices.allocate(s, principal=self.p, invoice_line_id=line.id, declaration_line_id=decl_line.id,
                              qty=Decimal(qty))

    def receive(self, decl_lines, day: str):
        with self.db.transaction() as s:
            order = stock.create_inbound(s, principal=self.p, data=InboundCreate(
                warehouse_id=self.world.operator.warehouse.id,
                lines=[{"declaration_line_id": li.id, "expected_qty": int(li.qty)} for li in decl_lines]))
            stock.receive_inbound(s, principal=self.p, inbound_id=order.id, data=ReceiveIn(
                close=True, received_at=datetime.fromisoformat(f"{day}T08:00:00+00:00"),
                lines=[{"line_no": i, "received_qty": int(li.qty)} for i, li in enumerate(decl_lines, start=1)]))

    def sell(self, rows: list[tuple[str, str, str, int]], *, paid: bool | str = True) -> list[SalesOrderLine]:
        """Amazon orders (order id, day, sku, qty) shipped from the lots, and (``paid``) a payout carrying them
        matched in full ("received") or ``"partial"``/``"open"``."""
        head = ("amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\t"
                "sales-channel\tsku\tquantity\tcurrency\titem-price\titem-tax\titem-promotion-discount\tship-country")
        out = [head] + [f"{o}\t{d}T10:00:00+00:00\t{d}T12:00:00+00:00\tShipped\tMerchant\tAmazon.com\t{sku}\t{q}\t"
                        f"USD\t{q * 20}.00\t\t0\tUS" for o, d, sku, q in rows]
        self.n += 1
        path = self.tmp / f"orders-{self.n}.txt"
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
        with self.db.transaction() as s:
            sales.import_orders(s, principal=self.p, path=path, channel="amazon")
        with self.db.transaction() as s:
            result = fulfilment.fulfil_orders(s, principal=self.p, warehouse_id=self.world.operator.warehouse.id)
            assert result.short == []
        with self.db.transaction(write=False) as s:
            lines = list(s.scalars(select(SalesOrderLine).where(
                SalesOrderLine.external_order_id.in_([o for o, *_r in rows]))))
        if paid:
            self.payout(lines, "received" if paid is True else paid)
        return lines

    def payout(self, lines, status: str):
        """A settlement carrying these sales lines (built directly: the settlement importers and the receipt
        matching have their own tests); ``status`` as receipt matching leaves it."""
        me = self.world.a.enterprise.id
        with self.db.transaction() as s:
            total = sum(li.item_price_minor or 0 for li in lines)
            payout = Payout(enterprise_id=me, id=uuid7(), source="amazon", settlement_id=f"S-{uuid7().hex[:12]}",
                            deposit_date=date(2025, 6, 1), currency="USD", total_minor=total,
                            received_minor=total if status == "received" else 0, status=status)
            s.add(payout)
            s.flush()
            s.add_all([PayoutItem(enterprise_id=me, id=uuid7(), payout_id=payout.id, line_no=i, kind="principal",
                                  order_id=li.external_order_id, sku=li.sku, quantity=li.quantity,
                                  amount_minor=li.item_price_minor or 0, currency="USD", sales_line_id=li.id)
                       for i, li in enumerate(lines, start=1)])

    def lot(self, decl_line) -> StockLot:
        with self.db.transaction(write=False) as s:
            return s.scalar(select(StockLot).where(StockLot.declaration_line_id == decl_line.id))

    def lot_action(self, decl_line, kind: str, qty: int):
        with self.db.transaction() as s:
            stock.lot_action(s, principal=self.p, lot_id=self.lot(decl_line).id,
                             data=LotAction(kind=kind, qty=qty, reason="测试"))

    def customs_rate(self, month: str, rate: str):
        with self.db.transaction() as s:
            fx.import_rates(s, principal=system_principal(), filename="customs.csv", source="customs",
                            data=f"date,currency,rate\n{month}-01,USD,{rate}\n".encode())

    # --- the tax side -----------------------------------------------------------------------------------

    def candidates(self, method="trader", business_type="normal", period=None, principal=None):
        with self.db.transaction(write=False) as s:
            return {c.declaration_line_id: c for c in claims.candidates(s, principal or self.p, method,
                                                                        business_type, period)}

    def claim(self, lines, *, method="trader", business_type="normal", period="2025-06", **inputs):
        with self.db.transaction() as s:
            claim = claims.create_claim(s, principal=self.p, method=method, business_type=business_type,
                                        period=period, lines=[claims.LineRequest(li.id, q) for li, q in lines],
                                        **inputs)
            s.expunge(claim)
            return claim

    def approved(self, claim, amount: int | None = None, on: date = date(2025, 3, 14)):
        with self.db.transaction() as s:
            claims.declare(s, principal=self.p, claim_id=claim.id)
            out = claims.approve(s, principal=self.p, claim_id=claim.id,
                                 approved_minor=claim.refund_minor if amount is None else amount, approved_on=on)
            s.expunge(out)
            return out

    def reconcile(self, claim, as_of: date):
        with self.db.transaction() as s:
            out = claims.reconcile(s, principal=self.p, claim_id=claim.id, as_of=as_of)
            s.expunge(out)
            return out

    def claim_lines(self, claim):
        with self.db.transaction(write=False) as s:
            return list(s.scalars(select(RebateClaimLine).where(RebateClaimLine.claim_id == claim.id)
                                  .order_by(RebateClaimLine.line_no)))


@pytest.fixture
def ex(db, world, tmp_path):
    return Exporter(db, world, tmp_path)


def pieces(chain_line) -> set[str]:
    return {m["piece"] for m in chain_line.missing}


# --- domain.md §3.4 through claims --------------------------------------------------------------------


class TestTraderExample1:
    def test_13_and_9_percent_on_sold_and_paid_units(self, ex):
        """Ex. 1: 1,000 LED lamps bought for 100,000 ex VAT: 13,000 at 13%; batteries at 9% (exported
        2025-06, 财政部 税务总局公告2024年第15号) give 9,000 on the same invoice amount."""
        _d1, (lamps,) = ex.export([(LAMP, 1000, "20")], date(2025, 5, 6))
        _d2, (batteries,) = ex.export([(BATTERY, 1000, "20")], date(2025, 5, 7))
        ex.invoice(lamps, "100000.00")
        ex.invoice(batteries, "100000.00")
        ex.receive([lamps, batteries], "2025-05-20")
        ex.sell([("111-0000001-0000001", "2025-06-02", LAMP, 1000),
                 ("111-0000002-0000002", "2025-06-03", BATTERY, 1000)])
        found = ex.candidates(period="2025-06")
        assert found[lamps.id].complete and found[lamps.id].claimable == 1000
        assert (found[lamps.id].levy_rate, found[lamps.id].rebate_rate) == (Decimal("0.13"), Decimal("0.13"))
        assert found[batteries.id].rebate_rate == Decimal("0.09") and found[batteries.id].proceeds == "received"
        claim = ex.claim([(lamps, None), (batteries, None)])
        assert claim.refund_minor == 1_300_000 + 900_000
        assert [(li.qty, li.invoice_amount_minor, li.refund_minor, li.proceeds) for li in ex.claim_lines(claim)] == [
            (Decimal(1000), 10_000_000, 1_300_000, "received"), (Decimal(1000), 10_000_000, 900_000, "received")]


class TestManufacturerExample2:
    def test_ex2_then_rejected_and_ex2b_on_the_same_units(self, ex):
        """Ex. 2: FOB USD 50,000 at 7.10 = 355,000; output 26,000, input 60,000, 13%/9% → 应退 19,800,
        免抵 12,150. Rejected, its units are free: Ex. 2b with input 120,000 → 应退 31,950, carry 47,850."""
        ex.customs_rate("2025-05", "7.10")
        _d, (batteries,) = ex.export([(BATTERY, 1000, "50")], date(2025, 5, 6))
        ex.receive([batteries], "2025-05-20")
        ex.sell([("111-0000003-0000003", "2025-06-02", BATTERY, 1000)])
        ex2 = ex.claim([(batteries, None)], method="manufacturer", domestic_output_vat_minor=2_600_000,
                       input_vat_minor=6_000_000, opening_credit_minor=0)
        assert (ex2.fob_cny_minor, ex2.not_exempt_minor, ex2.payable_minor, ex2.exempt_credit_refund_minor,
                ex2.refund_minor, ex2.exempt_credit_minor, ex2.carry_forward_minor) == (
            35_500_000, 1_420_000, -1_980_000, 3_195_000, 1_980_000, 1_215_000, 0)
        [line] = ex.claim_lines(ex2)
        assert (line.fob_minor, line.fx_rate, line.fx_rule, line.fx_source, line.fx_rate_day) == (
            5_000_000, Decimal("7.10"), "customs_month", "customs", date(2025, 5, 1))
        with pytest.raises(Conflict):  # the same units twice
            ex.claim([(batteries, None)], method="manufacturer", domestic_output_vat_minor=0, input_vat_minor=0,
                     opening_credit_minor=0)
        with ex.db.transaction() as s:
            claims.reject(s, principal=ex.p, claim_id=ex2.id, reason="测试：重新申报")
        ex2b = ex.claim([(batteries, None)], method="manufacturer", domestic_output_vat_minor=2_600_000,
                        input_vat_minor=12_000_000, opening_credit_minor=0)
        assert (ex2b.refund_minor, ex2b.exempt_credit_minor, ex2b.carry_forward_minor) == (3_195_000, 0, 4_785_000)

    def test_ex2c_rebate_13_percent(self, ex):
        """Ex. 2c: the same at 13%/13% (silk scarves): 不得免征 0, 应退 34,000, 免抵 12,150 — here as a
        pre-rebate of goods not yet sold (the formula is the same)."""
        ex.customs_rate("2025-05", "7.10")
        _d, (scarves, _blouses) = ex.export([(SCARF, 5000, "10"), (BLOUSE, 1, "1")], date(2025, 5, 6))
        claim = ex.claim([(scarves, None)], method="manufacturer", business_type="HWC-YT", period="2025-05",
                         domestic_output_vat_minor=2_600_000, input_vat_minor=6_000_000, opening_credit_minor=0)
        assert (claim.fob_cny_minor, claim.not_exempt_minor, claim.refund_minor, claim.exempt_credit_minor) == (
            35_500_000, 0, 3_400_000, 1_215_000)


class TestRateChange:
    def test_exports_before_and_after_an_effective_date_get_their_own_rates(self, ex):
        """Batteries: 9% until 2026-03-31, 6% from 2026-04-01 (财政部 税务总局公告2026年第2号)."""
        _d1, (before,) = ex.export([(BATTERY, 100, "20")], date(2026, 3, 31))
        _d2, (after,) = ex.export([(BATTERY, 100, "20")], date(2026, 4, 1))
        ex.invoice(before, "10000.00")
        ex.invoice(after, "10000.00")
        found = ex.candidates(business_type="HWC-YT")
        assert found[before.id].rebate_rate == Decimal("0.09") and found[before.id].rates_valid_to == date(2026, 3, 31)
        assert found[after.id].rebate_rate == Decimal("0.06") and found[after.id].rates_valid_from == date(2026, 4, 1)
        claim = ex.claim([(before, None), (after, None)], business_type="HWC-YT", period="2026-04")
        assert [li.refund_minor for li in ex.claim_lines(claim)] == [90_000, 60_000]


# --- the document chain and double claims -------------------------------------------------------------


class TestDocumentChain:
    def test_each_missing_piece_is_named_and_refused(self, ex):
        _d2, (scarves, blouses) = ex.export([(SCARF, 10, "10"), (BLOUSE, 5, "30")], date(2025, 5, 7))
        _d1, (no_entry,) = ex.export([(LAMP, 10, "20")], date(2025, 5, 6), entry=False)
        ex.invoice(scarves, "500.00")
        ex.receive([scarves, blouses], "2025-05-20")
        ex.sell([("111-0000004-0000004", "2025-06-02", SCARF, 6)], paid=False)
        found = ex.candidates(period="2025-06")
        assert "declaration" in pieces(found[no_entry.id]) and not found[no_entry.id].complete
        assert "rates" in pieces(found[blouses.id])  # no rebate rate for HS 6206100011 in the HS table
        assert "sold" in pieces(found[blouses.id])
        scarf = found[scarves.id]
        assert scarf.sold == 6 and scarf.proceeds == "none" and scarf.claimable == 0 and "proceeds" in pieces(scarf)
        assert {m["message_zh"] for m in scarf.missing if m["piece"] == "proceeds"} == {"6 件已售商品尚未收汇"}
        with pytest.raises(ValidationFailed) as err:
            ex.claim([(scarves, None)])
        assert "proceeds" in err.value.errors[0].message_en and "尚未收汇" in err.value.errors[0].message_zh
        with pytest.raises(ValidationFailed) as err:
            ex.claim([(no_entry, Decimal(1))], business_type="HWC-YT", period="2025-05")
        assert "declaration" in err.value.errors[0].message_en
        manufacturer = ex.candidates("manufacturer", "HWC-YT")
        assert "fx" in pieces(manufacturer[scarves.id])  # no customs rate for USD 2025-05
        trader_pre = ex.candidates("trader", "HWC-YT")
        assert "invoice" in pieces(trader_pre[no_entry.id])
        # the piece comes in: 视同收汇 by hand, then the sold units are claimable
        with ex.db.transaction() as s:
            claims.record_proceeds(s, principal=ex.p, declaration_line_id=scarves.id, kind="deemed",
                                   reason="平台放款延迟，按视同收汇办理", reference="SQ-2025-001")
        scarf = ex.candidates(period="2025-06")[scarves.id]
        assert (scarf.proceeds, scarf.claimable, scarf.complete) == ("deemed", 6, True)
        assert "window" in pieces(ex.candidates(period="2025-05")[scarves.id])  # before the month after export
        claim = ex.claim([(scarves, None)])
        assert claim.refund_minor == 3_900  # 300.00 of invoice (6 of 10 units) × 13%

    def test_partial_proceeds_and_no_double_claim_across_claims(self, ex):
        _d, (scarves, _blouses) = ex.export([(SCARF, 10, "10"), (BLOUSE, 1, "30")], date(2025, 5, 7))
        ex.invoice(scarves, "1000.00")
        ex.receive([scarves], "2025-05-20")
        ex.sell([("111-0000005-0000005", "2025-06-02", SCARF, 4)])
        ex.sell([("111-0000006-0000006", "2025-06-03", SCARF, 3)], paid="partial")
        c = ex.candidates(period="2025-06")[scarves.id]
        assert (c.sold, c.paid, c.proceeds, c.claimable) == (7, 4, "partial", 4)
        first = ex.claim([(scarves, Decimal(3))])
        with pytest.raises(ValidationFailed):  # only 1 more unit has its proceeds
            ex.claim([(scarves, Decimal(2))])
        second = ex.claim([(scarves, None)])
        assert [li.qty for li in ex.claim_lines(second)] == [1]
        with pytest.raises(ValidationFailed) as err:  # the 3 sold units left have no proceeds yet
            ex.claim([(scarves, Decimal(1))])
        assert "proceeds" in err.value.errors[0].message_en
        assert first.refund_minor + second.refund_minor == 5_200  # 400.00 × 13%, cut 3 + 1 exactly
        # HWC-YT pre-rebates the unsold 3; they are not claimable again by a normal claim when sold
        pre = ex.claim([(scarves, None)], business_type="HWC-YT", period="2025-06")
        assert [li.qty for li in ex.claim_lines(pre)] == [3]
        ex.sell([("111-0000007-0000007", "2025-06-20", SCARF, 3)])
        assert ex.candidates(period="2025-06")[scarves.id].claimable == 0
        with pytest.raises(Conflict):
            ex.claim([(scarves, None)], business_type="HWC-YT", period="2025-06")


# --- 9810 pre-rebate and reconciliation (domain.md §3.6, Ex. 3) ----------------------------------------


@pytest.fixture
def mugs(ex):
    """Ex. 3: 100 units under 9810 (HS at 13%), invoice 10,000 ex VAT; pre-rebate 1,300 approved 2025-03-14."""
    _d, (line, _other) = ex.export([(SCARF, 100, "10"), (BLOUSE, 1, "30")], date(2025, 3, 3))
    ex.invoice(line, "10000.00")
    ex.receive([line], "2025-03-10")
    found = ex.candidates(business_type="HWC-YT", period="2025-03")[line.id]
    assert (found.claimable, found.proceeds, found.complete) == (100, "n/a", True)
    claim = ex.claim([(line, None)], business_type="HWC-YT", period="2025-03")
    assert claim.refund_minor == 130_000
    [cl] = ex.claim_lines(claim)
    assert (cl.business_type, cl.sold_qty_at_claim, cl.unsold_qty) == ("HWC-YT", 0, 100)
    claim = ex.approved(claim, 130_000, date(2025, 3, 14))
    assert (claim.reconcile_from, claim.reconcile_due) == (date(2025, 4, 1), date(2026, 4, 30))
    return line, claim


class TestPreRebateReconciliation:
    @pytest.mark.parametrize("sold, destroyed, outcome, corrected, difference", [
        (100, 0, "no_adjustment", 130_000, 0),
        (95, 5, "adjusted", 123_500, 6_500),
        (0, 0, "repaid", 0, 130_000),
    ], ids=["all-sold", "part-destroyed", "unsold"])
    def test_the_three_outcomes_of_ex3(self, ex, mugs, sold, destroyed, outcome, corrected, difference):
        line, claim = mugs
        if sold:
            ex.sell([("111-0000008-0000008", "2025-05-10", SCARF, sold)])
        if destroyed:
            ex.lot_action(line, "dispose", destroyed)
        with pytest.raises(ValidationFailed):  # the window opens on the 1st of the month after approval
            ex.reconcile(claim, date(2025, 3, 31))
        done = ex.reconcile(claim, date(2026, 4, 30))
        assert (done.outcome, done.corrected_minor, done.difference_minor) == (outcome, corrected, difference)
        assert not claims.is_overdue(done)
        [cl] = ex.claim_lines(done)
        assert (cl.settled_qty, cl.corrected_minor) == (sold, corrected)
        with pytest.raises(Conflict):
            ex.reconcile(claim, date(2026, 4, 30))
        with ex.db.transaction(write=False) as s:
            summary = claims.tax_summary(s, ex.p, [line.declaration_id])[line.declaration_id]
        assert (summary["claimed_minor"], summary["approved_minor"], summary["reversed_minor"]) == (
            130_000, 130_000, difference)
        # units that did not stand are free again: sold later, they are claimed normally
        if outcome == "repaid":
            ex.sell([("111-0000009-0000009", "2026-05-10", SCARF, 10)])
            assert ex.candidates(period="2026-05")[line.id].claimable == 10

    def test_overdue_after_30_april(self, ex, mugs):
        line, claim = mugs
        with ex.db.transaction(write=False) as s:
            summary = claims.tax_summary(s, ex.p, [line.declaration_id])[line.declaration_id]
        assert [o["kind"] for o in summary["overdue"]] == ["reconciliation"]  # today is after 2026-04-30
        done = ex.reconcile(claim, date(2026, 5, 5))
        assert claims.is_overdue(done) and done.outcome == "repaid"


# --- returns within 6 months (domain.md §3.7) -----------------------------------------------------------


class TestReturnsWithinSixMonths:
    def test_a_return_home_makes_the_repayment_due_once(self, ex):
        export_day = claims.add_months(date.today(), -2)
        _d, (line, _b) = ex.export([(SCARF, 100, "10"), (BLOUSE, 1, "30")], export_day)
        ex.invoice(line, "10000.00")
        ex.receive([line], export_day.isoformat())
        claim = ex.claim([(line, None)], business_type="HWC-YT", period=claims.month_of(export_day))
        ex.approved(claim, 130_000, export_day)
        ex.lot_action(line, "return_to_origin", 10)
        with ex.db.transaction() as s:
            scan = claims.returns_due(s, principal=ex.p)
        assert (scan.created, scan.due_minor) == (1, 13_000)
        with ex.db.transaction() as s:
            again = claims.returns_due(s, principal=ex.p)
        assert (again.created, again.updated, again.due_minor) == (0, 0, 13_000)
        with ex.db.transaction(write=False) as s:
            [rp] = s.scalars(select(RebateRepayment)).all()
            summary = claims.tax_summary(s, ex.p, [line.declaration_id])[line.declaration_id]
        assert (rp.qty, rp.amount_minor, rp.status, rp.movement_kind) == (10, 13_000, "due", "return_to_origin")
        assert summary["repay_due_minor"] == 13_000 and [o["kind"] for o in summary["overdue"]] == ["repayment"]
        with ex.db.transaction() as s:
            claims.record_repayment(s, principal=ex.p, repayment_id=rp.id, certificate_no="补税证明2026-0001",
                                    repaid_on=date.today())
        with ex.db.transaction(write=False) as s:
            summary = claims.tax_summary(s, ex.p, [line.declaration_id])[line.declaration_id]
        assert (summary["repay_due_minor"], summary["repaid_minor"], summary["overdue"]) == (0, 13_000, [])

    def test_after_six_months_not_covered(self, ex):
        export_day = claims.add_months(date.today(), -8)
        _d, (line, _b) = ex.export([(SCARF, 100, "10"), (BLOUSE, 1, "30")], export_day)
        ex.invoice(line, "10000.00")
        ex.receive([line], export_day.isoformat())
        claim = ex.claim([(line, None)], business_type="HWC-YT", period=claims.month_of(export_day))
        ex.approved(claim, 130_000, export_day)
        ex.lot_action(line, "return_to_origin", 10)
        with ex.db.transaction() as s:
            scan = claims.returns_due(s, principal=ex.p)
        assert scan.created == 0 and [n["reason"] for n in scan.not_covered] == ["after 6 months"]


def test_food_is_hs_chapters_01_to_24():
    assert claims.under_return_policy(date(2026, 2, 1), "0901210000") == (False, "food")
    assert claims.under_return_policy(date(2026, 2, 1), "6214100090") == (True, None)
    assert claims.under_return_policy(date(2022, 2, 1), "6214100090") == (False, "period")


# --- files, API and tenancy ----------------------------------------------------------------------------


class TestFiles:
    def test_export_goods_and_purchases_carry_hwc_yt(self, ex, mugs):
        _line, claim = mugs
        with ex.db.transaction(write=False) as s:
            name, data = files.workbook(s, principal=ex.p, claim_id=claim.id, kind="export-goods")
            _n, purchases = files.workbook(s, principal=ex.p, claim_id=claim.id, kind="purchases")
        assert name.endswith("出口货物明细.xlsx")
        ws = load_workbook(io.BytesIO(data)).active
        header = [c.value for c in ws[1]]
        row = dict(zip(header, [c.value for c in ws[2]], strict=True))
        assert header == [h for h, _k in files.EXPORT_COLUMNS]
        assert (row["退(免)税业务类型"], row["出口数量"], row["计税金额"], row["应退税额"], row["退税率"]) == (
            "HWC-YT", 100, 10000, 1300, 13)
        ws = load_workbook(io.BytesIO(purchases)).active
        prow = dict(zip([c.value for c in ws[1]], [c.value for c in ws[2]], strict=True))
        assert (prow["供货方纳税人识别号"], prow["计税金额"], prow["可退税额"], prow["退(免)税业务类型"]) == (
            SELLER, 10000, 1300, "HWC-YT")


@pytest.fixture
def api(app):
    return app


class TestApiAndTenancy:
    def test_flow_through_the_api_and_another_tenants_ids(self, ex, api, world):
        from fastapi.testclient import TestClient

        from tests.factories import bearer

        _d, (line, _b) = ex.export([(SCARF, 100, "10"), (BLOUSE, 1, "30")], date(2025, 3, 3))
        ex.invoice(line, "10000.00")
        a, b = TestClient(api), TestClient(api)
        a.headers.update(bearer(world.a.keys["write"]))
        b.headers.update(bearer(world.b.keys["write"]))
        cands = a.get("/api/v1/tax/candidates", params={"method": "trader", "business_type": "HWC-YT",
                                                        "claimable_only": "true"}).json()
        assert [c["declaration_line_id"] for c in cands] == [str(line.id)]
        r = a.post("/api/v1/tax/claims", json={"method": "trader", "business_type": "HWC-YT", "period": "2025-03",
                                               "lines": [{"declaration_line_id": str(line.id)}]})
        assert r.status_code == 201, r.text
        claim = r.json()
        assert claim["refund_minor"] == 130_000 and claim["lines"][0]["business_type"] == "HWC-YT"
        cid = claim["id"]
        for method, path, body in (("GET", f"/api/v1/tax/claims/{cid}", None),
                                   ("POST", f"/api/v1/tax/claims/{cid}/declare", None),
                                   ("POST", f"/api/v1/tax/claims/{cid}/reject", {"reason": "x"}),
                                   ("GET", f"/api/v1/tax/claims/{cid}/files/export-goods", None)):
            assert b.request(method, path, json=body).status_code == 404
        assert b.get("/api/v1/tax/claims").json()["items"] == []
        stolen = b.post("/api/v1/tax/claims", json={"method": "trader", "business_type": "HWC-YT", "period": "2025-03",
                                                    "lines": [{"declaration_line_id": str(line.id)}]})
        assert stolen.status_code == 404 and str(line.id) not in stolen.text.replace(stolen.request.url.path, "")
        assert b.get("/api/v1/tax/candidates", params={"method": "trader"}).json() == []
        again = a.post("/api/v1/tax/claims", json={"method": "trader", "business_type": "HWC-YT",
                                                   "period": "2025-03",
                                                   "lines": [{"declaration_line_id": str(line.id)}]})
        assert again.status_code == 409 and "already_claimed" in again.text
        assert a.post(f"/api/v1/tax/claims/{cid}/declare").json()["status"] == "declared"
        ok = a.post(f"/api/v1/tax/claims/{cid}/approve", json={"approved_minor": 130_000,
                                                               "approved_on": "2025-03-14"}).json()
        assert (ok["status"], ok["reconcile_from"], ok["reconcile_due"]) == ("approved", "2025-04-01", "2026-04-30")
        done = a.post(f"/api/v1/tax/claims/{cid}/reconcile", json={"as_of": "2026-04-30"}).json()
        assert (done["outcome"], done["difference_minor"]) == ("repaid", 130_000)
        loop = a.get(f"/api/v1/loop/declarations/{line.declaration_id}").json()  # the loop shows the tax
        assert {k: loop["tax"][k] for k in ("claimed_minor", "approved_minor", "reversed_minor")} == \
            {"claimed_minor": 130_000, "approved_minor": 130_000, "reversed_minor": 130_000}
        assert b.get(f"/api/v1/loop/declarations/{line.declaration_id}").status_code == 404
        f = a.get(f"/api/v1/tax/claims/{cid}/files/purchases")
        assert f.status_code == 200 and f.headers["content-type"].startswith(files.XLSX)
        assert a.post("/api/v1/tax/repayments/scan").json()["created"] == 0


def test_windows():
    assert claims.reconcile_window(date(2025, 3, 14)) == (date(2025, 4, 1), date(2026, 4, 30))
    assert claims.reconcile_window(date(2025, 12, 31)) == (date(2026, 1, 1), date(2026, 4, 30))
    assert claims.declaration_window(date(2025, 12, 20), "normal") == ("2026-01", "2026-04")
    assert claims.declaration_window(date(2025, 12, 20), "HWC-YT") == ("2025-12", "2026-04")
    assert claims.spread(100, [1, 1, 1]) == [33, 34, 33] and sum(claims.spread(7, [3, 0, 5])) == 7

