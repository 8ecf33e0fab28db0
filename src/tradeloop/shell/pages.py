"""The web shell: overview, language switch, enterprise switch, and the modules still to come."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from tradeloop.audit.repository import AuditRepository
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.identity.repository import MemberRepository
from tradeloop.kit.errors import NotFound
from tradeloop.kit.i18n import LOCALES
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import redirect
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, PagePrincipal
from tradeloop.shell.nav import coming_item
from tradeloop.warehouse.repository import WarehouseRepository

router = APIRouter()


def safe_next(url: str | None, default: str = "/") -> str:
    """Only same-site paths: an open redirect would let a link send users elsewhere after login."""
    if not url:
        return default
    parsed = urlparse(url)
    if parsed.scheme or parsed.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url


@router.get("/")
def home(request: Request, principal: PagePrincipal, db: DB):
    if principal.enterprise_id is None:
        if principal.can(Action.STATS) and not principal.is_platform_admin:
            return redirect("/insights")
        if principal.can(Action.PLATFORM):
            return redirect("/admin/enterprises")
        return render(request, "no_access.html", {"active": "home"})
    enterprise = EnterpriseRepository(db, principal).get(principal.enterprise_id)
    warehouses = WarehouseRepository(db, principal)
    context = {
        "active": "home",
        "enterprise": enterprise,
        "warehouse_count": warehouses.count(),
        "member_count": len(MemberRepository(db, principal).members()),
        "recent": AuditRepository(db, principal).recent(8),
    }
    return render(request, "home.html", context)


@router.get("/m/{module}")
def coming(module: str, request: Request, principal: PagePrincipal):
    item = coming_item(module)
    if item is None:
        raise NotFound("No such module.")
    return render(request, "coming.html", {"active": item.key, "item": item,
                                           "title": _(item.label), "description": _(item.coming)})


@router.get("/lang/{locale}")
def set_language(locale: str, next: str | None = None):
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response


@router.post("/switch-enterprise", dependencies=[CSRF])
def switch_enterprise(request: Request, principal: PagePrincipal, enterprise_id: uuid.UUID = Form(...)):
    if any(m["enterprise_id"] == str(enterprise_id) for m in getattr(request.state, "memberships", [])):
        request.session["eid"] = str(enterprise_id)
    return redirect("/")
