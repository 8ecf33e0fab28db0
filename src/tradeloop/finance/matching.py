"""Matching bank credits to platform payouts (收汇), and FX settlement (结汇).

Automatic matching takes each open credit (oldest first) and looks, among the open payouts of the same
currency whose deposit date lies in the window (from ``WINDOW_BEFORE`` days before the credit's booking day
to ``WINDOW_AFTER`` days after it), for exactly one of — in this order:

1. **reference**: the credit's reference or remittance text contains the payout's settlement id;
2. **exact**: a payout whose open amount equals the credit's open amount (the nearest deposit date wins;
   a tie is left for a person);
3. **tolerance**: a payout whose open amount exceeds the credit by at most the fee tolerance (banks and
   intermediaries take fees on the way) — the payout counts as received in full, the difference is
   recorded on the match;
4. **many to one**: a set of up to ``MAX_SET`` payouts (among the ``MAX_CANDIDATES`` nearest) whose open
   amounts add up to the credit (exactly, or within the tolerance); only when exactly one set fits.

Anything else stays for a person (``suggestions`` ranks candidates; ``match`` assigns a part or all of a
credit by hand, which is also how partial receipts are recorded). Nothing is ever guessed between equal
candidates. The running sums on both sides change only through guarded updates
(``MatchRepository.add_to_entry`` / ``add_to_payout``), so no money is matched twice even when two matchers
run at once; a match can be undone (``unmatch``). Each run and each manual change is one audit row.

Tolerance: ``max(tolerance_pct × open payout amount, tolerance_units)``, in the payout's currency —
defaults 1 % and 25.00 units (a typical intermediary-bank charge on a cross-border transfer; adjust per
bank). A credit larger than the payout is never matched by tolerance (that money is something else).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.finance.match_repository import MatchRepository
from tradeloop.finance.money_models import (
    BankEntry,
    EntryStatus,
    FxSettlement,
    MatchMethod,
    Payout,
    PayoutStatus,
    ReceiptMatch,
)
from tradeloop.kit.errors import Conflict, FieldError, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import clean
from tradeloop.reference.lookup import ReferenceLookup

WINDOW_BEFORE = 14  # a credit may be booked up to 14 days after the payout's deposit date …
WINDOW_AFTER = 3  # … or up to 3 days before it (time zones, value dating)
MAX_CANDIDATES = 16
MAX_SET = 6
DEFAULT_TOLERANCE_PCT = Decimal("0.01")
DEFAULT_TOLERANCE_UNITS = Decimal("25")


@dataclass
class Tolerance:
    pct: Decimal = DEFAULT_TOLERANCE_PCT
    units: Decimal = DEFAULT_TOLERANCE_UNITS

    def minor(self, open_minor: int, digits: int) -> int:
        by_pct = (Decimal(open_minor) * self.pct).to_integral_value(rounding=ROUND_HALF_UP)
        return int(max(by_pct, self.units.scaleb(digits)))


@dataclass
class AutoMatchResult:
    entries_seen: int = 0
    entries_matched: int = 0
    matches: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    left: list[uuid.UUID] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"entries_seen": self.entries_seen, "entries_matched": self.entries_matched, "matches": self.matches,
                "by_method": dict(sorted(self.by_method.items())), "left": [str(i) for i in self.left]}


def _open(p: Payout) -> int:
    return p.total_minor - p.received_minor


def _remaining(e: BankEntry) -> int:
    return e.amount_minor - e.matched_minor


def _distance(entry: BankEntry, p: Payout) -> int:
    return abs((entry.booking_date - p.deposit_date).days) if p.deposit_date else WINDOW_BEFORE + 1


def _apply(repo: MatchRepository, principal: Principal, entry: BankEntry, payout: Payout, amount: int,
           payout_amount: int, method: str, note: str | None = None) -> ReceiptMatch:
    if repo.pair_exists(entry.id, payout.id) is not None:
        raise Conflict("This credit is already matched to this payout: undo that match first.",
                       message_zh="该笔入账已与此结算匹配，请先撤销原匹配")
    if not repo.add_to_entry(entry, amount):
        raise Conflict("The credit has less unmatched money than that (it changed meanwhile).",
                       message_zh="该笔入账的未匹配金额不足（可能已被他人匹配）")
    if not repo.add_to_payout(payout, payout_amount):
        raise Conflict("The payout has less open money than that (it changed meanwhile).",
                       message_zh="该结算的未到账金额不足（可能已被他人匹配）")
    match = ReceiptMatch(enterprise_id=entry.enterprise_id, id=uuid7(), bank_entry_id=entry.id, payout_id=payout.id,
                         amount_minor=amount, payout_amount_minor=payout_amount, method=method,
                         matched_by=principal.label[:200], note=note)
    if not repo.add(match):
        raise Conflict("This credit is already matched to this payout: undo that match first.",
                       message_zh="该笔入账已与此结算匹配，请先撤销原匹配")
    entry.matched_minor += amount
    payout.received_minor += payout_amount
    return match


def _plan(entry: BankEntry, cands: list[Payout], tol: Tolerance, digits: int) -> list[tuple[Payout, int, int, str]]:
    """(payout, credit part, payout part, method) for one credit, or [] when no single answer fits."""
    remaining = _remaining(entry)
    text = " ".join(x for x in (entry.reference, entry.remittance) if x)
    by_ref = [p for p in cands if p.settlement_id and len(p.settlement_id) >= 4 and p.settlement_id in text]
    if len(by_ref) == 1:
        p = by_ref[0]
        part = min(remaining, _open(p))
        settles = _open(p) if 0 <= _open(p) - part <= tol.minor(_open(p), digits) and part == remaining else part
        return [(p, part, settles, MatchMethod.REFERENCE)]
    exact = sorted((p for p in cands if _open(p) == remaining), key=lambda p: _distance(entry, p))
    if exact and (len(exact) == 1 or _distance(entry, exact[0]) < _distance(entry, exact[1])):
        return [(exact[0], remaining, remaining, MatchMethod.EXACT)]
    if exact:
        return []  # equal candidates: a person decides
    near = [p for p in cands if 0 < _open(p) - remaining <= tol.minor(_open(p), digits)]
    if len(near) == 1:
        return [(near[0], remaining, _open(near[0]), MatchMethod.TOLERANCE)]
    if near:
        return []
    pool = sorted(cands, key=lambda p: _distance(entry, p))[:MAX_CANDIDATES]
    fits = []
    for size in range(2, min(MAX_SET, len(pool)) + 1):
        for combo in combinations(pool, size):
            total = sum(_open(p) for p in combo)
            if total == remaining or 0 < total - remaining <= tol.minor(total, digits):
                fits.append(combo)
                if len(fits) > 1:
                    return []
    if len(fits) != 1:
        return []
    combo = sorted(fits[0], key=lambda p: (p.deposit_date or date.min, str(p.id)))
    plan, left = [], remaining
    for i, p in enumerate(combo):
        part = _open(p) if i < len(combo) - 1 else left  # the last absorbs the fee difference
        plan.append((p, part, _open(p), MatchMethod.MANY_TO_ONE))
        left -= part
    return plan if all(part > 0 for _p, part, _s, _m in plan) else []


def auto_match(session: Session, *, principal: Principal, tolerance: Tolerance | None = None,
               entry_ids: list[uuid.UUID] | None = None) -> AutoMatchResult:
    """Match every open credit that has exactly one answer (see the module text); one transaction."""
    principal.tenant(Action.WRITE)
    tol = tolerance or Tolerance()
    repo = MatchRepository(session, principal)
    refs = ReferenceLookup(session)
    result = AutoMatchResult()
    for entry in repo.open_credits(entry_ids=entry_ids):
        result.entries_seen += 1
        cands = [p for p in repo.open_payouts(entry.currency, entry.booking_date - timedelta(days=WINDOW_BEFORE),
                                              entry.booking_date + timedelta(days=WINDOW_AFTER)) if _open(p) > 0]
        digits = refs.minor_units(entry.currency)
        plan = _plan(entry, cands, tol, 2 if digits is None else digits) if cands else []
        if not plan:
            result.left.append(entry.id)
            continue
        for payout, part, settles, method in plan:
            _apply(repo, principal, entry, payout, part, settles, method,
                   note=f"fees on the way: {settles - part}" if settles != part else None)
            result.matches += 1
            result.by_method[method] = result.by_method.get(method, 0) + 1
        result.entries_matched += 1
    session.flush()
    audit.record(session, principal=principal, action="finance.match.auto", entity_type="bank_entries",
                 entity_id="auto", after={**result.as_dict(), "left": len(result.left),
                                          "tolerance_pct": str(tol.pct), "tolerance_units": str(tol.units)})
    return result


def suggestions(session: Session, *, principal: Principal, entry_id: uuid.UUID, limit: int = 5) -> list[dict]:
    """Open payouts of the credit's currency ranked by how far their open amount and deposit date are from it."""
    repo = MatchRepository(session, principal)
    entry = repo.entry(entry_id)
    remaining = _remaining(entry)
    ranked = sorted((p for p in repo.open_payouts(entry.currency) if _open(p) > 0),
                    key=lambda p: (abs(_open(p) - remaining), _distance(entry, p), str(p.id)))
    return [{"payout_id": p.id, "source": p.source, "settlement_id": p.settlement_id, "deposit_date": p.deposit_date,
             "currency": p.currency, "open_minor": _open(p), "difference_minor": _open(p) - remaining,
             "days_apart": (entry.booking_date - p.deposit_date).days if p.deposit_date else None}
            for p in ranked[:limit]]


