"""The loop's money: what the platforms paid out for a declaration line's sold units, what reached the bank,
what was converted to CNY, and the overdue flags (both databases)."""

from __future__ import annotations

import re
import uuid
from datetime import date

from tests.customs.builders import principal_of
from tests.factories import page_login
from tests.sales.test_fulfilment import amazon_file, fulfil, import_file, loop_lines, two_lots  # noqa: F401
from tradeloop.finance import matching, payouts
from tradeloop.finance.money_models import BankEntry, BankStatement
from tradeloop.kit.ids import uuid7
from tradeloop.loop import service as loop


def settlement(sid: str, rows: list[tuple[str, str, str, str, str]], total: str) -> bytes:
    head = ("settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
            "transaction-type\torder-id\tamount-type\tamount-description\tamount\tposted-date\tsku\t"
            "quantity-purchased\n")
    first = (f"{sid}\t2026-03-01T00:00:00+00:00\t2026-03-14T00:00:00+00:00\t2026-03-16T00:00:00+00:00\t{total}\tUSD"
             "\t\t\t\t\t\t\t\t\n")
    body = "".join(f"{sid}\t\t\t\t\tUSD\tOrder\t{order}\t{atype}\t{desc}\t{amount}\t2026-03-02\t{sku}\t1\n"
                   for order, sku, atype, desc, amount in rows)
    return (head + first + body).encode()


def test_paid_out_received_settled(client, db, world, two_lots, tmp_path):  # noqa: F811
    (d1, _l1), _second = two_lots
    p = principal_of(world.a)
    import_file(db, world, amazon_file(tmp_path / "o.txt", [
        ("111-0000001-0000001", "2026-03-01", "Shipped", "SILK-SCARF-01", 3, "30.00", "0"),
        ("111-0000002-0000002", "2025-06-01", "Shipped", "SILK-SCARF-01", 2, "20.00", "0")]))
    assert len(fulfil(db, world).short) == 1  # the 2025 sale predates the stock: short, left unlinked
    with db.transaction() as s:
        result = payouts.import_settlement(s, principal=p, filename="s.txt", channel="amazon", data=settlement(
            "9000001", [("111-0000001-0000001", "SILK-SCARF-01", "ItemPrice", "Principal", "30.00"),
                        ("111-0000001-0000001", "SILK-SCARF-01", "ItemFees", "Commission", "-4.50")], "25.50"))
    assert result.linked_items == 2
    line = loop_lines(db, world)[(d1.cop_no, 1)]
    assert (line.paid_out, line.proceeds_received, line.settled, line.settled_cny) == \
        ({"USD": 2550}, {"USD": 0}, {"USD": 0}, 0)
    with db.transaction() as s:
        statement = BankStatement(enterprise_id=p.enterprise_id, id=uuid7(), format="mt940", account="CN001",
                                  currency="USD", filename="b.sta", file_sha256=uuid.uuid4().hex * 2)
        s.add(statement)
        s.flush()
        credit = BankEntry(enterprise_id=p.enterprise_id, id=uuid7(), statement_id=statement.id, account="CN001",
                           booking_date=date(2026, 3, 17), direction="credit", amount_minor=2550, currency="USD",
                           bank_ref="R1", reference="AMAZON 9000001", matched_minor=0, status="unmatched")
        s.add(credit)
    with db.transaction() as s:
        assert matching.auto_match(s, principal=p).by_method == {"reference": 1}
    line = loop_lines(db, world)[(d1.cop_no, 1)]
    assert line.proceeds_received == {"USD": 2550} and line.settled == {"USD": 0}
    with db.transaction() as s:
        matching.record_settlement(s, principal=p, reference="FX-1", settled_on=date(2026, 3, 18), currency="USD",
                                   amount_minor=2550, cny_minor=18_165, bank_entry_id=credit.id)
    line = loop_lines(db, world)[(d1.cop_no, 1)]
    assert (line.settled, line.settled_cny, line.unpaid_over_90_days) == ({"USD": 2550}, 18_165, 0)
    with db.transaction(write=False) as s:
        view = loop.one_declaration(s, principal=p, declaration_id=d1.id)
    assert view.proceeds_due == date(d1.ie_date.year + 1, 4, 30)
    assert view.totals["paid_out"] == {"USD": 2550}
    # the declaration's page shows the same money
    page_login(client, world.a.users["viewer"])
    html = client.get(f"/loop/declarations/{d1.id}").text
    row = re.search(r'<tr data-currency="USD">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'data-field="(\w+)">([^<]*)<', row))
    assert (cells["paid_out"], cells["proceeds_received"], cells["settled"]) == ("25.50 USD",) * 3
    assert "181.65 CNY" in html


def test_unpaid_sales_over_90_days_are_flagged(db, world, two_lots, tmp_path):  # noqa: F811
    (d1, _l1), _second = two_lots
    import_file(db, world, amazon_file(tmp_path / "o.txt", [
        ("111-0000003-0000003", "2026-02-01", "Shipped", "SILK-SCARF-01", 4, "40.00", "0")]))
    fulfil(db, world)
    line = loop_lines(db, world)[(d1.cop_no, 1)]
    assert (line.sold_linked, line.paid_out, line.unpaid_over_90_days) == (4, {}, 4)
