"""``tradeloop tax calc``: the rebate calculator for what-if work, printing every intermediate figure."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

tax_app = typer.Typer(no_args_is_help=True, help="Export VAT rebates (出口退税).")


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

    def need(name: str, value):
        if value is None:
            raise rebate.RebateInputError(name, "is required for this method", "该计算方法须填写此项")
        return value

    try:
        if method == "trader":
            result = rebate.trader(rebate.amount("invoice_amount", need("invoice_amount", invoice_amount)),
                                   rebate.rate("rebate_rate", need("rebate_rate", rebate_rate)),
                                   rebate.rate("levy_rate", levy_rate) if levy_rate is not None else None)
        elif method == "manufacturer":
            result = rebate.manufacturer(
                fob_cny=rebate.amount("fob_cny", need("fob_cny", fob_cny)),
                domestic_output_vat=rebate.amount("domestic_output_vat",
                                                  need("domestic_output_vat", domestic_output_vat)),
                input_vat=rebate.amount("input_vat", need("input_vat", input_vat)),
                opening_credit=rebate.amount("opening_credit", need("opening_credit", opening_credit)),
                levy_rate=rebate.rate("levy_rate", need("levy_rate", levy_rate)),
                rebate_rate=rebate.rate("rebate_rate", need("rebate_rate", rebate_rate)),
                duty_free_materials=rebate.amount("duty_free_materials", duty_free_materials))
        else:
            raise rebate.RebateInputError("method", "must be trader or manufacturer", "须为 trader 或 manufacturer")
    except rebate.RebateInputError as exc:
        typer.echo(f"--{exc.field.replace('_', '-')}: {exc.en} / {exc.zh}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(result.figures(), ensure_ascii=False, indent=2) + "\n")
