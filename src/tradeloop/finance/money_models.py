"""Money coming back (收汇) and converted (结汇): platform payouts with their typed items, bank statements
with their entries, the matches between them, and FX settlements.

The chain of one sale's money::

    sales line ─► payout item (order id + SKU) ─► payout (settlement, deposit) ─► receipt match
               ─► bank entry (credit on a statement) ─► FX settlement (结汇: currency -> CNY)

Money is integer minor units of ``currency`` (ISO 4217); rates are exact decimals (``DecimalText``). Every
table is per tenant (``enterprise_id`` first in each key). Imports are idempotent: a payout is keyed by
(source, settlement id), a statement by its file's SHA-256 and its (account, statement id), an entry by
(account, booking day, bank reference, amount, direction).
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
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import DecimalText, UTCDateTime, created_column, updated_column


class ItemKind(enum.StrEnum):
    """What a payout item's amount is (signed: + to the seller, − from the seller)."""

    PRINCIPAL = "principal"  # the item price the buyer paid
    TAX = "tax"  # tax collected with the price (and remitted by the marketplace where it is the facilitator)
    SHIPPING = "shipping"  # shipping charged to the buyer
    PROMOTION = "promotion"  # discounts (negative)
    FEE = "fee"  # marketplace, payment and fulfilment fees (negative)
    REFUND = "refund"  # money given back to buyers (negative)
    RESERVE = "reserve"  # held back or released reserve
    ADJUSTMENT = "adjustment"  # reimbursements, corrections
    TRANSFER = "transfer"  # the payout itself moving to the bank (excluded from the item total)
    OTHER = "other"


class PayoutStatus(enum.StrEnum):
    OPEN = "open"  # not matched to a bank credit yet
    PARTIAL = "partial"  # part of the net deposit matched
    RECEIVED = "received"  # matched in full


