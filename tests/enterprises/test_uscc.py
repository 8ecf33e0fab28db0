"""USCC (统一社会信用代码) check character, GB 32100-2015."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeloop.enterprises.uscc import CHARSET, check_character, is_valid, uscc_problem

#: Codes that pass: the example code of the GB 32100-2015 text, and codes published in the national
#: enterprise credit information publicity system for well-known companies.
VALID = [
    "91350100M000100Y43",  # GB 32100-2015 example
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "91110108551385082Q",  # 北京小米科技有限责任公司
]


class TestCheckCharacter:
    @pytest.mark.parametrize("code", VALID)
    def test_valid_codes(self, code):
        assert uscc_problem(code) is None
        assert is_valid(code.lower())  # input is normalised to capitals

    @pytest.mark.parametrize("code,reason", [
        ("914403001922038217", "check character"),  # last character changed
        ("91440300192203821", "18"),  # too short
        ("9144030019220382160", "18"),  # too long
        ("91440300I922038216", "not allowed"),  # I is never used
        ("91440300O922038216", "not allowed"),  # O is never used
        ("914403S01922038216", "not allowed"),  # S is never used
        ("91A40300192203821X", "administrative division"),  # division code must be digits
    ])
    def test_invalid_codes(self, code, reason):
        problem = uscc_problem(code)
        assert problem is not None
        assert reason in problem[0]
        assert problem[1]  # a Chinese message too

    @given(st.text(alphabet=CHARSET, min_size=17, max_size=17).filter(lambda s: s[2:8].isdigit()))
    def test_computed_check_character_validates(self, first17):
        assert uscc_problem(first17 + check_character(first17)) is None

    @given(st.text(alphabet=CHARSET, min_size=17, max_size=17).filter(lambda s: s[2:8].isdigit()),
           st.integers(min_value=0, max_value=16), st.sampled_from(CHARSET))
    def test_any_single_character_change_is_detected(self, first17, pos, replacement):
        code = first17 + check_character(first17)
        changed = code[:pos] + replacement + code[pos + 1:]
        if changed != code:
            assert uscc_problem(changed) is not None
