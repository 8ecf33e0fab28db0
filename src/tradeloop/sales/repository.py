"""Queries of sales lines and import profiles, each from the tenant's own statement.

The order-level view is a query over the lines (``orders``): one row per ``(channel, external_order_id)``
with its line count, units, amounts and the earliest order and latest ship date. Later modules (fulfilment,
lineage) read the lines by SKU, ship date, status and fulfilment channel through ``filtered``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from tradeloop.catalog.models import Product
from tradeloop.kit.errors import NotFound
from tradeloop.kit.models import utcnow
from tradeloop.kit.pagination import paginate
from tradeloop.kit.profiles import ColumnProfileRepository
from tradeloop.kit.sql import contains_any, escape_like
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.sales.models import ImportProfile, SalesOrderLine


class SalesRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def tenant(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    def readable(self) -> Select:
        return select(SalesOrderLine).where(SalesOrderLine.enterprise_id == self.tenant)

    def get(self, line_id: uuid.UUID) -> SalesOrderLine:
        row = self.session.scalar(self.readable().where(SalesOrderLine.id == line_id))
        if row is None:
            raise NotFound("Sales line not found.", message_zh="未找到该销售行")
        return row

    def _where(self, stmt: Select, *, channel: str | None = None, status: str | None = None,
               sku: str | None = None, order_id: str | None = None, q: str | None = None,
               date_from: datetime | None = None, date_to: datetime | None = None,
               sku_unknown: bool | None = None, fulfillment_channel: str | None = None,
               import_id: uuid.UUID | None = None) -> Select:
        t = SalesOrderLine
        if channel:
            stmt = stmt.where(t.channel == channel)
        if status:
            stmt = stmt.where(t.status == status)
        if sku:
            stmt = stmt.where(t.sku == sku.strip())
        if order_id:
            stmt = stmt.where(t.external_order_id == order_id.strip())
        if q:
            stmt = stmt.where(contains_any([t.external_order_id, t.sku, t.marketplace], q.strip()))
        if date_from is not None:
            stmt = stmt.where(t.order_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(t.order_date < date_to)
        if sku_unknown is not None:
            stmt = stmt.where(t.sku_unknown.is_(sku_unknown))
        if fulfillment_channel:
            stmt = stmt.where(t.fulfillment_channel == fulfillment_channel)
        if import_id is not None:
            stmt = stmt.where(t.import_id == import_id)
        return stmt

    def filtered(self, **filters) -> Select:
        """Lines matching the filters; ``date_to`` is exclusive."""
        return self._where(self.readable(), **filters)

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), SalesOrderLine.id, cursor=cursor, limit=limit)

    def count(self, **filters) -> int:
        return self.session.scalar(select(func.count()).select_from(self.filtered(**filters).subquery()))

    def orders(self, **filters) -> Select:
        """One row per order: channel, external_order_id, lines, units, currency, item price, first order
        date, last ship date."""
        t = SalesOrderLine
        stmt = select(t.channel, t.external_order_id, func.count().label("lines"),
                      func.sum(t.quantity).label("units"), func.max(t.currency).label("currency"),
                      func.sum(t.item_price_minor).label("item_price_minor"),
                      func.min(t.order_date).label("order_date"), func.max(t.ship_date).label("ship_date"))
        stmt = self._where(stmt.where(t.enterprise_id == self.tenant), **filters)
        return stmt.group_by(t.channel, t.external_order_id)

    def unknown_skus(self, *, q: str | None = None) -> list:
        """SKUs of lines not linked to the catalogue: lines, units, first and last order date, and whether the
        catalogue has the SKU now (the lines can then be linked)."""
        t = SalesOrderLine
        in_catalogue = select(Product.id).where(Product.enterprise_id == t.enterprise_id,
                                                Product.sku == t.sku).exists()
        stmt = (select(t.sku, func.count().label("lines"), func.sum(t.quantity).label("units"),
                       func.min(t.order_date).label("first_order_date"),
                       func.max(t.order_date).label("last_order_date"),
                       func.max(case((in_catalogue, 1), else_=0)).label("in_catalogue"))
                .where(t.enterprise_id == self.tenant, t.sku_unknown.is_(True)))
        if q:
            stmt = stmt.where(t.sku.like("%" + escape_like(q.strip()) + "%", escape="\\"))
        return list(self.session.execute(stmt.group_by(t.sku).order_by(func.count().desc(), t.sku)))

    def product_ids(self, skus: list[str]) -> dict[str, uuid.UUID]:
        """Catalogue product of each SKU that has one (one query per 500 SKUs)."""
        out: dict[str, uuid.UUID] = {}
        for i in range(0, len(skus), 500):
            out.update(self.session.execute(select(Product.sku, Product.id).where(
                Product.enterprise_id == self.tenant, Product.sku.in_(skus[i:i + 500]))).tuples().all())
        return out

    def link_known_skus(self, skus: list[str] | None = None) -> int:
        """Link lines flagged ``sku_unknown`` whose SKU the catalogue has now; returns how many."""
        t = SalesOrderLine
        tenant = self.principal.tenant(Action.WRITE)
        stmt = select(t.sku).where(t.enterprise_id == tenant, t.sku_unknown.is_(True)).distinct()
        if skus is not None:
            stmt = stmt.where(t.sku.in_(skus))
        unknown = list(self.session.scalars(stmt))
        found = self.product_ids(unknown) if unknown else {}
        linked = 0
        for sku, product_id in found.items():
            linked += self.session.execute(update(t).where(
                t.enterprise_id == tenant, t.sku_unknown.is_(True), t.sku == sku).values(
                product_id=product_id, sku_unknown=False, updated_at=utcnow())
                .execution_options(synchronize_session=False)).rowcount
        return linked


#: The columns fulfilment reads of a line, in this order.
FULFIL_COLUMNS = ("id", "channel", "marketplace", "external_order_id", "line_id", "sku", "quantity", "status",
                  "order_date", "ship_date", "buyer_country", "fulfillment_channel")


class FulfilmentRepository:
    """The reads and writes of ``sales.fulfilment``: lines waiting for an outbound order, and their links."""

    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def tenant(self) -> uuid.UUID:
        return self.principal.tenant(Action.WRITE)

    def unfulfilled(self, *, statuses: tuple[str, ...], channel: str | None, marketplace: str | None,
                    fulfillment_channel: str | None, buyer_countries: list[str] | None,
                    after: tuple | None, limit: int) -> list[tuple]:
        """Lines without an outbound order whose SKU is in the catalogue, oldest order first (keyset after
        ``(order_date, channel, external_order_id)``)."""
        t = SalesOrderLine
        stmt = select(*(getattr(t, c) for c in FULFIL_COLUMNS)).where(
            t.enterprise_id == self.tenant, t.outbound_id.is_(None), t.sku_unknown.is_(False),
            t.status.in_(statuses))
        if channel:
            stmt = stmt.where(t.channel == channel)
        if marketplace:
            stmt = stmt.where(t.marketplace == marketplace)
        if fulfillment_channel:
            stmt = stmt.where(t.fulfillment_channel == fulfillment_channel)
        if buyer_countries:
            stmt = stmt.where(t.buyer_country.in_(buyer_countries))
        if after is not None:
            d, c, o = after
            stmt = stmt.where((t.order_date > d) | ((t.order_date == d) & (t.channel > c))
                              | ((t.order_date == d) & (t.channel == c) & (t.external_order_id > o)))
        stmt = stmt.order_by(t.order_date, t.channel, t.external_order_id, t.line_id).limit(limit)
        return [tuple(r) for r in self.session.execute(stmt)]

    def link(self, links: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]) -> None:
        """Set ``(line id, outbound id, outbound line id)`` links in one executemany."""
        if not links:
            return
        t = SalesOrderLine.__table__
        now = utcnow()
        self.session.execute(
            update(t).where(t.c.enterprise_id == bindparam("e"), t.c.id == bindparam("i"))
            .values(outbound_id=bindparam("o"), outbound_line_id=bindparam("ol"), updated_at=now)
            .execution_options(synchronize_session=False),
            [{"e": self.tenant, "i": i, "o": o, "ol": ol} for i, o, ol in links])

    def linked_to_update(self, statuses: tuple[str, ...]) -> list[tuple]:
        """Outbound orders still open at the warehouse whose linked lines ALL have one of ``statuses`` in the
        sales files (cancelled, or shipped): (channel, external order id, outbound id, last ship date)."""
        from tradeloop.warehouse.stock_models import OutboundOrder, OutboundStatus

        t, o = SalesOrderLine, OutboundOrder
        open_ = (OutboundStatus.CREATED, OutboundStatus.ALLOCATED, OutboundStatus.PICKED)
        return list(self.session.execute(
            select(t.channel, t.external_order_id, t.outbound_id, func.max(t.ship_date))
            .join(o, (o.enterprise_id == t.enterprise_id) & (o.id == t.outbound_id))
            .where(t.enterprise_id == self.tenant, o.status.in_(open_))
            .group_by(t.channel, t.external_order_id, t.outbound_id)
            .having(func.sum(case((t.status.in_(statuses), 0), else_=1)) == 0)))


class ProfileRepository(ColumnProfileRepository):
    model = ImportProfile
    not_found = ("Import profile not found.", "未找到该导入方案")