class Payout(Base):
    """One settlement of a platform (Amazon settlement, PayPal settlement, a payment firm's payout)."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "source", "settlement_id", name="uq_payouts_key"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_payouts_deposit", "enterprise_id", "deposit_date"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: amazon, paypal, or the name of a CSV profile (payoneer, pingpong, lianlian, worldfirst …).
    source: Mapped[str] = mapped_column(String(40))
    settlement_id: Mapped[str] = mapped_column(String(100))
    marketplace: Mapped[str | None] = mapped_column(String(64))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the platform deposits (or deposited) the net amount.
    deposit_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    #: The net amount deposited, as the file states it (Amazon total-amount).
    total_minor: Mapped[int] = mapped_column(BigInteger)
    #: Sum of the matched bank credits (kept by the matching service).
    received_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default=PayoutStatus.OPEN)
    filename: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class PayoutItem(Base):
    __tablename__ = "payout_items"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "payout_id", "line_no", name="uq_payout_items_line"),
        ForeignKeyConstraint(["enterprise_id", "payout_id"], ["payouts.enterprise_id", "payouts.id"],
                             ondelete="CASCADE"),
        Index("ix_payout_items_order", "enterprise_id", "order_id"),
        Index("ix_payout_items_sales_line", "enterprise_id", "sales_line_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    payout_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: The data row of the file (1-based, header = row 1) the item came from.
    line_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    #: As the file says: Amazon transaction-type (Order, Refund, ServiceFee …), PayPal T-code …
    transaction_type: Mapped[str | None] = mapped_column(String(60))
    #: Amazon amount-type / amount-description (ItemPrice / Principal, ItemFees / Commission …).
    amount_type: Mapped[str | None] = mapped_column(String(60))
    amount_description: Mapped[str | None] = mapped_column(String(100))
    order_id: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int | None] = mapped_column(Integer)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: The imported sales line this item belongs to (order id + SKU), when found.
    sales_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class BankStatement(Base):
    __tablename__ = "bank_statements"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "file_sha256", "seq", name="uq_bank_statements_file"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: camt.053, camt.054 or mt940, and the message version (camt.053.001.08 …) where the file names one.
    format: Mapped[str] = mapped_column(String(10))
    version: Mapped[str | None] = mapped_column(String(20))
    #: The statement's own id (camt Stmt/Ntfctn Id, MT940 :20: and :28C:).
    statement_id: Mapped[str | None] = mapped_column(String(100))
    #: IBAN or account number (camt Acct/Id, MT940 :25:).
    account: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    opening_minor: Mapped[int | None] = mapped_column(BigInteger)
    closing_minor: Mapped[int | None] = mapped_column(BigInteger)
    from_date: Mapped[date | None] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    #: The statement's position in its file (a file may hold several statements: accounts, days).
    seq: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = created_column()


class EntryStatus(enum.StrEnum):
    UNMATCHED = "unmatched"
    PARTIAL = "partial"
    MATCHED = "matched"
    IGNORED = "ignored"  # a person decided it is not a sales receipt (a loan, an internal transfer …)


class BankEntry(Base):
    __tablename__ = "bank_entries"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "account", "booking_date", "bank_ref", "direction", "amount_minor",
                         name="uq_bank_entries_key"),
        ForeignKeyConstraint(["enterprise_id", "statement_id"], ["bank_statements.enterprise_id",
                                                                 "bank_statements.id"], ondelete="CASCADE"),
        Index("ix_bank_entries_open", "enterprise_id", "status", "booking_date"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: The statement that first brought the entry (a camt.054 and the day's camt.053 may both carry it).
    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    account: Mapped[str] = mapped_column(String(64))
    booking_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    #: credit (money in) or debit.
    direction: Mapped[str] = mapped_column(String(6))
    #: Positive amount in minor units of ``currency``.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: The bank's reference of the entry (camt AcctSvcrRef / NtryRef, MT940 bank reference), or a digest of
    #: the entry when the bank gives none.
    bank_ref: Mapped[str] = mapped_column(String(100))
    #: The ordering party's end-to-end or customer reference, and the remittance text.
    reference: Mapped[str | None] = mapped_column(String(140))
    remittance: Mapped[str | None] = mapped_column(Text)
    counterparty: Mapped[str | None] = mapped_column(String(140))
    #: Bank transaction code (camt BkTxCd, MT940 transaction type such as NTRF).
    transaction_code: Mapped[str | None] = mapped_column(String(40))
    matched_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(10), default=EntryStatus.UNMATCHED)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class MatchMethod(enum.StrEnum):
    REFERENCE = "reference"  # the credit's reference or remittance names the settlement
    EXACT = "exact"  # same amount and currency, in the date window
    TOLERANCE = "tolerance"  # within the fee tolerance (bank and intermediary fees)
    MANY_TO_ONE = "many_to_one"  # several payouts in one credit
    MANUAL = "manual"


class ReceiptMatch(Base):
    """Part (or all) of a bank credit assigned to a payout. A credit may pay several payouts and a payout may
    arrive in several credits; the sums never exceed either side."""

    __tablename__ = "receipt_matches"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "bank_entry_id", "payout_id", name="uq_receipt_matches_pair"),
        ForeignKeyConstraint(["enterprise_id", "bank_entry_id"], ["bank_entries.enterprise_id", "bank_entries.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["enterprise_id", "payout_id"], ["payouts.enterprise_id", "payouts.id"],
                             ondelete="CASCADE"),
        Index("ix_receipt_matches_payout", "enterprise_id", "payout_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    bank_entry_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payout_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: The part of the credit assigned to the payout (minor units of the credit's currency).
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    #: The payout's amount this settles, when it differs from ``amount_minor`` (fees taken on the way).
    payout_amount_minor: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(12))
    matched_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class FxSettlement(Base):
    """结汇: foreign currency received converted to CNY."""

    __tablename__ = "fx_settlements"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "reference", name="uq_fx_settlements_reference"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_fx_settlements_entry", "enterprise_id", "bank_entry_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: The foreign-currency credit converted (optional: a conversion of a balance has none).
    bank_entry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    settled_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    cny_minor: Mapped[int] = mapped_column(BigInteger)
    #: CNY per unit the bank applied (cny / amount, as the bank's advice states it).
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    #: The bank's reference of the conversion (unique per enterprise: recording it twice is refused).
    reference: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()
