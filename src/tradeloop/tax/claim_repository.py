"""Queries of rebate claims, and the reads over customs, invoices, stock, sales and payouts that a claim's
document chain needs (tenant-scoped: every statement starts from the caller's enterprise)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, case, func, select

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.finance.money_models import Payout, PayoutItem
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.repository import TenantRepository
from tradeloop.loop.repository import EXPORTED, LoopRepository
from tradeloop.sales.models import SalesOrderLine
from tradeloop.tax.claim_models import (
    ClaimStatus,
    ProceedsEvidence,
    RebateClaim,
    RebateClaimLine,
    RebateRepayment,
)
from tradeloop.tax.models import InvoiceAllocation
from tradeloop.warehouse.stock_models import MovementKind as K
from tradeloop.warehouse.stock_models import StockLot, StockMovement

CHUNK = 500
#: Movement kinds that change the net sold count: shipped out, less the buyers' returns once inspected.
SOLD_KINDS = (K.OUTBOUND, K.RETURN_RESTOCK, K.RETURN_DISPOSE, K.RETURN_TO_ORIGIN_FROM_RETURN)
RETURN_HOME = (K.RETURN_TO_ORIGIN, K.RETURN_TO_ORIGIN_FROM_RETURN)


def _chunks(ids: list) -> list[list]:
    ids = list(ids)
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]


class ClaimRepository(TenantRepository):

    # --- claims ----------------------------------------------------------------------------------------

    def readable(self) -> Select:
        return select(RebateClaim).where(RebateClaim.enterprise_id == self.me)

    def get(self, claim_id: uuid.UUID, *, for_update: bool = False) -> RebateClaim:
        stmt = self.readable().where(RebateClaim.id == claim_id)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Rebate claim not found.", message_zh="未找到该退税申报")
        return row

    def filtered(self, *, status: str | None = None, business_type: str | None = None, period: str | None = None,
                 method: str | None = None) -> Select:
        stmt = self.readable()
        if status:
            stmt = stmt.where(RebateClaim.status == status)
        if business_type:
            stmt = stmt.where(RebateClaim.business_type == business_type)
        if period:
            stmt = stmt.where(RebateClaim.period == period)
        if method:
            stmt = stmt.where(RebateClaim.method == method)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, status: str | None = None,
             business_type: str | None = None, period: str | None = None, method: str | None = None):
        stmt = self.filtered(status=status, business_type=business_type, period=period, method=method)
        return paginate(self.session, stmt, RebateClaim.id, cursor=cursor, limit=limit)

    def by_number(self, number: str) -> RebateClaim:
        row = self.session.scalar(self.readable().where(RebateClaim.number == number.strip().upper()))
        if row is None:
            raise NotFound(f"No rebate claim numbered {number}.", message_zh=f"未找到编号为 {number} 的退税申报")
        return row

    def totals_by_period(self, **filters) -> list[tuple[str, str, int, int, int, int]]:
        """Per (period, status) of the filtered claims: (period, status, claims, refund computed, approved,
        reversed by reconciliation = approved − corrected on reconciled pre-rebates), in fen."""
        sub = self.filtered(**filters).subquery()
        reversed_ = func.sum(case((sub.c.reconciled_on.is_not(None),
                                   func.coalesce(sub.c.approved_minor, 0) - func.coalesce(sub.c.corrected_minor, 0)),
                                  else_=0))
        rows = self.session.execute(
            select(sub.c.period, sub.c.status, func.count(), func.sum(sub.c.refund_minor),
                   func.sum(func.coalesce(sub.c.approved_minor, 0)), reversed_)
            .group_by(sub.c.period, sub.c.status).order_by(sub.c.period, sub.c.status))
        return [(p, st, int(n), int(refund or 0), int(approved or 0), int(rev or 0))
                for p, st, n, refund, approved, rev in rows]

    def line_counts(self, claim_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        out: dict[uuid.UUID, int] = {}
        for chunk in _chunks(claim_ids):
            for claim_id, n in self.session.execute(
                    select(RebateClaimLine.claim_id, func.count())
                    .where(RebateClaimLine.enterprise_id == self.me, RebateClaimLine.claim_id.in_(chunk))
                    .group_by(RebateClaimLine.claim_id)):
                out[claim_id] = int(n)
        return out

    def claim_lines_by_id(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[RebateClaimLine, RebateClaim]]:
        """Claim lines (with their claim) by id, e.g. those a list of repayments names."""
        out = {}
        for chunk in _chunks(line_ids):
            for cl, claim in self.session.execute(
                    select(RebateClaimLine, RebateClaim)
                    .join(RebateClaim, (RebateClaim.enterprise_id == RebateClaimLine.enterprise_id)
                          & (RebateClaim.id == RebateClaimLine.claim_id))
                    .where(RebateClaimLine.enterprise_id == self.me, RebateClaimLine.id.in_(chunk))).tuples():
                out[cl.id] = (cl, claim)
        return out

    def repayment_totals(self) -> dict[str, tuple[int, int]]:
        """Per repayment status: (rows, amount in fen)."""
        return {st: (int(n), int(amount or 0)) for st, n, amount in self.session.execute(
            select(RebateRepayment.status, func.count(), func.sum(RebateRepayment.amount_minor))
            .where(RebateRepayment.enterprise_id == self.me).group_by(RebateRepayment.status))}

    def lines(self, claim_id: uuid.UUID) -> list[RebateClaimLine]:
        return list(self.session.scalars(select(RebateClaimLine).where(
            RebateClaimLine.enterprise_id == self.me, RebateClaimLine.claim_id == claim_id)
            .order_by(RebateClaimLine.line_no)))

    def claim_lines_of(self, *, declaration_line_ids: list[uuid.UUID] | None = None,
                       declaration_ids: list[uuid.UUID] | None = None,
                       statuses: tuple[str, ...] | None = None) -> list[tuple[RebateClaimLine, RebateClaim]]:
        """Claim lines (with their claim) on these declaration lines or declarations, oldest claim first;
        rejected claims are left out unless ``statuses`` asks for them."""
        statuses = statuses or (ClaimStatus.DRAFT, ClaimStatus.DECLARED, ClaimStatus.APPROVED)
        keys = declaration_line_ids if declaration_line_ids is not None else declaration_ids
        column = RebateClaimLine.declaration_line_id if declaration_line_ids is not None \
            else RebateClaimLine.declaration_id
        out = []
        for chunk in _chunks(keys or []):
            out += list(self.session.execute(
                select(RebateClaimLine, RebateClaim)
                .join(RebateClaim, (RebateClaim.enterprise_id == RebateClaimLine.enterprise_id)
                      & (RebateClaim.id == RebateClaimLine.claim_id))
                .where(RebateClaimLine.enterprise_id == self.me, column.in_(chunk),
                       RebateClaim.status.in_(statuses))).tuples())
        return sorted(out, key=lambda p: (p[1].created_at, p[1].id, p[0].line_no))

    def approved_claim_lines(self) -> list[tuple[RebateClaimLine, RebateClaim]]:
        return list(self.session.execute(
            select(RebateClaimLine, RebateClaim)
            .join(RebateClaim, (RebateClaim.enterprise_id == RebateClaimLine.enterprise_id)
                  & (RebateClaim.id == RebateClaimLine.claim_id))
            .where(RebateClaimLine.enterprise_id == self.me, RebateClaim.status == ClaimStatus.APPROVED)
            .order_by(RebateClaim.created_at, RebateClaim.id, RebateClaimLine.line_no)).tuples())

    # --- the export side -------------------------------------------------------------------------------

    def exported_lines(self, *, line_ids: list[uuid.UUID] | None = None,
                       declaration_ids: list[uuid.UUID] | None = None,
                       for_update: bool = False) -> list[tuple[DeclarationLine, Declaration]]:
        """Lines of declarations customs released (800 and beyond), export date order. ``for_update`` locks
        the declaration lines (in id order): two claims of the same units wait for each other."""
        stmt = (select(DeclarationLine, Declaration)
                .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                      & (Declaration.id == DeclarationLine.declaration_id))
                .where(DeclarationLine.enterprise_id == self.me, Declaration.status.in_(EXPORTED)))
        if line_ids is not None:
            stmt = stmt.where(DeclarationLine.id.in_(line_ids))
        if declaration_ids is not None:
            stmt = stmt.where(Declaration.id.in_(declaration_ids))
        if for_update:
            locked = select(DeclarationLine.id).where(DeclarationLine.enterprise_id == self.me,
                                                      DeclarationLine.id.in_(line_ids or []))
            list(self.session.scalars(locked.order_by(DeclarationLine.id).with_for_update()))
        stmt = stmt.order_by(Declaration.ie_date, Declaration.cop_no, DeclarationLine.gnum)
        return list(self.session.execute(stmt.execution_options(populate_existing=True)).tuples())

    def invoice_cover(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Decimal, int, int]]:
        """Per declaration line: (units, invoice amount, VAT) of the purchase invoice lines allocated to it."""
        out = {}
        for chunk in _chunks(line_ids):
            for line_id, qty, amount, vat in self.session.execute(
                    select(InvoiceAllocation.declaration_line_id, func.sum(InvoiceAllocation.qty),
                           func.sum(InvoiceAllocation.amount_minor), func.sum(InvoiceAllocation.vat_minor))
                    .where(InvoiceAllocation.enterprise_id == self.me,
                           InvoiceAllocation.declaration_line_id.in_(chunk))
                    .group_by(InvoiceAllocation.declaration_line_id)):
                out[line_id] = (Decimal(qty or 0), int(amount or 0), int(vat or 0))
        return out

    def sold_until(self, line_ids: list[uuid.UUID], until: datetime | None) -> dict[uuid.UUID, int]:
        """Net units sold per declaration line by the movements before ``until`` (all when None): shipped to
        buyers less the buyers' returns (restocked, disposed or sent home) — the loop's ``sold``."""
        out: dict[uuid.UUID, int] = defaultdict(int)
        for chunk in _chunks(line_ids):
            stmt = (select(StockLot.declaration_line_id, StockMovement.kind, func.sum(StockMovement.qty))
                    .join(StockLot, (StockLot.enterprise_id == StockMovement.enterprise_id)
                          & (StockLot.id == StockMovement.lot_id))
                    .where(StockMovement.enterprise_id == self.me, StockLot.declaration_line_id.in_(chunk),
                           StockMovement.kind.in_(SOLD_KINDS)))
            if until is not None:
                stmt = stmt.where(StockMovement.occurred_at < until)
            for line_id, kind, qty in self.session.execute(
                    stmt.group_by(StockLot.declaration_line_id, StockMovement.kind)):
                out[line_id] += int(qty or 0) * (1 if kind == K.OUTBOUND else -1)
        return dict(out)

    def sold_by_sales_line(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[uuid.UUID, int]]:
        """Per declaration line: units shipped to buyers through each linked sales line, net of the buyers'
        inspected returns (the lineage of docs/loop.md)."""
        loop = LoopRepository(self.session, self.principal)
        out: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(lambda: defaultdict(int))
        for chunk in _chunks(line_ids):
            rows = loop.sold_allocations(chunk)
            returned = loop.returned_units(sorted({r[2] for r in rows})) if rows else {}
            for line_id, sales_line_id, outbound_id, lot_id, qty in sorted(rows, key=lambda r: (r[2], r[3], r[1])):
                back = min(int(qty), returned.get((outbound_id, lot_id), 0))
                if back:
                    returned[(outbound_id, lot_id)] -= back
                if int(qty) - back:
                    out[line_id][sales_line_id] += int(qty) - back
        return out

    def order_sales_lines(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[tuple[uuid.UUID, int]]]:
        """Sales lines by (external order id, SKU): a 9610/9710 declaration's order number names its sale."""
        out: dict[tuple[str, str], list] = defaultdict(list)
        orders = sorted({o for o, _s in keys})
        for chunk in _chunks(orders):
            for sid, order_id, sku, qty in self.session.execute(
                    select(SalesOrderLine.id, SalesOrderLine.external_order_id, SalesOrderLine.sku,
                           SalesOrderLine.quantity)
                    .where(SalesOrderLine.enterprise_id == self.me, SalesOrderLine.external_order_id.in_(chunk))):
                if (order_id, sku) in keys:
                    out[(order_id, sku)].append((sid, int(qty)))
        return out

    def payout_status(self, sales_line_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        """The statuses (open / partial / received) of the payouts carrying each sales line's items."""
        out: dict[uuid.UUID, set[str]] = defaultdict(set)
        for chunk in _chunks(sales_line_ids):
            for sid, status in self.session.execute(
                    select(PayoutItem.sales_line_id, Payout.status)
                    .join(Payout, (Payout.enterprise_id == PayoutItem.enterprise_id)
                          & (Payout.id == PayoutItem.payout_id))
                    .where(PayoutItem.enterprise_id == self.me, PayoutItem.sales_line_id.in_(chunk))):
                out[sid].add(status)
        return out

    def evidence(self, line_ids: list[uuid.UUID]) -> dict[uuid.UUID, ProceedsEvidence]:
        out = {}
        for chunk in _chunks(line_ids):
            for row in self.session.scalars(select(ProceedsEvidence).where(
                    ProceedsEvidence.enterprise_id == self.me, ProceedsEvidence.declaration_line_id.in_(chunk))):
                out[row.declaration_line_id] = row
        return out

    def evidence_row(self, evidence_id: uuid.UUID) -> ProceedsEvidence:
        row = self.session.scalar(select(ProceedsEvidence).where(ProceedsEvidence.enterprise_id == self.me,
                                                                 ProceedsEvidence.id == evidence_id))
        if row is None:
            raise NotFound("Proceeds evidence not found.", message_zh="未找到该收汇凭证记录")
        return row

    def evidence_page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, select(ProceedsEvidence).where(ProceedsEvidence.enterprise_id == self.me),
                        ProceedsEvidence.id, cursor=cursor, limit=limit)

    def returns_home(self, line_ids: list[uuid.UUID]) -> list[tuple[StockMovement, uuid.UUID]]:
        """退运 movements (stock and returned units sent back to China) of these declaration lines' lots."""
        out = []
        for chunk in _chunks(line_ids):
            out += list(self.session.execute(
                select(StockMovement, StockLot.declaration_line_id)
                .join(StockLot, (StockLot.enterprise_id == StockMovement.enterprise_id)
                      & (StockLot.id == StockMovement.lot_id))
                .where(StockMovement.enterprise_id == self.me, StockLot.declaration_line_id.in_(chunk),
                       StockMovement.kind.in_(RETURN_HOME))).tuples())
        return sorted(out, key=lambda p: p[0].id)

    # --- repayments ------------------------------------------------------------------------------------

    def repayments_of(self, *, declaration_line_ids: list[uuid.UUID] | None = None,
                      declaration_ids: list[uuid.UUID] | None = None) -> list[RebateRepayment]:
        column = RebateRepayment.declaration_line_id if declaration_line_ids is not None \
            else RebateRepayment.declaration_id
        keys = declaration_line_ids if declaration_line_ids is not None else declaration_ids
        out = []
        for chunk in _chunks(keys or []):
            out += list(self.session.scalars(select(RebateRepayment).where(
                RebateRepayment.enterprise_id == self.me, column.in_(chunk))
                .execution_options(populate_existing=True)))
        return sorted(out, key=lambda r: r.id)

    def repayment(self, repayment_id: uuid.UUID, *, for_update: bool = False) -> RebateRepayment:
        stmt = select(RebateRepayment).where(RebateRepayment.enterprise_id == self.me,
                                             RebateRepayment.id == repayment_id)
        if for_update:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Repayment not found.", message_zh="未找到该补税记录")
        return row

    def repayments_page(self, *, cursor: str | None, limit: int | None, status: str | None = None,
                        claim_id: uuid.UUID | None = None):
        stmt = select(RebateRepayment).where(RebateRepayment.enterprise_id == self.me)
        if status:
            stmt = stmt.where(RebateRepayment.status == status)
        if claim_id:
            stmt = stmt.where(RebateRepayment.claim_id == claim_id)
        return paginate(self.session, stmt, RebateRepayment.id, cursor=cursor, limit=limit)

    # --- purchase side of a trader's claim (进货明细) ------------------------------------------------------

    def allocations_with_invoices(self, line_ids: list[uuid.UUID]) -> list[tuple]:
        """(allocation, invoice line, invoice) of these declaration lines, oldest invoice first."""
        from tradeloop.tax.models import PurchaseInvoice, PurchaseInvoiceLine

        out = []
        for chunk in _chunks(line_ids):
            out += list(self.session.execute(
                select(InvoiceAllocation, PurchaseInvoiceLine, PurchaseInvoice)
                .join(PurchaseInvoiceLine, (PurchaseInvoiceLine.enterprise_id == InvoiceAllocation.enterprise_id)
                      & (PurchaseInvoiceLine.id == InvoiceAllocation.invoice_line_id))
                .join(PurchaseInvoice, (PurchaseInvoice.enterprise_id == PurchaseInvoiceLine.enterprise_id)
                      & (PurchaseInvoice.id == PurchaseInvoiceLine.invoice_id))
                .where(InvoiceAllocation.enterprise_id == self.me,
                       InvoiceAllocation.declaration_line_id.in_(chunk))).tuples())
        return sorted(out, key=lambda t: (t[2].issue_date, t[2].invoice_no, t[1].line_no, t[0].id))
