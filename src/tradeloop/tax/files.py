"""A claim's declaration detail files as .xlsx: 出口货物明细 (export goods detail, both methods) and 进货明细
(purchase detail, traders), with 退(免)税业务类型 = HWC-YT on pre-rebate lines (domain.md §3.6).

The layout is tradeloop's own (docs/tax.md, "Declaration files"): it carries the fields of the STA's detail
data sets, one column per field with a Chinese header, but it is not the import format of the tax bureau's
declaration software, whose layout is not published in a source this project holds.
"""

from __future__ import annotations

import io
import uuid
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from tradeloop.kit.errors import NotFound
from tradeloop.kit.tenancy import Principal
from tradeloop.tax.claim_models import BusinessType, ClaimMethod, RebateClaim, RebateClaimLine
from tradeloop.tax.claim_repository import ClaimRepository
from tradeloop.tax.claims import spread

KINDS = ("export-goods", "purchases")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: (header, key) of 出口货物明细; keys are filled by ``_export_rows``.
EXPORT_COLUMNS = [
    ("序号", "line_no"), ("所属期", "period"), ("关联号", "relation_no"), ("申报序号", "declare_no"),
    ("出口报关单号", "entry_id"), ("项号", "gnum"), ("出口日期", "export_date"), ("监管方式", "mode"),
    ("出口商品代码", "hs_code"), ("出口商品名称", "goods_name"), ("计量单位", "unit"), ("出口数量", "qty"),
    ("币种", "currency"), ("原币离岸价", "fob"), ("折算汇率", "fx_rate"), ("人民币离岸价", "fob_cny"),
    ("计税金额", "invoice_amount"), ("征税率", "levy_rate"), ("退税率", "rebate_rate"),
    ("应退税额", "refund"), ("收汇情况", "proceeds"), ("退(免)税业务类型", "business_type"), ("备注", "note"),
]
#: (header, key) of 进货明细.
PURCHASE_COLUMNS = [
    ("序号", "row_no"), ("所属期", "period"), ("关联号", "relation_no"), ("税种", "tax_kind"),
    ("进货凭证号", "voucher_no"), ("开票日期", "issue_date"), ("供货方纳税人识别号", "seller_uscc"),
    ("供货方名称", "seller_name"), ("出口商品代码", "hs_code"), ("商品名称", "goods_name"), ("计量单位", "unit"),
    ("数量", "qty"), ("计税金额", "amount"), ("征税率", "levy_rate"), ("税额", "vat"), ("退税率", "rebate_rate"),
    ("可退税额", "refund"), ("退(免)税业务类型", "business_type"), ("出口报关单号", "entry_id"), ("项号", "gnum"),
]
PROCEEDS_ZH = {"received": "已收汇", "partial": "部分收汇", "deemed": "视同收汇", "none": "未收汇", "n/a": ""}


def _yuan(minor: int | None) -> Decimal | None:
    return None if minor is None else Decimal(minor).scaleb(-2)


def _pct(rate: Decimal) -> Decimal:
    return (Decimal(rate) * 100).normalize()


def _qty(value: Decimal) -> Decimal:
    return Decimal(value).normalize()


def _type(line: RebateClaimLine) -> str:
    return BusinessType.HWC_YT.value if line.business_type == BusinessType.HWC_YT else ""


def _export_rows(claim: RebateClaim, lines: list[RebateClaimLine]) -> list[dict]:
    return [{
        "line_no": li.line_no, "period": claim.period.replace("-", ""), "relation_no": claim.number,
        "declare_no": f"{claim.number}-{li.line_no:03d}", "entry_id": li.entry_id, "gnum": li.gnum,
        "export_date": li.export_date, "mode": li.mode, "hs_code": li.hs_code, "goods_name": li.goods_name,
        "unit": li.unit, "qty": _qty(li.qty), "currency": li.currency,
        "fob": Decimal(li.fob_minor).scaleb(-2), "fx_rate": li.fx_rate, "fob_cny": _yuan(li.fob_cny_minor),
        "invoice_amount": _yuan(li.invoice_amount_minor), "levy_rate": _pct(li.levy_rate),
        "rebate_rate": _pct(li.rebate_rate), "refund": _yuan(li.refund_minor),
        "proceeds": PROCEEDS_ZH.get(li.proceeds, li.proceeds), "business_type": _type(li), "note": li.sku,
    } for li in lines]


