"""Inventory age (库龄): days since a lot's first receipt into its warehouse, and the buckets providers report.

Pure functions (no database), shared by the WMS API and the stock pages. The age of a unit is the age of
its lot: lots are per declaration line and warehouse, and FIFO allocation ships the oldest lots first, so
the lot's receipt date is the receipt date of every unit still in it. Ages count whole calendar days in a
time zone (UTC for the API; the pages use the user's zone); a lot received today is 0 days old. The
buckets are those overseas-warehouse providers bill and report storage by (0–30, 31–60, 61–90, 91–180,
181–365, over 365 days).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

#: (label, first day, last day or None for open-ended), in order.
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    ("181-365", 181, 365),
    (">365", 366, None),
)
LABELS: tuple[str, ...] = tuple(label for label, _lo, _hi in BUCKETS)


def age_days(received_at: datetime, as_of: date, tz: str = "UTC") -> int:
    """Whole days from the receipt's calendar date in ``tz`` to ``as_of``; never negative (a receipt dated
    after ``as_of`` — clock skew between writers — counts as received that day)."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return max(0, (as_of - received_at.astimezone(ZoneInfo(tz)).date()).days)


def bucket(days: int) -> str:
    """The label of the bucket holding an age of ``days`` (``0-30`` … ``>365``)."""
    if days < 0:
        raise ValueError("an age is never negative")
    for label, _lo, hi in BUCKETS:
        if hi is None or days <= hi:
            return label
    raise AssertionError("unreachable: the last bucket is open-ended")  # pragma: no cover


def bucket_units(lots: Iterable[tuple[datetime, int]], as_of: date, tz: str = "UTC") -> dict[str, int]:
    """Units per bucket for ``(received_at, units)`` pairs; every bucket is present, in order."""
    out = dict.fromkeys(LABELS, 0)
    for received_at, units in lots:
        out[bucket(age_days(received_at, as_of, tz))] += units
    return out
