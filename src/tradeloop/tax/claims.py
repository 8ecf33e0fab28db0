"""Export VAT rebate claims (出口退(免)税申报): the document chain per declaration line, claims computed with
``tax/rebate.py``, their status, the 9810 pre-rebate (HWC-YT) and its reconciliation, and the rebate that
returned goods must repay (domain.md §3.1, §3.3–3.7; docs/tax.md says what each rule rests on).

Units of a declaration line, as this module counts them (``S`` = net sold by the loop's movements):

* a **normal** claim takes sold units whose proceeds are in (收汇) — for 9810 the units sold abroad through
  the lineage; for 9610, 9710 and 1210 the sale precedes (or is) the export, so every exported unit, with
  the proceeds of the sales order the declaration names (its ``order_no``);
* an **HWC-YT** claim (9810 only) takes the unsold part right after departure (in transit + on hand), no
  proceeds needed; a declaration line is pre-rebated at most once (its later sales are covered by the
  pre-rebate until it is reconciled);
* a unit is never claimed twice: rejected claims free their units, a reconciled pre-rebate keeps only the
  units that were sold (``settled_qty``).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.catalog.repository import rates_on
from tradeloop.customs.messages import BEIJING
from tradeloop.customs.models import Mode
from tradeloop.finance import rates as fx
from tradeloop.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.numbering import next_number
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.tax import rebate
from tradeloop.tax.claim_models import (
    BusinessType,
    ClaimMethod,
    ClaimStatus,
    Outcome,
    ProceedsEvidence,
    ProceedsKind,
    RebateClaim,
    RebateClaimLine,
    RebateRepayment,
    RepaymentStatus,
)
from tradeloop.tax.claim_repository import ClaimRepository
from tradeloop.warehouse.stock_models import MovementKind as K

Q5 = Decimal("0.00001")
PERIOD_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
#: Modes where the sale precedes (9610 retail parcels, 9710 B2B direct) or is (1210 bonded) the export.
SALE_AT_EXPORT = (Mode.RETAIL, Mode.B2B_DIRECT, Mode.BONDED)
#: 跨境电商出口退运 (财政部 海关总署 税务总局公告2023年第4号, 2023年第34号, 2026年第16号; domain.md §3.7): exports
#: declared in these periods, returned within 6 months, food excluded.
RETURN_POLICY = ((date(2023, 1, 30), date(2025, 12, 31)), (date(2026, 1, 1), date(2027, 12, 31)))
RETURN_MONTHS = 6
#: "Food" as HS chapters 01–24 (animal, vegetable and prepared foodstuffs, beverages, tobacco). An assumption:
#: the announcements say 食品 without a code list (docs/tax.md).
FOOD_CHAPTERS = {f"{n:02d}" for n in range(1, 25)}


# --- small arithmetic ---------------------------------------------------------------------------------


def _cny(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


def _minor(cny: Decimal) -> int:
    return int(rebate.money(cny).scaleb(2))


def _cum(total: int, units: Decimal, of: Decimal) -> int:
    return int((Decimal(total) * units / of).to_integral_value(rounding=ROUND_HALF_UP)) if of else 0


def part(total: int, before: Decimal, upto: Decimal, of: Decimal) -> int:
    """The part of ``total`` carried by units (before, upto] of ``of``: cumulative rounding half-up, so the
    parts of a total add up to it exactly however it is cut."""
    return _cum(total, upto, of) - _cum(total, before, of)


def spread(total: int, weights: list[int]) -> list[int]:
    """``total`` over ``weights`` by cumulative rounding (the parts add up to ``total``)."""
    whole = sum(weights)
    if not whole:
        return [0 for _w in weights]
    out, done = [], 0
    for w in weights:
        out.append(part(total, Decimal(done), Decimal(done + w), Decimal(whole)))
        done += w
    return out


def add_months(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def declaration_window(export_date: date, business_type: str) -> tuple[str, str]:
    """The periods a line may be claimed in: from the VAT period of the month after export (HWC-YT: right
    after departure, the export month) until April of the following year (domain.md §3.5, §3.6)."""
    first = month_of(export_date) if business_type == BusinessType.HWC_YT else month_of(add_months(
        export_date.replace(day=1), 1))
    return first, f"{export_date.year + 1:04d}-04"


def reconcile_window(approved_on: date) -> tuple[date, date]:
    """HWC-YT 核算期: from the 1st of the month after approval to 30 April of the next year (§3.6, Ex. 3)."""
    return add_months(approved_on.replace(day=1), 1), date(approved_on.year + 1, 4, 30)


def _today() -> date:
    return utcnow().astimezone(BEIJING).date()


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING)


# --- the document chain -------------------------------------------------------------------------------


def _units(value: Decimal) -> str:
    """A quantity as a person writes it: 1, 2.5 (not 1.00000)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _piece(piece: str, en: str, zh: str, *, blocking: bool) -> dict:
    return {"piece": piece, "message": en, "message_zh": zh, "blocking": blocking}


