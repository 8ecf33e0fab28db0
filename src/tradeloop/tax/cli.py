"""``tradeloop tax calc``: the rebate calculator for what-if work, printing every intermediate figure; the rebate
claim commands (``tax candidates``, ``tax claims``, ``tax claim …``) are in ``tax/claim_cli.py``."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from tradeloop.tax.claim_cli import candidates_command, claim_app, claims_command

tax_app = typer.Typer(no_args_is_help=True, help="Export VAT rebates (出口退税).")
tax_app.command("candidates")(candidates_command)
tax_app.command("claims")(claims_command)
tax_app.add_typer(claim_app, name="claim")


@tax_app.command("calc")
def calc(
    method: Annotated[str, typer.Option(help="trader (免退税) or manufacturer (免抵退)")],
    invoice_amount: Annotated[str | None, typer.Option(help="trader: purchase invoice amount excl. VAT, CNY")] = None,
    rebate_rate: Annotated[str | None, typer.Option(help="出口退税率: 0.13 or 13%")] = None,
    levy_rate: Annotated[str | None, typer.Option(help="征税率: 0.13 or 13% (trader: optional)")] = None,
    fob_cny: Annotated[str | None, typer.Option(help="manufacturer: FOB of the period's exports in CNY")] = None,
    domestic_output_vat: Annotated[str | None, typer.Option(help="manufacturer: 当期内销销项税额, CNY")] = None,
    input_vat: Annotated[str | None, typer.Option(help="manufacturer: 当期全部进项税额, CNY")] = None,
    opening_credit: Annotated[str | None, typer.Option(help="manufacturer: 上期留抵税额, CNY")] = None,
    duty_free_materials: Annotated[str, typer.Option(
        help="manufacturer: 当期免税购进原材料价格 (bonded materials), CNY")] = "0",
):
    """Compute a rebate with the formulas of domain.md §3.3 and print JSON: every figure named as there,
    amounts as decimal strings in CNY with 2 places. Exit 2 naming the field when an input is wrong."""
    from tradeloop.tax import rebate

    try:
        result = rebate.calculate(method=method, rebate_rate=rebate_rate, invoice_amount=invoice_amount,
                                  levy_rate=levy_rate, fob_cny=fob_cny, domestic_output_vat=domestic_output_vat,
                                  input_vat=input_vat, opening_credit=opening_credit,
                                  duty_free_materials=duty_free_materials)
    except rebate.RebateInputError as exc:
        typer.echo(f"--{exc.field.replace('_', '-')}: {exc.en} / {exc.zh}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(result.figures(), ensure_ascii=False, indent=2) + "\n")


def invoices_command(
    file: Annotated[str, typer.Argument(help="CSV/.xlsx of purchase VAT invoices, one row per invoice line")],
    enterprise: Annotated[str, typer.Option(help="USCC of the buyer (the exporter)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object")] = False,
    allocate: Annotated[bool, typer.Option("--allocate", help="Then allocate invoice lines to exported "
                                                              "declaration lines by SKU")] = False,
    data_dir: Annotated[str | None, typer.Option("--data-dir", help="Data directory")] = None,
):
    """Import purchase invoices (进项发票); all or nothing; the same file twice changes nothing. Exit 2 with the
    row-level report when refused."""
    from dataclasses import replace
    from pathlib import Path

    from tradeloop.cli import _enterprise_by_uscc, _run, _settings
    from tradeloop.kit.tables import ImportRejected
    from tradeloop.tax import invoices

    path = Path(file)
    if not path.is_file():
        typer.echo(f"{file}: no such file", err=True)
        raise typer.Exit(2)

    def run(session, principal):
        tenant = replace(principal, enterprise_id=_enterprise_by_uscc(session, principal, enterprise).id,
                         label="cli invoices")
        try:
            result = invoices.import_invoices(session, principal=tenant, filename=path.name, data=path.read_bytes())
        except ImportRejected as exc:  # validated before anything is written: nothing to undo
            return {"rejected": [e.as_dict() for e in exc.row_errors]}
        out = result.as_dict()
        if allocate:
            out["allocation"] = invoices.auto_allocate(session, principal=tenant).as_dict()
        return out

    out = _run(_settings(Path(data_dir) if data_dir else None), run)
    if "rejected" in out:
        if as_json:
            sys.stdout.write(json.dumps({"errors": out["rejected"]}, ensure_ascii=False) + "\n")
        for e in out["rejected"][:50]:
            typer.echo(f"row {e['row']}: {e['column']}: {e['value']!r}: {e['message']} / {e['message_zh']}", err=True)
        typer.echo("nothing was imported", err=True)
        raise typer.Exit(2)
    if as_json:
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        typer.echo(f"{out['invoices']} invoices ({out['inserted']} new, {out['replaced']} replaced, "
                   f"{out['unchanged']} unchanged), {out['lines']} lines, amount {out['amount_minor'] / 100:.2f} CNY, "
                   f"VAT {out['vat_minor'] / 100:.2f} CNY")
        if "allocation" in out:
            a = out["allocation"]
            typer.echo(f"allocated: {a['covered']} of {a['declaration_lines']} declaration lines covered, "
                       f"{len(a['uncovered'])} not")
