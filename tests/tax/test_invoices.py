"""Purchase invoices: import, and allocation to exported declaration lines by SKU and quantity (both
databases)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, principal_of, submit
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.enterprises.uscc import check_character
from tradeloop.kit.errors import Conflict, ValidationFailed
from tradeloop.kit.tables import ImportRejected
from tradeloop.tax import invoices
from tradeloop.tax.models import InvoiceAllocation, PurchaseInvoice, PurchaseInvoiceLine

SELLER = "91320509MA7HCRF1W" + check_character("91320509MA7HCRF1W")
BAD_SELLER = SELLER[:-1] + ("0" if SELLER[-1] != "0" else "1")
HEADER = "发票代码,发票号码,开票日期,销方税号,销方名称,货物或应税劳务名称,规格型号,单位,数量,金额,税率,税额\n"


def row(no, day, goods, sku, qty, amount, rate="13%", vat=None, code="3200261130", seller=SELLER):
    vat = vat if vat is not None else f"{(Decimal(amount) * Decimal(rate.rstrip('%')) / 100).quantize(Decimal('0.01'))}"
    return f"{code},{no},{day},{seller},苏州丝绸织造厂,{goods},{sku},条,{qty},{amount},{rate},{vat}\n"


FILE = HEADER + row("00010001", "2026-10-08", "*纺织产品*真丝丝巾", "SILK-SCARF-01", 300, "21000.00") + \
    row("00010001", "2026-10-08", "*服装*真丝衬衫", "SILK-BLOUSE-02", 50, "7500.00") + \
    row("00010002", "2026-10-20", "*纺织产品*真丝丝巾", "SILK-SCARF-01", 300, "21600.00")


def do_import(db, world, text=FILE, name="进项发票.csv", encoding="utf-8"):
    with db.transaction() as s:
        return invoices.import_invoices(s, principal=principal_of(world.a), filename=name, data=text.encode(encoding))


def count(db, model):
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def exported(db, world, tmp_path):
    add_products(db, world.a)
    folders = ExchangeFolders(tmp_path / "x").ensure()
    decl = create(db, world.a, body_9810(world))
    submit(db, world.a, decl.id)
    exchange_round(db, folders, CustomsSimulator(folders))
    return load(db, world.a, decl.id)


class TestImport:
    def test_gb18030_file_twice_then_a_changed_invoice(self, db, world):
        first = do_import(db, world, encoding="gb18030")
        assert (first.invoices, first.lines, first.inserted, first.amount_minor, first.vat_minor) == \
            (2, 3, 2, 5_010_000, 651_300)
        again = do_import(db, world, encoding="gb18030")
        assert (again.inserted, again.replaced, again.unchanged) == (0, 0, 2)
        changed = do_import(db, world, FILE.replace("21600.00,13%,2808.00", "21700.00,13%,2821.00"))
        assert (changed.replaced, changed.unchanged) == (1, 1)
        assert count(db, PurchaseInvoice) == 2 and count(db, PurchaseInvoiceLine) == 3

    def test_bad_rows_name_row_and_column_and_nothing_is_applied(self, db, world):
        bad = HEADER + row("00010001", "2026-10-08", "丝巾", "S", 1, "100.00") + \
            row("00010003", "2026-13-01", "丝巾", "S", 1, "100.00") + \
            row("00010004", "2026-10-08", "丝巾", "S", 1, "100.00", seller=BAD_SELLER) + \
            row("00010005", "2026-10-08", "丝巾", "S", 1, "100.00", vat="15.00") + \
            row("00010006", "2026-10-08", "丝巾", "S", 1, "100.00", rate="11%", vat="11.00") + \
            row("00010007", "2026-10-08", "丝巾", "S", 0, "100.00") + \
            row("00010001", "2026-10-09", "丝巾", "S", 1, "100.00")
        with pytest.raises(ImportRejected) as err:
            do_import(db, world, bad)
        assert [(e.row, e.column) for e in err.value.row_errors] == [
            (3, "开票日期"), (4, "销方税号"), (5, "税额"), (6, "税率"), (7, "数量"), (8, "开票日期")]
        assert count(db, PurchaseInvoice) == 0

    def test_missing_columns(self, db, world):
        with pytest.raises(ImportRejected) as err:
            do_import(db, world, "发票号码,开票日期\n00010001,2026-10-08\n")
        assert {e.column for e in err.value.row_errors} >= {"seller_uscc", "quantity", "amount"}


class TestAllocation:
    def test_oldest_invoice_first_amounts_follow_units(self, db, world, exported):
        decl, (scarf, blouse), _docs = exported  # 500 scarves, 120 blouses
        do_import(db, world)
        with db.transaction() as s:
            result = invoices.auto_allocate(s, principal=principal_of(world.a))
        assert (result.declaration_lines, result.covered, result.allocations) == (2, 1, 3)
        assert result.uncovered == [{"declaration_line_id": str(blouse.id), "cop_no": decl.cop_no, "gnum": 2,
                                     "sku": "SILK-BLOUSE-02", "missing": "70.00000"}]
        with db.transaction(write=False) as s:
            got = sorted((a.qty, a.amount_minor, a.vat_minor) for a in s.scalars(
                select(InvoiceAllocation).where(InvoiceAllocation.declaration_line_id == scarf.id)))
        # 300 of the first invoice (21000.00), 200 of 300 of the second (21600.00 × 2/3 = 14400.00)
        assert got == [(Decimal(200), 1_440_000, 187_200), (Decimal(300), 2_100_000, 273_000)]
        with db.transaction() as s:
            assert invoices.auto_allocate(s, principal=principal_of(world.a)).allocations == 0

    def test_by_hand_limits_undo_and_changed_invoices(self, db, world, exported):
        _decl, (scarf, _blouse), _docs = exported
        do_import(db, world)
        with db.transaction(write=False) as s:
            second = s.scalar(select(PurchaseInvoiceLine).join(
                PurchaseInvoice, PurchaseInvoice.id == PurchaseInvoiceLine.invoice_id).where(
                PurchaseInvoice.invoice_no == "00010002"))
        with pytest.raises(ValidationFailed), db.transaction() as s:
            invoices.allocate(s, principal=principal_of(world.a), invoice_line_id=second.id,
                              declaration_line_id=scarf.id, qty=Decimal(301))
        with db.transaction() as s:
            a = invoices.allocate(s, principal=principal_of(world.a), invoice_line_id=second.id,
                                  declaration_line_id=scarf.id, qty=Decimal("100.5"))
        assert (a.amount_minor, a.vat_minor) == (723_600, 94_068)
        with db.transaction() as s:  # more of the same invoice line on the same declaration line: one allocation
            more = invoices.allocate(s, principal=principal_of(world.a), invoice_line_id=second.id,
                                     declaration_line_id=scarf.id, qty=Decimal("199.5"))
        assert (more.id, more.qty, more.amount_minor) == (a.id, Decimal(300), 2_160_000)
        with pytest.raises(Conflict):
            do_import(db, world, FILE.replace("21600.00,13%,2808.00", "21700.00,13%,2821.00"))
        with db.transaction() as s:
            invoices.deallocate(s, principal=principal_of(world.a), allocation_id=a.id)
        with db.transaction(write=False) as s:
            assert s.get(PurchaseInvoiceLine, (second.enterprise_id, second.id)).allocated_qty == 0
            assert s.scalar(select(func.count()).select_from(InvoiceAllocation)) == 0

    def test_another_tenants_lines_are_not_found(self, db, world, exported):
        from tradeloop.kit.errors import NotFound

        _decl, (scarf, _blouse), _docs = exported
        do_import(db, world)
        with db.transaction(write=False) as s:
            line = s.scalar(select(PurchaseInvoiceLine))
        with pytest.raises(NotFound), db.transaction() as s:
            invoices.allocate(s, principal=principal_of(world.b), invoice_line_id=line.id,
                              declaration_line_id=scarf.id, qty=Decimal(1))


@given(total=st.integers(min_value=0, max_value=10**10), cuts=st.lists(st.integers(1, 999), min_size=1, max_size=8))
def test_parts_of_a_line_add_up_exactly(total, cuts):
    qty = Decimal(sum(cuts))
    done, parts = Decimal(0), []
    for c in cuts:
        parts.append(invoices._share(total, done, done + c, qty))
        done += c
    assert sum(parts) == total and all(p >= 0 for p in parts)
