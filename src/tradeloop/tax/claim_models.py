"""Export VAT rebate claims (出口退(免)税申报): claims and their lines, proceeds evidence set by hand, and the
repayments that returned goods cause (domain.md §3.3–3.7).

A claim is one filing of one period (所属期 YYYY-MM) by one method — 免退税 (trader: invoice amount × rebate
rate per line) or 免抵退 (manufacturer: FOB CNY of the lines against the period's domestic VAT) — and one
business type: ``normal`` (sold goods, proceeds received) or ``HWC-YT`` (9810 海外仓预退: the unsold part,
right after departure, reconciled later against actual sales). Its lines say which units of which export
declaration line it claims; a declaration line's units are never claimed twice (rejected claims free them,
a reconciled pre-rebate keeps only the units that were sold).

Amounts are CNY fen (integer); quantities decimals (N19,5 as customs quantities); rates exact fractions
(``DecimalText``). Every table is per tenant (``enterprise_id`` first in each key).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import DecimalText, UTCDateTime, created_column, updated_column

QTY = Numeric(19, 5, asdecimal=True)


class ClaimMethod(enum.StrEnum):
    TRADER = "trader"  # 免退税 (外贸企业)
    MANUFACTURER = "manufacturer"  # 免抵退 (生产企业)


class BusinessType(enum.StrEnum):
    NORMAL = "normal"
    HWC_YT = "HWC-YT"  # 海外仓预退 (国家税务总局公告2025年第3号)


class ClaimStatus(enum.StrEnum):
    DRAFT = "draft"  # 草稿: computed, not filed
    DECLARED = "declared"  # 已申报: filed with the tax office
    APPROVED = "approved"  # 已审核: the tax office approved an amount
    REJECTED = "rejected"  # 不予退税: its units are free again


class Outcome(enum.StrEnum):
    """The three results of a pre-rebate's reconciliation (核算), domain.md §3.6 and Ex. 3."""

    NO_ADJUSTMENT = "no_adjustment"  # 无需调整申报: every pre-rebated unit was sold
    ADJUSTED = "adjusted"  # 调整申报: reverse, re-declare the correct amount, settle the difference
    REPAID = "repaid"  # 全额补缴: nothing sold, the pre-rebate goes back in full


class RepaymentStatus(enum.StrEnum):
    DUE = "due"  # 应补缴: goods returned within 6 months after the rebate was obtained
    REPAID = "repaid"  # 已补税, with the tax office's 《出口货物已补税/未退税证明》


class ProceedsKind(enum.StrEnum):
    RECEIVED = "received"  # proceeds received outside the platform's payouts (e.g. a B2B wire), evidenced
    DEEMED = "deemed"  # 视同收汇 (domain.md §3.5), with its evidence


