"""``tradeloop tax candidates | claims | claim …``: rebate claims (出口退(免)税申报) from the command line.

The commands call ``tax.claims`` — the functions the API and the pages call — as the enterprise named by its
USCC (``--enterprise``), in one transaction each. Amounts are printed (and read) as decimal CNY strings with 2
places; ``--json`` prints one JSON document. A refusal of the service prints its message in English and
Chinese and exits 1; an option that cannot be read exits 2 naming it.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

claim_app = typer.Typer(no_args_is_help=True, help="One rebate claim: create, declare, approve, reject, reconcile, "
                                                   "show, files.")

Enterprise = Annotated[str, typer.Option("--enterprise", help="USCC of the exporter")]
DataDir = Annotated[str | None, typer.Option("--data-dir", help="Data directory")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document")]
ClaimId = Annotated[str, typer.Argument(help="The claim's id or number (RC00000001)")]
Method = Annotated[str, typer.Option("--method", help="trader (免退税) or manufacturer (免抵退)")]
Business = Annotated[str, typer.Option("--business-type", help="normal, or HWC-YT (9810 海外仓预退)")]


def _bad(option: str, en: str, zh: str):
    typer.secho(f"{option}: {en} / {zh}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _period(text: str | None, option: str = "--period") -> str | None:
    """``202506`` or ``2025-06`` -> ``2025-06``."""
    if text is None:
        return None
    raw = text.strip()
    if re.fullmatch(r"\d{6}", raw):
        raw = f"{raw[:4]}-{raw[4:]}"
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", raw):
        _bad(option, "must be YYYYMM or YYYY-MM", "所属期格式应为 YYYYMM 或 YYYY-MM")
    return raw


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        _bad(option, "is not a date (YYYY-MM-DD)", "不是有效日期（YYYY-MM-DD）")


def _fen(text: str | None, option: str) -> int | None:
    from tradeloop.kit.money import AmountError, to_minor

    if text is None:
        return None
    try:
        return to_minor(text, 2)
    except AmountError as exc:
        _bad(option, exc.en, exc.zh)


def _lines(values: list[str]) -> list[tuple]:
    """``ID`` or ``ID:QTY`` -> (uuid, Decimal | None)."""
    import uuid

    out = []
    for text in values:
        ident, _sep, qty = text.partition(":")
        try:
            line_id = uuid.UUID(ident.strip())
        except ValueError:
            _bad("--line", f"{ident!r} is not a declaration line id", f"{ident!r} 不是报关单商品项ID")
        amount = None
        if qty.strip():
            try:
                amount = Decimal(qty.strip())
                if not amount.is_finite() or amount <= 0:
                    raise InvalidOperation
            except InvalidOperation:
                _bad("--line", f"{qty!r} is not a positive quantity", f"{qty!r} 不是有效的正数数量")
        out.append((line_id, amount))
    return out


def _tenant(session, principal, uscc: str, label: str):
    from dataclasses import replace

    from tradeloop.cli import _enterprise_by_uscc

    return replace(principal, enterprise_id=_enterprise_by_uscc(session, principal, uscc).id, label=label)


def _run_as(uscc: str, data_dir: str | None, label: str, fn):
    """``fn(session, tenant)`` in one write transaction as the enterprise; refusals exit 1 with the message."""
    from tradeloop.cli import _run, _settings
    from tradeloop.kit.errors import DomainError

    def go(session, principal):
        try:
            return fn(session, _tenant(session, principal, uscc, label))
        except DomainError as exc:  # the overall message in Chinese too; the transaction still rolls back
            if exc.extra.get("message_zh"):
                exc.detail = f"{exc.detail} / {exc.extra['message_zh']}"
            raise

    return _run(_settings(Path(data_dir) if data_dir else None), go)


def _claim(session, tenant, ident: str):
    """A claim by id or by number; another enterprise's is not found."""
    import uuid

    from tradeloop.kit.errors import FieldError, ValidationFailed
    from tradeloop.tax.claim_repository import ClaimRepository

    repo = ClaimRepository(session, tenant)
    try:
        return repo.get(uuid.UUID(ident.strip()))
    except ValueError:
        pass
    if re.fullmatch(r"[A-Za-z]{2}\d{1,18}", ident.strip()):
        return repo.by_number(ident)
    raise ValidationFailed(f"{ident!r} is not a claim id or number.", errors=[
        FieldError("ID", "must be a claim's id (UUID) or number (RC00000001)", "须为退税申报ID或编号（RC00000001）")],
        message_zh="不是有效的退税申报ID或编号")


def _text(value) -> str | None:
    return None if value is None else str(value)


def _q(value) -> str | None:
    """A quantity with its significant decimals only: 1000, 2.5."""
    return None if value is None else f"{Decimal(value).normalize():f}"


