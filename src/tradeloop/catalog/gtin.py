"""GS1 GTIN-8/12/13/14 check digits (GS1 General Specifications §7.9: weights 3,1 from the right)."""

from __future__ import annotations

LENGTHS = (8, 12, 13, 14)


def check_digit(body: str) -> str:
    """The check digit for the digits before it: from the right, weights 3, 1, 3, …; (10 - sum % 10) % 10."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid(code: str) -> bool:
    return bool(code) and code.isascii() and code.isdigit() and len(code) in LENGTHS \
        and check_digit(code[:-1]) == code[-1]
