"""The demo year: ``tradeloop demo --no-serve`` builds it through the services, ``tradeloop check`` finds
quantity conserved, tens of thousands of order lines came in through the importers from real-layout files,
the year is dated across twelve months, and its money adds up: settlements, bank statements, matches,
结汇, purchase invoices and rebate claims. The demo is built once for the module (about a minute)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    proc = subprocess.run([sys.executable, "-m", "tradeloop", "demo", "--no-serve", "--data-dir", str(data)],
                          capture_output=True, text=True, env=env, timeout=600)  # about a minute; more on a busy box
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data, proc.stdout


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


def test_the_same_settlement_and_statement_again_change_nothing(demo):
    folder = demo[0] / "demo-files"
    settlement = sorted((folder / "settlements").glob("amazon-de-*.txt"))[0]
    out = run("import", "settlement", str(settlement), "--channel", "amazon", "--enterprise", SILK_USCC, "--json",
              "--data-dir", str(demo[0]))
    result = json.loads(out.stdout)
    assert (result["payouts"], result["unchanged"], result["inserted"], result["updated"]) == (1, 1, 0, 0)
    statement = sorted((folder / "bank").glob("silk-eur-*.sta"))[0]
    out = run("import", "statement", str(statement), "--enterprise", SILK_USCC, "--json", "--data-dir", str(demo[0]))
    result = json.loads(out.stdout)
    assert result["already_imported"] is True and result["inserted"] == 0


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


# --- the money side: settlements, statements, matching, 结汇, invoices, rebate claims ---------------------


def _minor(text: str) -> int:
    return int(Decimal(text.strip().replace(",", ".")).scaleb(2))


def test_the_summary_names_the_money(demo):
    line = next(x for x in demo[1].splitlines() if x.startswith("demo built: "))
    auto = int(re.search(r"(\d+) automatically, 1 by hand, 1 left for a person", line).group(1))
    assert auto >= 50, line
    assert re.search(r"\d+ payouts \(\d+ Amazon settlements, \d+ PingPong withdrawals\)", line)
    assert re.search(r"\d+ bank statements \(\d+ camt\.053, \d+ MT940\)", line)
    assert re.search(r"[1-9]\d* FX settlements, [1-9]\d* purchase invoices, [1-9]\d* rebate claims", line)


def test_every_statement_adds_up_to_its_balances_and_control_totals(demo, db):
    from lxml import etree

    from tradeloop.finance.money_models import BankEntry, BankStatement

    folder = demo[0] / "demo-files" / "bank"
    with db.transaction(write=False) as s:
        statements = list(s.scalars(select(BankStatement)))
        entries = defaultdict(list)
        for e in s.scalars(select(BankEntry)):
            entries[e.statement_id].append(e)
    assert Counter(st.format for st in statements) == {"camt.053": 22, "mt940": 11}
    assert len(list(folder.iterdir())) == len(statements)  # one statement per file, every file imported
    for st in statements:
        rows = entries[st.id]
        moved = sum(e.amount_minor if e.direction == "credit" else -e.amount_minor for e in rows)
        assert st.opening_minor + moved == st.closing_minor, st.filename
        text = (folder / st.filename).read_bytes()
        if st.format == "mt940":
            assert text.count(b":61:") == len(rows), st.filename
            continue
        doc = etree.fromstring(text)
        ns = {"c": doc.nsmap[None]}
        assert len(doc.findall(".//c:Ntry", ns)) == len(rows)
        for tag, chosen in (("TtlNtries", rows), ("TtlCdtNtries", [e for e in rows if e.direction == "credit"]),
                            ("TtlDbtNtries", [e for e in rows if e.direction == "debit"])):
            node = doc.find(f".//c:TxsSummry/c:{tag}", ns)
            assert int(node.findtext("c:NbOfNtries", namespaces=ns)) == len(chosen), (st.filename, tag)
            assert _minor(node.findtext("c:Sum", namespaces=ns)) == sum(e.amount_minor for e in chosen), \
                (st.filename, tag)


def test_every_payout_adds_up_to_its_total_and_its_file(demo, db):
    from tradeloop.finance.money_models import ItemKind, Payout, PayoutItem

    with db.transaction(write=False) as s:
        payouts = {(p.source, p.settlement_id): p for p in s.scalars(select(Payout))}
        sums = dict(s.execute(select(PayoutItem.payout_id, func.sum(PayoutItem.amount_minor))
                              .where(PayoutItem.kind != ItemKind.TRANSFER).group_by(PayoutItem.payout_id)).all())
        unlinked = s.scalar(select(func.count()).where(PayoutItem.order_id.is_not(None),
                                                       PayoutItem.sales_line_id.is_(None)))
        kinds = set(s.scalars(select(PayoutItem.kind).distinct()))
    assert all(sums[p.id] == p.total_minor for p in payouts.values())
    assert unlinked == 0  # every order item found its imported sales line
    assert {"principal", "fee", "tax", "promotion", "refund", "reserve", "transfer"} <= kinds
    sources = Counter(source for source, _sid in payouts)
    assert sources["amazon"] >= 40 and sources["pingpong"] >= 20
    files = sorted((demo[0] / "demo-files" / "settlements").glob("amazon-*.txt"))
    assert len(files) == sources["amazon"]
    for path in files:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        assert all(len(r) == 24 for r in rows)
        total = _minor(rows[1][4])
        assert sum(_minor(r[14]) for r in rows[2:]) == total, path.name
        assert payouts[("amazon", rows[1][0])].total_minor == total


def test_credits_are_matched_but_the_planted_one_and_converted(db):
    from tradeloop.finance import rates
    from tradeloop.finance.money_models import BankEntry, FxSettlement, Payout, PayoutStatus, ReceiptMatch

    with db.transaction(write=False) as s:
        methods = Counter(s.scalars(select(ReceiptMatch.method)))
        per_entry = Counter(s.scalars(select(ReceiptMatch.bank_entry_id)))
        per_payout = Counter(s.scalars(select(ReceiptMatch.payout_id)))
        credits = {e.id: e for e in s.scalars(select(BankEntry).where(BankEntry.direction == "credit"))}
        settlements = list(s.scalars(select(FxSettlement)))
        ecb = {x.id: rates.find(s, x.currency, x.settled_on) for x in settlements}
        partial_payouts = s.scalar(select(func.count()).select_from(Payout).where(
            Payout.status == PayoutStatus.PARTIAL))
    assert methods["reference"] >= 30 and methods["exact"] >= 1 and methods["tolerance"] >= 3
    assert methods["many_to_one"] == 2 and methods["manual"] == 1
    assert 2 in per_entry.values()  # one credit paid two settlements
    assert 2 in per_payout.values()  # one settlement arrived in two parts
    assert partial_payouts == 0
    open_credits = [e for e in credits.values() if e.status != "matched"]
    assert len(open_credits) == 1 and open_credits[0].remittance.endswith("-118 SILK SCARVES SAMPLE ORDER")
    assert len(settlements) >= 10
    for x in settlements:
        credit = credits[x.bank_entry_id]
        assert credit.currency == x.currency and x.amount_minor <= credit.amount_minor
        assert abs(x.rate / ecb[x.id].rate - 1) < Decimal("0.01")  # near the ECB cross rate of the day


def test_rebate_claims_and_the_trader_missing_rate(db):
    from tradeloop.enterprises.models import Enterprise
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.tax import claims
    from tradeloop.tax.claim_models import RebateClaim
    from tradeloop.tax.models import InvoiceAllocation, PurchaseInvoice

    with db.transaction(write=False) as s:
        silk = s.scalar(select(Enterprise).where(Enterprise.uscc == SILK_USCC))
        bamboo = s.scalar(select(Enterprise).where(Enterprise.uscc == BAMBOO_USCC))
        rows = list(s.scalars(select(RebateClaim)))
        invoices = s.scalar(select(func.count()).select_from(PurchaseInvoice))
        allocated = s.scalar(select(func.count()).select_from(InvoiceAllocation))
        trader = claims.candidates(s, system_principal(bamboo.id), "trader", "normal")
    assert {c.enterprise_id for c in rows} == {silk.id}
    normal = [c for c in rows if c.business_type == "normal"]
    assert len(normal) >= 5 and all(c.status == "approved" and c.method == "manufacturer" for c in normal)
    assert all(c.approved_minor > 0 and c.approved_minor == c.refund_minor for c in normal)
    pre = [c for c in rows if c.business_type == "HWC-YT"]
    assert len(pre) == 1 and pre[0].status == "approved" and pre[0].reconciled_on is not None
    assert pre[0].outcome in ("no_adjustment", "adjusted")
    assert invoices >= 10 and allocated >= 50
    assert trader and all(any(m["piece"] == "rates" for m in c.missing) for c in trader)
    assert not any(c.complete for c in trader)


def test_the_loop_shows_money_received_for_a_silk_declaration(demo, db):
    from fastapi.testclient import TestClient

    from tests.factories import login
    from tradeloop.app import create_app
    from tradeloop.config import load_settings
    from tradeloop.customs.models import Declaration
    from tradeloop.enterprises.models import Enterprise
    from tradeloop.tax.claim_models import RebateClaimLine

    with db.transaction(write=False) as s:
        silk = s.scalar(select(Enterprise).where(Enterprise.uscc == SILK_USCC))
        first = s.scalar(select(Declaration).join(RebateClaimLine, RebateClaimLine.declaration_id == Declaration.id)
                         .where(Declaration.enterprise_id == silk.id, Declaration.mode == "9810")
                         .order_by(Declaration.ie_date, Declaration.cop_no).limit(1))
    settings = load_settings(demo[0], database_url=None, exchange_dir=None, secret_key="demo-test")
    with TestClient(create_app(settings, database=db)) as client:
        login(client, "silk-admin", "tradeloop-demo")
        body = client.get(f"/api/v1/loop/declarations/{first.id}").json()
    totals = body["totals"]
    assert totals["sold"] > 0 and totals["paid_out"]["USD"] > 0
    assert 0 < totals["proceeds_received"]["USD"] <= totals["paid_out"]["USD"]
    assert totals["settled"].get("USD", 0) > 0 and totals["settled_cny"] > 0
    assert body["tax"]["approved_minor"] > 0
