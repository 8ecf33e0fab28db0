"""Purchase invoices (进项发票): import from CSV/.xlsx, and allocation of their lines to export declaration
lines by SKU and quantity (the matching 免退税 needs: domain.md §3.1 item 4, §3.3 (a)).

File layout: one row per invoice line; the invoice's own fields repeat on each of its rows. Columns (Chinese or
English headers, as exported from the e-Tax bureau's invoice list with a SKU column added):

    发票代码 invoice_code (10/12 digits; empty for 数电发票)   发票号码 invoice_no (8 or 20 digits)
    开票日期 issue_date        销方税号 seller_uscc          销方名称 seller_name
    货物或应税劳务名称 goods_name   规格型号 model     SKU sku (optional: 规格型号 is taken when it is a SKU)
    单位 unit    数量 quantity    金额 amount (excl. VAT)    税率 vat_rate (13% or 0.13)    税额 vat_amount

Checks (any error and nothing is applied; the report names row, column, value and reason): the seller's USCC
check character (GB 32100-2015), dates, amounts with at most 2 decimals, positive quantities, the VAT rate one
of 13/9/6/5/3/1/0 %, the VAT amount within 0.01 of amount × rate (rounded half-up) — a larger difference
is refused, because the rebate is computed on these figures — and the same invoice's rows agreeing on its
date and seller. The same file twice changes nothing; a changed invoice replaces its lines unless they are
allocated already (then it is refused: undo the allocations, as a red-letter invoice would require).

Allocation (``auto_allocate``): for every exported declaration line (released or later) not fully covered,
the open invoice lines of the same SKU, oldest invoice first, give ``min(open, needed)`` units; amount and
VAT go with the units in proportion, by cumulative rounding so the parts of a line add up to it exactly.
``allocate`` / ``deallocate`` do the same by hand. Neither side is ever allocated beyond its quantity.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.enterprises.uscc import is_valid as uscc_valid
from tradeloop.kit.errors import Conflict, FieldError, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.money import AmountError, to_minor
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, header_keys, read_table
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.tax.models import InvoiceAllocation, PurchaseInvoice, PurchaseInvoiceLine
from tradeloop.tax.repository import InvoiceRepository

COLUMNS = [
    ("invoice_code", "Invoice code", "发票代码"),
    ("invoice_no", "Invoice number", "发票号码"),
    ("issue_date", "Issue date", "开票日期"),
    ("seller_uscc", "Seller tax ID", "销方税号"),
    ("seller_name", "Seller", "销方名称"),
    ("goods_name", "Goods", "货物或应税劳务名称"),
    ("model", "Model", "规格型号"),
    ("sku", "SKU", "商品编码"),
    ("unit", "Unit", "单位"),
    ("quantity", "Quantity", "数量"),
    ("amount", "Amount excl. VAT", "金额"),
    ("vat_rate", "VAT rate", "税率"),
    ("vat_amount", "VAT", "税额"),
]
_ALIASES = {"销售方纳税人识别号": "seller_uscc", "销售方名称": "seller_name", "货物或应税劳务、服务名称": "goods_name",
            "项目名称": "goods_name", "sku": "sku", "不含税金额": "amount"}
_layout = header_keys(COLUMNS)
REQUIRED = ("invoice_no", "issue_date", "seller_uscc", "goods_name", "quantity", "amount", "vat_rate", "vat_amount")
VAT_RATES = {Decimal(x) for x in ("0.13", "0.09", "0.06", "0.05", "0.03", "0.01", "0")}
Q5 = Decimal("0.00001")


def _header(text: str) -> str | None:
    return _layout(text) or _ALIASES.get(text.strip()) or _ALIASES.get(text.strip().lower())


@dataclass
class InvoiceImport:
    invoices: int = 0
    lines: int = 0
    inserted: int = 0
    replaced: int = 0
    unchanged: int = 0
    amount_minor: int = 0
    vat_minor: int = 0
    encoding: str | None = None
    warnings: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"invoices": self.invoices, "lines": self.lines, "inserted": self.inserted, "replaced": self.replaced,
                "unchanged": self.unchanged, "amount_minor": self.amount_minor, "vat_minor": self.vat_minor,
                "warnings": self.warnings}


def _rate(text: str) -> Decimal | None:
    t = text.strip().replace("％", "%")
    if t in ("免税", "不征税"):
        return Decimal(0)
    try:
        value = Decimal(t[:-1]) / 100 if t.endswith("%") else Decimal(t)
    except InvalidOperation:
        return None
    return value if value in VAT_RATES else None


def _day(text: str) -> date | None:
    t = text.strip()
    m = (re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?", t)
         or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", t))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _content_hash(lines: list[dict]) -> str:
    text = "|".join(f"{li['goods_name']}/{li['sku']}/{li['model']}/{li['unit']}/{li['quantity']}/{li['amount_minor']}/"
                    f"{li['vat_rate']}/{li['vat_minor']}" for li in lines)
    return hashlib.sha256(text.encode()).hexdigest()


def import_invoices(session: Session, *, principal: Principal, filename: str, data: bytes) -> InvoiceImport:
    """Import purchase invoices from a file (see the module text); all or nothing; idempotent."""
    me = principal.tenant(Action.WRITE)
    try:
        table = read_table(filename, data, _header)
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    errors = [RowError(1, header, header, "unknown column", "无法识别的列") for _i, header in table.unknown]
    errors += [RowError(1, key, "", "the column is missing", "缺少该列")
               for key in REQUIRED if key not in table.columns]
    if errors:
        raise ImportRejected(errors, table.encoding)
    col = table.columns
    invoices: dict[tuple[str, str], dict] = {}
    for number, raw in table.rows:
        bad = len(errors)
        code = raw.get("invoice_code", "").strip()
        no = raw.get("invoice_no", "").strip()
        if not re.fullmatch(r"\d{10}|\d{12}|", code):
            errors.append(RowError(number, col.get("invoice_code", "invoice_code"), code,
                                   "must be 10 or 12 digits (empty for a fully digital invoice)",
                                   "须为10或12位数字（数电发票为空）"))
        if not re.fullmatch(r"\d{8}|\d{20}", no):
            errors.append(RowError(number, col["invoice_no"], no, "must be 8 digits, or 20 for a fully digital invoice",
                                   "须为8位数字（数电发票为20位）"))
        day = _day(raw.get("issue_date", ""))
        if day is None:
            errors.append(RowError(number, col["issue_date"], raw.get("issue_date", ""), "is not a date",
                                   "不是有效日期"))
        seller = raw.get("seller_uscc", "").strip().upper()
        if not uscc_valid(seller):
            errors.append(RowError(number, col["seller_uscc"], seller,
                                   "is not a valid unified social credit code (check character)",
                                   "不是有效的统一社会信用代码（校验位不符）"))
        name = raw.get("goods_name", "").strip()
        if not name:
            errors.append(RowError(number, col["goods_name"], "", "is required", "为必填项"))
        try:
            qty = Decimal(raw.get("quantity", "").strip().replace(",", ""))
            if not qty.is_finite() or qty <= 0 or qty != qty.quantize(Q5):
                raise InvalidOperation
        except InvalidOperation:
            qty = None
            errors.append(RowError(number, col["quantity"], raw.get("quantity", ""),
                                   "must be a positive number with at most 5 decimals", "须为正数，最多5位小数"))
        amounts = {}
        for key in ("amount", "vat_amount"):
            try:
                amounts[key] = to_minor(raw.get(key, "").strip() or "x", 2)
                if amounts[key] < 0:
                    raise AmountError("must not be negative (a red-letter invoice reverses; import it separately)",
                                      "不能为负数（红字发票请单独处理）")
            except AmountError as exc:
                errors.append(RowError(number, col[key], raw.get(key, ""), exc.en, exc.zh))
        rate = _rate(raw.get("vat_rate", ""))
        if rate is None:
            errors.append(RowError(number, col["vat_rate"], raw.get("vat_rate", ""),
                                   "must be one of 13%, 9%, 6%, 5%, 3%, 1%, 0%", "须为13%、9%、6%、5%、3%、1%或0%"))
        elif len(amounts) == 2:
            expected = (Decimal(amounts["amount"]) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            if abs(expected - amounts["vat_amount"]) > 1:
                errors.append(RowError(number, col["vat_amount"], raw.get("vat_amount", ""),
                                       f"is not amount × rate ({expected / 100:.2f})",
                                       f"与金额×税率（{expected / 100:.2f}）不符"))
        if len(errors) > bad:
            continue
        sku = raw.get("sku", "").strip() or None
        model = raw.get("model", "").strip() or None
        inv = invoices.setdefault((code, no), {"issue_date": day, "seller_uscc": seller, "row": number,
                                               "seller_name": raw.get("seller_name", "").strip() or None, "lines": []})
        if (inv["issue_date"], inv["seller_uscc"]) != (day, seller):
            errors.append(RowError(number, col["issue_date"], raw.get("issue_date", ""),
                                   f"differs from row {inv['row']} of the same invoice (date or seller)",
                                   f"与同一发票第{inv['row']}行的日期或销方不一致"))
            continue
        inv["lines"].append({"goods_name": name[:200], "sku": sku or model, "model": model,
                             "unit": raw.get("unit", "").strip() or None, "quantity": qty,
                             "amount_minor": amounts["amount"], "vat_rate": rate, "vat_minor": amounts["vat_amount"]})
    if errors:
        raise ImportRejected(errors, table.encoding)
    return _store(session, principal, me, filename, invoices, table.encoding)


def _store(session: Session, principal: Principal, me: uuid.UUID, filename: str, invoices: dict,
           encoding: str | None) -> InvoiceImport:
    repo = InvoiceRepository(session, principal)
    result = InvoiceImport(invoices=len(invoices), lines=sum(len(i["lines"]) for i in invoices.values()),
                           encoding=encoding)
    existing = repo.by_numbers(list(invoices))
    stored_lines = repo.lines([inv.id for inv in existing.values()])
    for (code, no), given in invoices.items():
        amount = sum(li["amount_minor"] for li in given["lines"])
        vat = sum(li["vat_minor"] for li in given["lines"])
        result.amount_minor += amount
        result.vat_minor += vat
        old = existing.get((code, no))
        if old is not None:
            old_lines = stored_lines[old.id]
            same = _content_hash([{**{k: getattr(li, k) for k in ("goods_name", "sku", "model", "unit", "amount_minor",
                                                                  "vat_minor")},
                                   "quantity": Decimal(li.quantity).quantize(Q5), "vat_rate": Decimal(li.vat_rate)}
                                  for li in old_lines]) == _content_hash(
                [{**li, "quantity": li["quantity"].quantize(Q5)} for li in given["lines"]])
            if same and (old.issue_date, old.seller_uscc) == (given["issue_date"], given["seller_uscc"]):
                result.unchanged += 1
                continue
            if any(li.allocated_qty for li in old_lines):
                raise Conflict(f"Invoice {code}/{no} changed but its lines are allocated to declarations: undo "
                               "those allocations first.", message_zh=f"发票 {code}/{no} 内容有变化，但已分配到报关单，"
                               "请先撤销分配", invoice_no=no)
            repo.delete_lines(old.id)
            old.issue_date, old.seller_uscc, old.seller_name = (given["issue_date"], given["seller_uscc"],
                                                                given["seller_name"])
            old.amount_minor, old.vat_minor, old.filename = amount, vat, filename[:255]
            invoice_id = old.id
            result.replaced += 1
        else:
            invoice_id = uuid7()
            repo.add_all([PurchaseInvoice(enterprise_id=me, id=invoice_id, invoice_code=code, invoice_no=no,
                                          issue_date=given["issue_date"], seller_uscc=given["seller_uscc"],
                                          seller_name=given["seller_name"], amount_minor=amount, vat_minor=vat,
                                          filename=filename[:255])])
            result.inserted += 1
        repo.add_all([PurchaseInvoiceLine(enterprise_id=me, id=uuid7(), invoice_id=invoice_id, line_no=n,
                                          allocated_qty=Decimal(0), **li)
                      for n, li in enumerate(given["lines"], start=1)])
    audit.record(session, principal=principal, action="tax.invoices.import", entity_type="purchase_invoices",
                 entity_id=filename[:100], after={k: v for k, v in result.as_dict().items() if k != "warnings"})
    return result


# --- allocation to declaration lines -----------------------------------------------------------------


def _share(total: int, before: Decimal, upto: Decimal, qty: Decimal) -> int:
    """The part of ``total`` carried by units (before, upto] of ``qty``: cumulative rounding, so the parts of
    a line add up to ``total`` exactly however it is split."""
    def cum(units: Decimal) -> int:
        return int((Decimal(total) * units / qty).to_integral_value(rounding=ROUND_HALF_UP))
    return cum(upto) - cum(before)


def _allocate_units(repo: InvoiceRepository, principal: Principal, line: PurchaseInvoiceLine, decl_line_id: uuid.UUID,
                    qty: Decimal, method: str) -> InvoiceAllocation:
    before = Decimal(line.allocated_qty)
    if not repo.add_allocated(line, qty):
        raise Conflict("The invoice line has fewer unallocated units than that (it changed meanwhile).",
                       message_zh="该发票行未分配数量不足（可能已被他人分配）")
    qty_total = Decimal(line.quantity)
    if before + qty == qty_total:  # the last units take what is left: a fully allocated line adds up exactly
        others = repo.allocations(invoice_line_ids=[line.id])
        amount = line.amount_minor - sum(a.amount_minor for a in others)
        vat = line.vat_minor - sum(a.vat_minor for a in others)
    else:
        amount = _share(line.amount_minor, before, before + qty, qty_total)
        vat = _share(line.vat_minor, before, before + qty, qty_total)
    row = repo.pair(line.id, decl_line_id)
    if row is not None:  # more units of the same invoice line on the same declaration line: one allocation
        row.qty, row.amount_minor, row.vat_minor = Decimal(row.qty) + qty, row.amount_minor + amount, \
            row.vat_minor + vat
        repo.session.flush()
    else:
        row = InvoiceAllocation(enterprise_id=line.enterprise_id, id=uuid7(), invoice_line_id=line.id,
                                declaration_line_id=decl_line_id, qty=qty, amount_minor=amount, vat_minor=vat,
                                method=method, created_by=principal.label[:200])
        if not repo.add(row):
            raise Conflict("This invoice line was just allocated to this declaration line by someone else; retry.",
                           message_zh="该发票行刚被他人分配到此报关单商品项，请重试")
    line.allocated_qty = before + qty
    return row


@dataclass
class AllocationResult:
    declaration_lines: int = 0
    covered: int = 0
    allocations: int = 0
    qty: Decimal = Decimal(0)
    #: Declaration lines still not covered: {"declaration_line_id", "cop_no", "gnum", "sku", "missing"}.
    uncovered: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"declaration_lines": self.declaration_lines, "covered": self.covered, "allocations": self.allocations,
                "qty": str(self.qty), "uncovered": self.uncovered}


def auto_allocate(session: Session, *, principal: Principal,
                  declaration_ids: list[uuid.UUID] | None = None) -> AllocationResult:
    """Cover exported declaration lines with open invoice lines of the same SKU, oldest invoice first."""
    principal.tenant(Action.WRITE)
    repo = InvoiceRepository(session, principal)
    pairs = repo.exported_lines(declaration_ids, for_update=True)
    done = repo.allocated_to([li.id for li, _d in pairs])
    open_lines: dict[str, list[PurchaseInvoiceLine]] = defaultdict(list)
    for line, _inv in repo.open_lines(sorted({li.item_no for li, _d in pairs})):
        open_lines[line.sku].append(line)
    result = AllocationResult(declaration_lines=len(pairs))
    for decl_line, decl in pairs:
        need = Decimal(decl_line.qty) - done.get(decl_line.id, Decimal(0))
        for inv_line in open_lines.get(decl_line.item_no, []):
            if need <= 0:
                break
            free = Decimal(inv_line.quantity) - Decimal(inv_line.allocated_qty)
            if free <= 0:
                continue
            take = min(free, need)
            _allocate_units(repo, principal, inv_line, decl_line.id, take, "auto")
            result.allocations += 1
            result.qty += take
            need -= take
        if need <= 0:
            result.covered += 1
        else:
            result.uncovered.append({"declaration_line_id": str(decl_line.id), "cop_no": decl.cop_no,
                                     "gnum": decl_line.gnum, "sku": decl_line.item_no, "missing": str(need)})
    audit.record(session, principal=principal, action="tax.invoices.allocate_auto", entity_type="invoice_allocations",
                 entity_id="auto", after={**result.as_dict(), "uncovered": len(result.uncovered)})
    return result


def allocate(session: Session, *, principal: Principal, invoice_line_id: uuid.UUID, declaration_line_id: uuid.UUID,
             qty: Decimal) -> InvoiceAllocation:
    """Allocate ``qty`` units of an invoice line to an exported declaration line by hand."""
    principal.tenant(Action.WRITE)
    repo = InvoiceRepository(session, principal)
    decl_line, _decl = repo.declaration_line(declaration_line_id, for_update=True)
    line = repo.line(invoice_line_id, for_update=True)
    errors = []
    free_inv = Decimal(line.quantity) - Decimal(line.allocated_qty)
    free_decl = Decimal(decl_line.qty) - repo.allocated_to([decl_line.id]).get(decl_line.id, Decimal(0))
    if qty <= 0 or qty != qty.quantize(Q5):
        errors.append(FieldError("qty", "must be positive, at most 5 decimals", "须为正数，最多5位小数"))
    elif qty > free_inv:
        errors.append(FieldError("qty", f"is more than the invoice line's unallocated {free_inv}",
                                 f"超过发票行未分配数量 {free_inv}"))
    elif qty > free_decl:
        errors.append(FieldError("qty", f"is more than the declaration line still needs ({free_decl})",
                                 f"超过报关单商品项尚需数量 {free_decl}"))
    if line.sku and line.sku != decl_line.item_no:
        errors.append(FieldError("declaration_line_id", f"is SKU {decl_line.item_no}, the invoice line {line.sku}",
                                 f"报关单商品项为 {decl_line.item_no}，发票行为 {line.sku}"))
    if errors:
        raise ValidationFailed("The allocation cannot be made.", errors=errors, message_zh="无法分配")
    row = _allocate_units(repo, principal, line, decl_line.id, qty, "manual")
    audit.record(session, principal=principal, action="tax.invoices.allocate", entity_type="invoice_allocation",
                 entity_id=row.id, after=audit.snapshot(row))
    return row


def deallocate(session: Session, *, principal: Principal, allocation_id: uuid.UUID) -> None:
    principal.tenant(Action.WRITE)
    repo = InvoiceRepository(session, principal)
    row = repo.allocation(allocation_id)
    line = repo.line(row.invoice_line_id, for_update=True)
    if not repo.add_allocated(line, -Decimal(row.qty)):
        raise Conflict("The invoice line changed meanwhile; reload.", message_zh="发票行已被修改，请刷新")
    before = audit.snapshot(row)
    repo.delete(row)
    audit.record(session, principal=principal, action="tax.invoices.deallocate", entity_type="invoice_allocation",
                 entity_id=allocation_id, before=before)
