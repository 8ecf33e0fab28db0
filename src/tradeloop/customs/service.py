"""Declarations: create, correct, submit, cancel; monthly summaries. Every change is one audited function.

Nothing is written to customs before the whole declaration validates: every code is checked against the
reference tables (HS, units, countries, currencies, transport modes) and every length against the CEB
202205 field table (domain.md §2.5), with messages in Chinese and English naming the field. The messages
themselves are then built and validated against the official XSD by ``ceb.writer`` before they are
queued; the exchange gateway moves queued messages to the outbox folder.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.catalog.models import Product
from tradeloop.catalog.repository import ProductRepository
from tradeloop.customs import messages as build
from tradeloop.customs.ceb import writer
from tradeloop.customs.models import (
    Declaration,
    DeclarationLine,
    DeclarationStatus,
    Document,
    DocumentKind,
    Message,
    MessageDirection,
    Mode,
    Quarantined,
    Summary,
    SummaryStatus,
)
from tradeloop.customs.repository import DeclarationRepository, ExchangeRepository
from tradeloop.customs.schemas import DeclarationCreate, DeclarationUpdate
from tradeloop.customs.status import current, declaration_status, is_failure, summary_status
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.money import AmountError, from_minor, to_minor
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.warehouse.repository import WarehouseRepository

MAX_LINES = 100  # OrderList / InventoryList maxOccurs in the 202205 XSD
TRADE_TERMS = ("EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP")
#: Package type (包装种类) in the one-character customs code the CEB ``wrapType`` takes (C1);
#: source: shared/reference/customs-codes/package_type.csv, column old_customs_code.
WRAP_TYPES = {"1": "木箱", "2": "纸箱", "3": "桶装", "4": "散装", "5": "托盘", "6": "包", "7": "其它"}
CODE_RE = r"[A-Za-z0-9][A-Za-z0-9_\-/.]*"
EDITABLE = {DeclarationStatus.DRAFT, DeclarationStatus.NEEDS_ACTION}
CHINA = "142"
#: N19,5: at most 14 digits before the decimal point, for every amount and quantity in the messages.
MAX_AMOUNT = 10 ** 14
#: Characters XML 1.0 does not allow in a document (the writer would refuse the message).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class ExchangeConfig:
    """Who transmits (BaseTransfer) and how messages are signed. ``transfer_code`` None = the declaring
    agent transmits through its own data-exchange client."""

    dxp_id: str = "DXPENT0000000000"
    transfer_code: str | None = None
    transfer_name: str | None = None
    signer: object | None = None

    def transfer(self, agent_code: str, agent_name: str) -> dict:
        return {"copCode": self.transfer_code or agent_code, "copName": self.transfer_name or agent_name,
                "dxpMode": "DXP", "dxpId": self.dxp_id}


def new_number(prefix: str) -> str:
    """An enterprise document number: prefix, Beijing date-time to the second, 8 random hex (≤ 26 chars)."""
    return f"{prefix}{build.app_time(utcnow())[2:]}{secrets.token_hex(4).upper()}"


# --- validation ---------------------------------------------------------------------------------


def _decimal(errors: Errors, name: str, value, label_zh: str, *, places: int = 5, positive: bool = True,
             required: bool = True) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(name, "is required", f"{label_zh}为必填项")
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        errors.add(name, "must be a number", f"{label_zh}应为数字")
        return None
    if number < 0 or (positive and number == 0):
        errors.add(name, "must be greater than zero" if positive else "must not be negative",
                   f"{label_zh}应大于零" if positive else f"{label_zh}不能为负数")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
        errors.add(name, f"must have at most {places} decimal places", f"{label_zh}最多{places}位小数")
        return None
    if number >= Decimal(10) ** 14:
        errors.add(name, "is too large", f"{label_zh}过大")
        return None
    return number


def _amount(errors: Errors, name: str, value, units: int | None, label_zh: str) -> int:
    if value is None or units is None:
        return 0
    try:
        minor = to_minor(value, units)
    except AmountError as exc:
        errors.add(name, exc.en, f"{label_zh}{exc.zh}")
        return 0
    if minor < 0:
        errors.add(name, "must not be negative", f"{label_zh}不能为负数")
    elif minor >= MAX_AMOUNT * 10 ** units:
        errors.add(name, "is too large for a customs amount (N19,5)", f"{label_zh}超出海关金额范围")
        return 0
    return minor


def _text(errors: Errors, name: str, value, label_zh: str, n: int, *, required: bool = True,
          pattern: str | None = None) -> str | None:
    value = clean(value) if isinstance(value, str) or value is None else clean(str(value))
    if required and not errors.required(name, value, label_zh):
        return None
    errors.max_len(name, value, n)
    if value and XML_INVALID.search(value):
        errors.add(name, "contains control characters customs messages cannot carry",
                   f"{label_zh}含有报文不允许的控制字符")
    if pattern:
        errors.pattern(name, value, pattern, "has characters a customs number may not have",
                       f"{label_zh}含有海关编号不允许的字符")
    return value


def _party_code(errors: Errors, name: str, value, label_zh: str) -> str | None:
    """A customs registration code: 10-digit customs code, 18-character USCC, "无" (overseas platform
    without code) or "NO" (producer not registered) — domain.md §2.5.x."""
    code = _text(errors, name, value, label_zh, 18)
    if code and code not in {"无", "NO"} and not re.fullmatch(r"[0-9A-Z]{10}|[0-9A-Z]{18}", code):
        errors.add(name, "must be a 10-character customs code or an 18-character USCC",
                   f"{label_zh}应为10位海关编码或18位统一社会信用代码")
    return code


def _office(errors: Errors, name: str, value, label_zh: str) -> str | None:
    code = _text(errors, name, value, label_zh, 4)
    if code and not re.fullmatch(r"\d{4}", code):
        errors.add(name, "must be a 4-digit customs office code", f"{label_zh}应为4位海关关区代码")
    return code


@dataclass
class Checked:
    head: dict
    lines: list[dict] = field(default_factory=list)


def _given(data) -> dict:
    if isinstance(data, dict):
        return data
    return data.model_dump(exclude_unset=True)


def _current_values(decl: Declaration | None, lines: list[DeclarationLine]) -> dict:
    if decl is None:
        return {}
    out = {c: getattr(decl, c) for c in ("mode", "order_no", "ebp_code", "ebp_name", "warehouse_id", "owner_code",
                                         "owner_name", "agent_code", "agent_name", "logistics_code",
                                         "logistics_name", "logistics_no", "customs_code", "port_code", "ie_date",
                                         "country", "pod", "traf_mode", "traf_name", "voyage_no", "bill_no",
                                         "trade_terms", "currency", "wrap_type", "pack_no", "gross_weight_kg",
                                         "net_weight_kg", "statistics_flag", "license_no", "iac_code", "iac_name",
                                         "ems_no", "pay_code", "pay_name", "pay_no", "paid_at", "note")}
    out["freight_minor"], out["insured_fee_minor"] = decl.freight_minor, decl.insured_fee_minor
    out["_currency_before"] = decl.currency
    out["lines"] = [{"product_id": li.product_id, "sku": li.item_no, "qty": li.qty, "price": li.price,
                     "bar_code": li.bar_code, "gmodel": li.gmodel, "country": li.country,
                     "item_record_no": li.item_record_no, "note": li.note} for li in lines]
    return out


class _Check:
    """Validates a whole declaration (head and lines) and derives what the catalogue gives."""

    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal
        self.refs = ReferenceLookup(session)
        self.errors = Errors()

    def run(self, values: dict, *, current_id: uuid.UUID | None) -> Checked:
        e = self.errors
        me = EnterpriseRepository(self.session, self.principal).get(self.principal.tenant(Action.READ))
        head: dict = {}
        mode = clean(str(values.get("mode") or ""))
        if e.required("mode", mode, "监管方式"):
            e.one_of("mode", mode, [m.value for m in Mode], "监管方式")
        head["mode"] = mode
        head["order_type"] = build.ORDER_TYPE.get(mode, "E") if mode in set(Mode) else "E"
        head["ebc_code"] = me.customs_code or me.uscc
        head["ebc_name"] = me.name_zh[:100]
        self._parties(values, head, mode, me)
        self._route(values, head)
        self._money(values, head)
        lines = self._lines(values.get("lines") or [], head)
        self._weights(values, head, lines)
        self._mode_rules(values, head, lines, mode)
        order_no = _text(e, "order_no", values.get("order_no"), "订单编号", 60, required=False, pattern=CODE_RE)
        if order_no and DeclarationRepository(self.session, self.principal).order_no_taken(order_no,
                                                                                           except_id=current_id):
            e.add("order_no", "is already used by another of your declarations", "订单编号已被本企业其他申报单使用")
        head["order_no"] = order_no or new_number("OWB" if mode == Mode.OVERSEAS_WAREHOUSE else "ORD")
        head["note"] = _text(e, "note", values.get("note"), "备注", 1000, required=False)
        e.raise_if_any("The declaration has invalid fields.", "申报单有字段不符合要求")
        return Checked(head, lines)

    def _parties(self, values: dict, head: dict, mode: str, me) -> None:
        e = self.errors
        warehouse_id = values.get("warehouse_id")
        head["warehouse_id"] = None
        if mode == Mode.OVERSEAS_WAREHOUSE:
            warehouse = self._warehouse(warehouse_id) if e.required("warehouse_id", warehouse_id, "海外仓") \
                else None
            if warehouse is not None:
                head["warehouse_id"] = warehouse.id
                # 9810: ebpName = 海外仓名称; an overseas party without a code fills "无" (domain.md §1.6, §2.5.x)
                values = {**values, "ebp_name": values.get("ebp_name") or warehouse.name_zh[:100],
                          "ebp_code": values.get("ebp_code") or "无"}
        head["ebp_code"] = _party_code(e, "ebp_code", values.get("ebp_code"), "电商平台代码")
        head["ebp_name"] = _text(e, "ebp_name", values.get("ebp_name"), "电商平台名称", 100)
        for role, label in (("owner", "生产销售单位"), ("agent", "申报企业")):
            code = values.get(f"{role}_code") or head["ebc_code"]
            head[f"{role}_code"] = _party_code(e, f"{role}_code", code, f"{label}代码")
            name = values.get(f"{role}_name") or (me.name_zh[:100] if code == head["ebc_code"] else None)
            head[f"{role}_name"] = _text(e, f"{role}_name", name, f"{label}名称", 100)
        head["logistics_code"] = _party_code(e, "logistics_code", values.get("logistics_code"), "物流企业代码")
        head["logistics_name"] = _text(e, "logistics_name", values.get("logistics_name"), "物流企业名称", 100)
        head["logistics_no"] = _text(e, "logistics_no", values.get("logistics_no"), "物流运单编号", 32,
                                     pattern=CODE_RE)

    def _warehouse(self, warehouse_id):
        try:
            return WarehouseRepository(self.session, self.principal).get(uuid.UUID(str(warehouse_id)))
        except (ValueError, NotFound):
            self.errors.add("warehouse_id", "is not a warehouse you own or use", "不是本企业自有或使用的海外仓")
            return None

    def _route(self, values: dict, head: dict) -> None:
        e, refs = self.errors, self.refs
        head["customs_code"] = _office(e, "customs_code", values.get("customs_code"), "申报地海关")
        head["port_code"] = _office(e, "port_code", values.get("port_code"), "出口口岸")
        ie_date = values.get("ie_date")
        if isinstance(ie_date, str) and ie_date:
            try:
                ie_date = date.fromisoformat(ie_date)
            except ValueError:
                e.add("ie_date", "must be a date (YYYY-MM-DD)", "出口日期格式应为 YYYY-MM-DD")
                ie_date = None
        if e.required("ie_date", ie_date, "出口日期"):
            head["ie_date"] = ie_date
        country = _text(e, "country", values.get("country"), "运抵国", 3)
        head["country"] = self._country(country, "country", "运抵国") if country else None
        head["pod"] = _text(e, "pod", values.get("pod"), "指运港", 4)
        if head["pod"] and not re.fullmatch(r"[A-Za-z0-9]{3,4}", head["pod"]):
            e.add("pod", "must be a 3- or 4-character port code", "指运港代码应为3至4位")
        traf = _text(e, "traf_mode", values.get("traf_mode"), "运输方式", 1)
        if traf and not refs.transport_mode(traf):
            e.add("traf_mode", "is not a customs transport mode code", "不是有效的海关运输方式代码")
        head["traf_mode"] = traf
        head["traf_name"] = _text(e, "traf_name", values.get("traf_name"), "运输工具名称", 100, required=False)
        head["voyage_no"] = _text(e, "voyage_no", values.get("voyage_no"), "航班航次号", 32, required=False)
        head["bill_no"] = _text(e, "bill_no", values.get("bill_no"), "提运单号", 37, required=False,
                                pattern=CODE_RE)
        head["license_no"] = _text(e, "license_no", values.get("license_no"), "许可证号", 19, required=False)
        wrap = _text(e, "wrap_type", values.get("wrap_type"), "包装种类", 1)
        if wrap:
            e.one_of("wrap_type", wrap, list(WRAP_TYPES), "包装种类")
        head["wrap_type"] = wrap
        pack_no = values.get("pack_no")
        if e.required("pack_no", pack_no, "件数"):
            try:
                pack_no = int(pack_no)
            except (TypeError, ValueError):
                pack_no = 0
            if not 1 <= pack_no <= 999_999_999:
                e.add("pack_no", "must be a whole number from 1", "件数应为不小于1的整数")
        head["pack_no"] = pack_no
        flag = clean(values.get("statistics_flag")) or "B"
        e.one_of("statistics_flag", flag, ["A", "B"], "申报业务类型")
        head["statistics_flag"] = flag

    def _country(self, code: str, name: str, label_zh: str) -> str | None:
        customs = self.refs.country(code.upper())
        if customs is None:
            self.errors.add(name, "is not a country code (3-digit customs code or ISO alpha-2)",
                            f"{label_zh}不是有效的国家（地区）代码")
        elif customs == CHINA:
            self.errors.add(name, "must be a country other than China", f"{label_zh}不能为中国")
        return customs

    def _money(self, values: dict, head: dict) -> None:
        e = self.errors
        terms = (clean(values.get("trade_terms")) or "FOB").upper()
        e.one_of("trade_terms", terms, TRADE_TERMS, "成交方式")
        head["trade_terms"] = terms
        currency = (clean(values.get("currency")) or "").upper() or None
        units = None
        if e.required("currency", currency, "币制"):
            units = self.refs.minor_units(currency)
            if units is None or self.refs.customs_currency(currency) is None:
                e.add("currency", "is not a currency with a customs code", "不是有海关代码的币制")
                units = None
        head["currency"] = currency
        self.units = units
        for key, label in (("freight", "运费"), ("insured_fee", "保费")):
            amount = values.get(key)
            if f"{key}_minor" in values and key not in values:
                # a stored amount is a decimal of the currency it was given in: re-read it as such, so a
                # change of currency is checked (12.50 is not a JPY amount) instead of reinterpreted
                before = self.refs.minor_units(values.get("_currency_before") or currency or "")
                amount = from_minor(values[f"{key}_minor"], before) if before is not None else None
            head[f"{key}_minor"] = _amount(e, key, amount, units, label)

    def _lines(self, given: list, head: dict) -> list[dict]:
        e = self.errors
        if not given:
            e.add("lines", "must have at least one line", "至少需要一项商品")
            return []
        if len(given) > MAX_LINES:
            e.add("lines", f"must have at most {MAX_LINES} lines (split the declaration)",
                  f"商品项不能超过{MAX_LINES}项（请拆分申报单）")
            return []
        products = ProductRepository(self.session, self.principal)
        by_sku = products.by_sku([str(g.get("sku")) for g in map(_given, given) if g.get("sku")])
        out = []
        for i, raw in enumerate(map(_given, given), start=1):
            line = self._line(i, raw, head, products, by_sku)
            if line is not None:
                out.append(line)
        return out

    def _line(self, gnum: int, raw: dict, head: dict, products, by_sku) -> dict | None:
        e, p = self.errors, f"lines[{gnum - 1}]"
        product: Product | None = None
        if raw.get("product_id"):
            try:
                product = products.get(uuid.UUID(str(raw["product_id"])))
            except (ValueError, NotFound):
                product = None
        elif raw.get("sku"):
            product = by_sku.get(str(raw["sku"]))
        if product is None:
            e.add(f"{p}.sku", "is not a product of your catalogue", "不是本企业商品目录中的商品")
            return None
        if not product.active:
            e.add(f"{p}.sku", "is a deactivated product", "该商品已停用")
        qty = _decimal(e, f"{p}.qty", raw.get("qty"), "数量")
        price = _decimal(e, f"{p}.price", raw.get("price"), "单价")
        if len(product.sku) > 20:
            e.add(f"{p}.sku", "is longer than the 20 characters customs allows for itemNo",
                  "SKU超过海关商品货号（itemNo）允许的20个字符")
        if not self.refs.hs(product.hs_code):
            e.add(f"{p}.gcode", "the product's HS code is not in the HS reference table",
                  "商品的HS编码不在商品编码参考表中")
        for unit_field in ("customs_unit", "unit1", "unit2"):
            code = getattr(product, unit_field)
            if code and not self.refs.unit(code):
                e.add(f"{p}.{unit_field}", "is not a customs unit code", "不是有效的海关计量单位代码")
        if not product.unit1:
            e.add(f"{p}.unit1", "the product has no legal unit (unit1): complete it in the catalogue",
                  "商品缺少法定计量单位（unit1），请在商品目录中补全")
        if bool(product.unit2) != bool(product.unit2_factor):
            e.add(f"{p}.unit2", "second unit and its quantity must both be given or both be empty",
                  "第二计量单位与第二数量须同时填写或同时为空")
        country = clean(raw.get("country"))
        country = self._country(country, f"{p}.country", "最终目的国") if country else head.get("country")
        bar_code = _text(e, f"{p}.bar_code", raw.get("bar_code") or product.gtin or "无", "条形码", 50)
        gmodel = _text(e, f"{p}.gmodel", raw.get("gmodel") or product.declared_elements or product.declared_name,
                       "规格型号", 250)
        record_no = _text(e, f"{p}.item_record_no", raw.get("item_record_no"), "账册备案料号", 30, required=False)
        note = _text(e, f"{p}.note", raw.get("note"), "备注", 1000, required=False)
        if qty is None or price is None:
            return None
        total = (qty * price).quantize(Decimal(1).scaleb(-(self.units or 0)), rounding=ROUND_HALF_UP)
        total_minor = int(total.scaleb(self.units or 0)) if self.units is not None else 0
        if self.units is not None and total_minor <= 0:
            e.add(f"{p}.price", "quantity × price rounds to zero", "数量×单价为零")
        if total >= MAX_AMOUNT:
            e.add(f"{p}.price", "quantity × price is too large for a customs amount", "数量×单价超出海关金额范围")
        for name, value in (("gname", product.declared_name), ("item_name", product.name_zh)):
            if XML_INVALID.search(value or ""):
                e.add(f"{p}.{name}", "the product's name contains control characters: correct it in the catalogue",
                      "商品名称含有控制字符，请在商品目录中修改")
        qty1 = self._legal_qty(p, "qty1", qty, product.unit1_factor or Decimal(1))
        qty2 = self._legal_qty(p, "qty2", qty, product.unit2_factor) if product.unit2 and product.unit2_factor \
            else None
        q5 = Decimal("0.00001")
        return {"gnum": gnum, "product_id": product.id, "item_no": product.sku[:20],
                "item_record_no": record_no, "item_name": product.name_zh[:250], "gcode": product.hs_code,
                "gname": product.declared_name, "gmodel": gmodel, "bar_code": bar_code, "country": country,
                "qty": qty, "unit": product.customs_unit, "qty1": qty1, "unit1": product.unit1,
                "unit2": product.unit2, "qty2": qty2,
                "price": price, "total_minor": total_minor,
                "gross_weight_kg": (qty * product.gross_weight_kg).quantize(q5) if product.gross_weight_kg else None,
                "net_weight_kg": (qty * product.net_weight_kg).quantize(q5) if product.net_weight_kg else None,
                "note": note}

    def _legal_qty(self, p: str, name: str, qty: Decimal, factor: Decimal) -> Decimal:
        """A legal-unit quantity (qty × the catalogue's factor) at the 5 decimals N19,5 allows, rounded half
        up; it must stay above zero and within range."""
        value = (qty * factor).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)
        if value <= 0:
            self.errors.add(f"{p}.{name}", "the legal quantity rounds to zero (check the unit factor)",
                            "法定数量为零（请检查换算系数）")
        elif value >= MAX_AMOUNT:
            self.errors.add(f"{p}.{name}", "the legal quantity is too large", "法定数量过大")
        return value

    def _weights(self, values: dict, head: dict, lines: list[dict]) -> None:
        e = self.errors
        for key, label in (("gross_weight_kg", "毛重"), ("net_weight_kg", "净重")):
            given = values.get(key)
            if given in (None, ""):
                parts = [li[key] for li in lines]
                given = sum(parts, Decimal(0)) if parts and all(x is not None for x in parts) else None
            head[key] = _decimal(e, key, given, label)
        if head["gross_weight_kg"] and head["net_weight_kg"] and head["net_weight_kg"] > head["gross_weight_kg"]:
            e.add("net_weight_kg", "must not exceed the gross weight", "净重不能大于毛重")
        head["goods_value_minor"] = sum(li["total_minor"] for li in lines)

    def _mode_rules(self, values: dict, head: dict, lines: list[dict], mode: str) -> None:
        e = self.errors
        for key, label, n in (("iac_code", "区内企业代码", 18), ("iac_name", "区内仓储企业名称", 100),
                              ("ems_no", "账册编号", 30)):
            head[key] = _text(e, key, values.get(key), label, n, required=mode == Mode.BONDED)
        if mode == Mode.BONDED:
            for li in lines:
                if not li["item_record_no"]:
                    e.add(f"lines[{li['gnum'] - 1}].item_record_no", "is required for special-area (1210) export",
                          "特殊区域出口（1210）须填写账册备案料号")
        retail = mode == Mode.RETAIL
        head["pay_code"] = _party_code(e, "pay_code", values.get("pay_code"), "支付企业代码") \
            if values.get("pay_code") else None
        head["pay_name"] = _text(e, "pay_name", values.get("pay_name"), "支付企业名称", 100, required=retail)
        head["pay_no"] = _text(e, "pay_no", values.get("pay_no"), "支付交易编号", 60, required=False)
        paid_at = values.get("paid_at")
        if isinstance(paid_at, str) and paid_at:
            try:
                paid_at = datetime.fromisoformat(paid_at)
            except ValueError:
                e.add("paid_at", "must be a date and time", "到账时间格式不正确")
                paid_at = None
        if isinstance(paid_at, datetime) and paid_at.tzinfo is None:
            paid_at = paid_at.replace(tzinfo=build.BEIJING)
        head["paid_at"] = paid_at or None
        if retail and head["paid_at"] is None and not any(err.field == "paid_at" for err in e.items):
            e.add("paid_at", "is required for 9610 (the 收款单 accountingDate)", "9610须填写到账时间（收款单到账时间）")
        if head["statistics_flag"] == "A" and not retail:
            e.add("statistics_flag", "A (simplified) is only for 9610 retail export", "简化申报（A）仅适用于9610")


# --- declarations -------------------------------------------------------------------------------


def _snapshot(session: Session, repo: DeclarationRepository, decl: Declaration) -> dict:
    out = audit.snapshot(decl)
    out["lines"] = [audit.snapshot(li) for li in repo.lines(decl.id)]
    return out


def create_declaration(session: Session, *, principal: Principal, data: DeclarationCreate | dict) -> Declaration:
    enterprise_id = principal.tenant(Action.WRITE)
    checked = _Check(session, principal).run(_given(data), current_id=None)
    decl = Declaration(enterprise_id=enterprise_id, id=uuid7(), cop_no=new_number("TL"),
                       status=DeclarationStatus.DRAFT, revision=1)
    session.add(decl)
    for key, value in checked.head.items():
        setattr(decl, key, value)
    session.flush()
    for li in checked.lines:
        session.add(DeclarationLine(enterprise_id=enterprise_id, id=uuid7(), declaration_id=decl.id, **li))
    session.flush()
    repo = DeclarationRepository(session, principal)
    audit.record(session, principal=principal, action="customs.declaration.create", entity_type="declaration",
                 entity_id=decl.id, after=_snapshot(session, repo, decl))
    return decl


def update_declaration(session: Session, *, principal: Principal, declaration_id: uuid.UUID,
                       data: DeclarationUpdate | dict) -> Declaration:
    """Edit a draft, or correct a rejected declaration before resubmitting it (appType=2)."""
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(session, principal)
    decl = repo.get(declaration_id, for_update=True)
    _require_editable(decl)
    given = _given(data)
    if "mode" in given and given["mode"] != decl.mode:
        raise ValidationFailed("The mode of a declaration cannot change.", errors=[
            FieldError("mode", "cannot change after creation; create a new declaration", "监管方式创建后不能修改")])
    values = {**_current_values(decl, repo.lines(decl.id)), **given}
    if decl.status != DeclarationStatus.DRAFT:
        values.pop("order_no", None)
        values["order_no"] = decl.order_no  # keys customs already knows stay the same
        values["logistics_no"] = decl.logistics_no
    checked = _Check(session, principal).run(values, current_id=decl.id)
    _refuse_if_shipped(session, principal, repo.lines(decl.id))
    before = _snapshot(session, repo, decl)
    for key, value in checked.head.items():
        setattr(decl, key, value)
    repo.delete_lines(decl.id)
    for li in checked.lines:
        session.add(DeclarationLine(enterprise_id=decl.enterprise_id, id=uuid7(), declaration_id=decl.id, **li))
    session.flush()
    audit.record(session, principal=principal, action="customs.declaration.update", entity_type="declaration",
                 entity_id=decl.id, before=before, after=_snapshot(session, repo, decl))
    return decl


def _refuse_if_shipped(session: Session, principal: Principal, lines: list[DeclarationLine]) -> None:
    """Lines a shipment already carries cannot be replaced (a correction after rejection): the shipment
    must let go of them first."""
    from tradeloop.logistics.repository import ShipmentRepository  # logistics builds on customs

    if lines and ShipmentRepository(session, principal).shipped_qty([li.id for li in lines]):
        raise Conflict("A shipment carries this declaration's lines: take them off the shipment before "
                       "correcting the declaration.",
                       message_zh="该申报单的商品已装入头程运输单，请先从运输单中移除再修改")


def _require_editable(decl: Declaration) -> None:
    if decl.status not in EDITABLE:
        raise Conflict(f"A declaration in status '{decl.status}' cannot be changed.",
                       message_zh="当前状态的申报单不能修改", status_now=decl.status)


def delete_draft(session: Session, *, principal: Principal, declaration_id: uuid.UUID) -> None:
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(session, principal)
    decl = repo.get(declaration_id, for_update=True)
    if decl.status != DeclarationStatus.DRAFT:
        raise Conflict("Only a draft can be deleted; cancel a submitted declaration instead.",
                       message_zh="只有草稿可以删除；已申报的申报单请撤销")
    before = _snapshot(session, repo, decl)
    repo.delete_lines(decl.id)
    session.delete(decl)
    session.flush()
    audit.record(session, principal=principal, action="customs.declaration.delete", entity_type="declaration",
                 entity_id=declaration_id, before=before)


def _codes(session: Session, currency: str) -> build.Codes:
    refs = ReferenceLookup(session)
    return build.Codes(currency=refs.customs_currency(currency), minor_units=refs.minor_units(currency))


def _queue(session: Session, *, enterprise_id: uuid.UUID, owner_id: uuid.UUID, message_type: str, entity: dict,
           config: ExchangeConfig, transfer: dict) -> Message:
    guid = str(uuid.uuid4()).upper()
    content = writer.build(message_type, [entity], transfer=transfer, guid=guid, signer=config.signer)
    msg = Message(enterprise_id=enterprise_id, id=uuid7(), direction=MessageDirection.OUT,
                  message_type=message_type, guid=guid, owner_id=owner_id,
                  filename=f"{message_type}Message_{guid}.xml", sha256=hashlib.sha256(content).hexdigest(),
                  content=content)
    session.add(msg)
    return msg


def _document(session: Session, repo: DeclarationRepository, owner_id: uuid.UUID, enterprise_id: uuid.UUID,
              kind: DocumentKind, match_key: str, app_type: str) -> Document:
    doc = repo.document(owner_id, kind)
    if doc is None:
        doc = Document(enterprise_id=enterprise_id, id=uuid7(), owner_id=owner_id, kind=kind,
                       message_type=build.MESSAGE_OF_KIND[kind], match_key=match_key, app_type=app_type)
        session.add(doc)
        return doc
    seen = repo.receipts_seen(doc.id)
    if seen:  # a resubmission: what customs said about the earlier one, before now, no longer counts
        before_now = build.return_time(utcnow() - timedelta(milliseconds=1))
        doc.superseded_through = max(before_now, *(r.time for r in seen))
    doc.app_type, doc.match_key = app_type, match_key
    doc.status_code = doc.status_info = doc.status_time = None
    return doc


def match_key(kind: DocumentKind, decl: Declaration) -> str:
    """The identifiers a receipt carries back for each document (domain.md §2.5 cross-message keys)."""
    if kind in (DocumentKind.ORDER, DocumentKind.PAYMENT):
        return decl.order_no
    if kind == DocumentKind.WAYBILL:
        return f"{decl.logistics_code}:{decl.logistics_no}"
    if kind == DocumentKind.BILL:
        return build.bill_cop_no(decl)
    return decl.cop_no


def submit_declaration(session: Session, *, principal: Principal, declaration_id: uuid.UUID,
                       config: ExchangeConfig) -> Declaration:
    """Validate again, build the messages (order, [payment], waybill, list) and queue them for the outbox.
    A declaration customs rejected is resubmitted as a correction (appType=2) under the same numbers."""
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(session, principal)
    decl = repo.get(declaration_id, for_update=True)
    _require_editable(decl)
    lines = repo.lines(decl.id)
    _Check(session, principal).run(_current_values(decl, lines), current_id=decl.id)  # codes may have changed
    if ExchangeRepository(session).waybill_in_use(decl.logistics_code, decl.logistics_no, decl.id):
        raise ValidationFailed("The waybill number is in use.", errors=[FieldError(
            "logistics_no", "is already declared with this carrier (a carrier's waybill numbers must be unique; "
            "domain.md §2.5.x)", "该物流企业的此运单号已被其他申报使用（运单号在同一物流企业内须唯一）")])
    before = audit.snapshot(decl)
    correction = decl.status == DeclarationStatus.NEEDS_ACTION
    if correction:
        decl.revision += 1
    app_type = "2" if correction else "1"
    codes, now = _codes(session, decl.currency), utcnow()
    transfer = config.transfer(decl.agent_code, decl.agent_name)
    builders = {
        DocumentKind.ORDER: lambda g: build.order(decl, lines, codes, guid=g, app_type=app_type, now=now),
        DocumentKind.PAYMENT: lambda g: build.payment(decl, codes, guid=g, app_type=app_type, now=now),
        DocumentKind.WAYBILL: lambda g: build.waybill(decl, lines, codes, guid=g, app_type=app_type, now=now),
        DocumentKind.LIST: lambda g: build.inventory(decl, lines, codes, guid=g, app_type=app_type, now=now),
    }
    for kind in build.kinds_for(decl):
        doc = _document(session, repo, decl.id, decl.enterprise_id, kind, match_key(kind, decl), app_type)
        _queue(session, enterprise_id=decl.enterprise_id, owner_id=decl.id, message_type=doc.message_type,
               entity=builders[kind](str(uuid.uuid4()).upper()), config=config, transfer=transfer)
    decl.status, decl.action_reason, decl.submitted_at = DeclarationStatus.SUBMITTED, None, now
    session.flush()
    audit.record(session, principal=principal, action="customs.declaration.correct" if correction
                 else "customs.declaration.submit", entity_type="declaration", entity_id=decl.id, before=before,
                 after=decl)
    return decl


CANCELLABLE_AT_CUSTOMS = {DeclarationStatus.ACCEPTED, DeclarationStatus.INSPECTION, DeclarationStatus.RELEASED}


def cancel_declaration(session: Session, *, principal: Principal, declaration_id: uuid.UUID, reason: str,
                       config: ExchangeConfig) -> Declaration:
    """A list customs has numbered (invtNo) is cancelled with CEB605; a draft, or a declaration customs
    rejected before numbering it, is withdrawn here without a message (customs holds nothing to cancel)."""
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(session, principal)
    decl = repo.get(declaration_id, for_update=True)
    reason = clean(reason)
    errors = Errors()
    errors.required("reason", reason, "撤销原因")
    errors.max_len("reason", reason, 1000)
    errors.raise_if_any()
    before = audit.snapshot(decl)
    if decl.status in CANCELLABLE_AT_CUSTOMS or (decl.status == DeclarationStatus.NEEDS_ACTION and decl.invt_no):
        if not decl.invt_no:
            raise Conflict("Customs has not numbered this list yet (no invtNo); wait for its receipt.",
                           message_zh="海关尚未生成清单编号，请等待回执后再撤销")
        decl.cancel_reason = reason
        doc = _document(session, repo, decl.id, decl.enterprise_id, DocumentKind.CANCEL, decl.cop_no, "1")
        _queue(session, enterprise_id=decl.enterprise_id, owner_id=decl.id, message_type=doc.message_type,
               entity=build.cancel(decl, guid=str(uuid.uuid4()).upper(), now=utcnow()), config=config,
               transfer=config.transfer(decl.agent_code, decl.agent_name))
        decl.status = DeclarationStatus.CANCEL_REQUESTED
    elif decl.status == DeclarationStatus.DRAFT or (decl.status == DeclarationStatus.NEEDS_ACTION
                                                  and _list_not_at_customs(repo, decl)):
        decl.cancel_reason, decl.status = reason, DeclarationStatus.CANCELLED
    elif decl.status == DeclarationStatus.NEEDS_ACTION:
        raise Conflict("Customs holds this list but has not numbered it yet (no invtNo): wait for the receipt "
                       "with the invtNo, then cancel with CEB605, or correct and resubmit.",
                       message_zh="海关已接收该清单但尚未生成清单编号：请等待回执后用撤销申请单撤销，或修改后重新申报")
    else:
        raise Conflict(f"A declaration in status '{decl.status}' cannot be cancelled"
                       + (" (the goods have left: declare a return instead)." if decl.status in
                          {DeclarationStatus.CLOSED, DeclarationStatus.SUMMARISED, DeclarationStatus.DECLARED}
                          else "."), message_zh="当前状态的申报单不能撤销", status_now=decl.status)
    session.flush()
    audit.record(session, principal=principal, action="customs.declaration.cancel", entity_type="declaration",
                 entity_id=decl.id, before=before, after=decl)
    return decl


def _list_not_at_customs(repo: DeclarationRepository, decl: Declaration) -> bool:
    """The list never reached customs, or customs rejected it: there is nothing there to cancel."""
    doc = repo.document(decl.id, DocumentKind.LIST)
    seen = current(repo.receipts_seen(doc.id), doc.superseded_through) if doc else None
    return seen is None or is_failure(seen.code) or seen.code in {"1", "2", "3"}


def refresh_declaration(session: Session, *, principal: Principal, decl: Declaration) -> bool:
    """Recompute the declaration's status from its documents' receipts; audited when it changes."""
    repo = DeclarationRepository(session, principal)
    docs = {}
    for doc in repo.documents(decl.id):
        seen = current(repo.receipts_seen(doc.id), doc.superseded_through)
        doc.status_code, doc.status_info, doc.status_time = (seen.code, seen.info, seen.time) if seen else \
            (None, None, None)
        docs[doc.kind] = seen
    summary = repo.summary(decl.summary_id) if decl.summary_id else None
    derived = declaration_status(docs, submitted=decl.submitted_at is not None or decl.status != "draft",
                                 has_summary=summary is not None,
                                 summary_accepted=summary is not None and summary.status in
                                 {SummaryStatus.ACCEPTED, SummaryStatus.DECLARED},
                                 entry_id=decl.entry_id)
    if decl.status == DeclarationStatus.CANCELLED and derived.status != DeclarationStatus.CANCELLED \
            and DocumentKind.CANCEL not in docs:
        return False  # withdrawn locally; receipts of the withdrawn submission change nothing
    list_seen = docs.get(DocumentKind.LIST)
    released = build.parse_return_time(list_seen.time) if list_seen and list_seen.code in {"800", "899"} else None
    if list_seen and list_seen.code == "899":
        closed_seen = _first_time(repo, decl, "899")
        decl.closed_at = build.parse_return_time(closed_seen)
        decl.released_at = decl.released_at or build.parse_return_time(_first_time(repo, decl, "800")) or released
    elif released:
        decl.released_at = released
    if derived.status == decl.status and derived.reason == decl.action_reason:
        session.flush()
        return False
    before = {"status": decl.status, "action_reason": decl.action_reason}
    decl.status, decl.action_reason = derived.status, derived.reason
    session.flush()
    audit.record(session, principal=principal, action="customs.declaration.status", entity_type="declaration",
                 entity_id=decl.id, before=before, after={"status": decl.status, "action_reason": decl.action_reason},
                 enterprise_id=decl.enterprise_id)
    return True


def _first_time(repo: DeclarationRepository, decl: Declaration, code: str) -> str | None:
    doc = repo.document(decl.id, DocumentKind.LIST)
    if doc is None:
        return None
    times = [r.time for r in repo.receipts_seen(doc.id) if r.code == code
             and (doc.superseded_through is None or r.time > doc.superseded_through)]
    return min(times) if times else None


# --- monthly summary (汇总申报) -------------------------------------------------------------------


def _check_month(month: str) -> None:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValidationFailed("The month must be YYYY-MM.", errors=[FieldError("month", "must be YYYY-MM",
                                                                            "月份格式应为 YYYY-MM")],
                               message_zh="月份格式应为 YYYY-MM")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month ``YYYY-MM`` in Beijing time, as UTC instants [start, end)."""
    year, mon = int(month[:4]), int(month[5:7])
    start = datetime(year, mon, 1, tzinfo=build.BEIJING)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=build.BEIJING)
    return start.astimezone(UTC), end.astimezone(UTC)


