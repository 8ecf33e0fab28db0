"""The product catalogue and the HS reference look-up."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from tradeloop.catalog import service
from tradeloop.catalog.repository import HsRepository, ProductRepository
from tradeloop.catalog.schemas import HsCodeRead, ImportResultRead, ProductCreate, ProductRead, ProductUpdate
from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/catalog", tags=["catalog"])


def product_read(db, row, cost=None) -> ProductRead:
    cost = cost or service.cost_reader(db)
    return ProductRead.model_validate({**{k: getattr(row, k) for k in ProductRead.model_fields if k != "cost"},
                                       "cost": cost(row)})


@router.get("/products", response_model=Page[ProductRead])
def list_products(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                  q: str | None = None, hs_code: str | None = Query(None, description="HS code or its prefix"),
                  active: bool | None = None):
    rows, nxt = ProductRepository(db, principal).page(cursor=cursor, limit=limit, q=q, hs_code=hs_code,
                                                      active=active)
    cost = service.cost_reader(db)
    return Page(items=[product_read(db, r, cost) for r in rows], next_cursor=nxt)


@router.post("/products", response_model=ProductRead, status_code=201)
def create_product(body: ProductCreate, principal: CurrentPrincipal, db: DB, response: Response):
    row = service.create_product(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/catalog/products/{row.id}"
    return product_read(db, row)


@router.post("/products/import", response_model=ImportResultRead,
             responses={422: {"description": "row-level error report in `row_errors`; nothing was applied"}})
def import_products(principal: CurrentPrincipal, db: DB, request: Request,
                    file: Annotated[UploadFile, File(description="CSV (UTF-8/GB18030) or .xlsx")]):
    data = read_upload(request, file)
    result = service.import_products(db, principal=principal, filename=file.filename or "", data=data)
    return ImportResultRead(rows=result.rows, created=result.created, updated=result.updated,
                            unchanged=result.unchanged, encoding=result.encoding)


@router.get("/products/{product_id}", response_model=ProductRead)
def get_product(product_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return product_read(db, ProductRepository(db, principal).get(product_id))


@router.patch("/products/{product_id}", response_model=ProductRead)
def update_product(product_id: uuid.UUID, body: ProductUpdate, principal: CurrentPrincipal, db: DB):
    return product_read(db, service.update_product(db, principal=principal, product_id=product_id, data=body))


@router.get("/hs-codes", response_model=list[HsCodeRead])
def hs_codes(principal: CurrentPrincipal, db: DB, q: str | None = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 50):
    """HS lines by code prefix or words of the description; every rate period is a row."""
    del principal  # any signed-in caller: reference data
    return [HsCodeRead.model_validate(r) for r in HsRepository(db).search(q, limit=limit)]
