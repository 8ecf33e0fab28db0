"""Queries of declarations, their documents, messages, receipts, summaries and the quarantine.

``DeclarationRepository`` is tenant-scoped like every repository. ``ExchangeRepository`` is the one
cross-tenant reader: the exchange inbox is shared by the installation, so an inbound receipt is matched
to its document first and only then to the tenant that owns it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from tradeloop.customs.models import (
    Declaration,
    DeclarationLine,
    DeclarationStatus,
    Document,
    Message,
    MessageDirection,
    Quarantined,
    Receipt,
    Summary,
)
from tradeloop.customs.status import Seen
from tradeloop.enterprises.models import Enterprise
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal


class DeclarationRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    # --- declarations ---------------------------------------------------------------------------

    def readable(self) -> Select:
        return select(Declaration).where(Declaration.enterprise_id == self.me)

    def get(self, declaration_id: uuid.UUID, *, for_update: bool = False) -> Declaration:
        stmt = self.readable().where(Declaration.id == declaration_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Declaration not found.", message_zh="未找到该申报单")
        return row

    def filtered(self, *, q: str | None = None, status: str | None = None, mode: str | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> Select:
        stmt = self.readable()
        if q:
            stmt = stmt.where(contains_any([Declaration.cop_no, Declaration.order_no, Declaration.logistics_no,
                                            Declaration.invt_no, Declaration.entry_id, Declaration.bill_no], q))
        if status:
            stmt = stmt.where(Declaration.status == status)
        if mode:
            stmt = stmt.where(Declaration.mode == mode)
        if date_from:
            stmt = stmt.where(Declaration.ie_date >= date_from)
        if date_to:
            stmt = stmt.where(Declaration.ie_date <= date_to)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), Declaration.id, cursor=cursor, limit=limit)

    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(Declaration.status, func.count()).where(Declaration.enterprise_id == self.me)
                                    .group_by(Declaration.status))
        return {status: n for status, n in rows}

    def order_no_taken(self, order_no: str, *, except_id: uuid.UUID | None = None) -> bool:
        stmt = self.readable().where(Declaration.order_no == order_no)
        if except_id is not None:
            stmt = stmt.where(Declaration.id != except_id)
        return self.session.scalar(stmt.limit(1)) is not None

    def lines(self, declaration_id: uuid.UUID) -> list[DeclarationLine]:
        return list(self.session.scalars(select(DeclarationLine).where(
            DeclarationLine.enterprise_id == self.me, DeclarationLine.declaration_id == declaration_id)
            .order_by(DeclarationLine.gnum)))

    def line_by_id(self, line_id: uuid.UUID) -> tuple[Declaration, DeclarationLine] | None:
        row = self.session.execute(select(Declaration, DeclarationLine).join(
            DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
            & (DeclarationLine.declaration_id == Declaration.id)).where(
            Declaration.enterprise_id == self.me, DeclarationLine.id == line_id)).first()
        return (row[0], row[1]) if row else None

    def delete_lines(self, declaration_id: uuid.UUID) -> None:
        for line in self.lines(declaration_id):
            self.session.delete(line)
        self.session.flush()

    def summarisable(self, month_start: datetime, month_end: datetime, *, for_update: bool = False
                     ) -> list[Declaration]:
        """Closed lists of the month, under 汇总申报 (statisticsFlag B), not yet in a summary. With
        ``for_update`` the rows are locked, and on PostgreSQL a list another transaction has just put into a
        summary drops out (the WHERE is re-checked after the lock wait)."""
        stmt = self.readable().where(
            Declaration.status == DeclarationStatus.CLOSED, Declaration.summary_id.is_(None),
            Declaration.statistics_flag == "B", Declaration.closed_at >= month_start,
            Declaration.closed_at < month_end).order_by(Declaration.closed_at, Declaration.id)
        return list(self.session.scalars(stmt.with_for_update() if for_update else stmt))

    def of_summary(self, summary_id: uuid.UUID) -> list[Declaration]:
        return list(self.session.scalars(self.readable().where(Declaration.summary_id == summary_id)
                                         .order_by(Declaration.invt_no)))

    def lines_of_summary(self, summary_id: uuid.UUID) -> list[tuple[str, DeclarationLine]]:
        rows = self.session.execute(select(Declaration.invt_no, DeclarationLine).join(
            DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
            & (DeclarationLine.declaration_id == Declaration.id)).where(
            Declaration.enterprise_id == self.me, Declaration.summary_id == summary_id))
        return [(invt_no, line) for invt_no, line in rows]

    # --- documents, receipts, messages ----------------------------------------------------------

    def documents(self, owner_id: uuid.UUID) -> list[Document]:
        return list(self.session.scalars(select(Document).where(
            Document.enterprise_id == self.me, Document.owner_id == owner_id).order_by(Document.created_at)))

    def document(self, owner_id: uuid.UUID, kind: str) -> Document | None:
        return self.session.scalar(select(Document).where(
            Document.enterprise_id == self.me, Document.owner_id == owner_id, Document.kind == kind))

    def receipts_seen(self, document_id: uuid.UUID) -> list[Seen]:
        rows = self.session.execute(select(Receipt.status_code, Receipt.return_time, Receipt.info).where(
            Receipt.enterprise_id == self.me, Receipt.document_id == document_id))
        return [Seen(code, time, info) for code, time, info in rows]

    def receipt_exists(self, document_id: uuid.UUID, code: str, return_time: str) -> bool:
        return self.session.scalar(select(Receipt.id).where(
            Receipt.enterprise_id == self.me, Receipt.document_id == document_id, Receipt.status_code == code,
            Receipt.return_time == return_time).limit(1)) is not None

    def messages(self, owner_id: uuid.UUID) -> list[Message]:
        return list(self.session.scalars(select(Message).where(
            Message.enterprise_id == self.me, Message.owner_id == owner_id)
            .order_by(Message.created_at, Message.id)))

    def message(self, message_id: uuid.UUID) -> Message:
        row = self.session.scalar(select(Message).where(Message.enterprise_id == self.me, Message.id == message_id))
        if row is None:
            raise NotFound("Message not found.", message_zh="未找到该报文")
        return row

    # --- summaries ------------------------------------------------------------------------------

    def summaries(self, *, month: str | None = None) -> list[Summary]:
        stmt = select(Summary).where(Summary.enterprise_id == self.me)
        if month:
            stmt = stmt.where(Summary.month == month)
        return list(self.session.scalars(stmt.order_by(Summary.month.desc(), Summary.created_at)))

    def summary(self, summary_id: uuid.UUID, *, for_update: bool = False) -> Summary:
        stmt = select(Summary).where(Summary.enterprise_id == self.me, Summary.id == summary_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Summary application not found.", message_zh="未找到该汇总申请")
        return row

    def summary_counts(self, summary_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not summary_ids:
            return {}
        rows = self.session.execute(select(Declaration.summary_id, func.count()).where(
            Declaration.enterprise_id == self.me, Declaration.summary_id.in_(summary_ids))
            .group_by(Declaration.summary_id))
        return {sid: n for sid, n in rows}

    # --- quarantine: a tenant sees its own files; platform admins (all_tenants) every file ------------

    def quarantine(self, *, open_only: bool = True, all_tenants: bool = False) -> Select:
        stmt = select(Quarantined)
        if all_tenants:
            self.principal.require(Action.PLATFORM)
        else:
            stmt = stmt.where(Quarantined.enterprise_id == self.me)
        if open_only:
            stmt = stmt.where(Quarantined.resolved_at.is_(None))
        return stmt

    def quarantine_page(self, *, cursor: str | None, limit: int | None, open_only: bool = True,
                        all_tenants: bool = False):
        return paginate(self.session, self.quarantine(open_only=open_only, all_tenants=all_tenants), Quarantined.id,
                        cursor=cursor, limit=limit)

    def quarantined(self, item_id: uuid.UUID, *, all_tenants: bool = False, for_update: bool = False) -> Quarantined:
        stmt = self.quarantine(open_only=False, all_tenants=all_tenants).where(Quarantined.id == item_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Quarantined file not found.", message_zh="未找到该隔离文件")
        return row


class ExchangeRepository:
    """Cross-tenant look-ups for the exchange gateway only (it runs as the system principal)."""

    def __init__(self, session: Session):
        self.session = session

    def documents_by_key(self, kinds: list[str], key: str) -> list[Document]:
        return list(self.session.scalars(select(Document).where(Document.kind.in_(kinds), Document.match_key == key)))

    def summaries_by_sum_no(self, sum_no: str) -> list[Summary]:
        return list(self.session.scalars(select(Summary).where(Summary.sum_no == sum_no)))

    def summary_of(self, enterprise_id: uuid.UUID, summary_id: uuid.UUID) -> Summary | None:
        return self.session.get(Summary, (enterprise_id, summary_id))

    def declarations_by_bill(self, bill_no: str) -> list[Declaration]:
        return list(self.session.scalars(select(Declaration).where(Declaration.bill_no == bill_no)))

    def declarations_by_cop_no(self, cop_no: str) -> list[Declaration]:
        return list(self.session.scalars(select(Declaration).where(
            or_(Declaration.cop_no == cop_no, Declaration.invt_no == cop_no))))

    def waybill_in_use(self, logistics_code: str, logistics_no: str, except_id: uuid.UUID) -> bool:
        """Another declaration (of any tenant) sent with this carrier's waybill number and not cancelled:
        receipts for the waybill could not tell the two apart."""
        return self.session.scalar(select(Declaration.id).where(
            Declaration.logistics_code == logistics_code, Declaration.logistics_no == logistics_no,
            Declaration.id != except_id, Declaration.submitted_at.is_not(None),
            Declaration.status != DeclarationStatus.CANCELLED).limit(1)) is not None

    def enterprise_ids_by_code(self, code: str) -> list[uuid.UUID]:
        return list(self.session.scalars(select(Enterprise.id).where(
            or_(Enterprise.customs_code == code, Enterprise.uscc == code))))

    def inbound_seen(self, sha256: str) -> Message | None:
        return self.session.scalar(select(Message).where(
            Message.direction == MessageDirection.IN, Message.sha256 == sha256).limit(1))

    def quarantined_sha(self, sha256: str) -> Quarantined | None:
        return self.session.scalar(select(Quarantined).where(Quarantined.sha256 == sha256))

    def undispatched(self, limit: int = 500) -> list[Message]:
        return list(self.session.scalars(select(Message).where(
            Message.direction == MessageDirection.OUT, Message.dispatched_at.is_(None))
            .order_by(Message.created_at, Message.id).limit(limit)))
