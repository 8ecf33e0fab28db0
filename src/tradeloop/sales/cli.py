"""``tradeloop import orders FILE --channel amazon|shopify|ebay|generic --enterprise USCC [--profile NAME] [--json]``.

The whole file is one transaction: exit 0 when it was applied (rows with errors are left out and listed),
exit 2 when a fatal problem applied nothing. A progress bar runs on stderr; ``--json`` prints exactly
``{"read", "inserted", "updated", "unchanged", "rejected", "errors": [{"row", "column", "value", "reason"}]}``
on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

import_app = typer.Typer(no_args_is_help=True, help="Import files: marketplace and own-site orders.")

FATAL_EXIT = 2


@import_app.command("orders")
def import_orders_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="Amazon All Orders report (TSV), Shopify orders CSV, eBay orders "
                                              "report CSV, or any CSV/.xlsx with --channel generic --profile")],
    channel: Annotated[str, typer.Option(help="amazon|shopify|ebay|generic")],
    enterprise: Annotated[str, typer.Option(help="USCC of the enterprise the orders belong to")],
    profile: Annotated[str | None, typer.Option(help="Column profile of the generic importer (by name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
    timezone: Annotated[str | None, typer.Option(
        help="IANA time zone of times written without an offset (default: UTC; eBay: America/Los_Angeles; "
             "generic: the profile's)")] = None,
    max_bad_share: Annotated[float | None, typer.Option(
        min=0, max=1, help="Apply nothing when more than this share of rows is bad (e.g. 0.1)")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]
    = None,
):
    """Import order lines from a marketplace or own-site order file (upsert: the same file twice changes
    nothing)."""
    from dataclasses import replace

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    from tradeloop.cli import _database, _enterprise_by_uscc, _fail, _redacted, _settings
    from tradeloop.kit.errors import DomainError
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.migrate import NotMigrated, assert_migrated
    from tradeloop.sales import service

    settings = _settings(data_dir)
    db = _database(settings)
    console = Console(stderr=True)
    try:
        assert_migrated(db.engine)
    except NotMigrated as exc:
        db.dispose()
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the database cannot be reached
        db.dispose()
        _fail(f"Cannot reach the database {_redacted(settings)}: {exc}")
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                   TextColumn("{task.fields[read]:,} lines"), TimeElapsedColumn(), console=console,
                   transient=False, disable=not console.is_terminal)
    task = bar.add_task(file.name, total=file.stat().st_size, read=0)

    def progress(p: service.ImportProgress) -> None:
        bar.update(task, completed=p.done, total=p.total or None, read=p.read)

    result = None
    try:
        with bar, db.transaction() as session:
            principal = system_principal(label="cli import")
            ent = _enterprise_by_uscc(session, principal, enterprise)
            result = service.import_orders(session, principal=replace(principal, enterprise_id=ent.id), path=file,
                                           channel=channel, profile=profile, timezone=timezone,
                                           max_error_share=max_bad_share, progress=progress)
    except service.ImportFatal as exc:
        result = exc.result
    except DomainError as exc:
        db.dispose()
        _fail("\n".join([exc.detail] + [f"  {e.field}: {e.message_en} / {e.message_zh}" for e in exc.errors]))
    finally:
        db.dispose()
    for warning in result.warnings[:20]:
        console.print(f"warning: row {warning.row}: SKU {warning.value!r} is not in the catalogue "
                      "(imported, flagged sku_unknown)", markup=False, highlight=False)
    if len(result.warnings) > 20:
        console.print(f"warning: {len(result.warnings) - 20} more unknown SKUs", markup=False, highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(result.as_cli(), ensure_ascii=False) + "\n")
    else:
        for e in result.errors[:50]:
            console.print(f"row {e.row}: {e.column}: {e.value!r}: {e.reason}", markup=False, highlight=False)
        if len(result.errors) > 50:
            console.print(f"… {result.errors_total - 50} more problems", markup=False, highlight=False)
        typer.echo(result.message)
    if result.fatal:
        raise typer.Exit(FATAL_EXIT)


def fulfil_command(
    enterprise: Annotated[str, typer.Option(help="USCC of the exporter whose sales are fulfilled")],
    warehouse: Annotated[str, typer.Option(help="Code of the warehouse the sales ship from (one the exporter "
                                                "owns or uses)")],
    channel: Annotated[str | None, typer.Option(help="Only lines of this channel (amazon, shopify, …)")] = None,
    marketplace: Annotated[str | None, typer.Option(help="Only lines of this marketplace, e.g. Amazon.de")] = None,
    fulfillment_channel: Annotated[str | None, typer.Option(
        "--fulfillment-channel", help="Only lines with this fulfilment channel, e.g. AFN or MFN")] = None,
    country: Annotated[list[str] | None, typer.Option(
        "--country", help="Only lines shipping to this ISO alpha-2 country (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]
    = None,
):
    """Link imported sales lines to outbound orders of a warehouse, FIFO from its lots (the lineage back to
    the export declarations). Running it again links only what is new."""
    from dataclasses import replace

    from tradeloop.cli import _enterprise_by_uscc, _fail, _run, _settings
    from tradeloop.sales import fulfilment
    from tradeloop.warehouse.repository import WarehouseRepository

    def run(session, principal):
        ent = _enterprise_by_uscc(session, principal, enterprise)
        tenant = replace(principal, enterprise_id=ent.id, label="cli fulfil")
        found = [w for w in session.scalars(WarehouseRepository(session, tenant).filtered()) if w.code == warehouse]
        if not found:
            _fail(f"No warehouse with code {warehouse} is owned or used by {enterprise}.")
        return fulfilment.fulfil_orders(session, principal=tenant, warehouse_id=found[0].id, channel=channel,
                                        marketplace=marketplace, fulfillment_channel=fulfillment_channel,
                                        buyer_countries=country)

    result = _run(_settings(data_dir), run)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
        return
    typer.echo(f"orders created {result.orders_created}, linked {result.orders_linked}; lines linked "
               f"{result.lines_linked}; units allocated {result.units_allocated}, shipped {result.units_shipped}; "
               f"shipped later {result.orders_shipped_later}, cancelled {result.orders_cancelled}; "
               f"short {len(result.short)}")
    for s in result.short[:50]:
        typer.echo(f"short: order {s['order']} {s['sku']}: {s['wanted']} wanted, {s['available']} available")