def match(session: Session, *, principal: Principal, entry_id: uuid.UUID, payout_id: uuid.UUID,
          amount_minor: int | None = None, payout_amount_minor: int | None = None,
          note: str | None = None) -> ReceiptMatch:
    """Assign (part of) a credit to a payout by hand. ``amount_minor`` defaults to what both sides still have
    open; ``payout_amount_minor`` (what the payout counts as received) defaults to ``amount_minor`` — set it
    higher when fees were taken on the way."""
    principal.tenant(Action.WRITE)
    repo = MatchRepository(session, principal)
    entry, payout = repo.entry(entry_id), repo.payout(payout_id)
    errors = []
    if entry.direction != "credit":
        errors.append(FieldError("entry_id", "is not a credit", "不是入账（贷方）流水"))
    if entry.status == EntryStatus.IGNORED:
        errors.append(FieldError("entry_id", "is marked as not a sales receipt", "已标记为非销售回款"))
    if entry.currency != payout.currency:
        errors.append(FieldError("payout_id", f"is in {payout.currency}, the credit in {entry.currency}",
                                 f"结算币种 {payout.currency} 与入账币种 {entry.currency} 不同"))
    amount = amount_minor if amount_minor is not None else min(_remaining(entry), _open(payout))
    settles = payout_amount_minor if payout_amount_minor is not None else amount
    if amount <= 0 or amount > _remaining(entry):
        errors.append(FieldError("amount_minor", f"must be between 1 and the credit's unmatched {_remaining(entry)}",
                                 f"须在1与该笔入账未匹配金额 {_remaining(entry)} 之间"))
    if settles < amount or settles > _open(payout):
        errors.append(FieldError("payout_amount_minor", f"must be between the amount and the payout's open "
                                 f"{_open(payout)}", f"须介于匹配金额与结算未到账金额 {_open(payout)} 之间"))
    if errors:
        raise ValidationFailed("The match cannot be made.", errors=errors, message_zh="无法完成匹配")
    row = _apply(repo, principal, entry, payout, amount, settles, MatchMethod.MANUAL, note=clean(note))
    audit.record(session, principal=principal, action="finance.match.manual", entity_type="receipt_match",
                 entity_id=row.id, after=audit.snapshot(row))
    return row