def _purchase_rows(repo: ClaimRepository, claim: RebateClaim, lines: list[RebateClaimLine]) -> list[dict]:
    """The invoice units behind each claim line: its declaration line's allocations, oldest invoice first,
    after the units claimed before it; the line's amount, VAT and refund split over them by units (so the
    rows of a line add up to it exactly)."""
    allocs: dict[uuid.UUID, list] = {}
    for alloc, inv_line, inv in repo.allocations_with_invoices([li.declaration_line_id for li in lines]):
        allocs.setdefault(alloc.declaration_line_id, []).append((alloc, inv_line, inv))
    out = []
    for li in lines:
        skip, need, taken = Decimal(li.units_before), Decimal(li.qty), []
        for alloc, inv_line, inv in allocs.get(li.declaration_line_id, []):
            units = Decimal(alloc.qty)
            drop = min(skip, units)
            skip -= drop
            take = min(units - drop, need)
            if take > 0:
                taken.append((take, inv_line, inv))
                need -= take
        weights = [int(t * 100000) for t, _l, _i in taken]
        amounts = spread(li.invoice_amount_minor or 0, weights)
        vats = spread(li.invoice_vat_minor or 0, weights)
        refunds = spread(li.refund_minor, weights)
        for (take, inv_line, inv), amount, vat, refund in zip(taken, amounts, vats, refunds, strict=True):
            out.append({
                "row_no": len(out) + 1, "period": claim.period.replace("-", ""), "relation_no": claim.number,
                "tax_kind": "V", "voucher_no": f"{inv.invoice_code}{inv.invoice_no}", "issue_date": inv.issue_date,
                "seller_uscc": inv.seller_uscc, "seller_name": inv.seller_name, "hs_code": li.hs_code,
                "goods_name": inv_line.goods_name, "unit": inv_line.unit or li.unit, "qty": _qty(take),
                "amount": _yuan(amount), "levy_rate": _pct(inv_line.vat_rate), "vat": _yuan(vat),
                "rebate_rate": _pct(li.rebate_rate), "refund": _yuan(refund), "business_type": _type(li),
                "entry_id": li.entry_id, "gnum": li.gnum})
    return out


def _sheet(wb: Workbook, title: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    ws = wb.create_sheet(title)
    ws.append([h for h, _k in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([row.get(k) for _h, k in columns])
    for i, (header, _k) in enumerate(columns, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, len(header) * 2 + 2)
    ws.freeze_panes = "A2"


def workbook(session: Session, *, principal: Principal, claim_id: uuid.UUID, kind: str) -> tuple[str, bytes]:
    """(file name, .xlsx bytes) of one detail data set of a claim."""
    repo = ClaimRepository(session, principal)
    claim = repo.get(claim_id)
    if kind not in KINDS or (kind == "purchases" and claim.method != ClaimMethod.TRADER):
        raise NotFound("No such file for this claim (进货明细 is for trader claims only).",
                       message_zh="该申报无此明细文件（进货明细仅适用于外贸企业）")
    lines = repo.lines(claim.id)
    wb = Workbook()
    wb.remove(wb.active)
    if kind == "export-goods":
        _sheet(wb, "出口货物明细", EXPORT_COLUMNS, _export_rows(claim, lines))
        name = f"{claim.number}-出口货物明细.xlsx"
    else:
        _sheet(wb, "进货明细", PURCHASE_COLUMNS, _purchase_rows(repo, claim, lines))
        name = f"{claim.number}-进货明细.xlsx"
    buf = io.BytesIO()
    wb.save(buf)
    return name, buf.getvalue()