@dataclass
class ChainLine:
    """One exported declaration line and what a claim of the chosen method and business type may take."""

    declaration_id: uuid.UUID
    declaration_line_id: uuid.UUID
    cop_no: str
    entry_id: str | None
    gnum: int
    mode: str
    sku: str
    name: str
    hs_code: str
    unit: str
    export_date: date
    currency: str
    exported: Decimal
    #: The line's declared value (total price, FOB) in minor units of ``currency``, and their digits.
    value_minor: int = 0
    minor_units: int = 2
    sold: int = 0
    unsold: Decimal = Decimal(0)
    proceeds: str = "none"  # received / partial / none / deemed / n/a
    paid: Decimal = Decimal(0)  # units with proceeds in (or deemed)
    claimed: Decimal = Decimal(0)  # units in claims (not rejected), reconciled pre-rebates at their sold part
    claimed_normal: Decimal = Decimal(0)
    pre_rebated: Decimal = Decimal(0)  # open (not yet reconciled) pre-rebates
    claims: list[str] = field(default_factory=list)
    levy_rate: Decimal | None = None
    rebate_rate: Decimal | None = None
    rates_valid_from: date | None = None
    rates_valid_to: date | None = None
    invoice_qty: Decimal = Decimal(0)
    invoice_amount_minor: int = 0
    invoice_vat_minor: int = 0
    conversion: fx.Conversion | None = None
    claimable: Decimal = Decimal(0)
    missing: list[dict] = field(default_factory=list)
    estimate_minor: int | None = None

    @property
    def complete(self) -> bool:
        return self.claimable > 0 and not any(m["blocking"] for m in self.missing)

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in (
            "declaration_id", "declaration_line_id", "cop_no", "entry_id", "gnum", "mode", "sku", "name",
            "hs_code", "unit", "export_date", "currency", "exported", "sold", "unsold", "proceeds", "paid",
            "claimed", "claimed_normal", "pre_rebated", "claims", "levy_rate", "rebate_rate", "rates_valid_from",
            "rates_valid_to", "invoice_qty", "invoice_amount_minor", "claimable", "missing", "estimate_minor",
            "complete")}
        out["fx"] = self.conversion.as_dict() if self.conversion else None
        return out


def _check_kind(method: str, business_type: str) -> None:
    errors = []
    if method not in set(ClaimMethod):
        errors.append(FieldError("method", "must be trader or manufacturer",
                                 "须为 trader（免退税）或 manufacturer（免抵退）"))
    if business_type not in set(BusinessType):
        errors.append(FieldError("business_type", "must be normal or HWC-YT", "须为 normal 或 HWC-YT"))
    if errors:
        raise ValidationFailed("The claim kind is not known.", errors=errors, message_zh="申报类型无效")


def _check_period(period: str | None) -> None:
    if period is not None and not PERIOD_RE.fullmatch(period):
        raise ValidationFailed("The period must be YYYY-MM.", errors=[
            FieldError("period", "must be YYYY-MM", "所属期格式应为 YYYY-MM")], message_zh="所属期格式错误")


def _proceeds(states: list[tuple[int, set[str]]], units: Decimal) -> tuple[str, Decimal]:
    """(status, paid units) from the sales that carried ``units``: each (units, payout statuses)."""
    paid = sum((Decimal(q) for q, st in states if st and st <= {"received"}), Decimal(0))
    some = any(st & {"received", "partial"} for _q, st in states)
    paid = min(paid, units)
    if units <= 0:
        return "n/a", Decimal(0)
    if paid >= units:
        return "received", paid
    return ("partial" if some else "none"), paid


