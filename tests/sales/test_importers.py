"""Each importer against its real-layout fixture: exact values stored (money in minor units, times in UTC),
bad rows reported with their file line numbers, fatal files applying nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from tests.sales.conftest import FIXTURES, add_products, do_import, stored
from tradeloop.audit.models import AuditLog
from tradeloop.sales import service
from tradeloop.sales.importers import ProfileSpec
from tradeloop.sales.models import SalesOrderLine


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def line_count(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(SalesOrderLine))


class TestAmazonAllOrders:
    def test_values(self, db, seller):
        result = do_import(db, seller, "amazon_all_orders.txt", "amazon")
        assert (result.read, result.inserted, result.updated, result.unchanged, result.rejected) == (9, 9, 0, 0, 0)
        assert result.errors == [] and result.encoding == "utf-8"
        lines = stored(db, seller)
        first = lines[("111-0000001-0000001", "SILK-SCARF-01")]
        assert (first.channel, first.marketplace, first.currency, first.buyer_country) == (
            "amazon", "Amazon.com", "USD", "US")
        assert first.order_date == utc(2026, 1, 15, 9, 12, 33)
        assert first.source_updated_at == utc(2026, 1, 17, 12)
        assert (first.quantity, first.item_price_minor, first.item_tax_minor, first.discount_minor) == (
            2, 5998, 480, 500)
        assert (first.status, first.raw_status, first.fulfillment_channel) == ("shipped", "Shipped / Shipped", "AFN")
        assert first.product_id == seller.products["SILK-SCARF-01"] and first.sku_unknown is False
        assert first.ship_date is None  # the All Orders report has no ship date
        tie = lines[("111-0000001-0000001", "SILK-TIE-02")]
        assert (tie.item_price_minor, tie.item_tax_minor, tie.shipping_minor, tie.shipping_tax_minor,
                tie.other_minor) == (1999, 160, 399, 32, 270)
        cancelled = lines[("111-0000002-0000002", "SILK-PJ-03")]
        # -08:00 in the file; no prices for a cancelled order, the marketplace's currency.
        assert cancelled.order_date == utc(2026, 1, 16, 2, 40)
        assert (cancelled.status, cancelled.currency, cancelled.item_price_minor) == ("cancelled", "USD", 0)
        assert cancelled.fulfillment_channel == "MFN"
        partial = {k[1]: v.status for k, v in lines.items() if k[0] == "111-0000003-0000003"}
        assert partial == {"SILK-PJ-03": "shipped", "SILK-SCARF-01": "pending"}
        returned = lines[("302-0000004-0000004", "SILK-SCARF-01")]
        assert (returned.status, returned.marketplace, returned.currency, returned.item_price_minor,
                returned.buyer_country) == ("returned", "Amazon.de", "EUR", 4990, "DE")
        assert returned.order_date == utc(2026, 1, 17, 9, 30)
        repeated = [lines[("111-0000006-0000006", i)] for i in ("SILK-SCARF-01", "SILK-SCARF-01#2")]
        assert [r.item_price_minor for r in repeated] == [2999, 2799]
        assert all(r.status == "delivered" for r in repeated)

    def test_unknown_sku_imported_flagged_and_warned(self, db, seller):
        result = do_import(db, seller, "amazon_all_orders.txt", "amazon")
        mystery = stored(db, seller)[("113-0000005-0000005", "MYSTERY-SKU-9")]
        assert mystery.sku_unknown is True and mystery.product_id is None
        assert (mystery.quantity, mystery.item_price_minor, mystery.status) == (3, 3750, "pending")
        assert [(w.row, w.column, w.value) for w in result.warnings] == [(8, "sku", "MYSTERY-SKU-9")]
        assert result.unknown_sku_lines == 1 and result.rejected == 0

    def test_unknown_sku_is_linked_once_the_catalogue_has_it(self, db, seller):
        do_import(db, seller, "amazon_all_orders.txt", "amazon")
        products = add_products(db, seller.principal, ["MYSTERY-SKU-9"])
        again = do_import(db, seller, "amazon_all_orders.txt", "amazon")
        assert (again.inserted, again.updated, again.linked) == (0, 0, 1)
        mystery = stored(db, seller)[("113-0000005-0000005", "MYSTERY-SKU-9")]
        assert mystery.product_id == products["MYSTERY-SKU-9"] and mystery.sku_unknown is False

    def test_bad_rows_are_reported_with_their_line_numbers_and_the_rest_applied(self, db, seller):
        result = do_import(db, seller, "amazon_bad_rows.txt", "amazon")
        assert (result.read, result.inserted, result.rejected) == (9, 2, 7)
        assert [(e.row, e.column, e.value) for e in result.errors] == [
            (3, "purchase-date", "15/01/2026 09:12"),
            (4, "quantity", "two"),
            (5, "currency", "XXX"),
            (6, "item-price", "12.3.4"),
            (7, "sku", ""),
            (8, "item-price", "1999.5"),
            (9, "ship-country", "Atlantis"),
        ]
        assert result.errors[0].reason.startswith("is not an ISO 8601 date")
        assert result.errors[5].reason == "has more than 0 decimal places for this currency"
        assert all(e.reason_zh for e in result.errors)
        assert set(stored(db, seller)) == {("111-0000020-0000020", "SILK-TIE-02"),
                                           ("111-0000021-0000021", "SILK-SCARF-01")}

    def test_max_error_share_makes_the_file_fatal(self, db, seller):
        with pytest.raises(service.ImportFatal) as exc:
            do_import(db, seller, "amazon_bad_rows.txt", "amazon", max_error_share=0.5)
        assert exc.value.result.errors[0].reason == "7 of 9 rows are bad, more than the 50% allowed"
        assert line_count(db) == 0


class TestFatalFiles:
    @pytest.mark.parametrize(("name", "channel", "column", "reason"), [
        ("amazon_missing_column.txt", "amazon", "item-price",
         "the required column 'item-price' of an Amazon All Orders report is missing"),
        ("not_decodable.txt", "amazon", "", "the file is neither UTF-8 nor GB18030 text"),
        ("shopify_orders.csv", "amazon", "", "this file looks like a Shopify orders export, not an Amazon All "
         "Orders report: choose the channel shopify"),
        ("amazon_all_orders.txt", "ebay", "", "this file looks like an Amazon All Orders report, not an eBay Seller "
         "Hub orders report: choose the channel amazon"),
        ("generic.xlsx", "generic", "profile", "the generic importer needs a column profile (--profile NAME)"),
    ])
    def test_nothing_applied(self, db, seller, name, channel, column, reason):
        do_import(db, seller, "shopify_orders_bom.csv", "shopify")  # something already there stays as it is
        before = stored(db, seller)
        with pytest.raises(service.ImportFatal) as exc:
            do_import(db, seller, name, channel)
        result = exc.value.result
        assert result.fatal and (result.inserted, result.updated) == (0, 0)
        assert (result.errors[0].row, result.errors[0].column, result.errors[0].reason) == (1, column, reason)
        after = stored(db, seller)
        assert {k: v.row_hash for k, v in after.items()} == {k: v.row_hash for k, v in before.items()}

    def test_fatal_after_batches_were_written_rolls_them_back(self, db, seller):
        # 9 rows in batches of 2: the first batches are written before the share of bad rows is known.
        with pytest.raises(service.ImportFatal):
            do_import(db, seller, "amazon_bad_rows.txt", "amazon", batch_size=1, max_error_share=0.1)
        assert line_count(db) == 0
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "sales.orders.import")) == 0


class TestShopify:
    def test_values_with_carried_order_fields(self, db, seller):
        result = do_import(db, seller, "shopify_orders.csv", "shopify")
        assert (result.read, result.inserted, result.rejected) == (6, 6, 0)
        lines = stored(db, seller)
        first, second = lines[("#1001", "1")], lines[("#1001", "2")]
        # "2026-01-15 09:12:33 +0100"; the second row has only the line's own columns.
        assert first.order_date == second.order_date == utc(2026, 1, 15, 8, 12, 33)
        assert first.ship_date == second.ship_date == utc(2026, 1, 16, 13)
        assert (first.currency, second.currency, second.buyer_country) == ("USD", "USD", "US")
        assert (first.quantity, first.item_price_minor, first.item_tax_minor, first.shipping_minor) == (
            2, 6000, 640, 500)
        assert (second.quantity, second.item_price_minor, second.item_tax_minor, second.shipping_minor) == (
            1, 2000, 0, 0)
        assert first.status == second.status == "shipped"
        assert first.raw_status == "paid|fulfilled|fulfilled"
        refunded_part, restocked = lines[("#1002", "1")], lines[("#1002", "2")]
        assert (refunded_part.status, refunded_part.refunded_minor, refunded_part.discount_minor) == (
            "partially_refunded", 2000, 250)
        assert (restocked.status, restocked.refunded_minor, restocked.currency, restocked.buyer_country) == (
            "refunded", None, "GBP", "GB")
        cancelled = lines[("#1003", "1")]
        assert (cancelled.status, cancelled.currency, cancelled.order_date) == (
            "cancelled", "EUR", utc(2026, 1, 17, 10))
        refunded = lines[("#1004", "1")]
        assert (refunded.status, refunded.refunded_minor, refunded.order_date) == (
            "refunded", 1500, utc(2026, 1, 18, 12, 45, 10))

    def test_utf8_bom(self, db, seller):
        result = do_import(db, seller, "shopify_orders_bom.csv", "shopify")
        assert result.encoding == "utf-8-sig" and (result.read, result.inserted) == (1, 1)
        line = stored(db, seller)[("#2001", "1")]
        assert (line.currency, line.quantity, line.item_price_minor, line.shipping_minor, line.item_tax_minor) == (
            "CAD", 3, 4200, 800, 650)
        assert (line.order_date, line.status, line.buyer_country) == (utc(2026, 2, 1, 15), "pending", "CA")

    def test_bad_row_numbers_count_physical_lines_of_multiline_cells(self, db, seller, tmp_path):
        text = (FIXTURES / "shopify_orders.csv").read_text()
        text = text.replace("Bamboo spoon set,20.00", "Bamboo spoon set,twenty")  # line 5: after 2 multiline cells
        path = tmp_path / "bad.csv"
        path.write_text(text)
        result = do_import(db, seller, path, "shopify")
        assert [(e.row, e.column, e.value) for e in result.errors] == [(5, "Lineitem price", "twenty")]


class TestEbay:
    def test_gb18030_preamble_order_rows_and_footer(self, db, seller):
        result = do_import(db, seller, "ebay_orders_gb18030.csv", "ebay")
        assert result.encoding == "gb18030"
        # 4 order lines: the multi-item order's order row, the padding row and the footer are not lines.
        assert (result.read, result.inserted, result.rejected) == (4, 4, 0)
        lines = stored(db, seller)
        us = lines[("12-11111-11111", "256000000001-2100000000001")]
        # "Jan-15-26" in eBay time (Pacific, -08:00 in January) is 08:00 UTC.
        assert (us.order_date, us.ship_date) == (utc(2026, 1, 15, 8), utc(2026, 1, 17, 8))
        assert (us.currency, us.quantity, us.item_price_minor, us.shipping_minor, us.item_tax_minor) == (
            "USD", 2, 5998, 450, 480)
        assert (us.status, us.buyer_country, us.sku, us.marketplace) == ("shipped", "US", "SILK-SCARF-01", "eBay")
        tie = lines[("23-22222-22222", "256000000002-2100000000002")]
        pj = lines[("23-22222-22222", "256000000003-2100000000003")]
        # Carried from the order row: "Jan-16-26 23:45:00", Germany.
        assert tie.order_date == pj.order_date == utc(2026, 1, 17, 7, 45)
        assert tie.ship_date == utc(2026, 1, 18, 17)
        assert (tie.currency, tie.item_price_minor, pj.item_price_minor, tie.buyer_country) == ("EUR", 2490, 4990, "DE")
        au = lines[("34-33333-33333", "256000000009-0")]
        assert (au.currency, au.item_price_minor, au.shipping_minor, au.status, au.ship_date) == (
            "AUD", 1500, 750, "pending", None)
        assert au.sku_unknown is True

    def test_amounts_without_currency_are_rejected(self, db, seller, tmp_path):
        data = (FIXTURES / "ebay_orders_gb18030.csv").read_bytes().replace(b'"$29.99"', b'"29.99"')
        (tmp_path / "e.csv").write_bytes(data)
        result = do_import(db, seller, tmp_path / "e.csv", "ebay")
        assert [(e.row, e.column, e.value) for e in result.errors] == [(4, "Sold For", "29.99")]


class TestGeneric:
    def spec(self) -> ProfileSpec:
        return ProfileSpec(**json.loads((FIXTURES / "generic_profile.json").read_text(encoding="utf-8")))

    def test_xlsx_with_a_profile(self, db, seller):
        result = do_import(db, seller, "generic.xlsx", "generic", profile=self.spec())
        assert result.encoding is None and (result.read, result.inserted, result.rejected) == (4, 4, 0)
        lines = stored(db, seller)
        board = lines[("SO-0001", "1")]
        # "2026/01/20 10:30" in Asia/Shanghai; the ship date is a date-time cell.
        assert (board.order_date, board.ship_date) == (utc(2026, 1, 20, 2, 30), utc(2026, 1, 21, 1))
        assert (board.channel, board.marketplace, board.status, board.raw_status) == (
            "own_site", "bamboo-home.com", "shipped", "已发货")
        assert (board.quantity, board.item_price_minor, board.shipping_minor, board.currency, board.buyer_country) == (
            2, 2500, 300, "USD", "US")
        spoon = lines[("SO-0001", "2")]
        assert (spoon.item_price_minor, spoon.currency) == (899, "USD")  # the profile's default currency
        bowl = lines[("SO-0002", "1")]
        assert (bowl.order_date, bowl.status, bowl.currency, bowl.item_price_minor, bowl.buyer_country) == (
            utc(2026, 1, 22, 7), "cancelled", "EUR", 1990, "DE")
        straws = lines[("SO-0003", "1")]
        assert (straws.quantity, straws.item_price_minor, straws.status) == (4, 900, "pending")

    def test_saved_profile_by_name(self, db, seller):
        with db.transaction() as s:
            service.create_profile(s, principal=seller.principal,
                                   data=json.loads((FIXTURES / "generic_profile.json").read_text(encoding="utf-8")))
        result = do_import(db, seller, "generic.xlsx", "generic", profile="独立站订单")
        assert result.inserted == 4

    def test_unknown_profile_is_fatal(self, db, seller):
        with pytest.raises(service.ImportFatal) as exc:
            do_import(db, seller, "generic.xlsx", "generic", profile="nope")
        assert exc.value.result.errors[0].reason == "there is no import profile named 'nope'"

    def test_a_profile_column_missing_from_the_file_is_fatal(self, db, seller):
        spec = self.spec()
        spec.columns["sku"] = "货号"
        with pytest.raises(service.ImportFatal) as exc:
            do_import(db, seller, "generic.xlsx", "generic", profile=spec)
        issue = exc.value.result.errors[0]
        assert (issue.row, issue.column) == (1, "货号")

    def test_csv_with_decimal_comma_and_semicolons(self, db, seller, tmp_path):
        path = tmp_path / "orders.csv"
        path.write_bytes("订单号;日期;SKU;数量;金额;币种\nX-1;15.01.2026 10:00;SILK-TIE-02;2;1.234,50;EUR\n"
                         .encode("gb18030"))
        spec = ProfileSpec(name="de", columns={"order_id": "订单号", "order_date": "日期", "sku": "SKU",
                                               "quantity": "数量", "item_price": "金额", "currency": "币种"},
                           date_format="%d.%m.%Y %H:%M", timezone="Europe/Berlin", decimal_comma=True)
        result = do_import(db, seller, path, "generic", profile=spec)
        assert result.encoding == "gb18030" and result.errors == []
        line = stored(db, seller)[("X-1", "1")]
        assert (line.item_price_minor, line.order_date, line.status) == (123450, utc(2026, 1, 15, 9), "pending")
