"""``tradeloop tax candidates | claims | claim …`` (SQLite data directory and PostgreSQL): create → declare →
approve a claim from the command line with the amounts of domain.md §3.4 Ex. 1, the JSON shapes, the detail
files, the 9810 pre-rebate reconciled (Ex. 3), and clear refusals with a non-zero exit code."""

from __future__ import annotations

import json
from datetime import date

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.tax.test_claims import LAMP, SCARF, Exporter, mugs  # noqa: F401  (mugs: an approved HWC-YT)
from tradeloop.cli import app as cli_app

CLAIM_KEYS = ["id", "number", "method", "business_type", "period", "status", "refund", "approved", "approved_on",
              "declared_at", "rejected_reason", "reconcile_from", "reconcile_due", "reconciled_on", "outcome",
              "corrected", "difference", "overdue", "figures", "lines"]
LINE_KEYS = ["line_no", "declaration_line_id", "entry_id", "gnum", "sku", "hs_code", "export_date", "qty",
             "levy_rate", "rebate_rate", "invoice_amount", "currency", "fob", "fob_cny", "fx_rate", "refund",
             "proceeds", "approved", "settled_qty", "corrected"]


@pytest.fixture
def ex(db, world, tmp_path):
    return Exporter(db, world, tmp_path)


@pytest.fixture
def tax(database_url, tmp_path, world):
    """Run ``tradeloop tax …`` in-process as enterprise a: on SQLite through ``--data-dir`` (the test database
    is that directory's tradeloop.sqlite3), on PostgreSQL through TRADELOOP_DATABASE_URL."""
    runner = CliRunner()
    sqlite = database_url.startswith("sqlite")
    data_dir = str(tmp_path) if sqlite else str(tmp_path / "data")
    env = {} if sqlite else {"TRADELOOP_DATABASE_URL": database_url}
    if sqlite:
        assert database_url == f"sqlite:///{tmp_path / 'tradeloop.sqlite3'}"

    def go(*args, enterprise=world.a.enterprise.uscc):
        return runner.invoke(cli_app, ["tax", *args, "--enterprise", enterprise, "--data-dir", data_dir], env=env)

    return go


def sold_and_paid(ex):
    _d, (lamps,) = ex.export([(LAMP, 1000, "20")], date(2025, 5, 6))
    ex.invoice(lamps, "100000.00")
    ex.receive([lamps], "2025-05-20")
    ex.sell([("111-0000001-0000001", "2025-06-02", LAMP, 1000)])
    return lamps