def candidates(session: Session, principal: Principal, method: str, business_type: str, period: str | None = None,
               *, declaration_ids: list[uuid.UUID] | None = None, line_ids: list[uuid.UUID] | None = None,
               _pairs: list | None = None) -> list[ChainLine]:
    """Every exported declaration line (or the chosen ones) with its document chain for a claim of this
    method and business type, the units such a claim may take, and each missing piece named."""
    from tradeloop.loop.service import declaration_loop

    _check_kind(method, business_type)
    _check_period(period)
    repo = ClaimRepository(session, principal)
    pairs = _pairs if _pairs is not None else repo.exported_lines(line_ids=line_ids, declaration_ids=declaration_ids)
    if not pairs:
        return []
    ids = [li.id for li, _d in pairs]
    state = {lp.line_id: lp for lp in declaration_loop(
        session, principal=principal, declaration_ids=sorted({d.id for _l, d in pairs}), values=False)}
    cover = repo.invoice_cover(ids)
    evidence = repo.evidence(ids)
    by_sale = repo.sold_by_sales_line([li.id for li, d in pairs if d.mode not in SALE_AT_EXPORT])
    orders = repo.order_sales_lines([(d.order_no, li.item_no) for li, d in pairs if d.mode in SALE_AT_EXPORT])
    sales_ids = {s for per in by_sale.values() for s in per} | {s for rows in orders.values() for s, _q in rows}
    payouts = repo.payout_status(sorted(sales_ids))
    claims: dict[uuid.UUID, list] = defaultdict(list)
    for cl, claim in repo.claim_lines_of(declaration_line_ids=ids):
        claims[cl.declaration_line_id].append((cl, claim))
    refs = ReferenceLookup(session)
    rate_cache: dict = {}
    fx_cache: dict = {}
    out = []
    for li, d in pairs:
        loop = state.get(li.id)
        c = ChainLine(d.id, li.id, d.cop_no, li.entry_id or d.entry_id, li.gnum, d.mode, li.item_no, li.gname,
                      li.gcode, li.unit, d.ie_date, d.currency, Decimal(li.qty), li.total_minor,
                      refs.minor_units(d.currency) or 2)
        c.sold = loop.sold if loop else 0
        c.unsold = (loop.in_transit + loop.on_hand) if loop else Decimal(0)
        kept = covered_open = Decimal(0)
        any_pre = []
        for cl, claim in claims[li.id]:
            c.claims.append(claim.number)
            if claim.business_type == BusinessType.HWC_YT:
                any_pre.append(claim.number)
                if claim.reconciled_on is not None:
                    kept += Decimal(cl.settled_qty or 0)
                else:
                    c.pre_rebated += Decimal(cl.qty)
                    covered_open += min(Decimal(cl.qty), max(Decimal(0), c.sold - Decimal(cl.sold_qty_at_claim or 0)))
            else:
                c.claimed_normal += Decimal(cl.qty)
        c.claimed = c.claimed_normal + c.pre_rebated + kept
        # rates of the export date
        key = (li.gcode, d.ie_date)
        if key not in rate_cache:
            rate_cache[key] = rates_on(session, li.gcode, d.ie_date)
        r = rate_cache[key]
        if r is None or r.vat_rate_pct is None or r.rebate_rate_pct is None:
            c.missing.append(_piece("rates", f"no VAT and rebate rate known for HS {li.gcode} on {d.ie_date}",
                                    f"商品编码 {li.gcode} 在出口日期 {d.ie_date} 无已知征税率或退税率", blocking=True))
        else:
            c.levy_rate, c.rebate_rate = r.vat_rate_pct / 100, r.rebate_rate_pct / 100
            c.rates_valid_from, c.rates_valid_to = r.valid_from, r.valid_to
            if c.rebate_rate == 0:
                c.missing.append(_piece("rebate_rate", f"the rebate rate of HS {li.gcode} is 0% on {d.ie_date} "
                                        "(exemption only, no refund)",
                                        f"商品编码 {li.gcode} 出口日退税率为0%（仅免税）", blocking=True))
        if not c.entry_id:
            c.missing.append(_piece("declaration", "no export declaration number (entryId): the list is not yet "
                                    "summarised into a 报关单", "缺少出口报关单号（清单尚未汇总申报）", blocking=True))
        if method == ClaimMethod.MANUFACTURER:
            if (d.trade_terms or "FOB") != "FOB":
                c.missing.append(_piece("trade_terms", f"trade terms {d.trade_terms}: the FOB value is not declared",
                                        f"成交方式为 {d.trade_terms}，无离岸价", blocking=True))
            k = (d.currency, d.ie_date)
            if k not in fx_cache:
                fx_cache[k] = fx.find(session, d.currency, d.ie_date, "customs_month")
            c.conversion = fx_cache[k]
            if c.conversion is None:
                c.missing.append(_piece("fx", f"no customs conversion rate for {d.currency} in "
                                        f"{month_of(d.ie_date)} (FOB in CNY)",
                                        f"缺少 {month_of(d.ie_date)} {d.currency} 海关折算汇率（离岸价折人民币）",
                                        blocking=True))
        if period is not None:
            first, last = declaration_window(d.ie_date, business_type)
            if not first <= period <= last:
                c.missing.append(_piece("window", f"period {period} is outside this line's declaration window "
                                        f"{first} … {last}", f"所属期 {period} 不在申报期限 {first} 至 {last} 内",
                                        blocking=True))
        ev = evidence.get(li.id)
        if business_type == BusinessType.HWC_YT:
            c.proceeds = "n/a"
            if d.mode != Mode.OVERSEAS_WAREHOUSE:
                c.missing.append(_piece("mode", f"only 9810 lines can be pre-rebated (this is {d.mode})",
                                        f"仅9810可申报海外仓预退（本单为{d.mode}）", blocking=True))
            elif any_pre:
                c.missing.append(_piece("already_claimed", f"already pre-rebated in {', '.join(any_pre)}",
                                        f"已在 {'、'.join(any_pre)} 中预退", blocking=False))
            else:
                c.claimable = max(Decimal(0), c.unsold)
                if c.claimable <= 0:
                    c.missing.append(_piece("unsold", "no unsold units (all sold or no longer abroad)",
                                            "无未销售数量", blocking=False))
        else:
            if d.mode in SALE_AT_EXPORT:
                units = c.exported
                rows = orders.get((d.order_no, li.item_no), [])
                c.proceeds, c.paid = _proceeds([(q, payouts.get(s, set())) for s, q in rows], units)
                available = units - c.claimed
            else:
                units = Decimal(c.sold)
                c.proceeds, c.paid = _proceeds([(q, payouts.get(s, set())) for s, q in by_sale.get(li.id, {}).items()],
                                               units)
                available = units - kept - covered_open - c.claimed_normal
            if ev is not None and units > 0:
                c.proceeds, c.paid = ev.kind, units
            if units <= 0:
                c.missing.append(_piece("sold", "nothing sold yet (the unsold units can be pre-rebated: HWC-YT)",
                                        "尚无已销售数量（未销售部分可申报海外仓预退）", blocking=False))
            spent = units - available  # units claimed already or covered by a pre-rebate
            c.claimable = max(Decimal(0), min(c.paid - spent, available))
            if available > c.claimable:
                c.missing.append(_piece("proceeds", f"proceeds not received for {available - c.claimable} sold "
                                        f"units (收汇 {c.proceeds})", f"{available - c.claimable} 件已售商品尚未收汇",
                                        blocking=False))
            if units > 0 and available <= 0 and c.claims:
                c.missing.append(_piece("already_claimed", f"every sold unit is claimed already "
                                        f"({', '.join(sorted(set(c.claims)))})",
                                        f"已售数量均已申报（{'、'.join(sorted(set(c.claims)))}）", blocking=False))
        c.invoice_qty, c.invoice_amount_minor, c.invoice_vat_minor = cover.get(li.id, (Decimal(0), 0, 0))
        if method == ClaimMethod.TRADER:
            free = c.invoice_qty - c.claimed
            if c.claimable > free:
                short, got, done = (_units(v) for v in (c.claimable - max(free, Decimal(0)), c.invoice_qty, c.claimed))
                c.missing.append(_piece("invoice", f"purchase invoices cover {got} units of this line "
                                        f"({done} claimed already): {short} claimable units have no invoice",
                                        f"进货发票仅覆盖 {got} 件（已申报 {done} 件），{short} 件无对应发票",
                                        blocking=False))
                c.claimable = max(Decimal(0), free)
        if c.claimable > 0 and not any(m["blocking"] for m in c.missing):
            c.estimate_minor = _figures(c, method, c.claimable)["refund_minor"]
        out.append(c)
    return out


def _figures(c: ChainLine, method: str, qty: Decimal) -> dict:
    """The amounts of ``qty`` units of a line, placed after the units claimed already."""
    before, upto = c.claimed, c.claimed + qty
    li = {"fob_minor": None, "fob_cny_minor": None, "invoice_amount_minor": None, "invoice_vat_minor": None}
    li["fob_minor"] = part(c.value_minor, before, upto, c.exported)
    if c.conversion is not None:
        li["fob_cny_minor"] = fx.to_cny_minor(li["fob_minor"], c.minor_units, c.conversion)
    if method == ClaimMethod.TRADER:
        li["invoice_amount_minor"] = part(c.invoice_amount_minor, before, upto, c.invoice_qty)
        li["invoice_vat_minor"] = part(c.invoice_vat_minor, before, upto, c.invoice_qty)
        li["refund_minor"] = _minor(rebate.trader(_cny(li["invoice_amount_minor"]), c.rebate_rate,
                                                  c.levy_rate).refund)
    else:
        li["refund_minor"] = _minor(_cny(li["fob_cny_minor"]) * c.rebate_rate)
    return li


