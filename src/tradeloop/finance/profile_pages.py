"""Payment-firm payout profiles (结算文件方案): the list of the enterprise's own profiles beside the built-in
starter layouts, and the form that saves one (new, from a starter, or edited). The changes go through
``payouts.create_profile`` / ``update_profile`` / ``delete_profile``, the functions the JSON API calls.

The ``type`` mapping is typed one pair per line, ``value = kind`` (e.g. ``提现 = transfer``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from tradeloop.finance import payouts
from tradeloop.finance.money_models import ItemKind
from tradeloop.finance.parsers.profiles import BUILTIN_PROFILES, FIELDS, SIGN_CONVENTIONS
from tradeloop.finance.payout_repository import PayoutProfileRepository
from tradeloop.kit.errors import Conflict, ValidationFailed
from tradeloop.kit.i18n import N_, locale_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import error_messages, flash, redirect
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal

router = APIRouter()

SIGN_LABELS = {"signed": N_("Amounts carry their sign (net = gross + fees)"),
               "fees_positive": N_("Fees written as a positive charge (net = gross − fees)")}


def field_label(key: str) -> str:
    for k, en, zh, _required in FIELDS:
        if k == key:
            return en if locale_var.get() == "en" else zh
    return key


def _type_lines(type_map: dict) -> str:
    return "\n".join(f"{k} = {v}" for k, v in (type_map or {}).items())


def _parse_type_lines(text: str, errors: dict) -> dict:
    out = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        value, sep, kind = line.rpartition("=")
        if not sep or not value.strip() or not kind.strip():
            errors["type_map"] = _("Line %(n)d: write one pair per line as value = kind.", n=number)
            continue
        out[value.strip()] = kind.strip().lower()
    return out


def _form_of(spec) -> dict:
    form = {"name": spec.name, "date_format": spec.date_format or "", "timezone": spec.timezone,
            "sign_convention": spec.sign_convention, "decimal_comma": "1" if spec.decimal_comma else "",
            "default_currency": spec.default_currency or "", "type_map": _type_lines(spec.type_map)}
    form.update({f"col_{k}": v for k, v in (spec.columns or {}).items()})
    return form


def _values(form: dict, errors: dict) -> dict:
    columns = {key: form.get(f"col_{key}", "").strip() for key, *_rest in FIELDS if form.get(f"col_{key}", "").strip()}
    return {"name": form.get("name", ""), "columns": columns, "date_format": form.get("date_format") or None,
            "timezone": form.get("timezone") or None, "sign_convention": form.get("sign_convention") or None,
            "decimal_comma": form.get("decimal_comma") == "1",
            "default_currency": form.get("default_currency") or None,
            "type_map": _parse_type_lines(form.get("type_map", ""), errors)}


def _form(request, *, form, errors=None, profile=None, status_code=200):
    errors = dict(errors or {})
    for key in [k for k in errors if k.startswith("type_map.")]:  # one message under the text area
        msg = f"{key.removeprefix('type_map.')}: {errors.pop(key)}"
        errors["type_map"] = f"{errors['type_map']}；{msg}" if errors.get("type_map") else msg
    return render(request, "finance/payout_profile_form.html", {
        "active": "finance", "tab": "payouts", "form": form, "errors": errors, "profile": profile,
        "fields": FIELDS, "signs": [(s, _(SIGN_LABELS[s])) for s in SIGN_CONVENTIONS],
        "kinds": [k.value for k in ItemKind], "field_label": field_label}, status_code=status_code)


@router.get("/finance/payout-profiles")
def profiles_page(request: Request, principal: PagePrincipal, db: DB):
    own = PayoutProfileRepository(db, principal).all()
    mine = {p.name for p in own}
    starters = [s for name, s in sorted(BUILTIN_PROFILES.items()) if name not in mine]
    return render(request, "finance/payout_profiles.html", {
        "active": "finance", "tab": "payouts", "profiles": own, "starters": starters,
        "can_write": principal.can(Action.WRITE), "field_label": field_label,
        "sign_label": lambda s: _(SIGN_LABELS.get(s, s))})


@router.get("/finance/payout-profiles/new")
def new_profile_page(request: Request, principal: PagePrincipal, start: str = ""):
    principal.tenant(Action.WRITE)
    spec = BUILTIN_PROFILES.get(start.strip().lower())
    form = _form_of(spec) if spec else {"timezone": "Asia/Shanghai", "sign_convention": "signed"}
    return _form(request, form=form)


def _save(request, db, principal, form: dict, profile=None):
    errors: dict = {}
    values = _values(form, errors)
    if errors:  # a type-mapping line the form cannot read: nothing is sent to the service
        return _form(request, form=form, profile=profile, errors=errors, status_code=422)
    try:
        if profile is None:
            saved = payouts.create_profile(db, principal=principal, data=values)
        else:
            saved = payouts.update_profile(db, principal=principal, profile_id=profile.id, data=values)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        if profile is not None:
            profile = PayoutProfileRepository(db, principal).get(profile.id)
        return _form(request, form=form, profile=profile, errors=error_messages(exc), status_code=exc.status)
    flash(request, _("Profile %(name)s saved.", name=saved.name))
    return redirect("/finance/payout-profiles")


@router.post("/finance/payout-profiles", dependencies=[CSRF])
def create_profile(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    return _save(request, db, principal, form)


@router.get("/finance/payout-profiles/{profile_id}/edit")
def edit_profile_page(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    profile = PayoutProfileRepository(db, principal).get(profile_id)
    return _form(request, form=_form_of(profile), profile=profile)


@router.post("/finance/payout-profiles/{profile_id}/edit", dependencies=[CSRF])
def edit_profile(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    profile = PayoutProfileRepository(db, principal).get(profile_id)
    return _save(request, db, principal, form, profile)


@router.post("/finance/payout-profiles/{profile_id}/delete", dependencies=[CSRF])
def delete_profile(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    payouts.delete_profile(db, principal=principal, profile_id=profile_id)
    flash(request, _("Profile deleted."))
    return redirect("/finance/payout-profiles")