class TestCreateDeclareApprove:
    def test_through_the_cli_with_json(self, ex, tax, tmp_path):
        lamps = sold_and_paid(ex)
        found = tax("candidates", "--method", "trader", "--business-type", "normal", "--period", "202506", "--json")
        assert found.exit_code == 0, found.output
        [row] = [r for r in json.loads(found.stdout) if r["declaration_line_id"] == str(lamps.id)]
        assert (row["complete"], row["claimable"], row["estimate"], row["rebate_rate"], row["missing"]) == (
            True, "1000", "13000.00", "0.13", [])
        text = tax("candidates", "--period", "2025-06", "--ready")
        assert text.exit_code == 0 and "READY" in text.stdout and "estimated refund 13000.00 CNY" in text.stdout

        part = tax("claim", "create", "--method", "trader", "--period", "202506", "--line", f"{lamps.id}:400",
                   "--json")
        assert part.exit_code == 0, part.output
        claim = json.loads(part.stdout)
        assert list(claim) == CLAIM_KEYS and list(claim["lines"][0]) == LINE_KEYS
        assert (claim["status"], claim["period"], claim["refund"], claim["approved"]) == (
            "draft", "2025-06", "5200.00", None)
        assert claim["figures"] == {"计算方法": "免退税", "购进出口货物增值税专用发票注明的金额": "40000.00",
                                    "出口退税率": "13%", "征税率": "13%", "增值税应退税额": "5200.00",
                                    "不得退税额(进项税额转出)": "0.00"}
        assert (claim["lines"][0]["qty"], claim["lines"][0]["invoice_amount"], claim["lines"][0]["refund"]) == (
            "400", "40000.00", "5200.00")
        rest = tax("claim", "create", "--period", "202506", "--all-ready", "--json")
        assert rest.exit_code == 0, rest.output
        assert json.loads(rest.stdout)["refund"] == "7800.00"  # the 600 units left: 13,000 − 5,200

        declared = tax("claim", "declare", claim["number"], "--json")  # by number
        assert declared.exit_code == 0 and json.loads(declared.stdout)["status"] == "declared"
        approved = tax("claim", "approve", claim["id"], "--amount", "5,100.00", "--on", "2025-07-10", "--json")
        assert approved.exit_code == 0, approved.output
        body = json.loads(approved.stdout)
        assert (body["status"], body["approved"], body["approved_on"], body["lines"][0]["approved"]) == (
            "approved", "5100.00", "2025-07-10", "5100.00")
        shown = tax("claim", "show", claim["number"])
        assert shown.exit_code == 0 and f"{claim['number']} approved trader normal 2025-06" in shown.stdout
        assert "refund 5200.00 CNY, approved 5100.00 CNY on 2025-07-10" in shown.stdout

        listed = tax("claims", "--json")
        assert listed.exit_code == 0
        assert [(c["number"], c["status"], c["refund"], c["approved"]) for c in json.loads(listed.stdout)] == [
            (json.loads(rest.stdout)["number"], "draft", "7800.00", None), (claim["number"], "approved", "5200.00",
                                                                            "5100.00")]
        assert [c["number"] for c in json.loads(tax("claims", "--status", "approved", "--json").stdout)] == [
            claim["number"]]
        assert "2 claims" in tax("claims").stdout

        out = tmp_path / "files"
        written = tax("claim", "files", claim["number"], "--out", str(out))
        assert written.exit_code == 0, written.output
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted([f"{claim['number']}-出口货物明细.xlsx", f"{claim['number']}-进货明细.xlsx"])
        ws = load_workbook(out / f"{claim['number']}-出口货物明细.xlsx").active
        header = [c.value for c in ws[1]]
        assert dict(zip(header, [c.value for c in ws[2]], strict=True))["应退税额"] == 5200

    def test_reconcile_a_pre_rebate(self, ex, tax, mugs):  # noqa: F811
        _line, claim = mugs
        done = tax("claim", "reconcile", claim.number, "--as-of", "2026-04-30", "--json")
        assert done.exit_code == 0, done.output
        body = json.loads(done.stdout)
        assert (body["outcome"], body["corrected"], body["difference"], body["overdue"]) == (
            "repaid", "0.00", "1300.00", False)
        again = tax("claim", "reconcile", claim.number, "--as-of", "2026-04-30")
        assert again.exit_code == 1 and "reconciled on 2026-04-30" in again.output and "已于" in again.output


class TestRefusals:
    def test_bad_ids_and_inputs_exit_non_zero_with_a_clear_message(self, ex, tax, world, mugs):  # noqa: F811
        _line, claim = mugs
        nonsense = tax("claim", "declare", "not-a-claim")
        assert nonsense.exit_code == 1 and "'not-a-claim' is not a claim id or number" in nonsense.output
        unknown = tax("claim", "show", "00000000-0000-7000-8000-000000000000")
        assert unknown.exit_code == 1 and "Rebate claim not found." in unknown.output
        assert tax("claim", "show", "RC99999999").exit_code == 1
        other = tax("claim", "show", claim.number, enterprise=world.b.enterprise.uscc)
        assert other.exit_code == 1 and "No rebate claim numbered" in other.output
        assert tax("claim", "show", claim.number, enterprise="91320509MA0000000X").exit_code == 1
        wrong_state = tax("claim", "declare", claim.number)
        assert wrong_state.exit_code == 1 and "The claim is approved" in wrong_state.output
        bad_amount = tax("claim", "approve", claim.number, "--amount", "1.234")
        assert bad_amount.exit_code == 2 and "--amount" in bad_amount.output and "2 decimal places" in bad_amount.output
        assert tax("claim", "reconcile", claim.number, "--as-of", "30/04/2026").exit_code == 2
        assert tax("claim", "create", "--period", "2025-13", "--all-ready").exit_code == 2
        neither = tax("claim", "create", "--period", "202503")
        assert neither.exit_code == 2 and "--all-ready" in neither.output
        bad_line = tax("claim", "create", "--period", "202503", "--line", "abc")
        assert bad_line.exit_code == 2 and "'abc' is not a declaration line id" in bad_line.output
        nothing = tax("claim", "create", "--period", "202503", "--business-type", "HWC-YT", "--all-ready")
        assert nothing.exit_code == 1 and "No line is ready" in nothing.output  # the pre-rebate took them all
        assert tax("claims", "--status", "filed").exit_code == 2
        still = json.loads(tax("claim", "show", claim.number, "--json").stdout)
        assert (still["status"], still["reconciled_on"]) == ("approved", None)