# --- claims -------------------------------------------------------------------------------------------


@dataclass
class LineRequest:
    declaration_line_id: uuid.UUID
    qty: Decimal | None = None


def _amount_in(name: str, value) -> int:
    if value is None:
        raise ValidationFailed("A period input is missing.", errors=[FieldError(
            name, "is required for a manufacturer (免抵退) claim", "免抵退申报须填写此项")],
            message_zh="缺少申报期数据")
    if int(value) < 0:
        raise ValidationFailed("A period input is negative.", errors=[FieldError(name, "must not be negative",
                                                                                 "不能为负数")])
    return int(value)


def create_claim(session: Session, *, principal: Principal, method: str, business_type: str, period: str,
                 lines: list[LineRequest], domestic_output_vat_minor: int | None = None,
                 input_vat_minor: int | None = None, opening_credit_minor: int | None = None,
                 note: str | None = None) -> RebateClaim:
    """A draft claim of the chosen lines, all or nothing: a line whose chain is incomplete or whose units
    are claimed already is refused, naming the piece."""
    me = principal.tenant(Action.WRITE)
    _check_kind(method, business_type)
    _check_period(period)
    if period is None:
        raise ValidationFailed("The period is required.", errors=[FieldError("period", "is required", "为必填项")])
    if not lines:
        raise ValidationFailed("Choose at least one line.", errors=[
            FieldError("lines", "must not be empty", "至少选择一项")], message_zh="未选择报关单商品项")
    wanted = [li.declaration_line_id for li in lines]
    if len(set(wanted)) != len(wanted):
        raise ValidationFailed("A line is chosen twice.", errors=[
            FieldError("lines", "a declaration line appears twice", "同一报关单商品项重复")])
    inputs = {}
    if method == ClaimMethod.MANUFACTURER:
        inputs = {"domestic_output_vat_minor": _amount_in("domestic_output_vat_minor", domestic_output_vat_minor),
                  "input_vat_minor": _amount_in("input_vat_minor", input_vat_minor),
                  "opening_credit_minor": _amount_in("opening_credit_minor", opening_credit_minor)}
    repo = ClaimRepository(session, principal)
    pairs = repo.exported_lines(line_ids=wanted, for_update=True)
    found = {li.id for li, _d in pairs}
    if missing := [str(i) for i in wanted if i not in found]:
        raise NotFound(f"{len(missing)} of the lines is not an exported declaration line of yours.",
                       message_zh="所选商品项中有未找到的已放行报关单商品项")
    by_id = {c.declaration_line_id: c for c in candidates(session, principal=principal, method=method,
                                                      business_type=business_type, period=period, _pairs=pairs)}
    errors, conflict = [], True
    chosen: list[tuple[ChainLine, Decimal]] = []
    for i, req in enumerate(lines):
        c = by_id[req.declaration_line_id]
        qty = c.claimable if req.qty is None else Decimal(req.qty)
        where = f"lines[{i}]"
        if qty <= 0 or qty != qty.quantize(Q5):
            pieces = [m for m in c.missing] or [_piece("qty", "must be positive", "须为正数", blocking=True)]
        elif qty > c.claimable or not c.complete:
            pieces = [m for m in c.missing if m["blocking"]] or c.missing or [
                _piece("qty", f"is more than the {c.claimable} units claimable", f"超过可申报数量 {c.claimable}",
                       blocking=False)]
        else:
            chosen.append((c, qty))
            continue
        conflict &= all(m["piece"] == "already_claimed" for m in pieces)
        label = f"{c.cop_no} line {c.gnum} {c.sku}"
        errors.append(FieldError(where, f"{label}: " + "; ".join(f"{m['piece']}: {m['message']}" for m in pieces),
                                 f"{c.cop_no} 第{c.gnum}项 {c.sku}：" + "；".join(m["message_zh"] for m in pieces)))
    if errors:
        cls = Conflict if conflict else ValidationFailed
        raise cls("The claim cannot be made: a line's document chain is incomplete or its units are claimed.",
                  errors=errors, message_zh="无法申报：单证不齐或数量已申报")
    if method == ClaimMethod.MANUFACTURER and len({(c.levy_rate, c.rebate_rate) for c, _q in chosen}) > 1:
        raise ValidationFailed("A manufacturer claim computes one 免抵退 with one levy and rebate rate: file lines "
                               "of different rates in separate claims.", errors=[
                                   FieldError("lines", "lines have different levy or rebate rates",
                                              "各项征税率或退税率不同，请分开申报")])
    claim = RebateClaim(enterprise_id=me, id=uuid7(), number=next_number(session, me, "rebate_claim", "RC"),
                        method=method, period=period, business_type=business_type, status=ClaimStatus.DRAFT,
                        note=note, created_by=principal.label[:200], refund_minor=0, **inputs)
    rows = []
    for n, (c, qty) in enumerate(chosen, start=1):
        fig = _figures(c, method, qty)
        rows.append(RebateClaimLine(
            enterprise_id=me, id=uuid7(), claim_id=claim.id, line_no=n, business_type=business_type,
            declaration_id=c.declaration_id, declaration_line_id=c.declaration_line_id, mode=c.mode,
            entry_id=c.entry_id, gnum=c.gnum, sku=c.sku, hs_code=c.hs_code, goods_name=c.name[:250], unit=c.unit,
            export_date=c.export_date, qty=qty, units_before=c.claimed, levy_rate=c.levy_rate,
            rebate_rate=c.rebate_rate, currency=c.currency, fx_rate=c.conversion.rate if c.conversion else None,
            fx_rule=c.conversion.rule if c.conversion else None,
            fx_source=c.conversion.source if c.conversion else None,
            fx_rate_day=c.conversion.rate_day if c.conversion else None, proceeds=c.proceeds,
            sold_qty_at_claim=Decimal(c.sold) if business_type == BusinessType.HWC_YT else None,
            unsold_qty=qty if business_type == BusinessType.HWC_YT else None, **fig))
    if method == ClaimMethod.TRADER:
        claim.refund_minor = sum(r.refund_minor for r in rows)
    else:
        c0 = chosen[0][0]
        res = rebate.manufacturer(
            fob_cny=_cny(sum(r.fob_cny_minor for r in rows)), domestic_output_vat=_cny(inputs[
                "domestic_output_vat_minor"]), input_vat=_cny(inputs["input_vat_minor"]),
            opening_credit=_cny(inputs["opening_credit_minor"]), levy_rate=c0.levy_rate, rebate_rate=c0.rebate_rate)
        claim.levy_rate, claim.rebate_rate = c0.levy_rate, c0.rebate_rate
        claim.fob_cny_minor = _minor(res.fob_cny)
        claim.not_exempt_minor, claim.payable_minor = _minor(res.not_exempt), _minor(res.payable)
        claim.closing_credit_minor = _minor(res.closing_credit)
        claim.exempt_credit_refund_minor = _minor(res.exempt_credit_refund)
        claim.exempt_credit_minor, claim.carry_forward_minor = _minor(res.exempt_credit), _minor(res.carry_forward)
        claim.refund_minor = _minor(res.refund)
    repo.add_all([claim])
    repo.add_all(rows)
    audit.record(session, principal=principal, action="tax.claims.create", entity_type="rebate_claim",
                 entity_id=claim.id, after={**audit.snapshot(claim), "lines": [
                     {"declaration_line_id": str(r.declaration_line_id), "qty": str(r.qty),
                      "refund_minor": r.refund_minor} for r in rows]})
    return claim