def due_date(month: str) -> date:
    """Lists closed in a month are summarised by the 15th of the next month (domain.md §1.4 [S15])."""
    year, mon = int(month[:4]), int(month[5:7])
    return date(year + (mon == 12), mon % 12 + 1, 15)


def merge_key(decl: Declaration) -> tuple:
    """Lists go into one summary application when they share declaring customs and agent, consignor,
    producer, transport mode, destination country and exit port (the merge rule of domain.md §1.4)."""
    return (decl.customs_code, decl.agent_code, decl.ebc_code, decl.owner_code, decl.traf_mode, decl.country,
            decl.port_code)


@dataclass
class SummaryGroup:
    key: tuple
    declarations: list[Declaration]


def plan_summaries(session: Session, *, principal: Principal, month: str, lock: bool = False
                   ) -> list[SummaryGroup]:
    _check_month(month)
    start, end = month_bounds(month)
    groups: dict[tuple, list[Declaration]] = defaultdict(list)
    for decl in DeclarationRepository(session, principal).summarisable(start, end, for_update=lock):
        groups[merge_key(decl)].append(decl)
    return [SummaryGroup(k, v) for k, v in sorted(groups.items())]


SUMMARY_LIST_MAX = 100  # lists per CEB701 message kept at the order/list line maximum; larger groups split