def claim_dict(session, tenant, claim) -> dict:
    """A claim as the CLI prints it: amounts as CNY strings with 2 places, rates and quantities as decimal
    strings, every figure of its formula named as in domain.md §3.3."""
    from tradeloop.tax import claims
    from tradeloop.tax.claim_repository import ClaimRepository

    y = claims.yuan
    lines = ClaimRepository(session, tenant).lines(claim.id)
    return {
        "id": str(claim.id), "number": claim.number, "method": claim.method, "business_type": claim.business_type,
        "period": claim.period, "status": claim.status, "refund": y(claim.refund_minor),
        "approved": y(claim.approved_minor) or None, "approved_on": _text(claim.approved_on),
        "declared_at": claim.declared_at.isoformat() if claim.declared_at else None,
        "rejected_reason": claim.rejected_reason, "reconcile_from": _text(claim.reconcile_from),
        "reconcile_due": _text(claim.reconcile_due), "reconciled_on": _text(claim.reconciled_on),
        "outcome": claim.outcome, "corrected": y(claim.corrected_minor) or None,
        "difference": y(claim.difference_minor) or None, "overdue": claims.is_overdue(claim),
        "figures": dict(claims.figures(claim, lines)),
        "lines": [{
            "line_no": li.line_no, "declaration_line_id": str(li.declaration_line_id), "entry_id": li.entry_id,
            "gnum": li.gnum, "sku": li.sku, "hs_code": li.hs_code, "export_date": li.export_date.isoformat(),
            "qty": _q(li.qty), "levy_rate": _text(li.levy_rate),
            "rebate_rate": _text(li.rebate_rate), "invoice_amount": y(li.invoice_amount_minor) or None,
            "currency": li.currency, "fob": _text(Decimal(li.fob_minor).scaleb(-2)),
            "fob_cny": y(li.fob_cny_minor) or None, "fx_rate": _text(li.fx_rate), "refund": y(li.refund_minor),
            "proceeds": li.proceeds, "approved": y(li.approved_minor) or None,
            "settled_qty": _q(li.settled_qty),
            "corrected": y(li.corrected_minor) or None} for li in lines],
    }


