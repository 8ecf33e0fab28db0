"""GTIN check digits and exact money parsing (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeloop.catalog import gtin
from tradeloop.kit.money import AmountError, from_minor, to_minor


class TestGtinCheckDigit:
    @pytest.mark.parametrize("code", [
        "96385074",  # GTIN-8 (EAN-8)
        "036000291452",  # GTIN-12 (UPC-A)
        "4006381333931",  # GTIN-13 (EAN-13)
        "9780306406157",  # GTIN-13 (ISBN-13 in the 978 prefix)
        "10614141000415",  # GTIN-14 (GS1 example)
    ])
    def test_gs1_examples_are_valid(self, code):
        assert gtin.is_valid(code)

    @pytest.mark.parametrize("code", ["4006381333932", "036000291453", "96385075", "1234567", "123456789012345",
                                      "400638133393X", "", "４００６３８１３３３９３１"])
    def test_wrong_check_digit_or_length_is_refused(self, code):
        assert not gtin.is_valid(code)

    @given(st.sampled_from([7, 11, 12, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
           st.data())
    def test_any_single_digit_error_is_detected(self, body, data):
        code = body + gtin.check_digit(body)
        assert gtin.is_valid(code)
        pos = data.draw(st.integers(0, len(code) - 1))
        wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != code[pos]]))
        assert not gtin.is_valid(code[:pos] + wrong + code[pos + 1:])


class TestMoney:
    @pytest.mark.parametrize(("text", "units", "minor"), [
        ("12.50", 2, 1250), ("12.5", 2, 1250), ("0.01", 2, 1), ("1,234.56", 2, 123456), ("1200", 0, 1200),
        ("1.234", 3, 1234), ("0.1", 2, 10), ("12.500", 2, 1250), (Decimal("19.99"), 2, 1999),
    ])
    def test_exact(self, text, units, minor):
        assert to_minor(text, units) == minor

    @pytest.mark.parametrize(("text", "units"), [("12.505", 2), ("1200.5", 0), ("abc", 2), ("NaN", 2), ("", 2),
                                                 ("Infinity", 2)])
    def test_refused(self, text, units):
        with pytest.raises(AmountError):
            to_minor(text, units)

    def test_float_is_refused(self):
        with pytest.raises(TypeError):
            to_minor(0.1, 2)

    @given(st.integers(-10**15, 10**15), st.sampled_from([0, 2, 3]))
    def test_round_trip(self, minor, units):
        assert to_minor(str(from_minor(minor, units)), units) == minor
