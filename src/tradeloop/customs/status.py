"""State of documents and declarations from receipts — pure functions, no database.

Receipts arrive late, twice and out of order. So the state of a document is computed from the *set* of
its receipts, never from the order they came in: the receipt that counts is the latest by customs'
own ``returnTime``; among receipts of the same time the further one along the official sequence wins;
and release (800) and closure (899) are never undone by an earlier-dated receipt. Receipts of a
submission the user has since corrected (appType=2) are superseded and no longer count.

Status codes: domain.md §2.6 (1, 2, 3, 4, 100, 120, 300, 399, 500–599, 700, 800, 899, < 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradeloop.customs.models import DeclarationStatus, DocumentKind, SummaryStatus

#: Position of each status code along the export list's sequence (2 → 3 → 120 → 399 → 800 → 899).
RANK = {"1": 1, "2": 2, "3": 3, "4": 3, "100": 4, "120": 5, "300": 6, "399": 7, "500": 8, "700": 9, "800": 10,
        "899": 11}
FINAL = frozenset({"800", "899", "700"})


def rank(code: str) -> int:
    if code in RANK:
        return RANK[code]
    if is_detention(code):
        return RANK["500"]
    return 0  # negative: processing error


def is_detention(code: str) -> bool:
    return code.isdigit() and 500 <= int(code) <= 599


def is_failure(code: str | None) -> bool:
    """4 发送海关失败, 100 海关退单 and any negative code (processing error) need the user to act."""
    if code is None:
        return False
    return code in {"4", "100"} or code.lstrip().startswith("-")


@dataclass(frozen=True)
class Seen:
    code: str
    time: str  # yyyyMMddHHmmssfff
    info: str | None = None


def is_processing_error(code: str) -> bool:
    return code.lstrip().startswith("-")


def _latest(receipts: list[Seen]) -> Seen:
    # the code and text break the last ties (3 vs 4, 501 vs 599 at the same millisecond), so the result
    # never depends on the order the receipts came in
    return max(receipts, key=lambda r: (r.code in FINAL, r.time, rank(r.code), r.code, r.info or ""))


def current(receipts: Iterable[Seen], superseded_through: str | None = None) -> Seen | None:
    """The receipt that decides a document's state, or None while no (current) receipt has come.

    A processing error (negative code) is about one *message*: it decides only while customs has not
    accepted the document yet (nothing at 120 or beyond). So the error customs returns for a message
    that reached it twice ("-301010 已存在相同编号的订单") does not undo the first copy's acceptance."""
    live = [r for r in receipts if superseded_through is None or r.time > superseded_through]
    if not live:
        return None
    progress = [r for r in live if not is_processing_error(r.code)]
    errors = [r for r in live if is_processing_error(r.code)]
    if progress:
        best = _latest(progress)
        accepted = any(rank(r.code) >= RANK["120"] for r in progress if not is_failure(r.code))
        if not errors or accepted:
            return best
        latest_error = _latest(errors)
        return latest_error if latest_error.time > best.time else best
    return _latest(errors)


@dataclass(frozen=True)
class Derived:
    status: DeclarationStatus
    reason: str | None = None


def declaration_status(docs: dict[str, Seen | None], *, submitted: bool, has_summary: bool,
                       summary_accepted: bool, entry_id: str | None) -> Derived:
    """The declaration's status from the current receipt of each of its documents (kind → Seen)."""
    if not submitted:
        return Derived(DeclarationStatus.DRAFT)
    cancel = docs.get(DocumentKind.CANCEL)
    if DocumentKind.CANCEL in docs:
        if cancel is not None and cancel.code in {"120", "399", "800"}:
            return Derived(DeclarationStatus.CANCELLED)
        if cancel is None or not is_failure(cancel.code):
            return Derived(DeclarationStatus.CANCEL_REQUESTED)
        # a refused cancellation leaves the list where it was; say why below
    listed = docs.get(DocumentKind.LIST)
    departed = listed is not None and listed.code in FINAL  # released or gone: nothing reopens it
    for kind in (DocumentKind.ORDER, DocumentKind.PAYMENT, DocumentKind.WAYBILL, DocumentKind.LIST,
                 DocumentKind.BILL):
        seen = docs.get(kind)
        if seen is not None and is_failure(seen.code) and not departed:
            return Derived(DeclarationStatus.NEEDS_ACTION, seen.info or seen.code)
    derived = _list_status(listed)
    if derived == DeclarationStatus.CLOSED:
        if entry_id:
            derived = DeclarationStatus.DECLARED
        elif has_summary and summary_accepted:
            derived = DeclarationStatus.SUMMARISED
    reason = cancel.info if cancel is not None and is_failure(cancel.code) else None
    return Derived(derived, reason)


def _list_status(seen: Seen | None) -> DeclarationStatus:
    if seen is None:
        return DeclarationStatus.SUBMITTED
    code = seen.code
    if code == "899":
        return DeclarationStatus.CLOSED
    if code in {"800", "700"}:
        return DeclarationStatus.RELEASED
    if is_detention(code):
        return DeclarationStatus.INSPECTION
    if code in {"120", "300", "399"}:
        return DeclarationStatus.ACCEPTED
    return DeclarationStatus.SUBMITTED


def summary_status(apply: Seen | None, *, entry_id: str | None, submitted: bool) -> SummaryStatus:
    if not submitted:
        return SummaryStatus.DRAFT
    if entry_id:
        return SummaryStatus.DECLARED
    if apply is None:
        return SummaryStatus.SUBMITTED
    if is_failure(apply.code):
        return SummaryStatus.NEEDS_ACTION
    if apply.code in {"120", "399"}:
        return SummaryStatus.ACCEPTED
    return SummaryStatus.SUBMITTED
