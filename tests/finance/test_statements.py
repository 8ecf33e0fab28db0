"""Bank statements: camt.053 (.02/.08), camt.054 and MT940 read to minor units, checked (balances, control
totals), imported idempotently, refused with their position; CLI and API (both databases)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import login
from tradeloop.audit.models import AuditLog
from tradeloop.finance import statements
from tradeloop.finance.money_models import BankEntry, BankStatement
from tradeloop.finance.parsers import StatementRejected, camt, detect, mt940, parse
from tradeloop.finance.statement_repository import StatementRepository
from tradeloop.kit.errors import NotFound
from tradeloop.kit.tenancy import system_principal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "finance"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def as_tenant(tenant):
    return replace(system_principal(label="test"), enterprise_id=tenant.enterprise.id)


def do_import(db, tenant, name: str, data: bytes | None = None):
    with db.transaction() as s:
        return statements.import_statement(s, principal=as_tenant(tenant), filename=name,
                                           data=fixture(name) if data is None else data)


def counts(db) -> tuple[int, int, int]:
    with db.transaction(write=False) as s:
        return (s.scalar(select(func.count()).select_from(BankStatement)),
                s.scalar(select(func.count()).select_from(BankEntry)),
                s.scalar(select(func.count()).select_from(AuditLog).where(
                    AuditLog.action == "finance.statement.import")))


def refused(name: str, data: bytes | None = None) -> StatementRejected:
    """Parse and check without a database (what the import does before writing)."""
    with pytest.raises(StatementRejected) as err:
        parsed = parse(fixture(name) if data is None else data, filename=name)
        for s in parsed.statements:
            statements._check(s, name)
    return err.value


class TestDetect:
    @pytest.mark.parametrize(("name", "fmt"), [("camt053_001_02.xml", "camt.053"), ("camt053_001_08.xml", "camt.053"),
                                               ("camt054_001_08.xml", "camt.054"), ("mt940_two_accounts.sta", "mt940")])
    def test_by_content_not_name(self, name, fmt):
        assert detect(fixture(name)) == fmt
        assert detect(b"\xef\xbb\xbf" + fixture(name)) == fmt

    @pytest.mark.parametrize("data", [b"", b"date,amount\n2026-01-01,1\n", b"<Invoice/>",
                                      b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08">'
                                      b"<BkToCstmrAcctRpt/></Document>",
                                      b":20:X\n:25:DE1\n:28C:1\n:34F:EURD0,\n:13D:2603141200+0100\n"])
    def test_anything_else_is_refused(self, data):
        with pytest.raises(StatementRejected):
            detect(data)


class TestCamt:
    def test_053_001_02_read_exactly(self):
        f = parse(fixture("camt053_001_02.xml"))
        assert (f.format, f.version) == ("camt.053", "camt.053.001.02")
        [s] = f.statements
        assert (s.statement_id, s.account, s.currency) == ("STMT-DE-20260314", "DE89370400440532013000", "EUR")
        assert (s.opening_minor, s.closing_minor) == (1000000, 1283317)  # PRCD 10000.00, CLBD 12833.17
        assert (s.from_date, s.to_date) == (date(2026, 3, 14), date(2026, 3, 14))
        amazon, fee, paypal, rent = s.entries
        assert (amazon.direction, amazon.amount_minor, amazon.bank_ref, amazon.reference) == (
            "credit", 234567, "2026031400001", "AMZ-SETTLE-18811220061")
        assert amazon.remittance == "AMAZON PAYMENTS EUROPE SETTLEMENT 18811220061 MARKETPLACE AMAZON.DE"
        assert (amazon.counterparty, amazon.transaction_code) == ("Amazon Payments Europe S.C.A.", "PMNT/RCDT/ESCT")
        assert (fee.direction, fee.amount_minor, fee.remittance) == ("debit", 1250, "Kontofuehrungsentgelt 03/2026")
        # no AcctSvcrRef: the NtryRef; EndToEndId NOTPROVIDED: the creditor reference
        assert (paypal.bank_ref, paypal.reference, paypal.value_date) == ("PP-NTRY-77810", "RF18539007547034",
                                                                          date(2026, 3, 15))
        assert rent.bank_ref.startswith("digest:") and rent.counterparty == "Hafen Logistik GmbH"
        assert parse(fixture("camt053_001_02.xml")).statements[0].entries[3].bank_ref == rent.bank_ref  # stable

    def test_053_001_08_two_currencies_and_a_batched_entry(self):
        f = parse(fixture("camt053_001_08.xml"))
        assert f.version == "camt.053.001.08"
        usd, eur = f.statements
        assert (usd.account, usd.currency, eur.account, eur.currency) == (
            "310066668888", "USD", "DE44500105175407324931", "EUR")
        batch = usd.entries[0]
        assert (batch.amount_minor, batch.bank_ref) == (300000, "USD20260314B001")  # one entry, as booked
        assert batch.reference == "SHOP-INV-1001; SHOP-INV-1002; SHOP-INV-1003"
        assert batch.remittance == "INVOICE 1001 SILK SCARVES\nINVOICE 1002\nINVOICE 1003 SILK TIES"
        assert batch.counterparty == "Acme Retail Inc; Blue Harbor Trading LLC"  # .08: Dbtr/Pty/Nm
        assert usd.entries[2].booking_date == date(2026, 3, 14)  # BookgDt/DtTm
        assert usd.entries[2].transaction_code == "CHG"  # proprietary code
        assert (eur.opening_minor, eur.closing_minor) == (-123456, 76544)  # a debit opening balance

    def test_054_keeps_pending_apart(self):
        f = parse(fixture("camt054_001_08.xml"))
        assert (f.format, f.version) == ("camt.054", "camt.054.001.08")
        [n] = f.statements
        assert (n.opening_minor, n.closing_minor) == (None, None)
        assert [(e.booked, e.amount_minor) for e in n.entries] == [(True, 876543), (False, 41000)]

    def test_namespace_agnostic(self):
        data = fixture("camt053_001_02.xml").decode()
        prefixed = data.replace('xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"',
                                'xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"')
        import re

        prefixed = re.sub(r"<(/?)(?!\?)([A-Za-z])", r"<\1c:\2", prefixed)
        a, b = parse(data.encode()), parse(prefixed.encode())
        assert b.version == "camt.053.001.04"
        assert a.statements[0].entries == b.statements[0].entries
        bare = data.replace(' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"', "")
        assert parse(bare.encode()).version is None

    def test_jpy_has_no_minor_digits(self):
        data = fixture("camt053_001_02.xml").decode()
        jpy = data.replace('Ccy="EUR"', 'Ccy="JPY"').replace("<Ccy>EUR</Ccy>", "<Ccy>JPY</Ccy>")
        err = refused("jpy.xml", jpy.encode())
        assert err.line == 52 and "balance 12833.17 JPY has more than 0 decimal places" in err.en
        [s] = camt.parse(_camt(Decimal(-5), [(True, Decimal(1500)), (False, Decimal(20))], currency="JPY")).statements
        assert (s.opening_minor, [e.amount_minor for e in s.entries], s.closing_minor) == (-5, [1500, 20], 1475)


class TestMt940:
    def test_two_statements_multiline_86_reversal_and_digest(self):
        f = parse(fixture("mt940_two_accounts.sta"))
        assert (f.format, f.version) == ("mt940", None)
        eur, usd = f.statements
        assert (eur.statement_id, eur.account, eur.currency) == ("STMT20260314/00071/001", "DE44500105175407324931",
                                                                 "EUR")
        assert (eur.opening_minor, eur.closing_minor, eur.from_date, eur.to_date) == (
            1500000, 1743067, date(2026, 3, 13), date(2026, 3, 14))
        amazon, fee, refund = eur.entries
        assert (amazon.amount_minor, amazon.bank_ref, amazon.reference, amazon.transaction_code) == (
            234567, "0314ABC0001", "AMZ18811220061", "NTRF")
        # a full 65-character line continues without a space
        assert amazon.remittance == ("AMAZON PAYMENTS EUROPE SCA SETTLEMENT 18811220061 MARKETPLACE AMAZON.DE "
                                     "PERIOD 2026-02-28 TO 2026-03-13")
        assert (fee.direction, fee.reference) == ("debit", None)  # NONREF
        assert refund.bank_ref.startswith("digest:") and refund.remittance == "REFUND FROM SUPPLIER INV 2026-0042"
        assert (amazon.line, fee.line, refund.line) == (6, 9, 11)
        assert (usd.opening_minor, usd.closing_minor) == (-10050, 491950)
        payout, reversal = usd.entries
        assert (payout.amount_minor, payout.remittance) == (500000, "PAYPAL PTE LTD PAYOUT 7781")  # "5000,"
        assert (reversal.direction, reversal.amount_minor) == ("credit", 2000)  # RD: reversal of a debit

    def test_a_bad_field_is_refused_with_line_and_tag(self):
        err = refused("mt940_bad_line.sta")
        assert (err.line, err.tag, err.position) == (9, ":61:", "line 9 (:61:)")
        assert "26031X" in err.en and err.zh

    def test_a_statement_without_closing_balance(self):
        data = fixture("mt940_two_accounts.sta").replace(b":62F:C260314USD4919,50\r\n", b"")
        err = refused("x.sta", data)
        assert err.line == 17 and ":62F:" in err.en


class TestRefusals:
    def test_balance_mismatch_names_the_statement(self):
        err = refused("camt053_bad_balance.xml")
        assert "STMT-DE-20260314" in err.position and "closing balance is 1283318" in err.en
        err = refused("mt940_bad_balance.sta")
        assert err.position.startswith("statement STMT20260314U/00012/001 of account 778899001 (line 17)")

    def test_control_total_mismatch(self):
        err = refused("camt053_bad_total.xml")
        assert err.line == 77 and "TtlCdtNtries/Sum says 334576, the entries sum to 334567" in err.en

    def test_doctype_is_refused_unread(self):
        err = refused("camt053_doctype.xml")
        assert err.line == 1 and "DOCTYPE" in err.en and "DOCTYPE" in err.zh

    def test_malformed_xml_and_amounts(self):
        assert refused("camt053_truncated.xml").position == "line 145, column 16"
        err = refused("camt053_bad_amount.xml")
        assert err.line == 138 and "more than 2 decimal places" in err.en


# --- generated statements: amounts round-trip exactly and the checks hold ------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2)
entries = st.lists(st.tuples(st.booleans(), amounts), min_size=0, max_size=12)


def _mt940(opening: Decimal, items) -> bytes:
    closing = opening + sum((a if c else -a) for c, a in items)

    def bal(tag, v):
        return f":{tag}:{'C' if v >= 0 else 'D'}260314EUR{str(abs(v)).replace('.', ',')}"

    lines = [":20:GEN", ":25:DE44500105175407324931", ":28C:1/1", bal("60F", opening)]
    for i, (credit, a) in enumerate(items):
        lines += [f":61:2603140314{'C' if credit else 'D'}{str(a).replace('.', ',')}NTRFREF{i}//B{i}", f":86:ITEM {i}"]
    lines.append(bal("62F", closing))
    return ("\r\n".join(lines) + "\r\n-\r\n").encode()


def _camt(opening: Decimal, items, currency="EUR") -> bytes:
    closing = opening + sum((a if c else -a) for c, a in items)

    def bal(code, v):
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy='{currency}'>{abs(v)}</Amt>"
                f"<CdtDbtInd>{'CRDT' if v >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>2026-03-14</Dt></Dt></Bal>")

    credits = [a for c, a in items if c]
    debits = [a for c, a in items if not c]
    ntries = "".join(
        f"<Ntry><Amt Ccy='{currency}'>{a}</Amt><CdtDbtInd>{'CRDT' if c else 'DBIT'}</CdtDbtInd>"
        f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-03-14</Dt></BookgDt><AcctSvcrRef>R{i}</AcctSvcrRef></Ntry>"
        for i, (c, a) in enumerate(items))
    summary = (f"<TxsSummry><TtlNtries><NbOfNtries>{len(items)}</NbOfNtries><Sum>{sum(credits + debits, Decimal(0))}"
               f"</Sum></TtlNtries><TtlCdtNtries><NbOfNtries>{len(credits)}</NbOfNtries><Sum>{sum(credits, Decimal(0))}"
               f"</Sum></TtlCdtNtries><TtlDbtNtries><NbOfNtries>{len(debits)}</NbOfNtries>"
               f"<Sum>{sum(debits, Decimal(0))}</Sum></TtlDbtNtries></TxsSummry>")
    return (f"<?xml version='1.0'?><Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'><BkToCstmrStmt>"
            f"<GrpHdr><MsgId>G</MsgId></GrpHdr><Stmt><Id>S</Id><Acct><Id><IBAN>DE44500105175407324931</IBAN></Id>"
            f"<Ccy>{currency}</Ccy></Acct>{bal('OPBD', opening)}{bal('CLBD', closing)}{summary}{ntries}</Stmt>"
            f"</BkToCstmrStmt></Document>").encode()


class TestGenerated:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(opening=st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("9999999.99"), places=2),
           items=entries)
    def test_amounts_round_trip_in_minor_units(self, opening, items):
        expected = [(("credit" if c else "debit"), int(a * 100)) for c, a in items]
        for data, reader in ((_mt940(opening, items), mt940.parse), (_camt(opening, items), camt.parse)):
            [s] = reader(data).statements
            assert [(e.direction, e.amount_minor) for e in s.entries] == expected
            assert s.opening_minor == int(opening * 100)
            statements._check(s, "generated")  # balances and control totals agree
            got = statements.totals(reader(data))
            want = {"credit": sum(m for d, m in expected if d == "credit"),
                    "debit": sum(m for d, m in expected if d == "debit")}
            assert got == ({"EUR": want} if items else {})

    @settings(max_examples=30, deadline=None)
    @given(items=st.lists(st.tuples(st.booleans(), st.decimals(min_value=Decimal("0.001"),
                                                               max_value=Decimal("9999.999"), places=3)),
                          min_size=1, max_size=6))
    def test_three_minor_digits(self, items):
        [s] = camt.parse(_camt(Decimal("0.000"), items, currency="KWD")).statements
        assert [e.amount_minor for e in s.entries] == [int(a * 1000) for _c, a in items]


# --- import: database, both backends ------------------------------------------------------------------


class TestImportStatement:
    def test_import_stores_statement_and_entries_and_sums_equal_the_file(self, db, world):
        result = do_import(db, world.a, "camt053_001_02.xml")
        assert (result.format, result.version, result.statements, result.entries, result.inserted,
                result.duplicates, result.already_imported) == ("camt.053", "camt.053.001.02", 1, 4, 4, 0, False)
        assert result.totals == {"EUR": {"credit": 334567, "debit": 51250}}
        with db.transaction(write=False) as s:
            repo = StatementRepository(s, as_tenant(world.a))
            row = repo.statement(result.statement_ids[0])
            assert row.file_sha256 == hashlib.sha256(fixture("camt053_001_02.xml")).hexdigest()
            assert (row.format, row.account, row.currency, row.opening_minor, row.closing_minor) == (
                "camt.053", "DE89370400440532013000", "EUR", 1000000, 1283317)
            rows = repo.entries_of(row.id)
            credit = sum(e.amount_minor for e in rows if e.direction == "credit")
            debit = sum(e.amount_minor for e in rows if e.direction == "debit")
            # TxsSummry of the file: TtlCdtNtries 3345.67, TtlDbtNtries 512.50, closing 12833.17
            assert (credit, debit) == (334567, 51250)
            assert row.opening_minor + credit - debit == row.closing_minor
            assert {e.status for e in rows} == {"unmatched"}
        assert counts(db) == (1, 4, 1)

    def test_same_file_twice_changes_nothing(self, db, world):
        do_import(db, world.a, "mt940_two_accounts.sta")
        before = counts(db)
        again = do_import(db, world.a, "mt940_two_accounts.sta")
        assert again.already_imported and (again.inserted, again.duplicates, again.entries) == (0, 5, 5)
        assert counts(db) == before == (2, 5, 1)

    def test_the_same_entries_in_another_file_are_duplicates(self, db, world):
        do_import(db, world.a, "mt940_two_accounts.sta")
        resent = fixture("mt940_two_accounts.sta").replace(b"\r\n", b"\n")  # other bytes, same statements
        again = do_import(db, world.a, "resent.sta", resent)
        assert (again.already_imported, again.inserted, again.duplicates) == (False, 0, 5)
        assert counts(db)[1] == 5

    def test_camt054_then_the_days_camt053_does_not_double(self, db, world):
        first = do_import(db, world.a, "camt054_001_08.xml")
        assert (first.format, first.entries, first.inserted, first.pending) == ("camt.054", 1, 1, 1)
        day = do_import(db, world.a, "camt053_001_08.xml")
        assert (day.statements, day.entries, day.inserted, day.duplicates) == (2, 4, 3, 1)
        assert day.totals == {"EUR": {"credit": 200000, "debit": 0}, "USD": {"credit": 1176543, "debit": 2500}}
        with db.transaction(write=False) as s:
            amazon = s.scalars(select(BankEntry).where(BankEntry.bank_ref == "USD20260314C002")).all()
            assert len(amazon) == 1 and amazon[0].statement_id == first.statement_ids[0]
            # two statements in one file: both carry the file's digest, numbered by their place in it
            rows = [s.get(BankStatement, (world.a.enterprise.id, i)) for i in day.statement_ids]
            digest = hashlib.sha256(fixture("camt053_001_08.xml")).hexdigest()
            assert [(r.file_sha256, r.seq, r.version) for r in rows] == [(digest, 1, "camt.053.001.08"),
                                                                         (digest, 2, "camt.053.001.08")]
        assert counts(db) == (3, 4, 2)

    @pytest.mark.parametrize("name", ["camt053_bad_balance.xml", "camt053_bad_total.xml", "camt053_doctype.xml",
                                      "camt053_truncated.xml", "camt053_bad_amount.xml", "mt940_bad_line.sta",
                                      "mt940_bad_balance.sta"])
    def test_refused_files_apply_nothing(self, db, world, name):
        with pytest.raises(StatementRejected) as err:
            do_import(db, world.a, name)
        assert err.value.detail.startswith(f"{name}: ") and err.value.status == 422
        assert err.value.extra["position"] and err.value.extra["reason_zh"]
        assert counts(db) == (0, 0, 0)

    def test_repeated_keys_inside_one_file_are_kept_apart(self, db, world):
        data = fixture("mt940_two_accounts.sta").replace(b"//0314ABC0002", b"//0314ABC0001").replace(
            b"D15,00NCHG", b"C2345,67NCHG").replace(b"EUR17430,67", b"EUR19791,34")
        result = do_import(db, world.a, "same-ref.sta", data)
        assert result.inserted == 5
        with db.transaction(write=False) as s:
            refs = sorted(s.scalars(select(BankEntry.bank_ref).where(BankEntry.bank_ref.like("0314ABC%"))))
        assert refs == ["0314ABC0001", "0314ABC0001#2"]

    def test_another_tenant_cannot_read_and_imports_its_own(self, db, world):
        mine = do_import(db, world.a, "camt053_001_02.xml")
        with db.transaction(write=False) as s:
            theirs = StatementRepository(s, as_tenant(world.b))
            with pytest.raises(NotFound):
                theirs.statement(mine.statement_ids[0])
            assert s.scalars(theirs.statements()).all() == [] and s.scalars(theirs.entries()).all() == []
        other = do_import(db, world.b, "camt053_001_02.xml")  # the same file is new for another enterprise
        assert (other.already_imported, other.inserted) == (False, 4)

    def test_a_reader_may_not_import(self, db, world):
        reader = replace(as_tenant(world.a), kind="user", role="viewer")
        from tradeloop.kit.errors import Forbidden

        with pytest.raises(Forbidden), db.transaction() as s:
            statements.import_statement(s, principal=reader, filename="x.xml", data=fixture("camt053_001_02.xml"))


class TestStatementCommand:
    @pytest.fixture
    def run(self, db, world, database_url, tmp_path):
        from tradeloop.finance.statement_cli import statement_command

        app = typer.Typer()
        app.callback()(lambda: None)
        app.command("statement")(statement_command)
        runner = CliRunner()

        def go(name, *extra, enterprise=world.a.enterprise.uscc):
            return runner.invoke(app, ["statement", str(FIXTURES / name), "--enterprise", enterprise,
                                       "--data-dir", str(tmp_path / "data"), *extra],
                                 env={"TRADELOOP_DATABASE_URL": database_url})

        return go

    def test_json_shape_and_exit_codes(self, run):
        first = run("camt053_001_08.xml", "--json")
        assert first.exit_code == 0, first.output
        body = json.loads(first.stdout)
        assert list(body) == ["format", "version", "statements", "entries", "inserted", "duplicates", "pending",
                              "already_imported", "totals"]
        assert body == {"format": "camt.053", "version": "camt.053.001.08", "statements": 2, "entries": 4,
                        "inserted": 4, "duplicates": 0, "pending": 0, "already_imported": False,
                        "totals": {"EUR": {"credit": 200000, "debit": 0}, "USD": {"credit": 1176543, "debit": 2500}}}
        again = run("camt053_001_08.xml", "--json")
        assert again.exit_code == 0
        assert json.loads(again.stdout)["already_imported"] is True and json.loads(again.stdout)["inserted"] == 0
        bad = run("mt940_bad_line.sta", "--json")
        assert bad.exit_code == 2 and "line 9 (:61:)" in bad.output and "nothing applied" in bad.output
        text = run("camt054_001_08.xml")
        assert text.exit_code == 0 and "1 pending" in text.output

    def test_unknown_enterprise(self, run):
        assert run("camt053_001_02.xml", enterprise="91320509MA1XXXXXX0").exit_code == 1


class TestApi:
    @pytest.fixture
    def client(self, app):
        from fastapi.testclient import TestClient

        from tradeloop.finance import statement_api

        if not any(getattr(r, "path", "") == "/api/v1/finance/statements" for r in app.routes):
            app.include_router(statement_api.router, prefix="/api/v1")
        with TestClient(app) as c:
            yield c

    def _login(self, client, username):
        client.headers["X-CSRF-Token"] = login(client, username)

    def test_upload_list_detail_entries_and_isolation(self, client, world):
        self._login(client, world.a.users["operator"])
        r = client.post("/api/v1/finance/statements",
                        files={"file": ("whatever.bin", fixture("camt053_001_08.xml"), "application/octet-stream")})
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["format"], body["inserted"], body["totals"]["USD"]) == ("camt.053", 4,
                                                                             {"credit": 1176543, "debit": 2500})
        again = client.post("/api/v1/finance/statements", files={"file": ("x", fixture("camt053_001_08.xml"))})
        assert again.status_code == 200 and again.json()["already_imported"] is True
        bad = client.post("/api/v1/finance/statements", files={"file": ("b.xml", fixture("camt053_bad_total.xml"))})
        assert bad.status_code == 422 and bad.json()["position"] == "line 77"
        assert bad.json()["errors"][0]["message_zh"]
        listed = client.get("/api/v1/finance/statements").json()["items"]
        assert {s["account"] for s in listed} == {"310066668888", "DE44500105175407324931"}
        usd = next(s for s in listed if s["currency"] == "USD")
        detail = client.get(f"/api/v1/finance/statements/{usd['id']}").json()
        assert detail["entry_count"] == 3 and detail["entries"][0]["amount_minor"] in (300000, 876543, 2500)
        page = client.get("/api/v1/finance/bank-entries", params={"direction": "credit", "currency": "USD",
                                                                  "date_from": "2026-03-14", "date_to": "2026-03-14",
                                                                  "limit": 1})
        assert page.status_code == 200 and len(page.json()["items"]) == 1 and page.json()["next_cursor"]
        nxt = client.get("/api/v1/finance/bank-entries", params={"direction": "credit", "currency": "USD",
                                                                 "cursor": page.json()["next_cursor"]}).json()
        assert len(nxt["items"]) == 1 and nxt["next_cursor"] is None
        assert client.get("/api/v1/finance/bank-entries", params={"status": "matched"}).json()["items"] == []

        client.cookies.clear()
        self._login(client, world.b.users["admin"])
        assert client.get(f"/api/v1/finance/statements/{usd['id']}").status_code == 404
        assert client.get("/api/v1/finance/statements").json()["items"] == []
        assert client.get("/api/v1/finance/bank-entries").json()["items"] == []

    def test_viewer_may_read_not_import(self, client, world):
        self._login(client, world.a.users["viewer"])
        r = client.post("/api/v1/finance/statements", files={"file": ("x", fixture("camt053_001_02.xml"))})
        assert r.status_code == 403
        assert client.get("/api/v1/finance/statements").status_code == 200
