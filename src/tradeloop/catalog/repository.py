"""Queries of the catalogue (tenant-scoped) and of the HS reference (readable by everyone)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from tradeloop.catalog.models import HsCode, Product
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any, escape_like
from tradeloop.kit.tenancy import Action, Principal


class ProductRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def readable(self) -> Select:
        return select(Product).where(Product.enterprise_id == self.principal.tenant(Action.READ))

    def get(self, product_id: uuid.UUID, *, for_update: bool = False) -> Product:
        stmt = self.readable().where(Product.id == product_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Product not found.", message_zh="未找到该商品")
        return row

    def filtered(self, *, q: str | None = None, hs_code: str | None = None, active: bool | None = None) -> Select:
        stmt = self.readable()
        if q:
            stmt = stmt.where(contains_any([Product.sku, Product.name_zh, Product.name_en, Product.declared_name,
                                            Product.brand, Product.gtin], q))
        if hs_code:
            stmt = stmt.where(Product.hs_code.like(escape_like(hs_code.strip()) + "%", escape="\\"))
        if active is not None:
            stmt = stmt.where(Product.active.is_(active))
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), Product.id, cursor=cursor, limit=limit)

    def iterate(self, **filters):
        return self.session.scalars(self.filtered(**filters).order_by(Product.sku).execution_options(yield_per=500))

    def by_sku(self, skus: list[str], *, for_update: bool = False) -> dict[str, Product]:
        out: dict[str, Product] = {}
        for i in range(0, len(skus), 500):
            stmt = self.readable().where(Product.sku.in_(skus[i:i + 500]))
            if for_update:
                stmt = stmt.with_for_update()
            out.update({p.sku: p for p in self.session.scalars(stmt)})
        return out

    def sku_taken(self, sku: str, *, except_id: uuid.UUID | None = None) -> bool:
        stmt = self.readable().where(Product.sku == sku)
        if except_id is not None:
            stmt = stmt.where(Product.id != except_id)
        return self.session.scalar(stmt.limit(1)) is not None


@dataclass(frozen=True)
class Rates:
    """The rates of one HS line on one day; a rate of None is unknown (no source), not zero."""

    code10: str
    vat_rate_pct: Decimal | None
    rebate_rate_pct: Decimal | None
    valid_from: date | None
    valid_to: date | None
    legal_basis: str | None
    source: str
    confidence: str


class HsRepository:
    def __init__(self, session: Session):
        self.session = session

    def exists(self, code10: str) -> bool:
        return self.session.scalar(select(HsCode.id).where(HsCode.code10 == code10).limit(1)) is not None

    def known_codes(self, codes: set[str]) -> set[str]:
        if not codes:
            return set()
        return set(self.session.scalars(select(HsCode.code10).where(HsCode.code10.in_(codes)).distinct()))

    def rates_on(self, code10: str, on: date) -> Rates | None:
        row = self.session.scalar(select(HsCode).where(
            HsCode.code10 == code10,
            or_(HsCode.valid_from.is_(None), HsCode.valid_from <= on),
            or_(HsCode.valid_to.is_(None), HsCode.valid_to >= on),
        ).order_by(HsCode.valid_from.desc().nulls_last()).limit(1))
        if row is None:
            return None
        return Rates(row.code10, row.vat_rate_pct, row.rebate_rate_pct, row.valid_from, row.valid_to,
                     row.legal_basis, row.source, row.confidence)

    def search(self, q: str | None, *, limit: int = 50) -> list[HsCode]:
        stmt = select(HsCode)
        if q:
            q = q.strip().replace(".", "")
            stmt = stmt.where(or_(HsCode.code10.like(escape_like(q) + "%", escape="\\"),
                                  HsCode.code8.like(escape_like(q) + "%", escape="\\"),
                                  contains_any([HsCode.description_zh, HsCode.product], q)))
        order = (HsCode.code8, HsCode.code10, HsCode.valid_from.nulls_first())
        return list(self.session.scalars(stmt.order_by(*order).limit(limit)))


def rates_on(session: Session, code10: str, on: date) -> Rates | None:
    """VAT and export-rebate rates of ``code10`` valid on ``on`` (the export date), or None."""
    return HsRepository(session).rates_on(code10, on)
