"""Field checks shared by shipments and tracking events, for API bodies, page forms and file rows alike.

Values arrive as text (forms, CSV) or typed (JSON through pydantic); each check returns the normalised
value or None, adding an English and a Chinese message to ``errors`` when the value is wrong.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tradeloop.kit.i18n import timezone_var
from tradeloop.kit.validation import Errors, clean
from tradeloop.logistics import codes
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.reference.repository import ReferenceRepository

SCALARS = (str, int, Decimal, uuid.UUID, datetime)


def offset_text(value: datetime) -> str:
    """``+08:00`` for a time given in Beijing time."""
    minutes = int(value.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def offset_zone(text: str) -> timezone:
    """The fixed zone of an offset written by ``offset_text``."""
    sign = -1 if text.startswith("-") else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


class Checker:
    def __init__(self, session: Session, errors: Errors | None = None):
        self.session = session
        self.errors = errors or Errors()
        self.refs = ReferenceLookup(session)
        self.reference = ReferenceRepository(session)
        self.known_locodes: dict[str, bool] = {}

    def _raw(self, field: str, value) -> str | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.isoformat()
        if not isinstance(value, SCALARS) or isinstance(value, bool):
            self.errors.add(field, "must be a single value", "应为单个值")
            return None
        return clean(str(value))

    def text(self, field: str, value, label_zh: str, n: int, *, required: bool = False,
             pattern: re.Pattern | None = None, upper: bool = False) -> str | None:
        text = self._raw(field, value)
        if upper and text:
            text = text.upper()
        if required and not self.errors.required(field, text, label_zh):
            return None
        if text is None:
            return None
        if len(text) > n:
            self.errors.max_len(field, text, n)
            return None
        if pattern is not None and not pattern.fullmatch(text):
            self.errors.add(field, "has an invalid format", f"{label_zh}格式不正确")
            return None
        return text

    def choice(self, field: str, value, allowed, label_zh: str, *, required: bool = False,
               aliases: dict[str, str] | None = None) -> str | None:
        text = self.text(field, value, label_zh, 20, required=required)
        if text is None:
            return None
        text = (aliases or {}).get(text.upper(), text)
        options = [str(a) for a in allowed]
        match = next((o for o in options if o.lower() == text.lower()), None)
        if match is None:
            self.errors.one_of(field, text, options, label_zh)
        return match

    def uuid(self, field: str, value, label_zh: str, *, required: bool = False) -> uuid.UUID | None:
        if isinstance(value, uuid.UUID):
            return value
        text = self.text(field, value, label_zh, 40, required=required)
        if text is None:
            return None
        try:
            return uuid.UUID(text)
        except ValueError:
            self.errors.add(field, "must be a UUID", f"{label_zh}应为UUID")
            return None

    def decimal(self, field: str, value, label_zh: str, places: int) -> Decimal | None:
        """A number greater than zero with at most ``places`` decimals (empty: None)."""
        text = value if isinstance(value, Decimal) else self._raw(field, value)
        if text is None:
            return None
        try:
            number = Decimal(text) if isinstance(text, Decimal) else Decimal(text.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            self.errors.add(field, "must be a number", f"{label_zh}应为数字")
        elif number <= 0:
            self.errors.add(field, "must be greater than zero", f"{label_zh}应大于零")
        elif number != number.quantize(Decimal(1).scaleb(-places), rounding="ROUND_DOWN"):
            self.errors.add(field, f"must have at most {places} decimal places", f"{label_zh}最多{places}位小数")
        elif number >= Decimal(10) ** 12:
            self.errors.add(field, "is too large", f"{label_zh}过大")
        else:
            return number
        return None

    def when(self, field: str, value, label_zh: str, *, required: bool = False,
             need_offset: bool = False) -> datetime | None:
        """An ISO 8601 date-time. Without an offset it is read in the configured time zone (a page form),
        unless ``need_offset`` (an event: its offset is part of what the sender said)."""
        if isinstance(value, datetime):
            moment = value
        else:
            text = self.text(field, value, label_zh, 40, required=required)
            if text is None:
                return None
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                self.errors.add(field, "must be a date and time (ISO 8601, e.g. 2026-11-05T08:00:00+08:00)",
                                f"{label_zh}应为日期时间（ISO 8601，如 2026-11-05T08:00:00+08:00）")
                return None
        if moment.tzinfo is None:
            if need_offset:
                self.errors.add(field, "must carry its UTC offset (e.g. +08:00 or Z)",
                                f"{label_zh}须带UTC时差（如 +08:00 或 Z）")
                return None
            moment = moment.replace(tzinfo=ZoneInfo(timezone_var.get()))
        return moment

    def locode(self, field: str, value, label_zh: str, *, required: bool = False) -> str | None:
        """UN/LOCODE: format ``[A-Z]{2}[A-Z2-9]{3}``, a country of the reference table. The shipped code list
        holds the demo routes only, so a well-formed code it does not list is accepted as written."""
        code = self.text(field, value, label_zh, 6, required=required, upper=True)
        if code is None:
            return None
        code = code.replace(" ", "")
        if not codes.UNLOCODE_RE.fullmatch(code):
            self.errors.add(field, "must be a UN/LOCODE: 2-letter country and 3 letters or digits 2–9 (e.g. CNSHA)",
                            f"{label_zh}应为UN/LOCODE：2位国家字母加3位字母或数字2–9（如 CNSHA）")
            return None
        if self.refs.country(code[:2]) is None:
            self.errors.add(field, f"starts with {code[:2]}, which is not a country code",
                            f"{label_zh}的前两位{code[:2]}不是国家代码")
            return None
        return code

    def is_listed(self, locode: str) -> bool:
        """Whether the reference table lists the code (pages show its name then)."""
        if locode not in self.known_locodes:
            self.known_locodes[locode] = self.reference.unlocode(locode) is not None
        return self.known_locodes[locode]

    def container(self, field: str, value, *, required: bool = False) -> str | None:
        number = self.text(field, value, "集装箱号", 20, required=required)
        if number is None:
            return None
        number = codes.normalise_container(number)
        if not codes.CONTAINER_RE.fullmatch(number):
            self.errors.add(field, "must be an ISO 6346 container number: 3-letter owner code, U/J/Z, 6 digits "
                            "and the check digit (e.g. CSQU3054383)",
                            "集装箱号应符合ISO 6346：3位箱主代码、U/J/Z、6位序号和校验位（如 CSQU3054383）")
            return None
        if not codes.is_container_number(number):
            self.errors.add(field, f"has a wrong check digit (ISO 6346 gives {codes.iso6346_check_digit(number[:10])})",
                            f"集装箱号校验位错误（按ISO 6346应为{codes.iso6346_check_digit(number[:10])}）")
            return None
        return number

    def awb(self, field: str, value) -> str | None:
        number = self.text(field, value, "空运单号", 20)
        if number is None:
            return None
        number = codes.normalise_awb(number)
        if not codes.AWB_RE.fullmatch(number):
            self.errors.add(field, "must be an air waybill number: 3-digit airline prefix and 8-digit serial",
                            "空运单号应为3位航空公司前缀加8位序号")
        elif not codes.is_awb(number):
            self.errors.add(field, "has a wrong check digit (the last digit is the first seven of the serial mod 7)",
                            "空运单号校验位错误（末位应为序号前七位除以7的余数）")
        else:
            return number
        return None

    def bl(self, field: str, value) -> str | None:
        number = self.text(field, value, "提单号", 40, upper=True)
        if number is None:
            return None
        number = re.sub(r"[\s-]", "", number)
        if not codes.BL_RE.fullmatch(number):
            self.errors.add(field, "must be 4 to 20 letters and digits", "提单号应为4至20位字母或数字")
            return None
        return number