def _state(claim: RebateClaim, allowed: tuple[str, ...], what_en: str, what_zh: str) -> None:
    if claim.status not in allowed:
        raise Conflict(f"The claim is {claim.status}: it cannot be {what_en}.",
                       message_zh=f"该申报状态为 {claim.status}，不能{what_zh}", status_now=claim.status)


def declare(session: Session, *, principal: Principal, claim_id: uuid.UUID) -> RebateClaim:
    """The claim was filed with the tax office (draft → declared)."""
    principal.tenant(Action.WRITE)
    claim = ClaimRepository(session, principal).get(claim_id, for_update=True)
    _state(claim, (ClaimStatus.DRAFT,), "declared", "申报")
    before = audit.snapshot(claim)
    claim.status, claim.declared_at = ClaimStatus.DECLARED, utcnow()
    audit.record(session, principal=principal, action="tax.claims.declare", entity_type="rebate_claim",
                 entity_id=claim.id, before=before, after=audit.snapshot(claim))
    return claim


def approve(session: Session, *, principal: Principal, claim_id: uuid.UUID, approved_minor: int,
            approved_on: date | None = None) -> RebateClaim:
    """The tax office approved ``approved_minor`` on ``approved_on`` (declared → approved). A pre-rebate's
    reconciliation window starts the month after."""
    principal.tenant(Action.WRITE)
    repo = ClaimRepository(session, principal)
    claim = repo.get(claim_id, for_update=True)
    _state(claim, (ClaimStatus.DECLARED,), "approved", "审核通过")
    approved_on = approved_on or _today()
    errors = []
    if approved_minor < 0 or approved_minor > claim.refund_minor:
        errors.append(FieldError("approved_minor", f"must be between 0 and the claimed {claim.refund_minor}",
                                 f"须在0与申报退税额 {claim.refund_minor} 之间"))
    if approved_on > _today():
        errors.append(FieldError("approved_on", "must not be in the future", "不能晚于今天"))
    if errors:
        raise ValidationFailed("The approval cannot be recorded.", errors=errors, message_zh="无法登记审核结果")
    before = audit.snapshot(claim)
    claim.status, claim.approved_minor, claim.approved_on = ClaimStatus.APPROVED, approved_minor, approved_on
    if claim.business_type == BusinessType.HWC_YT:
        claim.reconcile_from, claim.reconcile_due = reconcile_window(approved_on)
    lines = repo.lines(claim.id)
    for li, share in zip(lines, spread(approved_minor, [li.refund_minor for li in lines]), strict=True):
        li.approved_minor = share
    audit.record(session, principal=principal, action="tax.claims.approve", entity_type="rebate_claim",
                 entity_id=claim.id, before=before, after=audit.snapshot(claim))
    return claim


def reject(session: Session, *, principal: Principal, claim_id: uuid.UUID, reason: str) -> RebateClaim:
    """The tax office refused the claim, or the exporter withdrew a draft (→ rejected): its units are free."""
    principal.tenant(Action.WRITE)
    claim = ClaimRepository(session, principal).get(claim_id, for_update=True)
    _state(claim, (ClaimStatus.DRAFT, ClaimStatus.DECLARED), "rejected", "退回")
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", errors=[FieldError("reason", "is required", "须填写原因")])
    before = audit.snapshot(claim)
    claim.status, claim.rejected_reason = ClaimStatus.REJECTED, reason.strip()
    audit.record(session, principal=principal, action="tax.claims.reject", entity_type="rebate_claim",
                 entity_id=claim.id, before=before, after=audit.snapshot(claim))
    return claim


def is_overdue(claim: RebateClaim, today: date | None = None) -> bool:
    """A pre-rebate not reconciled by 30 April of the year after approval, or reconciled later than that."""
    if claim.reconcile_due is None:
        return False
    if claim.reconciled_on is not None:
        return claim.reconciled_on > claim.reconcile_due
    return (today or _today()) > claim.reconcile_due


