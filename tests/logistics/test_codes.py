"""Check digits of container numbers (ISO 6346) and air waybills (IATA mod 7); UN/LOCODE format."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tradeloop.logistics import codes

LETTER_VALUE = {c: v for c, v in zip(string.ascii_uppercase, [10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25,
                                                                26, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38],
                                          strict=True)}


class TestIso6346:
    @pytest.mark.parametrize("number", ["CSQU3054383", "MSCU6639870", "KOCU8090115"])
    def test_known_good_numbers(self, number):
        assert codes.is_container_number(number)

    @pytest.mark.parametrize("number", [
        "CSQU3054384",  # wrong check digit
        "MSCU6639871",  # often quoted as valid, but the standard algorithm gives 0 (remainder 0)
        "CSQX3054383",  # category must be U, J or Z
        "CSQU305438",  # too short
        "C5QU3054383",  # owner code must be letters
        "csqu3054383",  # upper case only (normalise first)
    ])
    def test_bad_numbers(self, number):
        assert not codes.is_container_number(number)

    def test_letter_values_skip_multiples_of_eleven(self):
        assert codes._LETTER_VALUES == LETTER_VALUE

    def test_check_digit_of_a_worked_example(self):
        # C13·1 + S30·2 + Q28·4 + U32·8 + 3·16 + 0·32 + 5·64 + 4·128 + 3·256 + 8·512 = 6185 = 11·562 + 3
        total = sum(v << i for i, v in enumerate([13, 30, 28, 32, 3, 0, 5, 4, 3, 8]))
        assert total % 11 % 10 == codes.iso6346_check_digit("CSQU305438") == 3

    @given(owner=st.text(string.ascii_uppercase, min_size=3, max_size=3), category=st.sampled_from("UJZ"),
           serial=st.text(string.digits, min_size=6, max_size=6), position=st.integers(0, 10),
           replacement=st.sampled_from(string.ascii_uppercase + string.digits))
    def test_any_single_change_is_refused(self, owner, category, serial, position, replacement):
        """Valid numbers whose remainder is not 0 or 10 (ISO 6346 advises against serials giving 10, and 0 and
        10 share the check digit 0). A changed owner letter goes unnoticed only when its value differs by a
        multiple of 11 (A/K/U, B/L/V …): the check digit's documented blind spot."""
        first10 = owner + category + serial
        assume(codes.iso6346_remainder(first10) not in (0, 10))
        number = first10 + str(codes.iso6346_check_digit(first10))
        assert codes.is_container_number(number)
        assume(number[position] != replacement)
        changed = number[:position] + replacement + number[position + 1:]
        blind_spot = position < 3 and replacement.isalpha() and \
            (LETTER_VALUE[replacement] - LETTER_VALUE[number[position]]) % 11 == 0
        assert codes.is_container_number(changed) == blind_spot

    def test_normalise(self):
        assert codes.normalise_container(" csqu 305438-3 ") == "CSQU3054383"


class TestAirWaybill:
    @pytest.mark.parametrize("number", ["176-12345675", "020-00000000", "618-99999992"])
    def test_good(self, number):
        assert codes.is_awb(number)

    @pytest.mark.parametrize("number", ["176-12345674", "176-1234567", "17-123456755", "176-12345678"])
    def test_bad(self, number):
        assert not codes.is_awb(number)

    def test_normalise(self):
        assert codes.normalise_awb("176 1234 5675") == "176-12345675"

    @given(prefix=st.text(string.digits, min_size=3, max_size=3), serial=st.text(string.digits, min_size=7,
                                                                                    max_size=7),
           position=st.integers(0, 7), digit=st.sampled_from(string.digits))
    def test_a_changed_serial_digit_is_refused(self, prefix, serial, position, digit):
        """Mod 7 misses only a digit replaced by one 7 away (0↔7, 1↔8, 2↔9)."""
        number = f"{prefix}-{serial}{int(serial) % 7}"
        assert codes.is_awb(number)
        index = 4 + position
        assume(number[index] != digit)
        changed = number[:index] + digit + number[index + 1:]
        blind_spot = position < 7 and abs(int(digit) - int(number[index])) == 7
        assert codes.is_awb(changed) == blind_spot


class TestCodeLists:
    @pytest.mark.parametrize(("code", "ok"), [("CNSHA", True), ("USLAX", True), ("DEHAM", True), ("CNSH1", False),
                                              ("CNSH0", False), ("CN SHA", False), ("cnsha", False), ("CNS2A", True)])
    def test_unlocode_format(self, code, ok):
        assert bool(codes.UNLOCODE_RE.fullmatch(code)) is ok

    def test_dcsa_and_rec24_milestones(self):
        assert codes.milestone("TRANSPORT", "DEPA") == codes.Milestone.DEPARTURE
        assert codes.milestone("TRANSPORT", "24") == codes.Milestone.DEPARTURE
        assert codes.milestone("TRANSPORT", "21") == codes.Milestone.DELIVERY
        assert codes.milestone("SHIPMENT", "HOLD") == codes.Milestone.EXCEPTION
        assert codes.code_list_of("ARRI") == "DCSA" and codes.code_list_of("1") == "REC24"
        assert not codes.known_code("TRANSPORT", "LOAD")  # an equipment code
        assert codes.known_code("EQUIPMENT", "LOAD") and codes.known_code("EQUIPMENT", "29")