def create_summaries(session: Session, *, principal: Principal, month: str, config: ExchangeConfig,
                     decl_agent_code: str | None = None, decl_agent_name: str | None = None) -> list[Summary]:
    """One CEB701 per merge group of the month's closed lists, queued for the outbox."""
    enterprise_id = principal.tenant(Action.WRITE)
    _check_month(month)
    errors = Errors()
    if decl_agent_code:
        _party_code(errors, "decl_agent_code", decl_agent_code, "报关单位代码")
        _text(errors, "decl_agent_name", decl_agent_name, "报关单位名称", 100)
    errors.raise_if_any()
    repo = DeclarationRepository(session, principal)
    out = []
    now = utcnow()
    groups = plan_summaries(session, principal=principal, month=month, lock=True)
    if not groups:
        raise ValidationFailed("No closed lists of that month are waiting for a summary.", errors=[FieldError(
            "month", "has no closed lists (汇总申报, statisticsFlag B) waiting for a summary",
            "该月没有待汇总申报的已结关清单")])
    for group in groups:
        for i in range(0, len(group.declarations), SUMMARY_LIST_MAX):
            chunk = group.declarations[i:i + SUMMARY_LIST_MAX]
            first = chunk[0]
            summary = Summary(enterprise_id=enterprise_id, id=uuid7(), cop_no=new_number("TLS"), month=month,
                              due_date=due_date(month), status=SummaryStatus.SUBMITTED,
                              customs_code=first.customs_code, ebc_code=first.ebc_code, ebc_name=first.ebc_name,
                              owner_code=first.owner_code, traf_mode=first.traf_mode, country=first.country,
                              port_code=first.port_code, agent_code=first.agent_code, agent_name=first.agent_name,
                              decl_agent_code=decl_agent_code or first.agent_code,
                              decl_agent_name=decl_agent_name or first.agent_name, summary_flag="2",
                              submitted_at=now)
            session.add(summary)
            session.flush()
            for decl in chunk:
                decl.summary_id = summary.id
            doc = _document(session, repo, summary.id, enterprise_id, DocumentKind.SUMMARY, summary.cop_no, "1")
            _queue(session, enterprise_id=enterprise_id, owner_id=summary.id, message_type=doc.message_type,
                   entity=build.summary_apply(summary, [d.invt_no for d in chunk], guid=str(uuid.uuid4()).upper(),
                                              now=now),
                   config=config, transfer=config.transfer(summary.agent_code, summary.agent_name))
            session.flush()
            audit.record(session, principal=principal, action="customs.summary.create", entity_type="summary",
                         entity_id=summary.id, after={**audit.snapshot(summary),
                                                      "declarations": [str(d.id) for d in chunk]})
            out.append(summary)
    return out