def reconcile(session: Session, *, principal: Principal, claim_id: uuid.UUID, as_of: date) -> RebateClaim:
    """核算 of an approved HWC-YT pre-rebate against the units sold by ``as_of`` (domain.md §3.6, Ex. 3).

    Per line the pre-rebated units that stand are those sold since the claim (net of buyers' returns),
    less units already repaid because they went home (returns): the correct rebate is the line's rebate on
    those units; the claim's correct amount is the approved amount in that proportion. Outcome: every unit
    stands → no adjustment; none → repaid in full; otherwise adjusted, the difference (approved − correct
    − repaid on returns) settled in the period."""
    principal.tenant(Action.WRITE)
    repo = ClaimRepository(session, principal)
    claim = repo.get(claim_id, for_update=True)
    if claim.business_type != BusinessType.HWC_YT:
        raise Conflict("Only a pre-rebate (HWC-YT) is reconciled.", message_zh="仅海外仓预退需要核算")
    _state(claim, (ClaimStatus.APPROVED,), "reconciled", "核算")
    if claim.reconciled_on is not None:
        raise Conflict(f"The claim was reconciled on {claim.reconciled_on}.",
                       message_zh=f"该申报已于 {claim.reconciled_on} 核算")
    errors = []
    if as_of < claim.reconcile_from:
        errors.append(FieldError("as_of", f"is before the reconciliation window opens on {claim.reconcile_from} "
                                 "(the 1st of the month after approval)",
                                 f"核算期自 {claim.reconcile_from}（审核通过次月1日）起"))
    if as_of > _today():
        errors.append(FieldError("as_of", "must not be in the future", "不能晚于今天"))
    if errors:
        raise ValidationFailed("The claim cannot be reconciled on that day.", errors=errors, message_zh="该日不能核算")
    lines = repo.lines(claim.id)
    sold = repo.sold_until([li.declaration_line_id for li in lines], _end_of(as_of))
    back_qty: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    back_minor = 0
    for rp in repo.repayments_of(declaration_line_ids=[li.declaration_line_id for li in lines]):
        if rp.claim_id == claim.id:
            back_qty[rp.claim_line_id] += Decimal(rp.qty)
            back_minor += rp.amount_minor
    basis = []
    for li in lines:
        qty = Decimal(li.qty)
        since = min(qty, max(Decimal(0), sold.get(li.declaration_line_id, 0) - Decimal(li.sold_qty_at_claim or 0)))
        li.settled_qty = min(since, qty - back_qty[li.id])
        if claim.method == ClaimMethod.TRADER:
            amount = part(li.invoice_amount_minor or 0, Decimal(0), li.settled_qty, qty)
            basis.append(_minor(rebate.trader(_cny(amount), Decimal(li.rebate_rate)).refund))
        else:
            fob = part(li.fob_cny_minor or 0, Decimal(0), li.settled_qty, qty)
            basis.append(_minor(_cny(fob) * Decimal(li.rebate_rate)))
    approved = claim.approved_minor or 0
    computed = sum(li.refund_minor for li in lines)
    corrected = part(approved, Decimal(0), Decimal(sum(basis)), Decimal(computed)) if computed else 0
    for li, share in zip(lines, spread(corrected, basis), strict=True):
        li.corrected_minor = share
    before = audit.snapshot(claim)
    kept, total = sum(Decimal(li.settled_qty) for li in lines), sum(Decimal(li.qty) for li in lines)
    claim.outcome = Outcome.NO_ADJUSTMENT if kept == total else Outcome.REPAID if kept == 0 else Outcome.ADJUSTED
    claim.reconciled_on, claim.corrected_minor = as_of, corrected
    claim.difference_minor = approved - corrected - back_minor
    audit.record(session, principal=principal, action="tax.claims.reconcile", entity_type="rebate_claim",
                 entity_id=claim.id, before=before, after={**audit.snapshot(claim),
                                                           "overdue": is_overdue(claim)})
    return claim


# --- proceeds evidence set by hand --------------------------------------------------------------------


def record_proceeds(session: Session, *, principal: Principal, declaration_line_id: uuid.UUID, kind: str,
                    reason: str, reference: str | None = None) -> ProceedsEvidence:
    """Proceeds of a declaration line received outside the payouts, or deemed received (视同收汇), with
    the reason and the evidence reference (domain.md §3.5)."""
    me = principal.tenant(Action.WRITE)
    repo = ClaimRepository(session, principal)
    if not repo.exported_lines(line_ids=[declaration_line_id]):
        raise NotFound("No exported declaration line with this id.", message_zh="未找到该已放行的报关单商品项")
    errors = []
    if kind not in set(ProceedsKind):
        errors.append(FieldError("kind", "must be received or deemed", "须为 received（已收汇）或 deemed（视同收汇）"))
    if not (reason or "").strip():
        errors.append(FieldError("reason", "is required", "须填写原因"))
    if errors:
        raise ValidationFailed("The proceeds evidence is incomplete.", errors=errors, message_zh="收汇凭证信息不全")
    row = ProceedsEvidence(enterprise_id=me, id=uuid7(), declaration_line_id=declaration_line_id, kind=kind,
                           reason=reason.strip(), reference=(reference or "").strip()[:100] or None,
                           recorded_by=principal.label[:200])
    if not repo.add(row):
        raise Conflict("Proceeds evidence is recorded for this line already.", message_zh="该商品项已登记收汇凭证")
    audit.record(session, principal=principal, action="tax.proceeds.record", entity_type="proceeds_evidence",
                 entity_id=row.id, after=audit.snapshot(row))
    return row


def delete_proceeds(session: Session, *, principal: Principal, evidence_id: uuid.UUID) -> None:
    principal.tenant(Action.WRITE)
    repo = ClaimRepository(session, principal)
    row = repo.evidence_row(evidence_id)
    before = audit.snapshot(row)
    repo.delete(row)
    audit.record(session, principal=principal, action="tax.proceeds.delete", entity_type="proceeds_evidence",
                 entity_id=evidence_id, before=before)


# --- returns within 6 months (跨境电商出口退运) -------------------------------------------------------------


def under_return_policy(export_date: date, hs_code: str) -> tuple[bool, str | None]:
    if hs_code[:2] in FOOD_CHAPTERS:
        return False, "food"
    if not any(a <= export_date <= b for a, b in RETURN_POLICY):
        return False, "period"
    return True, None


