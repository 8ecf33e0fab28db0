"""``tradeloop import statement FILE --enterprise USCC [--json] [--data-dir DIR]``: a bank statement (camt.053,
camt.054 or MT940, detected by content) in one transaction.

Exit 0 when it was applied or had already been imported; exit 2 when the file was refused (nothing applied),
with the reason and its position (XML line, or MT940 line and tag) on stderr; exit 1 for other failures
(unknown enterprise, no database). ``--json`` prints exactly::

    {"format": "camt.053", "version": "camt.053.001.08", "statements": 2, "entries": 4, "inserted": 3,
     "duplicates": 1, "pending": 0, "already_imported": false,
     "totals": {"EUR": {"credit": 200000, "debit": 0}, "USD": {"credit": 1176543, "debit": 2500}}}

``totals`` are per currency, the booked credits and debits of the file in minor units (ISO 4217).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

FATAL_EXIT = 2


def statement_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="camt.053 or camt.054 (ISO 20022 XML) or SWIFT MT940 file")],
    enterprise: Annotated[str, typer.Option(help="USCC of the enterprise that holds the account")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]
    = None,
):
    """Import a bank statement (camt.053, camt.054 or MT940, detected by content); all or nothing, and the
    same file (or an entry already brought by another file) twice changes nothing."""
    from dataclasses import replace

    from sqlalchemy.exc import OperationalError

    from tradeloop.cli import _database, _enterprise_by_uscc, _fail, _redacted, _settings
    from tradeloop.finance import statements
    from tradeloop.finance.parsers import StatementRejected
    from tradeloop.kit.errors import DomainError
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.migrate import NotMigrated, assert_migrated

    settings = _settings(data_dir)
    db = _database(settings)
    try:
        try:
            assert_migrated(db.engine)
        except NotMigrated as exc:
            _fail(str(exc))
        except OperationalError as exc:
            _fail(f"Cannot reach the database {_redacted(settings)}: {exc.orig}")
        try:
            size = file.stat().st_size
            from tradeloop.customs.ceb.safe import MAX_BYTES

            if size > MAX_BYTES:
                _fail(f"{file.name}: {size} bytes, more than the limit of {MAX_BYTES} / 文件超过大小上限", FATAL_EXIT)
            data = file.read_bytes()
            with db.transaction() as session:
                principal = system_principal(label="cli import statement")
                ent = _enterprise_by_uscc(session, principal, enterprise)
                result = statements.import_statement(session, principal=replace(principal, enterprise_id=ent.id),
                                                     filename=file.name, data=data)
        except StatementRejected as exc:
            _fail(f"{file.name}: refused, nothing applied: {exc.message}", FATAL_EXIT)
        except DomainError as exc:
            _fail("\n".join([exc.detail] + [f"  {e.field}: {e.message_en} / {e.message_zh}" for e in exc.errors]))
    finally:
        db.dispose()
    if as_json:
        sys.stdout.write(json.dumps(result.as_cli(), ensure_ascii=False) + "\n")
    else:
        typer.echo(result.message)
        for currency, sums in result.totals.items():
            typer.echo(f"  {currency}: credit {sums['credit']}, debit {sums['debit']} (minor units)")
