"""Export VAT rebate formulas (出口退(免)税), exactly as in domain.md §3.3, in ``Decimal``.

Two methods:

* 免退税 — trading companies (外贸企业)::

      增值税应退税额 = 购进出口货物增值税专用发票注明的金额(不含税) × 出口退税率
      不得退税额(进项税额转出) = 金额 × (征税率 − 退税率)            (when the levy rate is given)

* 免抵退 — manufacturers (生产企业), one period::

      当期不得免征和抵扣税额抵减额 = 当期免税购进原材料价格 × (征税率 − 退税率)
      当期不得免征和抵扣税额 = FOB(人民币) × (征税率 − 退税率) − 当期不得免征和抵扣税额抵减额
      当期应纳税额 = 当期内销销项税额 − (当期全部进项税额 − 当期不得免征和抵扣税额) − 上期留抵税额
      期末留抵税额 = max(0, −当期应纳税额)
      免抵退税额抵减额 = 免税购进原材料价格 × 退税率
      当期免抵退税额 = FOB(人民币) × 退税率 − 免抵退税额抵减额
      期末留抵税额 ≤ 当期免抵退税额: 当期应退税额 = 期末留抵税额, 当期免抵税额 = 当期免抵退税额 − 当期应退税额
      期末留抵税额 > 当期免抵退税额: 当期应退税额 = 当期免抵退税额, 当期免抵税额 = 0
      结转下期留抵税额 = 期末留抵税额 − 当期应退税额

Rounding (stated, as a tax form does it): every named amount is rounded half-up to the fen (0.01 CNY) when
it is computed, and later steps use the rounded figure. Rates are fractions (0.13) or percentages ("13%").
FOB is already in CNY (FOB × 外汇人民币折合率; the conversion is the caller's, with its rate recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
#: The rebate and levy rate levels since the 2019 VAT reform (domain.md §3.2); other values are refused.
RATE_LEVELS = (Decimal("0.13"), Decimal("0.10"), Decimal("0.09"), Decimal("0.06"), Decimal("0"))


class RebateInputError(ValueError):
    def __init__(self, field: str, en: str, zh: str):
        super().__init__(f"{field}: {en}")
        self.field, self.en, self.zh = field, en, zh


def money(value) -> Decimal:
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


def amount(field: str, text: str | Decimal | int, *, negative: bool = False) -> Decimal:
    """A CNY amount: at most 2 decimal places, not negative unless allowed."""
    try:
        value = Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise RebateInputError(field, "is not an amount", "不是有效金额") from None
    if not value.is_finite():
        raise RebateInputError(field, "is not an amount", "不是有效金额")
    if value != value.quantize(FEN):
        raise RebateInputError(field, "has more than 2 decimal places", "金额最多两位小数")
    if value < 0 and not negative:
        raise RebateInputError(field, "must not be negative", "不能为负数")
    return value


def rate(field: str, text: str | Decimal) -> Decimal:
    """``0.13``, ``13%`` or ``13 %`` -> Decimal("0.13"); only the legal levels (13/10/9/6/0 %)."""
    raw = str(text).strip()
    try:
        value = Decimal(raw[:-1].strip()) / 100 if raw.endswith("%") else Decimal(raw)
    except InvalidOperation:
        raise RebateInputError(field, "is not a rate", "不是有效税率") from None
    if not value.is_finite() or value.normalize() not in {r.normalize() for r in RATE_LEVELS}:
        raise RebateInputError(field, "must be one of 13%, 10%, 9%, 6%, 0%", "税率须为13%、10%、9%、6%或0%")
    return value


def pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


@dataclass(frozen=True)
class TraderResult:
    invoice_amount: Decimal
    rebate_rate: Decimal
    levy_rate: Decimal | None
    refund: Decimal
    not_refundable: Decimal | None

    def figures(self) -> dict:
        out = {"method": "trader", "计算方法": "免退税",
               "购进出口货物增值税专用发票注明的金额": f"{self.invoice_amount:.2f}",
               "出口退税率": pct(self.rebate_rate)}
        if self.levy_rate is not None:
            out["征税率"] = pct(self.levy_rate)
        out["增值税应退税额"] = f"{self.refund:.2f}"
        if self.not_refundable is not None:
            out["不得退税额(进项税额转出)"] = f"{self.not_refundable:.2f}"
        return out


def trader(invoice_amount: Decimal, rebate_rate: Decimal, levy_rate: Decimal | None = None) -> TraderResult:
    if levy_rate is not None and levy_rate < rebate_rate:
        raise RebateInputError("levy_rate", "must not be below the rebate rate", "征税率不能低于退税率")
    refund = money(invoice_amount * rebate_rate)
    gap = money(invoice_amount * (levy_rate - rebate_rate)) if levy_rate is not None else None
    return TraderResult(invoice_amount, rebate_rate, levy_rate, refund, gap)


@dataclass(frozen=True)
class ManufacturerResult:
    fob_cny: Decimal
    domestic_output_vat: Decimal
    input_vat: Decimal
    opening_credit: Decimal
    levy_rate: Decimal
    rebate_rate: Decimal
    duty_free_materials: Decimal
    not_exempt_offset: Decimal  # 当期不得免征和抵扣税额抵减额
    not_exempt: Decimal  # 当期不得免征和抵扣税额
    payable: Decimal  # 当期应纳税额
    closing_credit: Decimal  # 期末留抵税额
    exempt_offset: Decimal  # 免抵退税额抵减额
    exempt_credit_refund: Decimal  # 当期免抵退税额
    refund: Decimal  # 当期应退税额
    exempt_credit: Decimal  # 当期免抵税额
    carry_forward: Decimal  # 结转下期留抵税额

    def figures(self) -> dict:
        return {
            "method": "manufacturer", "计算方法": "免抵退",
            "当期出口货物离岸价(人民币)": f"{self.fob_cny:.2f}",
            "当期内销销项税额": f"{self.domestic_output_vat:.2f}",
            "当期全部进项税额": f"{self.input_vat:.2f}",
            "上期留抵税额": f"{self.opening_credit:.2f}",
            "征税率": pct(self.levy_rate), "退税率": pct(self.rebate_rate),
            "当期免税购进原材料价格": f"{self.duty_free_materials:.2f}",
            "当期不得免征和抵扣税额抵减额": f"{self.not_exempt_offset:.2f}",
            "当期不得免征和抵扣税额": f"{self.not_exempt:.2f}",
            "当期应纳税额": f"{self.payable:.2f}",
            "期末留抵税额": f"{self.closing_credit:.2f}",
            "免抵退税额抵减额": f"{self.exempt_offset:.2f}",
            "当期免抵退税额": f"{self.exempt_credit_refund:.2f}",
            "当期应退税额": f"{self.refund:.2f}",
            "当期免抵税额": f"{self.exempt_credit:.2f}",
            "结转下期留抵税额": f"{self.carry_forward:.2f}",
        }


def manufacturer(*, fob_cny: Decimal, domestic_output_vat: Decimal, input_vat: Decimal, opening_credit: Decimal,
                 levy_rate: Decimal, rebate_rate: Decimal,
                 duty_free_materials: Decimal = Decimal(0)) -> ManufacturerResult:
    if levy_rate < rebate_rate:
        raise RebateInputError("levy_rate", "must not be below the rebate rate", "征税率不能低于退税率")
    gap = levy_rate - rebate_rate
    not_exempt_offset = money(duty_free_materials * gap)
    not_exempt = money(fob_cny * gap) - not_exempt_offset
    payable = domestic_output_vat - (input_vat - not_exempt) - opening_credit
    closing_credit = -payable if payable < 0 else Decimal("0.00")
    exempt_offset = money(duty_free_materials * rebate_rate)
    exempt_credit_refund = money(fob_cny * rebate_rate) - exempt_offset
    if closing_credit <= exempt_credit_refund:
        refund, exempt_credit = closing_credit, exempt_credit_refund - closing_credit
    else:
        refund, exempt_credit = exempt_credit_refund, Decimal("0.00")
    return ManufacturerResult(
        fob_cny, domestic_output_vat, input_vat, opening_credit, levy_rate, rebate_rate, duty_free_materials,
        not_exempt_offset, not_exempt, money(payable), money(closing_credit), exempt_offset, exempt_credit_refund,
        money(refund), money(exempt_credit), money(closing_credit - refund))


def calculate(*, method: str, rebate_rate, invoice_amount=None, levy_rate=None, fob_cny=None,
              domestic_output_vat=None, input_vat=None, opening_credit=None, duty_free_materials="0"):
    """Parse text inputs and run one method (the CLI, the API and the calculator page share this)."""
    def need(name: str, value):
        if value is None or str(value).strip() == "":
            raise RebateInputError(name, "is required for this method", "该计算方法须填写此项")
        return value

    if method == "trader":
        return trader(amount("invoice_amount", need("invoice_amount", invoice_amount)),
                      rate("rebate_rate", need("rebate_rate", rebate_rate)),
                      rate("levy_rate", levy_rate) if levy_rate not in (None, "") else None)
    if method == "manufacturer":
        return manufacturer(
            fob_cny=amount("fob_cny", need("fob_cny", fob_cny)),
            domestic_output_vat=amount("domestic_output_vat", need("domestic_output_vat", domestic_output_vat)),
            input_vat=amount("input_vat", need("input_vat", input_vat)),
            opening_credit=amount("opening_credit", need("opening_credit", opening_credit)),
            levy_rate=rate("levy_rate", need("levy_rate", levy_rate)),
            rebate_rate=rate("rebate_rate", need("rebate_rate", rebate_rate)),
            duty_free_materials=amount("duty_free_materials", duty_free_materials or "0"))
    raise RebateInputError("method", "must be trader or manufacturer", "须为 trader 或 manufacturer")