@dataclass
class ReturnsScan:
    movements: int = 0
    created: int = 0
    updated: int = 0
    due_minor: int = 0
    #: 退运 of claimed lines the 6-month policy does not cover (food, later than 6 months, other periods):
    #: their rebate is settled outside this scan (general return rules).
    not_covered: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"movements": self.movements, "created": self.created, "updated": self.updated,
                "due_minor": self.due_minor, "not_covered": self.not_covered}


def _effective(cl: RebateClaimLine, claim: RebateClaim) -> Decimal:
    if claim.business_type == BusinessType.HWC_YT and claim.reconciled_on is not None:
        return Decimal(cl.settled_qty or 0)
    return Decimal(cl.qty)


def returns_due(session: Session, *, principal: Principal) -> ReturnsScan:
    """Find goods sent back to China (退运 of stock, and of units the buyers returned) from declaration lines
    whose rebate was approved, within 6 months of export, and make the repayment due (domain.md §3.7:
    repay first, then the tax-free re-import). Units repaid are those the approved claims no longer stand
    on — claimed units less the units still sold, or, under an open pre-rebate, still abroad — up to the
    units each 退运 took home; each unit repays its claim line's approved amount per unit. Idempotent."""
    from tradeloop.loop.service import declaration_loop

    me = principal.tenant(Action.WRITE)
    repo = ClaimRepository(session, principal)
    result = ReturnsScan()
    claimed: dict[uuid.UUID, list[tuple[RebateClaimLine, RebateClaim]]] = defaultdict(list)
    for cl, claim in repo.approved_claim_lines():
        claimed[cl.declaration_line_id].append((cl, claim))
    if claimed:
        line_ids = list(claimed)
        moves = repo.returns_home(line_ids)
        existing = repo.repayments_of(declaration_line_ids=line_ids)
        decl_ids = sorted({cl.declaration_id for rows in claimed.values() for cl, _c in rows})
        state = {lp.line_id: lp for lp in declaration_loop(session, principal=principal, declaration_ids=decl_ids,
                                                           values=False)}
        by_pair = {(r.movement_id, r.claim_line_id): r for r in existing}
        per_line: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        per_claim_line: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        per_move: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        for r in existing:
            per_line[r.declaration_line_id] += Decimal(r.qty)
            per_claim_line[r.claim_line_id] += Decimal(r.qty)
            per_move[r.movement_id] += Decimal(r.qty)
        over: dict[uuid.UUID, Decimal] = {}
        for line_id, rows in claimed.items():
            lp = state.get(line_id)
            units = sum((_effective(cl, c) for cl, c in rows), Decimal(0))
            open_pre = any(c.business_type == BusinessType.HWC_YT and c.reconciled_on is None for _cl, c in rows)
            present = Decimal(lp.sold if lp else 0) + ((lp.in_transit + lp.on_hand) if lp and open_pre else 0)
            over[line_id] = max(Decimal(0), units - present) - per_line[line_id]
        for move, line_id in moves:
            rows = claimed[line_id]
            first = rows[0][0]
            covered, why = under_return_policy(first.export_date, first.hs_code)
            day = move.occurred_at.astimezone(BEIJING).date()
            if covered and not first.export_date <= day <= add_months(first.export_date, RETURN_MONTHS):
                covered, why = False, "after 6 months"
            if not covered:
                result.not_covered.append({"movement_id": str(move.id), "declaration_line_id": str(line_id),
                                           "qty": move.qty, "reason": why})
                continue
            result.movements += 1
            left = min(Decimal(move.qty) - per_move[move.id], over[line_id])
            prefer_pre = move.kind == K.RETURN_TO_ORIGIN
            order = sorted((p for p in rows if p[1].created_at <= move.created_at),
                           key=lambda p: (0 if (p[1].business_type == BusinessType.HWC_YT) == prefer_pre else 1,
                                          p[1].created_at))
            for cl, claim in order:
                if left <= 0:
                    break
                room = _effective(cl, claim) - per_claim_line[cl.id]
                take = min(room, left)
                if take <= 0:
                    continue
                done = per_claim_line[cl.id]
                amount = part(cl.approved_minor or 0, done, done + take, Decimal(cl.qty))
                row = by_pair.get((move.id, cl.id))
                if row is None:
                    row = RebateRepayment(enterprise_id=me, id=uuid7(), claim_id=claim.id, claim_line_id=cl.id,
                                          declaration_id=cl.declaration_id, declaration_line_id=line_id,
                                          movement_id=move.id, movement_kind=move.kind, returned_at=move.occurred_at,
                                          qty=take, amount_minor=amount, status=RepaymentStatus.DUE)
                    repo.add_all([row])
                    by_pair[(move.id, cl.id)] = row
                    result.created += 1
                elif row.status == RepaymentStatus.DUE:
                    row.qty, row.amount_minor = Decimal(row.qty) + take, row.amount_minor + amount
                    result.updated += 1
                else:
                    continue
                per_claim_line[cl.id] += take
                per_move[move.id] += take
                over[line_id] -= take
                left -= take
        result.due_minor = sum(r.amount_minor for r in repo.repayments_of(declaration_line_ids=line_ids)
                               if r.status == RepaymentStatus.DUE)
    audit.record(session, principal=principal, action="tax.repayments.scan", entity_type="rebate_repayments",
                 entity_id="returns", after={k: v for k, v in result.as_dict().items() if k != "not_covered"}
                 | {"not_covered": len(result.not_covered)})
    return result


