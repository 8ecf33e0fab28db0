"""``tradeloop rates ecb|import|show``: exchange rates with their source."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

rates_app = typer.Typer(no_args_is_help=True, help="Exchange rates (CNY per unit) with their source.")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: per-user data dir)")]


@rates_app.command("ecb")
def ecb(since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default: all, since 1999)")] = None,
        until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD")] = None,
        data_dir: DataDir = None):
    """Load the ECB euro reference rates shipped with the application, crossed to CNY through EUR."""
    from tradeloop.cli import _run, _settings
    from tradeloop.finance import rates

    result = _run(_settings(data_dir), lambda s, p: rates.load_ecb(
        s, principal=p, since=date.fromisoformat(since) if since else None,
        until=date.fromisoformat(until) if until else None))
    _print(result)


@rates_app.command("import")
def import_file(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
                source: Annotated[str, typer.Option(help="cfets (central parity), customs (monthly), ecb, manual")],
                data_dir: DataDir = None):
    """Import rates from CSV/.xlsx (date,currency,rate[,unit], or date + pair columns such as USD/CNY,
    100JPY/CNY, CNY/MYR); all or nothing; the same file twice changes nothing."""
    from tradeloop.cli import _run, _settings
    from tradeloop.finance import rates

    _print(_run(_settings(data_dir), lambda s, p: rates.import_rates(s, principal=p, filename=file.name,
                                                                      data=file.read_bytes(), source=source)))


@rates_app.command("show")
def show(currency: str, day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
         rule: Annotated[str, typer.Option(help="sale_date or customs_month")] = "sale_date",
         data_dir: DataDir = None):
    """The conversion a rule gives for a currency and day (exit 1 when the rate is missing)."""
    from tradeloop.cli import _run, _settings
    from tradeloop.finance import rates

    found = _run(_settings(data_dir), lambda s, p: rates.find(s, currency, date.fromisoformat(day), rule))
    if found is None:
        typer.echo(f"no {currency.upper()} rate for {day} under the rule {rule}", err=True)
        raise typer.Exit(1)
    sys.stdout.write(json.dumps(found.as_dict(), ensure_ascii=False) + "\n")


def _print(result) -> None:
    d = result.as_dict()
    typer.echo(f"{d['source']}: {d['rows']} rates ({d['inserted']} new, {d['updated']} changed, {d['unchanged']} "
               f"unchanged), {len(d['currencies'])} currencies, {d['first_day']} … {d['last_day']}")
