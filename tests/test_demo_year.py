"""The demo year: ``tradeloop demo --no-serve`` builds it through the services, ``tradeloop check`` finds
quantity conserved, tens of thousands of order lines came in through the importers from real-layout files,
and the year is dated across twelve months. The demo is built once for the module (about half a minute)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.sales.generate import HEADER as AMAZON_HEADER
from tests.test_cli import run
from tradeloop.demo import BAMBOO_USCC, SILK_USCC

FIXTURES = Path(__file__).parent / "fixtures" / "sales"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo-year") / "demo"
    out = run("demo", "--no-serve", "--data-dir", str(data))
    return data, out.stdout


@pytest.fixture(scope="module")
def db(demo):
    from tradeloop.config import load_settings
    from tradeloop.kit.db import Database

    settings = load_settings(demo[0], database_url=None, exchange_dir=None)
    database = Database.from_url(settings.resolved_database_url)
    yield database
    database.dispose()


def test_demo_prints_logins_and_counts(demo):
    _data, stdout = demo
    assert "demo built: " in stdout and " order lines (Amazon.com " in stdout
    assert "silk-admin" in stdout and "bamboo-admin" in stdout and "suzhou-commerce" in stdout


def test_check_conserves_quantity_on_every_line(demo):
    out = run("check", "--data-dir", str(demo[0]))
    assert out.stdout.startswith("quantity conserved on all ")


def test_tens_of_thousands_of_lines_imported_per_channel(db):
    from tradeloop.sales.models import SalesOrderLine

    with db.transaction() as s:
        by_market = dict(s.execute(select(SalesOrderLine.marketplace, func.count())
                                   .group_by(SalesOrderLine.marketplace)).all())
        by_channel = dict(s.execute(select(SalesOrderLine.channel, func.count())
                                    .group_by(SalesOrderLine.channel)).all())
        unknown = s.scalar(select(func.count()).where(SalesOrderLine.sku_unknown.is_(True)))
    assert by_channel["amazon"] >= 15_000 and by_channel["shopify"] >= 5_000, by_channel
    assert sum(by_channel.values()) >= 20_000
    assert by_market["Amazon.com"] > by_market["Amazon.de"] >= 5_000
    assert unknown == 0  # every SKU sold is in a catalogue


def test_files_are_real_marketplace_layouts(demo):
    folder = demo[0] / "demo-files"
    shopify_header = next(csv.reader((FIXTURES / "shopify_orders.csv").open(encoding="utf-8")))
    for name, currency in (("amazon-com-all-orders.txt", "USD"), ("amazon-de-all-orders.txt", "EUR")):
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        assert tuple(rows[0]) == AMAZON_HEADER
        assert all(len(r) == len(AMAZON_HEADER) for r in rows)
        col = {h: i for i, h in enumerate(rows[0])}
        statuses = Counter(r[col["order-status"]] for r in rows[1:])
        assert {"Shipped", "Pending", "Cancelled", "Shipped - Returned to Seller"} <= set(statuses)
        assert {r[col["currency"]] for r in rows[1:]} == {currency, ""}  # cancelled rows carry no currency
    with (folder / "shopify-orders-export.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == shopify_header
    assert len({r[0] for r in rows[1:]}) > 4_000  # orders (Name), one row per line item


def test_the_same_file_again_changes_nothing(demo):
    path = demo[0] / "demo-files" / "amazon-de-all-orders.txt"
    out = run("import", "orders", str(path), "--channel", "amazon", "--enterprise", SILK_USCC, "--json",
              "--data-dir", str(demo[0]))
    result = json.loads(out.stdout)
    assert result["read"] > 5_000 and result["inserted"] == result["updated"] == result["rejected"] == 0


def test_the_year_is_dated_across_twelve_months(db):
    from tradeloop.customs.models import Declaration
    from tradeloop.enterprises.models import Enterprise
    from tradeloop.warehouse.stock_models import InboundOrder, StockLot

    now = datetime.now(UTC)
    with db.transaction() as s:
        bamboo = s.scalar(select(Enterprise).where(Enterprise.uscc == BAMBOO_USCC))
        months = {d.strftime("%Y-%m") for d in s.scalars(select(Declaration.ie_date))}
        modes = Counter(s.scalars(select(Declaration.mode).where(Declaration.enterprise_id == bamboo.id)))
        closed = list(s.scalars(select(Declaration.closed_at).where(Declaration.closed_at.is_not(None))))
        received = list(s.scalars(select(InboundOrder.received_at).where(InboundOrder.received_at.is_not(None))))
        oldest_lot = s.scalar(select(func.min(StockLot.received_at)))
    assert len(months) == 12
    assert modes["9810"] >= 11 and modes["9610"] >= 10
    assert min(closed) < now - timedelta(days=300) and min(received) < now - timedelta(days=270)
    assert oldest_lot.replace(tzinfo=oldest_lot.tzinfo or UTC) < now - timedelta(days=270)
