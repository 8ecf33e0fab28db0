"""The translation catalogs are complete and consistent with the sources (no database needed).

Extraction runs in-process with the same method map as ``scripts/i18n.sh`` (read from ``babel.cfg``)
and Babel's default keywords, which include ``_``, ``gettext``, ``ngettext`` and ``N_``. When a test
here fails after adding a string: run ``scripts/i18n.sh`` and translate the new zh_CN entries.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tradeloop.kit import i18n, templating
from tradeloop.shell import nav

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tradeloop"
LOCALE_DIR = PACKAGE / "locale"
#: Every ``*_LABELS`` table of kit/templating.py, so a new table is checked without being listed here.
LABEL_TABLES = tuple(name for name in dir(templating) if name.endswith("_LABELS")
                     and isinstance(getattr(templating, name), dict))
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]")


@cache
def extracted() -> dict[str, list[str]]:
    """msgid -> where it occurs, for every message Babel extracts from the package."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map, options_map, keywords=DEFAULT_KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@cache
def catalog(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=locale)


def strings(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def untranslated(msgids, locale: str = "zh_CN") -> list[str]:
    cat = catalog(locale)
    out = []
    for msgid in msgids:
        message = cat.get(msgid)
        if message is None or message.fuzzy or not all(strings(message)):
            out.append(msgid)
    return out


def label_values() -> list[str]:
    return [value for table in LABEL_TABLES for value in getattr(templating, table).values()]


def nav_strings() -> list[str]:
    items = [*nav.LOOP, *nav.SETTINGS, *nav.OVERSIGHT]
    return [s for item in items for s in (item.label, item.coming) if s]


class TestExtraction:
    def test_extraction_finds_python_and_templates(self):
        found = extracted()
        assert len(found) > 100
        where = {loc.split(":")[0] for locs in found.values() for loc in locs}
        assert any(w.endswith(".html") for w in where)
        assert any(w.endswith("nav.py") for w in where)  # N_ is a keyword

    def test_pot_lists_every_extracted_message(self):
        with (LOCALE_DIR / "messages.pot").open("rb") as fh:
            pot = read_po(fh)
        missing = sorted(set(extracted()) - {m.id if isinstance(m.id, str) else m.id[0] for m in pot if m.id})
        assert not missing, f"run scripts/i18n.sh; not in messages.pot: {missing}"


class TestCatalogComplete:
    def test_every_extracted_msgid_has_a_chinese_translation(self):
        missing = untranslated(extracted())
        where = "; ".join(f"{m!r} ({extracted()[m][0]})" for m in missing)
        assert not missing, f"untranslated or fuzzy in zh_CN (run scripts/i18n.sh, then translate): {where}"

    def test_every_label_table_value_has_a_chinese_translation(self):
        missing = untranslated(label_values())
        assert not missing, f"kit/templating.py labels missing in zh_CN (translate them): {missing}"

    def test_every_nav_label_and_description_has_a_chinese_translation(self):
        missing = untranslated(nav_strings())
        assert not missing, f"shell/nav.py strings missing in zh_CN: {missing}"

    def test_label_tables_are_marked_for_extraction(self):
        missing = sorted(set(label_values()) - set(extracted()))
        assert not missing, f"wrap these kit/templating.py values in N_(...): {missing}"

    def test_english_catalog_covers_the_template(self):
        en_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog("en") if m.id}
        missing = sorted(set(extracted()) - en_ids)
        assert not missing, f"run scripts/i18n.sh; not in en/messages.po: {missing}"


class TestPlaceholders:
    @staticmethod
    def entries():
        for message in catalog("zh_CN"):
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            for string in strings(message):
                if string:
                    yield ids, string

    def test_msgstr_has_the_same_placeholders_as_msgid(self):
        wrong = []
        for ids, string in self.entries():
            expected = set().union(*(PLACEHOLDER.findall(i) for i in ids))
            if set(PLACEHOLDER.findall(string)) != expected:
                wrong.append((ids[0], string))
        assert not wrong, f"placeholders differ: {wrong}"

    def test_msgstr_formats_like_msgid(self):
        # jinja2's newstyle gettext always applies "%" to the text, so a stray "%" would raise there.
        wrong = []
        for ids, string in self.entries():
            values = {name: "x" for i in ids for name in PLACEHOLDER.findall(i)}
            try:
                ids[0] % values
            except (TypeError, ValueError, KeyError):
                continue
            try:
                string % values
            except (TypeError, ValueError, KeyError) as exc:
                wrong.append((ids[0], string, str(exc)))
        assert not wrong, f"translation does not format: {wrong}"


class TestRequiredWording:
    @pytest.mark.parametrize(("msgid", "zh"), [
        ("Overseas warehouses", "海外仓"),
        ("Audit log", "审计日志"),
        ("Log in", "登录"),
        ("Register a warehouse", "登记海外仓"),
        ("Overview", "概览"),
        ("Save", "保存"),
        ("Warehouse registered", "海外仓已登记"),
        ("USCC", "统一社会信用代码"),
        ("Customs code", "海关编码"),
        ("Manufacturer", "生产企业"),
        ("Trader", "外贸企业"),
        ("Overseas warehouse operator", "海外仓企业"),
        ("Exempt, credit and refund", "免抵退"),
        ("Exempt and refund", "免退税"),
        ("Pilot zone", "综试区"),
        ("Industry belts", "产业带"),
        ("Export VAT rebates", "出口退税"),
    ])
    def test_official_chinese_wording(self, msgid, zh):
        assert i18n.translations("zh_CN").gettext(msgid) == zh

    def test_overseas_warehouses(self):
        assert i18n.translations("zh_CN").gettext("Overseas warehouses") == "海外仓"

    def test_default_locale_is_chinese_and_english_falls_back_to_msgid(self):
        token = i18n.locale_var.set(i18n.DEFAULT_LOCALE)
        try:
            assert i18n.gettext("Audit log") == "审计日志"
            assert i18n.gettext("%(total)s rows", total=3) == "共 3 行"
        finally:
            i18n.locale_var.reset(token)
        assert i18n.translations("en").gettext("Overseas warehouses") == "Overseas warehouses"
