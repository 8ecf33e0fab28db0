"""Enterprise profile; the platform admin's list of enterprises."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError as PydanticValidationError

from tradeloop.enterprises import service
from tradeloop.enterprises.models import Enterprise, EnterpriseKind, RebateMethod
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.enterprises.schemas import EnterpriseCreate, EnterpriseUpdate
from tradeloop.kit.errors import ValidationFailed, from_pydantic
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect
from tradeloop.kit.templating import kind_label, rebate_label, render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal

router = APIRouter()

FIELDS = ("name_zh", "name_en", "customs_code", "rebate_method", "province", "city", "district", "pilot_zone")


def _choices():
    return {
        "kinds": [(k.value, kind_label(k.value)) for k in EnterpriseKind],
        "rebate_methods": [(m.value, rebate_label(m.value)) for m in RebateMethod],
    }


def _belts(text: str) -> list[str]:
    return [b.strip() for b in text.replace("，", ",").split(",") if b.strip()]


@router.get("/enterprise")
def profile(request: Request, principal: PagePrincipal, db: DB, edit: bool = False):
    enterprise = EnterpriseRepository(db, principal).get(principal.tenant(Action.READ))
    form = {f: getattr(enterprise, f) or "" for f in FIELDS}
    form["industry_belts"] = ", ".join(enterprise.industry_belts or [])
    return render(request, "profile.html", {"active": "enterprise", "enterprise": enterprise, "form": form,
                                            "errors": {}, "edit": edit and principal.can(Action.MANAGE),
                                            "can_manage": principal.can(Action.MANAGE), **_choices()})


@router.post("/enterprise", dependencies=[CSRF])
def update_profile(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    values = {k: form.get(k, "") for k in (*FIELDS, "industry_belts")}
    try:
        try:
            data = EnterpriseUpdate(**{f: values[f] or None for f in FIELDS},
                                    industry_belts=_belts(values["industry_belts"]))
        except PydanticValidationError as exc:
            raise from_pydantic(exc) from None
        service.update_profile(db, principal=principal, data=data)
    except ValidationFailed as exc:
        db.rollback()
        enterprise = EnterpriseRepository(db, principal).get(principal.tenant(Action.READ))
        return render(request, "profile.html", {"active": "enterprise", "enterprise": enterprise, "form": values,
                                                "errors": error_messages(exc), "edit": True, "can_manage": True,
                                                **_choices()}, status_code=422)
    flash(request, _("Enterprise profile saved."))
    return redirect("/enterprise")


def _first_admin(db, principal, enterprise_id, values: dict) -> None:
    """The new enterprise's first admin, in the same transaction; errors name the admin_* form fields."""
    from tradeloop.identity import service as identity

    try:
        identity.add_enterprise_admin(db, principal=principal, enterprise_id=enterprise_id,
                                      username=values["admin_username"],
                                      display_name=values["admin_display_name"] or values["admin_username"],
                                      password=values["admin_password"])
    except ValidationFailed as exc:
        for e in exc.errors:
            e.field = f"admin_{e.field}"
        raise


SORTS = {"name": Enterprise.name_zh, "uscc": Enterprise.uscc, "kind": Enterprise.kind, "created": Enterprise.id}


def _admin_page(request, db, principal, params, *, errors=None, form=None, status_code=200):
    stmt = EnterpriseRepository(db, principal).filtered(kind=params.get("kind") or None, q=params.get("q") or None)
    page = offset_page(db, stmt, sort_columns=SORTS, sort=params.get("sort"), desc=params.get("desc") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="created")
    return render(request, "admin_enterprises.html", {"active": "admin-enterprises", "page": page, "params": params,
                                                      "errors": errors or {}, "form": form or {}, **_choices()},
                  status_code=status_code)


@router.get("/admin/enterprises")
def admin_enterprises(request: Request, principal: PagePrincipal, db: DB):
    principal.require(Action.PLATFORM)
    return _admin_page(request, db, principal, dict(request.query_params))


@router.post("/admin/enterprises", dependencies=[CSRF])
def admin_create_enterprise(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.require(Action.PLATFORM)
    keys = (*FIELDS, "uscc", "kind", "industry_belts", "admin_username", "admin_display_name", "admin_password")
    values = {k: form.get(k, "") for k in keys}
    try:
        try:
            data = EnterpriseCreate(uscc=values["uscc"], kind=values["kind"] or None,
                                    **{f: values[f] or None for f in FIELDS},
                                    industry_belts=_belts(values["industry_belts"]))
        except PydanticValidationError as exc:
            raise from_pydantic(exc) from None
        enterprise = service.create_enterprise(db, principal=principal, data=data)
        if values["admin_username"] or values["admin_password"]:
            _first_admin(db, principal, enterprise.id, values)
    except ValidationFailed as exc:
        db.rollback()
        values.pop("admin_password")
        return _admin_page(request, db, principal, {}, errors=error_messages(exc), form=values, status_code=422)
    flash(request, _("Enterprise %(name)s registered.", name=enterprise.name_zh))
    return redirect("/admin/enterprises")