class RebateClaim(Base):
    __tablename__ = "rebate_claims"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "number", name="uq_rebate_claims_number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_rebate_claims_status", "enterprise_id", "status", "period"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    number: Mapped[str] = mapped_column(String(20))  # RC00000001
    method: Mapped[str] = mapped_column(String(12))
    #: 所属期 (the VAT filing period the claim is filed in), YYYY-MM.
    period: Mapped[str] = mapped_column(String(7))
    business_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default=ClaimStatus.DRAFT)
    #: The refund computed: trader Σ lines (增值税应退税额); manufacturer 当期应退税额.
    refund_minor: Mapped[int] = mapped_column(BigInteger)
    # --- manufacturer (免抵退): the period's inputs and every computed figure of rebate.manufacturer --------
    levy_rate: Mapped[Decimal | None] = mapped_column(DecimalText)  # 征税率
    rebate_rate: Mapped[Decimal | None] = mapped_column(DecimalText)  # 退税率
    fob_cny_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期出口货物离岸价(人民币)
    domestic_output_vat_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期内销销项税额
    input_vat_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期全部进项税额
    opening_credit_minor: Mapped[int | None] = mapped_column(BigInteger)  # 上期留抵税额
    not_exempt_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期不得免征和抵扣税额
    payable_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期应纳税额
    closing_credit_minor: Mapped[int | None] = mapped_column(BigInteger)  # 期末留抵税额
    exempt_credit_refund_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期免抵退税额
    exempt_credit_minor: Mapped[int | None] = mapped_column(BigInteger)  # 当期免抵税额
    carry_forward_minor: Mapped[int | None] = mapped_column(BigInteger)  # 结转下期留抵税额
    # --- the tax office's answer ------------------------------------------------------------------------
    declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The day the tax office approved (审核通过); a pre-rebate's reconciliation window starts after it.
    approved_on: Mapped[date | None] = mapped_column(Date)
    approved_minor: Mapped[int | None] = mapped_column(BigInteger)
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    # --- HWC-YT reconciliation (核算), domain.md §3.6 -------------------------------------------------------
    reconcile_from: Mapped[date | None] = mapped_column(Date)  # 1st of the month after approval
    reconcile_due: Mapped[date | None] = mapped_column(Date)  # 30 April of the year after approval
    #: The day the sales were counted up to (as_of) when the claim was reconciled.
    reconciled_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(14))
    corrected_minor: Mapped[int | None] = mapped_column(BigInteger)  # the correct rebate (re-declared)
    difference_minor: Mapped[int | None] = mapped_column(BigInteger)  # to settle: approved − corrected − repaid
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class RebateClaimLine(Base):
    """The units of one export declaration line a claim covers, with the figures the refund came from."""

    __tablename__ = "rebate_claim_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "claim_id", "declaration_line_id", name="uq_rebate_claim_lines_line"),
        ForeignKeyConstraint(["enterprise_id", "claim_id"], ["rebate_claims.enterprise_id", "rebate_claims.id"],
                             ondelete="CASCADE"),
        Index("ix_rebate_claim_lines_declaration_line", "enterprise_id", "declaration_line_id"),
        Index("ix_rebate_claim_lines_declaration", "enterprise_id", "declaration_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)  # 序号 in the claim's detail files
    business_type: Mapped[str] = mapped_column(String(10))  # 退(免)税业务类型: "" normal, HWC-YT
    declaration_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    mode: Mapped[str] = mapped_column(String(4))
    entry_id: Mapped[str] = mapped_column(String(18))  # 出口报关单号
    gnum: Mapped[int] = mapped_column(Integer)  # 项号
    sku: Mapped[str] = mapped_column(String(64))
    hs_code: Mapped[str] = mapped_column(String(10))  # 出口商品代码
    goods_name: Mapped[str] = mapped_column(String(250))
    unit: Mapped[str] = mapped_column(String(3))
    export_date: Mapped[date] = mapped_column(Date)  # 出口日期 (the rates are those of this day)
    qty: Mapped[Decimal] = mapped_column(QTY)
    #: Units of the declaration line claimed before this claim: the claimed units are the next ``qty`` of
    #: its invoice allocation and declared value (which invoices the 进货明细 lists).
    units_before: Mapped[Decimal] = mapped_column(QTY)
    levy_rate: Mapped[Decimal] = mapped_column(DecimalText)  # 征税率
    rebate_rate: Mapped[Decimal] = mapped_column(DecimalText)  # 退税率
    #: trader: the purchase invoice amount (excl. VAT) and VAT carried by the claimed units.
    invoice_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    invoice_vat_minor: Mapped[int | None] = mapped_column(BigInteger)
    #: FOB of the claimed units in the declaration currency, and in CNY with the conversion used.
    currency: Mapped[str] = mapped_column(String(3))
    fob_minor: Mapped[int] = mapped_column(BigInteger)
    fob_cny_minor: Mapped[int | None] = mapped_column(BigInteger)
    fx_rate: Mapped[Decimal | None] = mapped_column(DecimalText)
    fx_rule: Mapped[str | None] = mapped_column(String(20))
    fx_source: Mapped[str | None] = mapped_column(String(20))
    fx_rate_day: Mapped[date | None] = mapped_column(Date)
    #: trader: 增值税应退税额 of the line; manufacturer: the line's 免抵退税额 (FOB CNY × 退税率).
    refund_minor: Mapped[int] = mapped_column(BigInteger)
    #: received / partial / deemed / n/a (HWC-YT needs no proceeds at departure).
    proceeds: Mapped[str] = mapped_column(String(10))
    #: HWC-YT: units of the line sold (net) when the pre-rebate was claimed, and the unsold part claimed.
    sold_qty_at_claim: Mapped[Decimal | None] = mapped_column(QTY)
    unsold_qty: Mapped[Decimal | None] = mapped_column(QTY)
    #: The line's part of the approved amount (cumulative rounding over the claim's lines).
    approved_minor: Mapped[int | None] = mapped_column(BigInteger)
    #: HWC-YT after reconciliation: the pre-rebated units that were sold (they stand), and their rebate.
    settled_qty: Mapped[Decimal | None] = mapped_column(QTY)
    corrected_minor: Mapped[int | None] = mapped_column(BigInteger)


class RebateRepayment(Base):
    """Rebate to repay because claimed units went back to China (退运) within 6 months of export
    (财政部 海关总署 税务总局公告2023年第4号, domain.md §3.7): one row per return movement and claim line."""

    __tablename__ = "rebate_repayments"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "movement_id", "claim_line_id", name="uq_rebate_repayments_movement"),
        ForeignKeyConstraint(["enterprise_id", "claim_line_id"], ["rebate_claim_lines.enterprise_id",
                                                                  "rebate_claim_lines.id"], ondelete="CASCADE"),
        Index("ix_rebate_repayments_declaration", "enterprise_id", "declaration_id"),
        Index("ix_rebate_repayments_status", "enterprise_id", "status"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    claim_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: The 退运 stock movement that made it due, its kind and when the goods left.
    movement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    movement_kind: Mapped[str] = mapped_column(String(20))
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    qty: Mapped[Decimal] = mapped_column(QTY)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default=RepaymentStatus.DUE)
    #: 《出口货物已补税/未退税证明》 number, presented to customs for the tax-free re-import.
    certificate_no: Mapped[str | None] = mapped_column(String(60))
    repaid_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class ProceedsEvidence(Base):
    """Proceeds of a declaration line's exports recorded by hand: received outside the platform's payouts,
    or deemed received (视同收汇) — with the reason and the evidence reference."""

    __tablename__ = "rebate_proceeds_evidence"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "declaration_line_id", name="uq_rebate_proceeds_evidence_line"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    declaration_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(100))
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
