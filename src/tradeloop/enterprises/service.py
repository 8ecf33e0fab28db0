"""Registering enterprises (tenants) and keeping their profile."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.enterprises import uscc as uscc_rules
from tradeloop.enterprises.models import Enterprise, EnterpriseKind, RebateMethod
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.enterprises.schemas import EnterpriseCreate, EnterpriseFields, EnterpriseUpdate
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean

#: The rebate method follows from the kind of exporter (财税〔2012〕39号: 生产企业 免抵退, 外贸企业 免退).
DEFAULT_REBATE_METHOD = {
    EnterpriseKind.MANUFACTURER: RebateMethod.EXEMPT_CREDIT_REFUND,
    EnterpriseKind.TRADER: RebateMethod.EXEMPT_REFUND,
}


def _check_fields(errors: Errors, data: EnterpriseFields, *, kind: str, repo: EnterpriseRepository,
                  except_id=None) -> dict:
    values = {
        "name_zh": clean(data.name_zh),
        "name_en": clean(data.name_en),
        "customs_code": clean(data.customs_code.upper()) if data.customs_code else None,
        "province": clean(data.province),
        "city": clean(data.city),
        "district": clean(data.district),
        "pilot_zone": clean(data.pilot_zone),
    }
    for name, n in (("name_zh", 200), ("name_en", 200), ("province", 50), ("city", 50), ("district", 50),
                    ("pilot_zone", 100)):
        errors.max_len(name, values[name], n)
    code = values["customs_code"]
    errors.pattern("customs_code", code, r"[0-9A-Z]{10}",
                   "must be the 10-character customs registration code (digits and capital letters)",
                   "海关编码应为10位数字或大写字母")
    if code and repo.customs_code_taken(code, except_id=except_id):
        errors.add("customs_code", "is already registered to another enterprise", "该海关编码已被其他企业登记")
    if data.industry_belts is not None:
        belts = [b.strip() for b in data.industry_belts if b and b.strip()]
        if len(belts) > 20 or any(len(b) > 50 for b in belts):
            errors.add("industry_belts", "at most 20 tags of at most 50 characters",
                       "产业带标签最多20个，每个不超过50字")
        values["industry_belts"] = list(dict.fromkeys(belts))
    method = data.rebate_method
    expected = DEFAULT_REBATE_METHOD.get(EnterpriseKind(kind))
    if method is not None and expected is not None and method != expected:
        errors.add(
            "rebate_method",
            f"a {kind} claims export rebates by {expected.value}",
            "生产企业适用免抵退税办法" if kind == EnterpriseKind.MANUFACTURER else "外贸企业适用免退税办法",
        )
    values["rebate_method"] = (method or expected).value if (method or expected) else None
    return values


def create_enterprise(session: Session, *, principal: Principal, data: EnterpriseCreate) -> Enterprise:
    """Register a new tenant (platform admins)."""
    principal.require(Action.PLATFORM)
    repo = EnterpriseRepository(session, principal)
    errors = Errors()
    code = uscc_rules.normalise(data.uscc)
    problem = uscc_rules.uscc_problem(code)
    if problem:
        errors.add("uscc", problem[0], f"统一社会信用代码{problem[1]}")
    elif repo.uscc_taken(code):
        errors.add("uscc", "is already registered", "该统一社会信用代码已登记")
    errors.required("name_zh", data.name_zh, "企业名称")
    values = _check_fields(errors, data, kind=data.kind, repo=repo)
    errors.raise_if_any()
    values.setdefault("industry_belts", [])
    enterprise = Enterprise(id=uuid7(), uscc=code, kind=data.kind.value, **values)
    session.add(enterprise)
    audit.record(session, principal=principal, action="enterprise.create", entity_type="enterprise",
                 entity_id=enterprise.id, after=enterprise, enterprise_id=enterprise.id)
    return enterprise


def update_profile(session: Session, *, principal: Principal, data: EnterpriseUpdate) -> Enterprise:
    """Change the current tenant's profile (enterprise admins). USCC and kind are fixed."""
    enterprise_id = principal.tenant(Action.MANAGE)
    repo = EnterpriseRepository(session, principal)
    enterprise = repo.get(enterprise_id, for_update=True)
    before = audit.snapshot(enterprise)
    errors = Errors()
    if "name_zh" in data.model_fields_set:
        errors.required("name_zh", data.name_zh, "企业名称")
    values = _check_fields(errors, data, kind=enterprise.kind, repo=repo, except_id=enterprise.id)
    errors.raise_if_any()
    given = data.model_dump(exclude_unset=True)
    for key, value in values.items():
        if key in given or (key == "rebate_method" and enterprise.rebate_method is None and value):
            setattr(enterprise, key, value)
    session.flush()
    audit.record(session, principal=principal, action="enterprise.update", entity_type="enterprise",
                 entity_id=enterprise.id, before=before, after=enterprise)
    return enterprise