def withdraw_summary(session: Session, *, principal: Principal, summary_id: uuid.UUID) -> Summary:
    """A summary application customs rejected gives its lists back: they can be summarised again."""
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(session, principal)
    summary = repo.summary(summary_id, for_update=True)
    if summary.status != SummaryStatus.NEEDS_ACTION:
        raise Conflict("Only a summary application customs rejected can be withdrawn.",
                       message_zh="只有被海关退回的汇总申请可以撤回", status_now=summary.status)
    before = audit.snapshot(summary)
    released = repo.of_summary(summary.id)
    for decl in released:
        decl.summary_id = None
    summary.status = SummaryStatus.WITHDRAWN
    session.flush()
    for decl in released:
        refresh_declaration(session, principal=principal, decl=decl)
    audit.record(session, principal=principal, action="customs.summary.withdraw", entity_type="summary",
                 entity_id=summary.id, before=before, after={**audit.snapshot(summary),
                                                             "released": [str(d.id) for d in released]})
    return summary


def refresh_summary(session: Session, *, principal: Principal, summary: Summary) -> None:
    repo = DeclarationRepository(session, principal)
    doc = repo.document(summary.id, DocumentKind.SUMMARY)
    seen = current(repo.receipts_seen(doc.id), doc.superseded_through) if doc else None
    if doc is not None:
        doc.status_code, doc.status_info, doc.status_time = (seen.code, seen.info, seen.time) if seen else \
            (None, None, None)
    if summary.status == SummaryStatus.WITHDRAWN:
        return
    new = summary_status(seen, entry_id=summary.entry_id, submitted=summary.submitted_at is not None)
    reason = seen.info if new == SummaryStatus.NEEDS_ACTION and seen else None
    if new != summary.status or reason != summary.action_reason:
        before = {"status": summary.status}
        summary.status, summary.action_reason = new, reason
        session.flush()
        audit.record(session, principal=principal, action="customs.summary.status", entity_type="summary",
                     entity_id=summary.id, before=before, after={"status": new}, enterprise_id=summary.enterprise_id)
    for decl in repo.of_summary(summary.id):
        refresh_declaration(session, principal=principal, decl=decl)