def _print_claim(out: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
        return
    approved = f", approved {out['approved']} CNY on {out['approved_on']}" if out["approved"] is not None else ""
    typer.echo(f"{out['number']} {out['status']} {out['method']} {out['business_type']} {out['period']}: "
               f"refund {out['refund']} CNY{approved} ({len(out['lines'])} lines) id {out['id']}")
    if out["outcome"]:
        typer.echo(f"reconciled on sales up to {out['reconciled_on']}: {out['outcome']}, corrected "
                   f"{out['corrected']} CNY, difference {out['difference']} CNY")
    if out["overdue"]:
        typer.echo(f"OVERDUE: not reconciled by {out['reconcile_due']}")
    for name, value in out["figures"].items():
        typer.echo(f"  {name}: {value}")


# --- tradeloop tax candidates ----------------------------------------------------------------------------


def candidates_command(
    enterprise: Enterprise,
    method: Method = "trader",
    business_type: Business = "normal",
    period: Annotated[str | None, typer.Option(help="所属期 YYYYMM (checks each line's declaration window)")] = None,
    ready: Annotated[bool, typer.Option("--ready", help="Only lines a claim can take now")] = False,
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """Exported declaration lines with their document chain for a claim of this method and business type: the
    units a claim may take, the estimated refund, and each missing piece named."""
    from tradeloop.tax import claims

    period = _period(period)

    def run(session, tenant):
        y = claims.yuan
        return [{
            "declaration_line_id": str(c.declaration_line_id), "declaration_id": str(c.declaration_id),
            "cop_no": c.cop_no, "entry_id": c.entry_id, "gnum": c.gnum, "mode": c.mode, "sku": c.sku, "name": c.name,
            "hs_code": c.hs_code, "export_date": c.export_date.isoformat(), "exported": _q(c.exported),
            "sold": c.sold, "unsold": _q(c.unsold), "proceeds": c.proceeds,
            "claimed": _q(c.claimed), "levy_rate": _text(c.levy_rate),
            "rebate_rate": _text(c.rebate_rate), "invoice_qty": _q(c.invoice_qty),
            "invoice_amount": y(c.invoice_amount_minor), "claimable": _q(c.claimable),
            "estimate": y(c.estimate_minor) or None, "complete": c.complete, "missing": c.missing}
            for c in claims.candidates(session, tenant, method, business_type, period) if c.complete or not ready]

    rows = _run_as(enterprise, data_dir, "cli tax candidates", run)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for r in rows:
        missing = "; ".join(f"{m['piece']}{'!' if m['blocking'] else ''}: {m['message']}" for m in r["missing"])
        typer.echo(f"{r['declaration_line_id']}  {r['cop_no']} #{r['gnum']}  {r['entry_id'] or '-'}  {r['sku']}  "
                   f"claimable {r['claimable']}  estimate {r['estimate'] or '-'}  "
                   f"{'READY' if r['complete'] else 'missing: ' + missing}")
    ready_rows = [r for r in rows if r["complete"]]
    total = sum((Decimal(r["estimate"]) for r in ready_rows if r["estimate"]), Decimal(0))
    typer.echo(f"{len(rows)} lines, {len(ready_rows)} ready, estimated refund {total:.2f} CNY")


# --- tradeloop tax claims --------------------------------------------------------------------------------


def claims_command(
    enterprise: Enterprise,
    status: Annotated[str | None, typer.Option(help="draft, declared, approved or rejected")] = None,
    method: Annotated[str | None, typer.Option(help="trader or manufacturer")] = None,
    business_type: Annotated[str | None, typer.Option("--business-type", help="normal or HWC-YT")] = None,
    period: Annotated[str | None, typer.Option(help="所属期 YYYYMM")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 500,
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """The enterprise's rebate claims, newest first, with their refund and approved amounts."""
    from tradeloop.tax import claims
    from tradeloop.tax.claim_models import BusinessType, ClaimMethod, ClaimStatus
    from tradeloop.tax.claim_repository import ClaimRepository

    period = _period(period)
    for option, given, allowed in (("--status", status, ClaimStatus), ("--method", method, ClaimMethod),
                                   ("--business-type", business_type, BusinessType)):
        if given is not None and given not in {a.value for a in allowed}:
            choices = ", ".join(a.value for a in allowed)
            _bad(option, f"must be one of {choices}", f"须为 {choices} 之一")

    def run(session, tenant):
        rows, _next = ClaimRepository(session, tenant).page(cursor=None, limit=limit, status=status, method=method,
                                                            business_type=business_type, period=period)
        y = claims.yuan
        return [{"id": str(c.id), "number": c.number, "period": c.period, "method": c.method,
                 "business_type": c.business_type, "status": c.status, "refund": y(c.refund_minor),
                 "approved": y(c.approved_minor) or None, "outcome": c.outcome,
                 "difference": y(c.difference_minor) or None, "overdue": claims.is_overdue(c)} for c in rows]

    rows = _run_as(enterprise, data_dir, "cli tax claims", run)
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    for r in rows:
        typer.echo(f"{r['number']}  {r['period']}  {r['method']}  {r['business_type']}  {r['status']}  "
                   f"refund {r['refund']}  approved {r['approved'] or '-'}{'  OVERDUE' if r['overdue'] else ''}  "
                   f"{r['id']}")
    typer.echo(f"{len(rows)} claims")


# --- tradeloop tax claim … -------------------------------------------------------------------------------


@claim_app.command("create")
def claim_create(
    enterprise: Enterprise,
    period: Annotated[str, typer.Option(help="所属期 YYYYMM")],
    method: Method = "trader",
    business_type: Business = "normal",
    line: Annotated[list[str] | None, typer.Option(
        "--line", help="A declaration line id, optionally with the units to claim: ID or ID:QTY (repeatable)")] = None,
    all_ready: Annotated[bool, typer.Option("--all-ready", help="Every line that is ready, all its units")] = False,
    domestic_output_vat: Annotated[str | None, typer.Option(help="manufacturer: 当期内销销项税额, CNY")] = None,
    input_vat: Annotated[str | None, typer.Option(help="manufacturer: 当期全部进项税额, CNY")] = None,
    opening_credit: Annotated[str | None, typer.Option(help="manufacturer: 上期留抵税额, CNY")] = None,
    note: Annotated[str | None, typer.Option(help="A note on the claim")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """Make a draft claim of the chosen lines (all or nothing: a line whose chain is incomplete or whose units
    are claimed already is refused, naming the piece)."""
    from tradeloop.kit.errors import FieldError, ValidationFailed
    from tradeloop.tax import claims

    period = _period(period)
    if bool(line) == all_ready:
        _bad("--line/--all-ready", "give --line ID[:QTY] (repeatable) or --all-ready, not both",
             "请指定 --line ID[:数量]（可重复）或 --all-ready，二者择一")
    chosen = _lines(line or [])
    inputs = {"domestic_output_vat_minor": _fen(domestic_output_vat, "--domestic-output-vat"),
              "input_vat_minor": _fen(input_vat, "--input-vat"),
              "opening_credit_minor": _fen(opening_credit, "--opening-credit")}

    def run(session, tenant):
        requests = [claims.LineRequest(i, q) for i, q in chosen]
        if all_ready:
            requests = [claims.LineRequest(c.declaration_line_id) for c in claims.candidates(
                session, tenant, method, business_type, period) if c.complete]
            if not requests:
                raise ValidationFailed("No line is ready for such a claim.", errors=[FieldError(
                    "--all-ready", f"no line is ready for a {method} {business_type} claim in {period}",
                    f"{period} 无可申报的商品项")], message_zh="没有可申报的商品项")
        claim = claims.create_claim(session, principal=tenant, method=method, business_type=business_type,
                                    period=period, lines=requests, note=note, **inputs)
        return claim_dict(session, tenant, claim)

    _print_claim(_run_as(enterprise, data_dir, "cli tax claim create", run), as_json)


@claim_app.command("show")
def claim_show(ident: ClaimId, enterprise: Enterprise, as_json: Json = False, data_dir: DataDir = None):
    """A claim with every figure of its formula and its lines."""
    out = _run_as(enterprise, data_dir, "cli tax claim show",
                  lambda s, t: claim_dict(s, t, _claim(s, t, ident)))
    _print_claim(out, as_json)
    if not as_json:
        for li in out["lines"]:
            typer.echo(f"  {li['line_no']}. {li['entry_id']} #{li['gnum']} {li['sku']} qty {li['qty']} refund "
                       f"{li['refund']}")


@claim_app.command("declare")
def claim_declare(ident: ClaimId, enterprise: Enterprise, as_json: Json = False, data_dir: DataDir = None):
    """The claim was filed with the tax office (draft → declared)."""
    from tradeloop.tax import claims

    def run(session, tenant):
        claim = claims.declare(session, principal=tenant, claim_id=_claim(session, tenant, ident).id)
        return claim_dict(session, tenant, claim)

    _print_claim(_run_as(enterprise, data_dir, "cli tax claim declare", run), as_json)


@claim_app.command("approve")
def claim_approve(
    ident: ClaimId,
    enterprise: Enterprise,
    amount: Annotated[str, typer.Option("--amount", help="The amount the tax office approved, CNY (≤ the refund)")],
    on: Annotated[str | None, typer.Option("--on", help="The approval day YYYY-MM-DD (default today)")] = None,
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """The tax office approved an amount (declared → approved); a pre-rebate's reconciliation window opens the
    month after."""
    from tradeloop.tax import claims

    approved_minor, approved_on = _fen(amount, "--amount"), _day(on, "--on")

    def run(session, tenant):
        claim = claims.approve(session, principal=tenant, claim_id=_claim(session, tenant, ident).id,
                               approved_minor=approved_minor, approved_on=approved_on)
        return claim_dict(session, tenant, claim)

    _print_claim(_run_as(enterprise, data_dir, "cli tax claim approve", run), as_json)


@claim_app.command("reject")
def claim_reject(
    ident: ClaimId,
    enterprise: Enterprise,
    reason: Annotated[str, typer.Option("--reason", help="Why the tax office refused it, or why it is withdrawn")],
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """The tax office refused the claim, or a draft is withdrawn (→ rejected): its units are free again."""
    from tradeloop.tax import claims

    def run(session, tenant):
        claim = claims.reject(session, principal=tenant, claim_id=_claim(session, tenant, ident).id, reason=reason)
        return claim_dict(session, tenant, claim)

    _print_claim(_run_as(enterprise, data_dir, "cli tax claim reject", run), as_json)


@claim_app.command("reconcile")
def claim_reconcile(
    ident: ClaimId,
    enterprise: Enterprise,
    as_of: Annotated[str, typer.Option("--as-of", help="Count the sales up to the end of this day, YYYY-MM-DD")],
    as_json: Json = False,
    data_dir: DataDir = None,
):
    """核算 of an approved HWC-YT pre-rebate: no adjustment, adjusted, or repaid in full."""
    from tradeloop.tax import claims

    day = _day(as_of, "--as-of")

    def run(session, tenant):
        claim = claims.reconcile(session, principal=tenant, claim_id=_claim(session, tenant, ident).id, as_of=day)
        return claim_dict(session, tenant, claim)

    _print_claim(_run_as(enterprise, data_dir, "cli tax claim reconcile", run), as_json)


@claim_app.command("files")
def claim_files(
    ident: ClaimId,
    enterprise: Enterprise,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the .xlsx files to (created if needed)")],
    data_dir: DataDir = None,
):
    """Write the claim's declaration detail files: 出口货物明细, and 进货明细 for a trader's claim."""
    from tradeloop.tax import files
    from tradeloop.tax.claim_models import ClaimMethod

    def run(session, tenant):
        claim = _claim(session, tenant, ident)
        kinds = ["export-goods"] + (["purchases"] if claim.method == ClaimMethod.TRADER else [])
        return [files.workbook(session, principal=tenant, claim_id=claim.id, kind=k) for k in kinds]

    written = _run_as(enterprise, data_dir, "cli tax claim files", run)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in written:
        path = out / name
        path.write_bytes(data)
        typer.echo(str(path))