def unmatch(session: Session, *, principal: Principal, match_id: uuid.UUID) -> None:
    principal.tenant(Action.WRITE)
    repo = MatchRepository(session, principal)
    row = repo.match(match_id)
    entry, payout = repo.entry(row.bank_entry_id), repo.payout(row.payout_id)
    if not (repo.add_to_entry(entry, -row.amount_minor) and repo.add_to_payout(payout, -row.payout_amount_minor)):
        raise Conflict("The match changed meanwhile; reload.", message_zh="匹配已被修改，请刷新")
    before = audit.snapshot(row)
    repo.delete(row)
    audit.record(session, principal=principal, action="finance.match.undo", entity_type="receipt_match",
                 entity_id=match_id, before=before)


def ignore(session: Session, *, principal: Principal, entry_id: uuid.UUID, reason: str | None,
           undo: bool = False) -> BankEntry:
    """Mark an unmatched credit as not a sales receipt (a loan, an internal transfer …), or undo that."""
    principal.tenant(Action.WRITE)
    repo = MatchRepository(session, principal)
    entry = repo.entry(entry_id)
    before = audit.snapshot(entry)
    if undo:
        if entry.status != EntryStatus.IGNORED:
            raise Conflict("The entry is not marked as ignored.", message_zh="该流水未被标记为忽略")
        repo.set_entry_status(entry, EntryStatus.UNMATCHED)
    else:
        if not clean(reason):
            raise ValidationFailed("A reason is required.", errors=[FieldError("reason", "is required", "须填写原因")])
        if entry.matched_minor:
            raise Conflict("Undo its matches first.", message_zh="请先撤销该流水的匹配")
        repo.set_entry_status(entry, EntryStatus.IGNORED)
    entry = repo.entry(entry_id)
    audit.record(session, principal=principal, action="finance.entry.unignore" if undo else "finance.entry.ignore",
                 entity_type="bank_entry", entity_id=entry.id, before=before,
                 after={**audit.snapshot(entry), "reason": clean(reason)})
    return entry


