"""Bank statement import: camt.053, camt.054 and MT940 files, detected by content, into ``bank_statements``
and ``bank_entries`` (money coming back, 收汇, before it is matched to payouts).

One file is one transaction and one audit row. Before anything is written the whole file is read and
checked; any problem refuses the file (nothing applied) with its position:

* every statement's booked balances agree with its booked entries: opening + credits − debits = closing,
  in minor units (camt.053 and MT940; a camt.054 notification has no balances);
* the control totals a camt file states (``TxsSummry``: ``TtlNtries``, ``TtlCdtNtries``, ``TtlDbtNtries`` —
  number of entries and ``Sum``) equal the sums of its entries in minor units.

Idempotent at two levels:

* the file: its SHA-256 is kept per enterprise (``uq_bank_statements_file``); the same file again reports
  ``already_imported`` and changes nothing;
* the entry: (account, booking day, bank reference, direction, amount) is unique per enterprise
  (``uq_bank_entries_key``), so an entry that a camt.054 notification brought in is counted as a duplicate
  when the day's camt.053 (or a re-sent MT940) carries it again. Entries of one file that share that key
  (one bank reference for two equal bookings) are told apart by a ``#2``, ``#3`` … suffix on the reference,
  in file order, which a later file repeating them reproduces.

Pending entries (camt ``Sts`` other than BOOK) are read and counted (``pending``) but not stored: they are
not booked yet and come again, booked, in a later file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.finance.money_models import EntryStatus
from tradeloop.finance.parsers import Statement, StatementFile, StatementRejected, detect
from tradeloop.finance.statement_repository import EntryKey, StatementRepository
from tradeloop.kit.errors import Conflict
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.reference.lookup import ReferenceLookup


@dataclass
class StatementImport:
    format: str
    version: str | None
    filename: str
    file_sha256: str
    statements: int
    entries: int  # booked entries in the file
    inserted: int = 0
    duplicates: int = 0
    pending: int = 0
    already_imported: bool = False
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    statement_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.already_imported:
            return (f"{self.filename}: already imported ({self.format}, {self.statements} statement(s), "
                    f"{self.entries} entries); nothing changed")
        return (f"{self.filename}: {self.format} {self.statements} statement(s), {self.entries} entries: "
                f"{self.inserted} new, {self.duplicates} already known" +
                (f", {self.pending} pending not stored" if self.pending else ""))

    def as_cli(self) -> dict:
        """The ``--json`` shape (documented in README.md and docs/finance.md)."""
        return {"format": self.format, "version": self.version, "statements": self.statements,
                "entries": self.entries, "inserted": self.inserted, "duplicates": self.duplicates,
                "pending": self.pending, "already_imported": self.already_imported, "totals": self.totals}

    def as_dict(self) -> dict:
        return {**self.as_cli(), "filename": self.filename, "file_sha256": self.file_sha256,
                "statement_ids": [str(i) for i in self.statement_ids], "message": self.message}


def read_file(session: Session, *, filename: str, data: bytes) -> StatementFile:
    """Detect and read a statement file with the ISO 4217 minor units of the reference data; raises
    :class:`StatementRejected` with the position."""
    if not data.strip():
        raise StatementRejected("the file is empty", "文件为空", filename=filename)
    lookup = ReferenceLookup(session)
    try:
        fmt = detect(data)
        if fmt == "mt940":
            from tradeloop.finance.parsers import mt940

            parsed = mt940.parse(data, minor_units=lookup.minor_units, filename=filename)
        else:
            from tradeloop.finance.parsers import camt

            parsed = camt.parse(data, minor_units=lookup.minor_units, filename=filename)
    except StatementRejected as exc:
        raise _named(exc, filename) from None
    for st in parsed.statements:
        _check(st, filename)
    return parsed


def _named(exc: StatementRejected, filename: str) -> StatementRejected:
    return StatementRejected(exc.en, exc.zh, line=exc.line, tag=exc.tag,
                             where=exc.position if exc.position != "file" else None, filename=filename)


def _check(st: Statement, filename: str) -> None:
    where = f"{st.label} (line {st.line})" if st.line else st.label
    booked = [e for e in st.entries if e.booked]
    if st.format in ("camt.053", "mt940") and (st.opening_minor is None or st.closing_minor is None):
        raise StatementRejected(
            "a statement without its booked opening (OPBD or PRCD) and closing (CLBD) balances",
            "对账单缺少已记账期初余额（OPBD 或 PRCD）或期末余额（CLBD）", where=where, filename=filename)
    if st.opening_minor is not None and st.closing_minor is not None:
        moved = sum(e.signed_minor for e in booked)
        if st.opening_minor + moved != st.closing_minor:
            raise StatementRejected(
                f"balances do not agree with the entries: opening {st.opening_minor} + credits − debits "
                f"{moved:+d} = {st.opening_minor + moved}, but the closing balance is {st.closing_minor} "
                f"(minor units of {st.currency})",
                f"余额与分录不符：期初 {st.opening_minor} + 贷方 − 借方 {moved:+d} = {st.opening_minor + moved}，"
                f"但期末余额为 {st.closing_minor}（{st.currency} 最小货币单位）", where=where, filename=filename)
    for total in st.declared:
        chosen = [e for e in booked if total.kind == "all" or e.direction == total.kind]
        label = {"all": "TtlNtries", "credit": "TtlCdtNtries", "debit": "TtlDbtNtries"}[total.kind]
        if total.count is not None and total.count != len(chosen):
            raise StatementRejected(f"{label}/NbOfNtries says {total.count} entries, the statement has {len(chosen)}",
                                    f"{label}/NbOfNtries 为 {total.count} 笔，对账单实有 {len(chosen)} 笔",
                                    line=total.line, filename=filename)
        amount = sum(e.amount_minor for e in chosen)
        if total.sum_minor is not None and total.sum_minor != amount:
            raise StatementRejected(f"{label}/Sum says {total.sum_minor}, the entries sum to {amount} "
                                    f"(minor units of {st.currency})",
                                    f"{label}/Sum 为 {total.sum_minor}，分录合计 {amount}"
                                    f"（{st.currency} 最小货币单位）",
                                    line=total.line, filename=filename)


def totals(parsed: StatementFile) -> dict[str, dict[str, int]]:
    """Per currency, the credit and debit totals of the booked entries, in minor units."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"credit": 0, "debit": 0})
    for st in parsed.statements:
        for e in st.entries:
            if e.booked:
                out[e.currency][e.direction] += e.amount_minor
    return {k: out[k] for k in sorted(out)}


