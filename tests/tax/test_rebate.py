"""The rebate formulas against the worked examples of domain.md §3.4, exactly, and their invariants."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeloop.tax import rebate

D = Decimal


def man(**kw):
    base = {"fob_cny": D(355000), "domestic_output_vat": D(26000), "input_vat": D(60000), "opening_credit": D(0),
            "levy_rate": D("0.13"), "rebate_rate": D("0.09")}
    return rebate.manufacturer(**{**base, **kw})


class TestWorkedExamples:
    def test_ex1_trader(self):
        assert rebate.trader(D(100000), D("0.13")).refund == D("13000.00")
        nine = rebate.trader(D(100000), D("0.09"), D("0.13"))
        assert (nine.refund, nine.not_refundable) == (D("9000.00"), D("4000.00"))

    def test_ex2_manufacturer(self):
        r = man()
        assert (r.not_exempt, r.payable, r.closing_credit, r.exempt_credit_refund, r.refund, r.exempt_credit,
                r.carry_forward) == (D("14200.00"), D("-19800.00"), D("19800.00"), D("31950.00"), D("19800.00"),
                                     D("12150.00"), D("0.00"))

    def test_ex2b_credit_above_the_limit_is_carried_forward(self):
        r = man(input_vat=D(120000))
        assert (r.payable, r.closing_credit, r.refund, r.exempt_credit, r.carry_forward) == \
            (D("-79800.00"), D("79800.00"), D("31950.00"), D("0.00"), D("47850.00"))

    def test_ex2c_full_rebate_rate(self):
        r = man(rebate_rate=D("0.13"))
        assert (r.not_exempt, r.payable, r.exempt_credit_refund, r.refund, r.exempt_credit) == \
            (D("0.00"), D("-34000.00"), D("46150.00"), D("34000.00"), D("12150.00"))

    def test_tax_payable_means_no_refund(self):
        r = man(domestic_output_vat=D(100000))
        assert r.payable == D("54200.00") and (r.refund, r.exempt_credit) == (D("0.00"), D("31950.00"))

    def test_duty_free_materials_reduce_both_figures(self):
        r = man(duty_free_materials=D(50000))
        assert (r.not_exempt_offset, r.not_exempt, r.exempt_offset, r.exempt_credit_refund) == \
            (D("2000.00"), D("12200.00"), D("4500.00"), D("27450.00"))

    def test_rounding_is_half_up_to_the_fen(self):
        assert rebate.trader(D("0.05"), D("0.09")).refund == D("0.00")  # 0.0045
        assert rebate.trader(D("0.50"), D("0.09")).refund == D("0.05")  # 0.045 → 0.05


class TestInputs:
    @pytest.mark.parametrize("text,expected", [("0.13", D("0.13")), ("13%", D("0.13")), ("9 %", D("0.09")),
                                               ("0", D(0)), ("0.10", D("0.10"))])
    def test_rates(self, text, expected):
        assert rebate.rate("r", text) == expected

    @pytest.mark.parametrize("text", ["0.11", "13", "abc", "NaN", "-9%"])
    def test_bad_rates(self, text):
        with pytest.raises(rebate.RebateInputError):
            rebate.rate("r", text)

    @pytest.mark.parametrize("text", ["1.234", "-5", "x", "Infinity"])
    def test_bad_amounts(self, text):
        with pytest.raises(rebate.RebateInputError):
            rebate.amount("a", text)

    def test_levy_below_rebate_is_refused(self):
        with pytest.raises(rebate.RebateInputError) as err:
            man(levy_rate=D("0.09"), rebate_rate=D("0.13"))
        assert err.value.field == "levy_rate"


amounts = st.integers(min_value=0, max_value=10**11).map(lambda n: D(n) / 100)
rates = st.sampled_from(rebate.RATE_LEVELS)


@given(fob=amounts, out=amounts, inp=amounts, credit=amounts, levy=rates, reb=rates)
def test_manufacturer_invariants(fob, out, inp, credit, levy, reb):
    if levy < reb:
        levy, reb = reb, levy
    r = man(fob_cny=fob, domestic_output_vat=out, input_vat=inp, opening_credit=credit, levy_rate=levy,
            rebate_rate=reb)
    assert r.refund == min(r.closing_credit, r.exempt_credit_refund)
    assert r.refund + r.carry_forward == r.closing_credit
    assert r.exempt_credit == (r.exempt_credit_refund - r.refund if r.closing_credit <= r.exempt_credit_refund
                               else 0)
    assert r.refund >= 0 and r.exempt_credit >= 0 and r.carry_forward >= 0
    for value in r.figures().values():
        assert not value[0].isdigit() or value.endswith("%") or len(value.split(".")[1]) == 2


def cli(*args):
    return subprocess.run([sys.executable, "-m", "tradeloop", "tax", "calc", *args], capture_output=True, text=True)


def test_cli_prints_every_figure():
    r = cli("--method", "manufacturer", "--fob-cny", "355000", "--domestic-output-vat", "26000", "--input-vat",
            "120000", "--opening-credit", "0", "--levy-rate", "0.13", "--rebate-rate", "0.09")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert (body["当期不得免征和抵扣税额"], body["当期应纳税额"], body["期末留抵税额"], body["当期免抵退税额"],
            body["当期应退税额"], body["当期免抵税额"], body["结转下期留抵税额"]) == \
        ("14200.00", "-79800.00", "79800.00", "31950.00", "31950.00", "0.00", "47850.00")
    r = cli("--method", "trader", "--invoice-amount", "100000", "--rebate-rate", "13%")
    assert json.loads(r.stdout)["增值税应退税额"] == "13000.00"


def test_cli_names_the_bad_field():
    r = cli("--method", "manufacturer", "--fob-cny", "1")
    assert r.returncode == 2 and "--domestic-output-vat" in r.stderr
    r = cli("--method", "trader", "--invoice-amount", "12.345", "--rebate-rate", "13%")
    assert r.returncode == 2 and "--invoice-amount" in r.stderr
