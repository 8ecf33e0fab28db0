"""Catalogue pages: list (filter, sort, page, Excel export), new/edit form, import with its error report."""

from __future__ import annotations

import base64
import uuid

from fastapi import APIRouter, File, Request, UploadFile

from tradeloop.catalog import service
from tradeloop.catalog.formats import products as layout
from tradeloop.catalog.models import Product
from tradeloop.catalog.repository import ProductRepository
from tradeloop.kit.errors import ValidationFailed
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.i18n import locale_var
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect, xlsx_response
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal

router = APIRouter()

FORM_FIELDS = ("sku", "name_zh", "name_en", "declared_name", "declared_elements", "hs_code", "customs_unit", "unit1",
               "unit1_factor", "unit2", "unit2_factor", "gross_weight_kg", "net_weight_kg", "origin_country", "brand",
               "gtin", "cost", "cost_currency")
SORTS = {"sku": Product.sku, "name": Product.name_zh, "hs_code": Product.hs_code, "created": Product.id}


def _filters(params) -> dict:
    active = {"1": True, "0": False}.get(params.get("active") or "")
    return {"q": params.get("q") or None, "hs_code": params.get("hs_code") or None, "active": active}


@router.get("/catalog")
def list_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    page = offset_page(db, ProductRepository(db, principal).filtered(**_filters(params)), sort_columns=SORTS,
                       sort=params.get("sort"), desc=params.get("desc") == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="sku")
    cost = service.cost_reader(db)
    return render(request, "catalog/list.html", {
        "active": "catalog", "page": page, "params": params, "can_write": principal.can(Action.WRITE),
        "costs": {p.id: cost(p) for p in page.rows}})


@router.get("/catalog.xlsx")
def export(request: Request, principal: PagePrincipal, db: DB):
    """The import layout's columns, in the page language: the file imports back unchanged."""
    rows = ProductRepository(db, principal).iterate(**_filters(dict(request.query_params)))
    cost = service.cost_reader(db)
    return xlsx_response("products.xlsx", layout.headers(locale_var.get() != "en"),
                         (layout.export_row(p, cost(p)) for p in rows))


def _form_page(request, *, form, errors=None, product=None, status_code=200):
    return render(request, "catalog/form.html", {"active": "catalog", "form": form, "errors": errors or {},
                                                 "product": product}, status_code=status_code)


@router.get("/catalog/new")
def new_page(request: Request, principal: PagePrincipal):
    principal.tenant(Action.WRITE)
    return _form_page(request, form={"customs_unit": "011", "origin_country": "142", "cost_currency": "CNY"})


def _values(form: dict) -> dict:
    return {k: form.get(k, "") for k in FORM_FIELDS}


@router.post("/catalog", dependencies=[CSRF])
def create(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    values = _values(form)  # form text goes through the same checks as an import row
    try:
        product = service.create_product(db, principal=principal, data=values)
    except ValidationFailed as exc:
        db.rollback()
        return _form_page(request, form=values, errors=error_messages(exc), status_code=422)
    flash(request, _("Product %(sku)s saved.", sku=product.sku))
    return redirect("/catalog")


@router.get("/catalog/import")
def import_page(request: Request, principal: PagePrincipal):
    principal.tenant(Action.WRITE)
    return render(request, "catalog/import.html", {"active": "catalog", "columns": layout.COLUMNS})


@router.post("/catalog/import", dependencies=[CSRF])
def import_file(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...)):
    settings = request.app.state.settings
    data = file.file.read(settings.max_upload_bytes + 1)
    context = {"active": "catalog", "columns": layout.COLUMNS, "filename": file.filename}
    if len(data) > settings.max_upload_bytes:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/catalog/import")
    try:
        result = service.import_products(db, principal=principal, filename=file.filename or "", data=data)
    except service.ImportRejected as exc:
        db.rollback()
        zh = locale_var.get() != "en"
        header = [_("Row"), _("Column"), _("Value"), _("Problem")]
        report = layout.to_csv(header, ([e.row, e.column, e.value, e.message_zh if zh else e.message_en]
                                        for e in exc.row_errors))
        context.update(row_errors=exc.row_errors, zh=zh,
                       report_href="data:text/csv;charset=utf-8;base64," + base64.b64encode(report).decode())
        return render(request, "catalog/import.html", context, status_code=422)
    context["result"] = result
    return render(request, "catalog/import.html", context)


@router.get("/catalog/{product_id}/edit")
def edit_page(product_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    p = ProductRepository(db, principal).get(product_id)
    form = {k: layout.text(getattr(p, k, None)) for k in FORM_FIELDS}
    form["cost"] = layout.text(service.cost_decimal(db, p))
    return _form_page(request, form=form, product=p)


@router.post("/catalog/{product_id}/edit", dependencies=[CSRF])
def edit(product_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    values = _values(form)
    try:
        service.update_product(db, principal=principal, product_id=product_id, data=values)
    except ValidationFailed as exc:
        db.rollback()
        p = ProductRepository(db, principal).get(product_id)
        return _form_page(request, form=values, product=p, errors=error_messages(exc), status_code=422)
    flash(request, _("Product saved."))
    return redirect("/catalog")


@router.post("/catalog/{product_id}/deactivate", dependencies=[CSRF])
def deactivate(product_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    product = service.deactivate_product(db, principal=principal, product_id=product_id)
    flash(request, _("Product %(sku)s deactivated.", sku=product.sku))
    return redirect("/catalog")
