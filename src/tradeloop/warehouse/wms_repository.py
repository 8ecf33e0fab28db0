"""Reads of the warehouse operator API that the stock repository does not have: documents by number, the
movement log as a forward feed, SKU profiles, warehouse codes.

Every query starts from a ``StockRepository`` statement (or the catalogue's), so what an exporter or an
operator may see is decided where it is for the stock API: the exporter its own documents and stock, the
operator those lying in its own warehouses; anyone else finds nothing (404).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradeloop.kit.errors import Conflict, NotFound
from tradeloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.stock_models import InboundOrder, OutboundOrder, ReturnOrder, StockMovement
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.wms_models import WmsSkuProfile

_WHAT = {InboundOrder: ("Inbound order", "入库单"), OutboundOrder: ("Outbound order", "出库单"),
         ReturnOrder: ("Return order", "退货单")}


class WmsRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal
        self.stock = StockRepository(session, principal)

    def _visible(self, model):
        if model is InboundOrder:
            return self.stock.inbounds()
        if model is OutboundOrder:
            return self.stock.outbounds()
        return self.stock.returns()

    def document(self, model, key: str, *, enterprise_id: uuid.UUID | None = None):
        """A document by its number (or its id). Numbers are unique per exporter, so an operator serving
        several exporters may find two: then ``enterprise_id`` chooses, and without it the answer is 409
        naming the exporters (which the operator may see: they store goods in its warehouse)."""
        stmt = self._visible(model)
        try:
            stmt = stmt.where(model.id == uuid.UUID(key))
        except ValueError:
            stmt = stmt.where(model.number == key)
        if enterprise_id is not None:
            stmt = stmt.where(model.enterprise_id == enterprise_id)
        rows = list(self.session.scalars(stmt.limit(10)))
        en, zh = _WHAT[model]
        if not rows:
            raise NotFound(f"{en} not found.", message_zh=f"未找到该{zh}")
        if len(rows) > 1:
            raise Conflict(f"{len(rows)} exporters have a {en.lower()} numbered {key}; add ?enterprise_id=.",
                           message_zh=f"多个企业存在编号为 {key} 的{zh}，请用 enterprise_id 指定",
                           enterprise_ids=sorted(str(r.enterprise_id) for r in rows))
        return rows[0]

    def log(self, *, since: datetime | None, cursor: str | None, limit: int | None,
            warehouse_id: uuid.UUID | None = None, sku: str | None = None) -> tuple[list[StockMovement], str | None]:
        """Movements oldest first, after ``cursor`` and recorded at or after ``since``. Unlike the lists
        (newest first), this is a feed: a poller keeps the last cursor and asks again for what is new.
        ``since`` filters on the time the movement was recorded, not the time it says it happened (a
        shipment may be back-dated), so a movement recorded later is never behind the poller.

        Ids are made when a movement is written, not when it commits: on PostgreSQL two concurrent
        transactions may commit out of id order, so a cursor can pass a movement that commits a moment
        later. A poller that must see every movement asks again with ``since`` a little before its previous
        poll and drops the ids it has (the movements of one lot are ordered by the lot's row lock)."""
        limit = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
        stmt = self.stock.movements(warehouse_id=warehouse_id, sku=sku)
        if since is not None:
            stmt = stmt.where(StockMovement.created_at >= since)
        if cursor:
            stmt = stmt.where(StockMovement.id > decode_cursor(cursor))
        rows = list(self.session.scalars(stmt.limit(limit)))
        last = rows[-1].id if rows else (decode_cursor(cursor) if cursor else None)
        return rows, encode_cursor(last) if last else None

    def profiles(self, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, WmsSkuProfile]:
        if not product_ids:
            return {}
        me = self.principal.tenant(Action.READ)
        rows = self.session.scalars(select(WmsSkuProfile).where(WmsSkuProfile.enterprise_id == me,
                                                                WmsSkuProfile.product_id.in_(product_ids)))
        return {r.product_id: r for r in rows}

    def profile(self, product_id: uuid.UUID, *, for_update: bool = False) -> WmsSkuProfile | None:
        stmt = select(WmsSkuProfile).where(WmsSkuProfile.enterprise_id == self.principal.tenant(Action.READ),
                                           WmsSkuProfile.product_id == product_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalar(stmt)

    def warehouse_codes(self) -> dict[uuid.UUID, str]:
        """Codes of the warehouses the caller owns or uses (a warehouse no longer used shows no code)."""
        readable = WarehouseRepository(self.session, self.principal).readable().subquery()
        return {wid: code for wid, code in self.session.execute(select(readable.c.id, readable.c.code))}