def _clip(value: str | None, size: int) -> str | None:
    if value is None or len(value) <= size:
        return value
    return value[: size - 1] + "…"


def import_statement(session: Session, *, principal: Principal, filename: str, data: bytes) -> StatementImport:
    """Read, check and store a bank statement file (camt.053, camt.054 or MT940, by content); all or nothing.

    Raises :class:`StatementRejected` (422) naming the position of the first problem; nothing is applied."""
    principal.tenant(Action.WRITE)
    filename = (filename or "statement").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:255]
    parsed = read_file(session, filename=filename, data=data)
    sha = hashlib.sha256(data).hexdigest()
    booked = [(i, e) for i, st in enumerate(parsed.statements) for e in st.entries if e.booked]
    result = StatementImport(format=parsed.format, version=parsed.version, filename=filename, file_sha256=sha,
                             statements=len(parsed.statements), entries=len(booked),
                             pending=sum(1 for st in parsed.statements for e in st.entries if not e.booked),
                             totals=totals(parsed))
    repo = StatementRepository(session, principal)
    existing = repo.by_file(sha)
    if existing is not None:
        result.already_imported = True
        result.duplicates = result.entries
        result.statement_ids = [existing.id]
        return result

    # Keys, with repeats inside the file told apart by their order.
    seen: dict[EntryKey, int] = defaultdict(int)
    keyed: list[tuple[int, object, EntryKey]] = []
    for i, e in booked:
        account = parsed.statements[i].account
        base = (account, e.booking_date, _clip(e.bank_ref, 90), e.direction, e.amount_minor)
        seen[base] += 1
        ref = base[2] if seen[base] == 1 else f"{base[2]}#{seen[base]}"
        keyed.append((i, e, (account, e.booking_date, ref, e.direction, e.amount_minor)))
    known = repo.existing_keys([k for _i, _e, k in keyed])

    try:
        with session.begin_nested():
            rows = []
            for index, st in enumerate(parsed.statements):
                rows.append(repo.add_statement(
                    format=st.format, version=parsed.version, statement_id=_clip(st.statement_id, 100),
                    account=_clip(st.account, 64), currency=st.currency, opening_minor=st.opening_minor,
                    closing_minor=st.closing_minor, from_date=st.from_date, to_date=st.to_date, filename=filename,
                    file_sha256=sha, seq=index + 1))
            session.flush()
            new = []
            for i, e, key in keyed:
                if key in known:
                    result.duplicates += 1
                    continue
                new.append({"statement_id": rows[i].id, "account": key[0], "booking_date": e.booking_date,
                            "value_date": e.value_date, "direction": e.direction, "amount_minor": e.amount_minor,
                            "currency": e.currency, "bank_ref": key[2], "reference": _clip(e.reference, 140),
                            "remittance": e.remittance, "counterparty": _clip(e.counterparty, 140),
                            "transaction_code": _clip(e.transaction_code, 40), "matched_minor": 0,
                            "status": EntryStatus.UNMATCHED.value})
            repo.add_entries(new)
            result.inserted = len(new)
    except IntegrityError:
        raise Conflict("Another import of the same statement or entries ran at the same time; try again.",
                       message_zh="同一对账单或分录正在被另一导入处理，请重试") from None
    result.statement_ids = [r.id for r in rows]
    audit.record(session, principal=principal, action="finance.statement.import", entity_type="bank_statement",
                 entity_id=rows[0].id, after={
                     "filename": filename, "file_sha256": sha, "format": parsed.format, "version": parsed.version,
                     "statements": [{"id": str(r.id), "statement_id": r.statement_id, "account": r.account,
                                     "currency": r.currency} for r in rows],
                     "entries": result.entries, "inserted": result.inserted, "duplicates": result.duplicates,
                     "pending": result.pending, "totals": result.totals})
    return result