def record_repayment(session: Session, *, principal: Principal, repayment_id: uuid.UUID, certificate_no: str,
                     repaid_on: date) -> RebateRepayment:
    """The rebate was repaid; the tax office's 《出口货物已补税/未退税证明》 number goes to customs with the
    return declaration (due → repaid)."""
    principal.tenant(Action.WRITE)
    row = ClaimRepository(session, principal).repayment(repayment_id, for_update=True)
    if row.status != RepaymentStatus.DUE:
        raise Conflict("The repayment is recorded already.", message_zh="该补税已登记")
    errors = []
    if not (certificate_no or "").strip():
        errors.append(FieldError("certificate_no", "is required (出口货物已补税/未退税证明)", "须填写证明编号"))
    if repaid_on > _today():
        errors.append(FieldError("repaid_on", "must not be in the future", "不能晚于今天"))
    if errors:
        raise ValidationFailed("The repayment cannot be recorded.", errors=errors, message_zh="无法登记补税")
    before = audit.snapshot(row)
    row.status, row.certificate_no, row.repaid_on = RepaymentStatus.REPAID, certificate_no.strip()[:60], repaid_on
    audit.record(session, principal=principal, action="tax.repayments.record", entity_type="rebate_repayment",
                 entity_id=row.id, before=before, after=audit.snapshot(row))
    return row


# --- a claim's figures, as the pages and the CLI show them ---------------------------------------------


def yuan(minor: int | None) -> str:
    """Fen as a decimal string in CNY with 2 places ("1300.00"), the form of the calculator's figures."""
    return "" if minor is None else f"{_cny(minor):.2f}"


def figures(claim: RebateClaim, lines: list[RebateClaimLine]) -> list[tuple[str, str]]:
    """Every figure of the claim's formula, named as in domain.md §3.3, as decimal strings in CNY. A trader's
    claim adds its lines (rates listed when they differ); a manufacturer's carries the period's 免抵退 as it
    was computed (the bonded-material offsets are 0: claims pass none)."""
    def rates(values) -> str:
        return ", ".join(rebate.pct(v) for v in sorted({Decimal(v) for v in values}, reverse=True))

    if claim.method == ClaimMethod.TRADER:
        gap = sum((rebate.money(_cny(li.invoice_amount_minor or 0) * (Decimal(li.levy_rate) - Decimal(li.rebate_rate)))
                   for li in lines if Decimal(li.levy_rate) >= Decimal(li.rebate_rate)), Decimal(0))
        return [("计算方法", "免退税"),
                ("购进出口货物增值税专用发票注明的金额", yuan(sum(li.invoice_amount_minor or 0 for li in lines))),
                ("出口退税率", rates(li.rebate_rate for li in lines)), ("征税率", rates(li.levy_rate for li in lines)),
                ("增值税应退税额", yuan(claim.refund_minor)), ("不得退税额(进项税额转出)", f"{gap:.2f}")]
    return [("计算方法", "免抵退"),
            ("当期出口货物离岸价(人民币)", yuan(claim.fob_cny_minor)),
            ("当期内销销项税额", yuan(claim.domestic_output_vat_minor)),
            ("当期全部进项税额", yuan(claim.input_vat_minor)), ("上期留抵税额", yuan(claim.opening_credit_minor)),
            ("征税率", rates([claim.levy_rate]) if claim.levy_rate is not None else ""),
            ("退税率", rates([claim.rebate_rate]) if claim.rebate_rate is not None else ""),
            ("当期不得免征和抵扣税额抵减额", "0.00"), ("当期不得免征和抵扣税额", yuan(claim.not_exempt_minor)),
            ("当期应纳税额", yuan(claim.payable_minor)), ("期末留抵税额", yuan(claim.closing_credit_minor)),
            ("免抵退税额抵减额", "0.00"), ("当期免抵退税额", yuan(claim.exempt_credit_refund_minor)),
            ("当期应退税额", yuan(claim.refund_minor)), ("当期免抵税额", yuan(claim.exempt_credit_minor)),
            ("结转下期留抵税额", yuan(claim.carry_forward_minor))]


# --- the loop's view ------------------------------------------------------------------------------------


def tax_summary(session: Session, principal: Principal, declaration_ids: list[uuid.UUID],
                today: date | None = None) -> dict[uuid.UUID, dict]:
    """Per declaration: rebate claimed (filed: declared or approved), approved, reversed by reconciliation,
    repayment due and repaid for returns, and what is overdue (pre-rebates past their reconciliation
    deadline; repayments due — customs needs the certificate before the tax-free re-import)."""
    repo = ClaimRepository(session, principal)
    today = today or _today()
    out = {d: {"claimed_minor": 0, "approved_minor": 0, "reversed_minor": 0, "repay_due_minor": 0,
               "repaid_minor": 0, "overdue": []} for d in declaration_ids}
    seen_overdue: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for cl, claim in repo.claim_lines_of(declaration_ids=declaration_ids,
                                         statuses=(ClaimStatus.DECLARED, ClaimStatus.APPROVED)):
        row = out[cl.declaration_id]
        row["claimed_minor"] += cl.refund_minor
        if claim.status == ClaimStatus.APPROVED:
            row["approved_minor"] += cl.approved_minor or 0
            if claim.reconciled_on is not None:
                row["reversed_minor"] += (cl.approved_minor or 0) - (cl.corrected_minor or 0)
            elif is_overdue(claim, today) and (cl.declaration_id, claim.id) not in seen_overdue:
                seen_overdue.add((cl.declaration_id, claim.id))
                row["overdue"].append({"kind": "reconciliation", "claim_id": str(claim.id), "claim": claim.number,
                                       "due": claim.reconcile_due.isoformat(),
                                       "message": f"pre-rebate {claim.number} not reconciled by {claim.reconcile_due}",
                                       "message_zh": f"预退税 {claim.number} 未在 {claim.reconcile_due} 前核算"})
    for rp in repo.repayments_of(declaration_ids=declaration_ids):
        row = out[rp.declaration_id]
        if rp.status == RepaymentStatus.DUE:
            row["repay_due_minor"] += rp.amount_minor
            row["overdue"].append({"kind": "repayment", "repayment_id": str(rp.id), "qty": str(rp.qty),
                                   "amount_minor": rp.amount_minor, "returned_at": rp.returned_at.isoformat(),
                                   "message": "rebate to repay before the return's tax-free re-import",
                                   "message_zh": "退运免税进口前须先补缴已退税款"})
        else:
            row["repaid_minor"] += rp.amount_minor
    return out
