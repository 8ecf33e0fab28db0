"""Products of the catalogue: create, update, deactivate, bulk import. Every change is audited."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.catalog import gtin as gtin_rules
from tradeloop.catalog.formats import products as layout
from tradeloop.catalog.models import Product
from tradeloop.catalog.repository import ProductRepository
from tradeloop.catalog.schemas import ProductCreate, ProductUpdate
from tradeloop.kit.errors import Conflict
from tradeloop.kit.ids import uuid7
from tradeloop.kit.money import AmountError, from_minor, to_minor
from tradeloop.kit.tables import ImportRejected, RowError
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.reference.lookup import ReferenceLookup

SKU_RE = r"[A-Za-z0-9][A-Za-z0-9._/#+-]{0,63}"
#: Stored fields of a product, in the file layout's order (cost is stored as cost_minor).
STORED = ["sku", "name_zh", "name_en", "declared_name", "declared_elements", "hs_code", "customs_unit", "unit1",
          "unit1_factor", "unit2", "unit2_factor", "gross_weight_kg", "net_weight_kg", "origin_country", "brand",
          "gtin", "cost_minor", "cost_currency", "active"]
TRUE = {"1", "true", "yes", "y", "是", "启用"}
FALSE = {"0", "false", "no", "n", "否", "停用"}


def _decimal(errors: Errors, name: str, value, places: int, label_zh: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        errors.add(name, "must be a number", f"{label_zh}应为数字")
        return None
    if not number.is_finite():
        errors.add(name, "must be a number", f"{label_zh}应为数字")
        return None
    if number <= 0:
        errors.add(name, "must be greater than zero", f"{label_zh}应大于零")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
        errors.add(name, f"must have at most {places} decimal places", f"{label_zh}最多{places}位小数")
        return None
    if number >= Decimal(10) ** 8:
        errors.add(name, "is too large", f"{label_zh}过大")
        return None
    return number


def _code(value) -> str | None:
    return clean(str(value)) if value is not None else None


def check(errors: Errors, refs: ReferenceLookup, given: dict, current: Product | None) -> dict:
    """Validate ``given`` (raw values: str, Decimal, bool) over ``current``; the stored values.

    Every problem is added to ``errors``; the caller raises. Used by the API, the form and the import."""
    def pick(key):
        if key in given:
            return given[key]
        if key == "cost":
            if current is None or current.cost_minor is None:
                return None
            units = refs.minor_units(current.cost_currency)
            return from_minor(current.cost_minor, units) if units is not None else None
        return getattr(current, key, None)

    out: dict = {}
    sku = clean(pick("sku"))
    if errors.required("sku", sku, "SKU"):
        errors.max_len("sku", sku, 64)
        errors.pattern("sku", sku, SKU_RE, "use letters, digits and . _ / # + -, starting with a letter or digit",
                       "SKU 由字母、数字及 . _ / # + - 组成，以字母或数字开头")
    out["sku"] = sku
    for key, label, n, required in (("name_zh", "中文名称", 200, True), ("name_en", "英文名称", 200, False),
                                    ("declared_name", "申报品名", 250, True),
                                    ("declared_elements", "申报要素", 2000, False), ("brand", "品牌", 100, False)):
        value = clean(pick(key))
        if required:
            errors.required(key, value, label)
        errors.max_len(key, value, n)
        out[key] = value

    hs = _code(pick("hs_code"))
    hs = hs.replace(".", "").replace(" ", "") if hs else hs
    if errors.required("hs_code", hs, "HS编码"):
        if not re.fullmatch(r"\d{10}", hs):
            errors.add("hs_code", "must be a 10-digit HS code", "HS编码应为10位数字")
        elif not refs.hs(hs):
            errors.add("hs_code", "is not in the HS reference table", "HS编码不在商品编码参考表中")
    out["hs_code"] = hs

    customs_unit = _code(pick("customs_unit"))
    if errors.required("customs_unit", customs_unit, "申报计量单位") and not refs.unit(customs_unit):
        errors.add("customs_unit", "is not a customs unit code (3 digits, e.g. 011)",
                   "不是有效的海关计量单位代码（3位，如011）")
    out["customs_unit"] = customs_unit
    for unit_key, factor_key, label in (("unit1", "unit1_factor", "法定第一计量单位"),
                                        ("unit2", "unit2_factor", "法定第二计量单位")):
        unit = _code(pick(unit_key))
        factor = _decimal(errors, factor_key, pick(factor_key), 6, "换算系数")
        if unit:
            if not refs.unit(unit):
                errors.add(unit_key, "is not a customs unit code (3 digits, e.g. 035)",
                           f"{label}不是有效的海关计量单位代码")
            if factor is None and not any(e.field == factor_key for e in errors.items):
                if unit == customs_unit:
                    factor = Decimal(1)
                else:
                    errors.add(factor_key, "is required with a legal unit other than the customs unit",
                               "法定单位与申报单位不同时须填写换算系数")
        elif factor is not None:
            errors.add(factor_key, "needs its legal unit", f"填写换算系数时须填写{label}")
        out[unit_key], out[factor_key] = unit, factor
    if out["unit2"] and not out["unit1"]:
        errors.add("unit2", "needs legal unit 1 first", "须先填写法定第一计量单位")

    gross = _decimal(errors, "gross_weight_kg", pick("gross_weight_kg"), 4, "毛重")
    net = _decimal(errors, "net_weight_kg", pick("net_weight_kg"), 4, "净重")
    if gross is not None and net is not None and net > gross:
        errors.add("net_weight_kg", "must not exceed the gross weight", "净重不能大于毛重")
    out["gross_weight_kg"], out["net_weight_kg"] = gross, net

    origin = _code(pick("origin_country"))
    if origin:
        code = refs.country(origin.upper())
        if code is None:
            errors.add("origin_country", "is not a customs country code (3 digits, e.g. 142) or ISO alpha-2 code",
                       "不是有效的海关国别代码（3位，如142）或ISO两位字母代码")
        origin = code or origin
    out["origin_country"] = origin

    gtin = _code(pick("gtin"))
    if gtin:
        gtin = gtin.replace(" ", "").replace("-", "")
        if not re.fullmatch(r"\d+", gtin) or len(gtin) not in gtin_rules.LENGTHS:
            errors.add("gtin", "must be 8, 12, 13 or 14 digits", "GTIN条码应为8、12、13或14位数字")
        elif not gtin_rules.is_valid(gtin):
            errors.add("gtin", "has a wrong check digit", "GTIN条码校验位错误")
    out["gtin"] = gtin

    currency = (_code(pick("cost_currency")) or "").upper() or None
    cost = pick("cost")
    cost = None if cost is None or (isinstance(cost, str) and not cost.strip()) else cost
    out["cost_currency"], out["cost_minor"] = currency, None
    units = None
    if currency:
        units = refs.minor_units(currency) if re.fullmatch(r"[A-Z]{3}", currency) else None
        if units is None:
            errors.add("cost_currency", "is not an ISO 4217 currency code in the reference table",
                       "不是参考表中的ISO 4217币种代码")
    if cost is not None:
        if not currency:
            errors.add("cost_currency", "is required with a purchase cost", "填写采购成本时须填写币种")
        elif units is not None:
            try:
                out["cost_minor"] = to_minor(cost if isinstance(cost, Decimal) else str(cost), units)
                if out["cost_minor"] < 0:
                    errors.add("cost", "must not be negative", "采购成本不能为负数")
                elif out["cost_minor"] >= 10 ** 15:
                    errors.add("cost", "is too large", "采购成本过大")
            except AmountError as exc:
                errors.add("cost", exc.en, f"采购成本{exc.zh}")
    elif currency and "cost" in given and "cost_currency" not in given:
        out["cost_currency"] = None  # clearing the cost clears its currency

    active = pick("active")
    if isinstance(active, str):
        text = active.strip().lower()
        if not text:
            active = current.active if current is not None else True
        elif text in TRUE:
            active = True
        elif text in FALSE:
            active = False
        else:
            errors.add("active", "must be yes or no (1/0)", "启用应为是或否（1/0）")
            active = True
    out["active"] = True if active is None else bool(active)
    return out


@contextmanager
def _sku_race():
    """Two writers adding the same new SKU at once: the unique key refuses the second (PostgreSQL; SQLite
    serialises writers); it gets a 409 to retry instead of a server error."""
    try:
        yield
    except IntegrityError:
        raise Conflict("Another request added a product with the same SKU at the same time; try again.",
                       message_zh="另一请求同时添加了相同SKU的商品，请重试") from None


def _given(data: ProductCreate | ProductUpdate | dict) -> dict:
    """The fields the caller gave: a schema's set fields, or a form's text fields as they are."""
    return dict(data) if isinstance(data, dict) else data.model_dump(exclude_unset=True)


def _changed(product: Product, values: dict) -> bool:
    return any(getattr(product, k) != values[k] for k in STORED)


def create_product(session: Session, *, principal: Principal, data: ProductCreate | dict) -> Product:
    enterprise_id = principal.tenant(Action.WRITE)
    repo = ProductRepository(session, principal)
    errors = Errors()
    values = check(errors, ReferenceLookup(session), _given(data), None)
    if values["sku"] and repo.sku_taken(values["sku"]):
        errors.add("sku", "is already used by another of your products", "SKU已被本企业其他商品使用")
    errors.raise_if_any()
    product = Product(enterprise_id=enterprise_id, id=uuid7(), **values)
    session.add(product)
    with _sku_race():
        audit.record(session, principal=principal, action="product.create", entity_type="product",
                     entity_id=product.id, after=product)
    return product


def update_product(session: Session, *, principal: Principal, product_id: uuid.UUID,
                   data: ProductUpdate | dict) -> Product:
    principal.tenant(Action.WRITE)
    repo = ProductRepository(session, principal)
    product = repo.get(product_id, for_update=True)
    errors = Errors()
    values = check(errors, ReferenceLookup(session), _given(data), product)
    if values["sku"] and values["sku"] != product.sku and repo.sku_taken(values["sku"], except_id=product.id):
        errors.add("sku", "is already used by another of your products", "SKU已被本企业其他商品使用")
    errors.raise_if_any()
    if not _changed(product, values):
        return product
    before = audit.snapshot(product)
    for key in STORED:
        setattr(product, key, values[key])
    with _sku_race():
        session.flush()
    audit.record(session, principal=principal, action="product.update", entity_type="product",
                 entity_id=product.id, before=before, after=product)
    return product


def deactivate_product(session: Session, *, principal: Principal, product_id: uuid.UUID) -> Product:
    """A product is never deleted: declarations and stock lots will refer to it."""
    principal.tenant(Action.WRITE)
    product = ProductRepository(session, principal).get(product_id, for_update=True)
    if not product.active:
        return product
    before = audit.snapshot(product)
    product.active = False
    session.flush()
    audit.record(session, principal=principal, action="product.deactivate", entity_type="product",
                 entity_id=product.id, before=before, after=product)
    return product


def cost_reader(session: Session):
    """A function giving a product's cost as a Decimal; the currencies' minor units are looked up once
    per reader, so a list or an export of many products does not query the currency table per row."""
    refs = ReferenceLookup(session)

    def cost(product: Product) -> Decimal | None:
        if product.cost_minor is None or not product.cost_currency:
            return None
        units = refs.minor_units(product.cost_currency)
        return from_minor(product.cost_minor, units if units is not None else 2)

    return cost


def cost_decimal(session: Session, product: Product) -> Decimal | None:
    return cost_reader(session)(product)


# --- bulk import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    encoding: str | None = None


def import_products(session: Session, *, principal: Principal, filename: str, data: bytes) -> ImportResult:
    """Upsert products by SKU from a CSV or .xlsx file: every row is checked first; one error anywhere
    and nothing is applied. Rows equal to what is stored change nothing (no audit row), so the same file
    imported twice is a no-op the second time."""
    principal.tenant(Action.WRITE)
    try:
        table = layout.read_table(filename, data)
    except layout.FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    row_errors = [RowError(1, header, header, "unknown column", "无法识别的列") for _i, header in table.unknown]
    if "sku" not in table.columns:
        row_errors.append(RowError(1, "SKU", "", "the SKU column is missing", "缺少SKU列"))
        raise ImportRejected(row_errors, table.encoding)
    repo = ProductRepository(session, principal)
    skus = [r["sku"].strip() for _n, r in table.rows if r.get("sku", "").strip()]
    existing = repo.by_sku(list(dict.fromkeys(skus)), for_update=True)
    refs = ReferenceLookup(session)
    seen: dict[str, int] = {}
    checked: list[tuple[dict, Product | None]] = []
    for number, raw in table.rows:
        errors = Errors()
        sku = raw.get("sku", "").strip()
        current = existing.get(sku)
        values = check(errors, refs, raw, current)
        if sku and sku in seen:
            errors.add("sku", f"appears again (first in row {seen[sku]})", f"SKU重复（首次出现在第{seen[sku]}行）")
        seen.setdefault(sku, number)
        for e in errors.items:
            column = table.columns.get(e.field, e.field)
            row_errors.append(RowError(number, column, raw.get(e.field, ""), e.message_en, e.message_zh))
        checked.append((values, current))
    if row_errors:
        raise ImportRejected(row_errors, table.encoding)
    result = ImportResult(rows=len(table.rows), encoding=table.encoding)
    enterprise_id = principal.tenant(Action.WRITE)
    with _sku_race():
        _apply(session, principal, enterprise_id, checked, result)
    return result


def _apply(session, principal, enterprise_id, checked, result: ImportResult) -> None:
    for values, current in checked:
        if current is None:
            product = Product(enterprise_id=enterprise_id, id=uuid7(), **values)
            session.add(product)
            audit.record(session, principal=principal, action="product.create", entity_type="product",
                         entity_id=product.id, after=product)
            result.created += 1
        elif _changed(current, values):
            before = audit.snapshot(current)
            for key in STORED:
                setattr(current, key, values[key])
            session.flush()
            audit.record(session, principal=principal, action="product.update", entity_type="product",
                         entity_id=current.id, before=before, after=current)
            result.updated += 1
        else:
            result.unchanged += 1
