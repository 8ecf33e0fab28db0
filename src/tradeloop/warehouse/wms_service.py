"""The one state change of the warehouse operator API that is not a stock action: registering an SKU.

An SKU is a catalogue product (created or updated by ``catalog.service``, with its checks and audit
rows) plus, when given, its warehouse profile: declared value and dimensions (``wms_models``), written and
audited here. Everything else the WMS API changes goes through ``stock_service`` unchanged.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.catalog import service as catalog
from tradeloop.catalog.models import Product
from tradeloop.catalog.repository import ProductRepository
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.money import AmountError, from_minor, to_minor
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.warehouse.wms_models import WmsSkuProfile
from tradeloop.warehouse.wms_repository import WmsRepository
from tradeloop.warehouse.wms_schemas import SkuIn

#: WMS field -> catalogue field.
CATALOG_FIELDS = {"declared_name_zh": "declared_name", "declared_name_en": "name_en",
                  **{k: k for k in ("name_zh", "hs_code", "customs_unit", "unit1", "unit1_factor", "unit2",
                                    "unit2_factor", "origin_country", "brand", "gtin", "gross_weight_kg",
                                    "net_weight_kg")}}
WMS_FIELD = {v: k for k, v in CATALOG_FIELDS.items()}
DIMENSIONS = ("length_cm", "width_cm", "height_cm")
PROFILE_FIELDS = ("declared_value", "declared_currency", *DIMENSIONS)
STORED = ("declared_value_minor", "declared_currency", *DIMENSIONS)


def declared_value(profile: WmsSkuProfile | None, refs: ReferenceLookup) -> Decimal | None:
    if profile is None or profile.declared_value_minor is None or not profile.declared_currency:
        return None
    units = refs.minor_units(profile.declared_currency)
    return from_minor(profile.declared_value_minor, units if units is not None else 2)


def _dimension(errors: Errors, name: str, value) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(name, "must be a number", "应为数字")
        return None
    if not number.is_finite() or number <= 0:
        errors.add(name, "must be greater than zero", "应大于零")
    elif number != number.quantize(Decimal("0.01"), rounding="ROUND_DOWN"):
        errors.add(name, "must have at most 2 decimal places", "最多2位小数")
    elif number >= 10 ** 6:
        errors.add(name, "is too large", "过大")
    else:
        return number.quantize(Decimal("0.01"))
    return None


def _check_profile(errors: Errors, refs: ReferenceLookup, given: dict, current: WmsSkuProfile | None) -> dict:
    """The profile's stored values after applying ``given`` over ``current``."""
    def pick(key, stored_key=None):
        if key in given:
            return given[key]
        if key == "declared_value":
            return declared_value(current, refs)
        return getattr(current, stored_key or key, None)

    out: dict = {}
    currency = (clean(pick("declared_currency")) or "").upper() or None
    value = pick("declared_value")
    out["declared_currency"], out["declared_value_minor"] = currency, None
    units = None
    if currency:
        units = refs.minor_units(currency) if re.fullmatch(r"[A-Z]{3}", currency) else None
        if units is None:
            errors.add("declared_currency", "is not an ISO 4217 currency code in the reference table",
                       "不是参考表中的ISO 4217币种代码")
    if value is not None:
        if not currency:
            errors.add("declared_currency", "is required with a declared value", "填写申报价值时须填写币种")
        elif units is not None:
            try:
                minor = to_minor(value, units)
            except AmountError as exc:
                errors.add("declared_value", exc.en, f"申报价值{exc.zh}")
            else:
                if minor <= 0:
                    errors.add("declared_value", "must be greater than zero", "申报价值应大于零")
                elif minor >= 10 ** 15:
                    errors.add("declared_value", "is too large", "申报价值过大")
                else:
                    out["declared_value_minor"] = minor
    elif currency and "declared_value" in given and "declared_currency" not in given:
        out["declared_currency"] = None  # clearing the value clears its currency
    for name in DIMENSIONS:
        out[name] = _dimension(errors, name, pick(name))
    return out


def register_sku(session: Session, *, principal: Principal, data: SkuIn) -> tuple[Product, WmsSkuProfile | None, bool]:
    """Create the SKU, or update the one with this SKU; returns (product, profile, created). Catalogue
    fields and profile fields are checked together and reported together; nothing is written when any is
    wrong (the caller's transaction rolls back)."""
    principal.tenant(Action.WRITE)
    given = data.model_dump(exclude_unset=True)
    sku = clean(data.sku) or ""
    product = ProductRepository(session, principal).by_sku([sku], for_update=True).get(sku) if sku else None
    repo = WmsRepository(session, principal)
    profile = repo.profile(product.id, for_update=True) if product is not None else None
    refs = ReferenceLookup(session)
    errors = Errors()
    wants_profile = any(k in given for k in PROFILE_FIELDS)
    values = _check_profile(errors, refs, given, profile) if wants_profile else {}

    fields = {CATALOG_FIELDS[k]: v for k, v in given.items() if k in CATALOG_FIELDS}
    created = product is None
    if created and "name_zh" not in fields and given.get("declared_name_zh"):
        fields["name_zh"] = given["declared_name_zh"]
    try:
        if created:
            product = catalog.create_product(session, principal=principal, data={"sku": sku, **fields})
        elif fields:
            product = catalog.update_product(session, principal=principal, product_id=product.id, data=fields)
    except ValidationFailed as exc:
        renamed = [FieldError(WMS_FIELD.get(e.field, e.field), e.message_en, e.message_zh) for e in exc.errors]
        raise ValidationFailed("The SKU has invalid fields.", errors=renamed + errors.items) from None
    errors.raise_if_any("The SKU has invalid fields.")

    if wants_profile and (profile is not None or any(v is not None for v in values.values())):
        before = audit.snapshot(profile)
        if profile is None:
            profile = WmsSkuProfile(enterprise_id=product.enterprise_id, product_id=product.id)
            session.add(profile)
        if before is None or any(getattr(profile, k) != values[k] for k in STORED):
            for key in STORED:
                setattr(profile, key, values[key])
            session.flush()
            audit.record(session, principal=principal, action="wms.sku_profile.update" if before else
                         "wms.sku_profile.create", entity_type="wms_sku_profile", entity_id=product.id,
                         before=before, after=profile, enterprise_id=product.enterprise_id)
    return product, profile, created