# --- quarantine ---------------------------------------------------------------------------------


def resolve_quarantined(session: Session, *, principal: Principal, item_id: uuid.UUID, resolution: str,
                        all_tenants: bool = False) -> Quarantined:
    """Mark a quarantined file as dealt with (it stays stored): a tenant its own files, a platform admin
    (``all_tenants``) any file, including those no tenant could be found for."""
    if not all_tenants:
        principal.tenant(Action.WRITE)
    item = DeclarationRepository(session, principal).quarantined(item_id, all_tenants=all_tenants, for_update=True)
    resolution = clean(resolution)
    errors = Errors()
    errors.required("resolution", resolution, "处理说明")
    errors.max_len("resolution", resolution, 1000)
    errors.raise_if_any()
    if item.resolved_at is not None:
        raise Conflict("This file was already resolved.", message_zh="该文件已处理")
    before = _quarantine_snapshot(item)
    item.resolved_at, item.resolution = utcnow(), resolution
    session.flush()
    audit.record(session, principal=principal, action="customs.quarantine.resolve", entity_type="quarantine",
                 entity_id=item.id, before=before, after=_quarantine_snapshot(item), enterprise_id=item.enterprise_id)
    return item


def _quarantine_snapshot(item: Quarantined) -> dict:
    out = audit.snapshot(item)
    out.pop("content", None)
    return out


def overdue_summary_month(today: date) -> str:
    """The month whose summaries fall due on the 15th of ``today``'s month."""
    first = today.replace(day=1) - timedelta(days=1)
    return first.strftime("%Y-%m")
