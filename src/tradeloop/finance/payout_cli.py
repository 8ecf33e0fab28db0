"""``tradeloop import settlement FILE --channel amazon|paypal|PROFILE --enterprise USCC [--json]``.

The file is one transaction: exit 0 when it was applied (including "nothing changed" for a file imported
before), exit 2 when it was refused and nothing was applied. ``--json`` prints exactly
``{"source", "payouts", "items", "inserted", "updated", "unchanged", "linked_items", "totals": {CUR: {"credit",
"debit"}}}`` on stdout (amounts in minor units; transfers to the bank excluded from the totals); a refusal
prints ``{"errors": [{"row", "column", "value", "reason", "reason_zh"}]}`` instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

FATAL_EXIT = 2


def settlement_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="Amazon Settlement Report V2 flat file, PayPal settlement report "
                                              "(STL) CSV, or a payment firm's CSV/.xlsx")],
    channel: Annotated[str, typer.Option(help="amazon|paypal|PROFILE (payoneer, pingpong, lianlian, worldfirst "
                                              "starter layouts, or a profile saved by the enterprise)")],
    enterprise: Annotated[str, typer.Option(help="USCC of the enterprise the payouts belong to")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]
    = None,
):
    """Import a platform settlement as payouts with typed items (the same file twice changes nothing; a
    re-issued settlement replaces its items)."""
    from dataclasses import replace

    from tradeloop.cli import _database, _enterprise_by_uscc, _fail, _redacted, _settings
    from tradeloop.finance import payouts
    from tradeloop.kit.errors import DomainError
    from tradeloop.kit.tables import ImportRejected
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.migrate import NotMigrated, assert_migrated

    settings = _settings(data_dir)
    db = _database(settings)
    try:
        assert_migrated(db.engine)
    except NotMigrated as exc:
        db.dispose()
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the database cannot be reached
        db.dispose()
        _fail(f"Cannot reach the database {_redacted(settings)}: {exc}")
    try:
        with db.transaction() as session:
            principal = system_principal(label="cli import settlement")
            ent = _enterprise_by_uscc(session, principal, enterprise)
            result = payouts.import_settlement(session, principal=replace(principal, enterprise_id=ent.id),
                                               filename=file.name, data=file.read_bytes(), channel=channel)
    except ImportRejected as exc:
        if as_json:
            sys.stdout.write(json.dumps({"errors": [
                {"row": e.row, "column": e.column, "value": e.value, "reason": e.message_en,
                 "reason_zh": e.message_zh} for e in exc.row_errors]}, ensure_ascii=False) + "\n")
        for e in exc.row_errors[:50]:
            typer.echo(f"row {e.row}: {e.column}: {e.value!r}: {e.message_en} / {e.message_zh}", err=True)
        typer.echo(f"Nothing was imported: {len(exc.row_errors)} problem(s).", err=True)
        raise typer.Exit(FATAL_EXIT) from None
    except DomainError as exc:
        _fail("\n".join([exc.detail] + [f"  {e.field}: {e.message_en} / {e.message_zh}" for e in exc.errors]))
    finally:
        db.dispose()
    if as_json:
        sys.stdout.write(json.dumps(result.as_cli(), ensure_ascii=False) + "\n")
        return
    typer.echo(f"{result.source}: {result.payouts} payout(s), {result.items} items ({result.inserted} new, "
               f"{result.updated} updated, {result.unchanged} unchanged), {result.linked_items} items linked to "
               "sales lines")
    for cur, t in sorted(result.totals.items()):
        typer.echo(f"  {cur}: credit {t['credit']}, debit {t['debit']} (minor units)")