# --- 结汇 ------------------------------------------------------------------------------------------------


def record_settlement(session: Session, *, principal: Principal, reference: str, settled_on: date, currency: str,
                      amount_minor: int, cny_minor: int, bank_entry_id: uuid.UUID | None = None,
                      note: str | None = None) -> FxSettlement:
    """Record a conversion of received foreign currency into CNY, as the bank's advice states it. The rate
    (CNY per unit) is derived from the two amounts; a conversion larger than its credit's unsettled amount
    is refused, and the same bank reference twice is refused (idempotency)."""
    me = principal.tenant(Action.WRITE)
    repo = MatchRepository(session, principal)
    refs = ReferenceLookup(session)
    errors = []
    reference, currency = clean(reference) or "", (currency or "").strip().upper()
    digits = refs.minor_units(currency) if currency else None
    if not reference:
        errors.append(FieldError("reference", "is required", "须填写银行结汇编号"))
    if currency == "CNY" or digits is None:
        errors.append(FieldError("currency", "must be a foreign ISO 4217 currency", "须为外币（ISO 4217）"))
    if amount_minor <= 0:
        errors.append(FieldError("amount_minor", "must be positive", "须为正数"))
    if cny_minor <= 0:
        errors.append(FieldError("cny_minor", "must be positive", "须为正数"))
    entry = None
    if bank_entry_id is not None:
        entry = repo.entry(bank_entry_id, for_update=True)  # two conversions of one credit take turns
        if entry.direction != "credit" or entry.currency != currency:
            errors.append(FieldError("bank_entry_id", f"is not a {currency} credit", f"不是 {currency} 入账"))
        elif amount_minor > entry.amount_minor - repo.settled_of_entry(entry.id):
            errors.append(FieldError("amount_minor", "is more than the credit's unsettled amount",
                                     "超过该笔入账尚未结汇的金额"))
    if errors:
        raise ValidationFailed("The settlement cannot be recorded.", errors=errors, message_zh="无法记录结汇")
    if repo.settlement_by_reference(reference) is not None:
        raise Conflict(f"A settlement with reference {reference} is recorded already.",
                       message_zh=f"结汇编号 {reference} 已记录", reference=reference)
    rate = (Decimal(cny_minor).scaleb(-2) / Decimal(amount_minor).scaleb(-digits)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP)
    row = FxSettlement(enterprise_id=me, id=uuid7(), bank_entry_id=entry.id if entry else None,
                       settled_on=settled_on, currency=currency, amount_minor=amount_minor, cny_minor=cny_minor,
                       rate=rate, reference=reference, note=clean(note))
    if not repo.add(row):
        raise Conflict(f"A settlement with reference {reference} is recorded already.",
                       message_zh=f"结汇编号 {reference} 已记录", reference=reference)
    audit.record(session, principal=principal, action="finance.settlement.record", entity_type="fx_settlement",
                 entity_id=row.id, after=audit.snapshot(row))
    return row


__all__ = ["AutoMatchResult", "PayoutStatus", "Tolerance", "auto_match", "ignore", "match", "record_settlement",
           "suggestions", "unmatch"]
