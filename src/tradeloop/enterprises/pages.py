"""Enterprise profile; the platform admin's list of enterprises."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tradeloop.enterprises import service
from tradeloop.enterprises.models import Enterprise, EnterpriseKind, RebateMethod
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.enterprises.schemas import EnterpriseCreate, EnterpriseUpdate
from tradeloop.kit.errors import DomainError
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect
from tradeloop.kit.templating import kind_label, rebate_label, render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, PagePrincipal

router = APIRouter()

FIELDS = ("name_zh", "name_en", "customs_code", "rebate_method", "province", "city", "district", "pilot_zone")


def _choices():
    return {
        "kinds": [(k.value, kind_label(k.value)) for k in EnterpriseKind],
        "rebate_methods": [(m.value, rebate_label(m.value)) for m in RebateMethod],
    }


async def _form_values(request: Request) -> dict:
    form = await request.form()
    values = {k: (form.get(k) or "").strip() for k in (*FIELDS, "uscc", "kind", "industry_belts", "admin_username",
                                                    "admin_display_name")}
    values["admin_password"] = form.get("admin_password") or ""
    return values


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
async def update_profile(request: Request, principal: PagePrincipal, db: DB):
    values = await _form_values(request)
    data = EnterpriseUpdate(**{f: values[f] or None for f in FIELDS if f != "rebate_method"},
                            rebate_method=values["rebate_method"] or None,
                            industry_belts=_belts(values["industry_belts"]))
    try:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(service.update_profile, db, principal=principal, data=data)
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        enterprise = EnterpriseRepository(db, principal).get(principal.enterprise_id)
        return render(request, "profile.html", {"active": "enterprise", "enterprise": enterprise, "form": values,
                                                "errors": error_messages(exc), "edit": True, "can_manage": True,
                                                **_choices()}, status_code=422)
    flash(request, _("Enterprise profile saved."))
    return redirect("/enterprise")


def _first_admin(db, principal, enterprise_id, values: dict) -> None:
    """The new enterprise's first admin, in the same transaction; errors name the admin_* form fields."""
    from tradeloop.identity import service as identity
    from tradeloop.kit.errors import ValidationFailed

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
async def admin_create_enterprise(request: Request, principal: PagePrincipal, db: DB):
    principal.require(Action.PLATFORM)
    values = await _form_values(request)
    from starlette.concurrency import run_in_threadpool

    try:
        if values["kind"] not in [k.value for k in EnterpriseKind]:
            from tradeloop.kit.errors import FieldError, ValidationFailed

            raise ValidationFailed(errors=[FieldError("kind", "choose the kind of enterprise", "请选择企业类型")])
        data = EnterpriseCreate(uscc=values["uscc"], name_zh=values["name_zh"], kind=values["kind"],
                                **{f: values[f] or None for f in FIELDS if f not in ("name_zh", "rebate_method")},
                                rebate_method=values["rebate_method"] or None,
                                industry_belts=_belts(values["industry_belts"]))
        enterprise = await run_in_threadpool(service.create_enterprise, db, principal=principal, data=data)
        if values["admin_username"] or values["admin_password"]:
            await run_in_threadpool(_first_admin, db, principal, enterprise.id, values)
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        values.pop("admin_password")
        return _admin_page(request, db, principal, {}, errors=error_messages(exc), form=values, status_code=422)
    flash(request, _("Enterprise %(name)s registered.", name=enterprise.name_zh))
    return redirect("/admin/enterprises")
