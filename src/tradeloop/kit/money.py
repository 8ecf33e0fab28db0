"""Money as integer minor units of an ISO 4217 currency; ``Decimal`` in code, never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


class AmountError(ValueError):
    """Why a text is not an amount; ``en`` and ``zh`` are the messages for the field error."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


def to_minor(value: str | Decimal | int, minor_units: int) -> int:
    """``"12.50"`` with 2 minor units -> 1250, exactly. More decimals than the currency has is refused
    (not rounded): a cost of 12.505 USD is a typing error, not a price."""
    if isinstance(value, float):
        raise TypeError("amounts are never floats")
    text = str(value).strip().replace(",", "") if not isinstance(value, Decimal) else value
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise AmountError("is not an amount", "不是有效金额") from None
    if not amount.is_finite():
        raise AmountError("is not an amount", "不是有效金额")
    scaled = amount.scaleb(minor_units)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"has more than {minor_units} decimal places for this currency",
                          f"小数位数超过该币种的{minor_units}位")
    return int(scaled)


def from_minor(minor: int, minor_units: int) -> Decimal:
    """1250 with 2 minor units -> Decimal('12.50')."""
    return Decimal(minor).scaleb(-minor_units).quantize(Decimal(1).scaleb(-minor_units))
