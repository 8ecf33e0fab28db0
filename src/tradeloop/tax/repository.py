"""Queries of purchase invoices and their allocations (tenant-scoped)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Select, and_, func, select, update

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.repository import TenantRepository
from tradeloop.kit.sql import contains_any
from tradeloop.loop.repository import EXPORTED
from tradeloop.tax.models import InvoiceAllocation, PurchaseInvoice, PurchaseInvoiceLine


class InvoiceRepository(TenantRepository):

    def readable(self) -> Select:
        return select(PurchaseInvoice).where(PurchaseInvoice.enterprise_id == self.me)

    def get(self, invoice_id: uuid.UUID) -> PurchaseInvoice:
        row = self.session.scalar(self.readable().where(PurchaseInvoice.id == invoice_id))
        if row is None:
            raise NotFound("Invoice not found.", message_zh="未找到该发票")
        return row

    def page(self, *, cursor: str | None, limit: int | None, q: str | None = None, seller: str | None = None):
        stmt = self.readable()
        if q:
            stmt = stmt.where(contains_any([PurchaseInvoice.invoice_no, PurchaseInvoice.invoice_code,
                                            PurchaseInvoice.seller_name], q.strip()))
        if seller:
            stmt = stmt.where(PurchaseInvoice.seller_uscc == seller.strip().upper())
        return paginate(self.session, stmt, PurchaseInvoice.id, cursor=cursor, limit=limit)

    def by_numbers(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], PurchaseInvoice]:
        out = {}
        numbers = sorted({no for _c, no in keys})
        for i in range(0, len(numbers), 500):
            for row in self.session.scalars(self.readable().where(PurchaseInvoice.invoice_no.in_(numbers[i:i + 500]))):
                out[(row.invoice_code, row.invoice_no)] = row
        return {k: v for k, v in out.items() if k in set(keys)}

    def lines(self, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[PurchaseInvoiceLine]]:
        out: dict[uuid.UUID, list[PurchaseInvoiceLine]] = {i: [] for i in invoice_ids}
        for i in range(0, len(invoice_ids), 500):
            for line in self.session.scalars(select(PurchaseInvoiceLine).where(
                    PurchaseInvoiceLine.enterprise_id == self.me,
                    PurchaseInvoiceLine.invoice_id.in_(invoice_ids[i:i + 500])).order_by(PurchaseInvoiceLine.line_no)):
                out[line.invoice_id].append(line)
        return out

    def line(self, line_id: uuid.UUID, *, for_update: bool = False) -> PurchaseInvoiceLine:
        stmt = select(PurchaseInvoiceLine).where(PurchaseInvoiceLine.enterprise_id == self.me,
                                                 PurchaseInvoiceLine.id == line_id)
        row = self.session.scalar((stmt.with_for_update() if for_update else stmt)
                                  .execution_options(populate_existing=True))
        if row is None:
            raise NotFound("Invoice line not found.", message_zh="未找到该发票行")
        return row

    def open_lines(self, skus: list[str]) -> list[tuple[PurchaseInvoiceLine, PurchaseInvoice]]:
        """Invoice lines of these SKUs with units not yet allocated, oldest invoice first."""
        return list(self.session.execute(
            select(PurchaseInvoiceLine, PurchaseInvoice)
            .join(PurchaseInvoice, (PurchaseInvoice.enterprise_id == PurchaseInvoiceLine.enterprise_id)
                  & (PurchaseInvoice.id == PurchaseInvoiceLine.invoice_id))
            .where(PurchaseInvoiceLine.enterprise_id == self.me, PurchaseInvoiceLine.sku.in_(skus),
                   PurchaseInvoiceLine.allocated_qty < PurchaseInvoiceLine.quantity)
            .order_by(PurchaseInvoice.issue_date, PurchaseInvoice.invoice_no, PurchaseInvoiceLine.line_no)
            .with_for_update(of=PurchaseInvoiceLine).execution_options(populate_existing=True)).tuples())

    def exported_lines(self, declaration_ids: list[uuid.UUID] | None = None,
                       *, for_update: bool = False) -> list[tuple[DeclarationLine, Declaration]]:
        stmt = (select(DeclarationLine, Declaration)
                .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                      & (Declaration.id == DeclarationLine.declaration_id))
                .where(DeclarationLine.enterprise_id == self.me, Declaration.status.in_(EXPORTED)))
        if declaration_ids is not None:
            stmt = stmt.where(Declaration.id.in_(declaration_ids))
        stmt = stmt.order_by(Declaration.ie_date, Declaration.cop_no, DeclarationLine.gnum)
        if for_update:
            stmt = stmt.with_for_update(of=DeclarationLine)
        return list(self.session.execute(stmt.execution_options(populate_existing=True)).tuples())

    def declaration_line(self, line_id: uuid.UUID, *, for_update: bool = False) -> tuple[DeclarationLine, Declaration]:
        stmt = (select(DeclarationLine, Declaration)
                .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                      & (Declaration.id == DeclarationLine.declaration_id))
                .where(DeclarationLine.enterprise_id == self.me, DeclarationLine.id == line_id,
                       Declaration.status.in_(EXPORTED)))
        if for_update:
            stmt = stmt.with_for_update(of=DeclarationLine)
        rows = self.session.execute(stmt).tuples().first()
        if rows is None:
            raise NotFound("No exported declaration line with this id.", message_zh="未找到该已放行的报关单商品项")
        return rows

    def allocated_to(self, declaration_line_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
        out: dict[uuid.UUID, Decimal] = {}
        for i in range(0, len(declaration_line_ids), 500):
            out.update({k: Decimal(v) for k, v in self.session.execute(
                select(InvoiceAllocation.declaration_line_id, func.sum(InvoiceAllocation.qty)).where(
                    InvoiceAllocation.enterprise_id == self.me,
                    InvoiceAllocation.declaration_line_id.in_(declaration_line_ids[i:i + 500]))
                .group_by(InvoiceAllocation.declaration_line_id)).tuples()})
        return out

    def allocations(self, *, invoice_line_ids: list[uuid.UUID] | None = None,
                    declaration_line_ids: list[uuid.UUID] | None = None) -> list[InvoiceAllocation]:
        stmt = select(InvoiceAllocation).where(InvoiceAllocation.enterprise_id == self.me)
        if invoice_line_ids is not None:
            stmt = stmt.where(InvoiceAllocation.invoice_line_id.in_(invoice_line_ids))
        if declaration_line_ids is not None:
            stmt = stmt.where(InvoiceAllocation.declaration_line_id.in_(declaration_line_ids))
        return list(self.session.scalars(stmt.order_by(InvoiceAllocation.created_at, InvoiceAllocation.id)))

    def pair(self, invoice_line_id: uuid.UUID, declaration_line_id: uuid.UUID) -> InvoiceAllocation | None:
        return self.session.scalar(select(InvoiceAllocation).where(
            InvoiceAllocation.enterprise_id == self.me, InvoiceAllocation.invoice_line_id == invoice_line_id,
            InvoiceAllocation.declaration_line_id == declaration_line_id))

    def allocation(self, allocation_id: uuid.UUID) -> InvoiceAllocation:
        row = self.session.scalar(select(InvoiceAllocation).where(InvoiceAllocation.enterprise_id == self.me,
                                                                  InvoiceAllocation.id == allocation_id))
        if row is None:
            raise NotFound("Allocation not found.", message_zh="未找到该发票分配记录")
        return row

    # --- writes ------------------------------------------------------------------------------------


    def delete_lines(self, invoice_id: uuid.UUID) -> None:
        from sqlalchemy import delete

        self.session.execute(delete(PurchaseInvoiceLine).where(PurchaseInvoiceLine.enterprise_id == self.me,
                                                               PurchaseInvoiceLine.invoice_id == invoice_id))

    def add_allocated(self, line: PurchaseInvoiceLine, qty: Decimal) -> bool:
        """allocated_qty += qty while it stays within [0, quantity]."""
        t = PurchaseInvoiceLine
        new = t.allocated_qty + qty
        return self.session.execute(update(t).where(and_(
            t.enterprise_id == line.enterprise_id, t.id == line.id, new >= 0, new <= t.quantity))
            .values(allocated_qty=new).execution_options(synchronize_session=False)).rowcount == 1
