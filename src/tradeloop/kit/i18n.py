"""Translations (Babel catalogs) and locale-aware formatting.

Message ids are English; ``locale/zh_CN/LC_MESSAGES/messages.po`` holds the Chinese, the default UI
language. The ``.po`` files are compiled in memory at start-up, so no build step is needed.
"""

from __future__ import annotations

import contextvars
import io
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
locale_var: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)
timezone_var: contextvars.ContextVar[str] = contextvars.ContextVar("timezone", default="Asia/Shanghai")


@cache
def translations(locale: str) -> NullTranslations:
    path = resources.files("tradeloop") / "locale" / locale / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def negotiate(value: str | None) -> str:
    if not value:
        return DEFAULT_LOCALE
    value = value.replace("-", "_")
    for loc in LOCALES:
        if value.lower() == loc.lower() or value.lower().startswith(loc.split("_")[0].lower()):
            return loc
    return DEFAULT_LOCALE


def N_(message: str) -> str:
    """Marks a string for extraction (Babel's default keyword); it is translated where it is shown."""
    return message


def gettext(message: str, **variables) -> str:
    text = translations(locale_var.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(locale_var.get()).ngettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


def pick(zh: str | None, en: str | None) -> str:
    """Show the Chinese or the English of a bilingual value, falling back to whichever exists."""
    if locale_var.get() == "en":
        return en or zh or ""
    return zh or en or ""


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    tz = ZoneInfo(timezone_var.get())
    return format_datetime(value.astimezone(tz), "yyyy-MM-dd HH:mm", locale=Locale.parse(locale_var.get()))


def fmt_date(value: date | None) -> str:
    if value is None:
        return ""
    return format_date(value, "yyyy-MM-dd", locale=Locale.parse(locale_var.get()))


def fmt_number(value: Decimal | int | float | None, digits: int | None = None) -> str:
    if value is None:
        return ""
    fmt = None if digits is None else "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=fmt, locale=Locale.parse(locale_var.get()))
