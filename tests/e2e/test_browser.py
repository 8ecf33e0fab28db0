"""End-to-end journeys in a real browser (headless Debian Chromium driven by Playwright).

A fresh demo database is served by ``tradeloop serve`` in a subprocess (see ``conftest.py``). The tests log
in as the demo users, check the default Chinese UI (and that CJK glyphs really render), switch languages,
register an overseas warehouse through the form, find it in the list and the audit log, hit a validation
error, and check that another tenant cannot see it. Screenshots land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlparse

import pytest

from .conftest import DEMO_PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI=true) with a clear message
    expect = None

pytestmark = pytest.mark.browser

NAV_ZH = {"warehouses": "海外仓", "audit": "审计日志"}
NAV_EN = {"warehouses": "Overseas warehouses", "audit": "Audit log"}
DETAIL_PATH = re.compile(r"^/warehouses/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
TIMEOUT_MS = 10_000

# Filled by the registration test and reused by the tenant-isolation test (which registers on its own
# when run alone).
_registered: dict[str, str] = {}


@pytest.fixture(scope="module")
def new_session(browser, live_server):
    """Opens a fresh browser context (own cookies) logged in as a demo user; returns its page."""
    contexts = []

    def open_as(username: str):
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("form[action='/login'] button[type=submit]")
        assert urlparse(page.url).path != "/login", (
            f"login as {username} failed: {page.locator('[role=alert]').all_inner_texts()}")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def wh_page(new_session):
    return new_session("wh-admin")


def page_lang(page) -> str:
    return page.evaluate("document.documentElement.lang")


def action_label_for(page, msgid: str) -> str:
    """The audit action label the page should show in its current language.

    English shows the message id. For Chinese the expected text comes from the app's own zh_CN catalog (the
    translation wording belongs to the catalog, not to this test), and it must differ from the English.
    """
    if page_lang(page) == "en":
        return msgid
    from tradeloop.kit.i18n import translations

    translated = translations("zh_CN").gettext(msgid)
    assert translated != msgid, f"the zh_CN catalog has no translation for {msgid!r}"
    return translated


def assert_png(path, min_bytes: int = 10_000):
    assert path.is_file(), f"screenshot {path} was not written"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) >= min_bytes, f"{path} is only {len(data)} bytes; the page probably rendered blank"


# Renders characters on a canvas in the element's own font stack and compares the pixels. A missing CJK font
# shows up in Chromium either as nothing (no ink) or as the same .notdef "tofu" box for every character, so
# two different ideographs that each leave ink AND differ from each other prove that a real CJK font was
# used. This does not depend on any font's name (document.fonts.check() answers true even for fonts that are
# not installed, so it cannot tell).
GLYPH_PROBE = """
(el) => {
  const s = getComputedStyle(el);
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  ctx.font = `${s.fontStyle} ${s.fontWeight} 48px ${s.fontFamily}`;
  ctx.textBaseline = 'top';
  const render = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.fillStyle = '#000';
    ctx.fillText(ch, 4, 4);
    const d = ctx.getImageData(0, 0, 64, 64).data;
    const alpha = [];
    let ink = 0;
    for (let i = 3; i < d.length; i += 4) { alpha.push(d[i]); if (d[i] > 0) ink++; }
    return {ink, bitmap: alpha.join(',')};
  };
  const chars = [...el.textContent.trim()].filter((c) => /\\p{Script=Han}/u.test(c));
  const [a, b] = [...new Set(chars)];
  const ra = render(a), rb = render(b);
  return {font: ctx.font, chars: [a, b], ink: [ra.ink, rb.ink], distinct: ra.bitmap !== rb.bitmap};
}
"""


class TestChineseDefault:
    def test_login_lands_in_chinese_and_glyphs_render(self, new_session, screenshots):
        page = new_session("wh-admin")
        assert page_lang(page) == "zh-CN"
        nav = page.locator("aside.sidebar nav")
        for key, label in NAV_ZH.items():
            expect(nav.locator(f"[data-nav={key}]")).to_contain_text(label)

        shot = screenshots / "overview-zh.png"
        shot.unlink(missing_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot)

        probe = page.locator("[data-nav=warehouses]").evaluate(GLYPH_PROBE)
        hint = "no CJK font renders in Chromium (install fonts-wqy-microhei or fonts-noto-cjk)"
        assert all(n > 20 for n in probe["ink"]), f"{hint}: {probe}"
        assert probe["distinct"], f"{hint}: {probe['chars']} draw the same tofu box in {probe['font']!r}"

    def test_language_switch_round_trip(self, new_session):
        page = new_session("wh-admin")
        nav = page.locator("aside.sidebar nav")
        with page.expect_navigation():
            page.click("[data-lang=en]")
        assert page_lang(page) == "en"
        for key, label in NAV_EN.items():
            expect(nav.locator(f"[data-nav={key}]")).to_have_text(label)

        with page.expect_navigation():
            page.click("[data-lang=zh_CN]")
        assert page_lang(page) == "zh-CN"
        for key, label in NAV_ZH.items():
            expect(nav.locator(f"[data-nav={key}]")).to_contain_text(label)


def fill_warehouse_form(page, code: str, **overrides: str):
    values = {"code": code, "name_zh": f"汉堡测试仓 {code}", "name_en": f"Hamburg test {code}",
              "address": "Am Sandtorkai 1, 20457 Hamburg", "unlocode": "DEHAM", "area_m2": "12500",
              "lease_start": "2024-01-01", "lease_end": "2028-12-31", "operator_name": "E2E Logistik GmbH",
              "contact": "ops@example.test", **overrides}
    form = page.locator("#warehouse-form")
    for name, value in values.items():
        form.locator(f"input[name={name}]").fill(value)
    form.locator("select[name=country]").select_option("DE")
    form.locator("select[name=tenure]").select_option("leased")
    return form


def register_warehouse(page, code: str) -> str:
    """Registers through the UI, starting from the list's button; returns the new warehouse id."""
    page.goto("/warehouses")
    with page.expect_navigation():
        page.click("a[data-action=new-warehouse]")
    assert urlparse(page.url).path == "/warehouses/new"
    form = fill_warehouse_form(page, code)
    with page.expect_navigation():
        form.locator("button[data-action=save-warehouse]").click()
    match = DETAIL_PATH.match(urlparse(page.url).path)
    assert match, (f"saving did not reach a detail page (at {page.url}); field errors: "
                   f"{page.locator('small[data-error-for]').all_inner_texts()}")
    return match.group(1)


class TestWarehouseJourney:
    def test_register_list_and_audit(self, wh_page, screenshots):
        page = wh_page
        code = f"E2E-{uuid.uuid4().hex[:6].upper()}"
        warehouse_id = register_warehouse(page, code)
        _registered.update(code=code, id=warehouse_id)

        expect(page.locator("main h2")).to_contain_text(code)
        expect(page.locator(".flash[role=status]")).to_be_visible()

        with page.expect_navigation():
            page.click("[data-nav=warehouses]")
        table = page.locator("table#warehouses")
        expect(table).to_contain_text(code)
        expect(table.locator(f"a[href='/warehouses/{warehouse_id}']")).to_have_text(code)
        shot = screenshots / "warehouses-list.png"
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot)

        with page.expect_navigation():
            page.click("[data-nav=audit]")
        # The entity column shows only the first 13 characters of the (time-ordered) id, so the row is also
        # matched on the code inside its "after" snapshot.
        row = page.locator("table#audit tbody tr", has_text=warehouse_id[:13]).filter(has_text=f'"{code}"')
        expect(row).to_have_count(1)
        expect(row).to_contain_text(action_label_for(page, "Warehouse registered"))
        expect(row).to_contain_text("warehouse")
        shot = screenshots / "audit.png"
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot)

    def test_bad_unlocode_is_a_field_error(self, wh_page):
        page = wh_page
        page.goto("/warehouses/new")
        code = f"E2E-BAD-{uuid.uuid4().hex[:4].upper()}"
        form = fill_warehouse_form(page, code, unlocode="XX1")
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and urlparse(r.url).path == "/warehouses") as response:
            form.locator("button[data-action=save-warehouse]").click()
        assert response.value.status == 422
        page.wait_for_load_state()
        expect(page.locator("small[data-error-for=unlocode]")).to_be_visible()
        expect(page.locator("input[name=unlocode]")).to_have_attribute("aria-invalid", "true")
        # The form keeps what was typed, and nothing was saved.
        expect(page.locator("input[name=code]")).to_have_value(code)
        page.goto("/warehouses")
        expect(page.locator("table#warehouses")).not_to_contain_text(code)

    def test_other_tenant_does_not_see_it(self, new_session):
        if not _registered:  # run on its own (e.g. with -k): register first
            code = f"E2E-{uuid.uuid4().hex[:6].upper()}"
            _registered.update(code=code, id=register_warehouse(new_session("wh-admin"), code))
        page = new_session("silk-admin")
        page.goto("/warehouses")
        table = page.locator("table#warehouses")
        expect(table).to_be_visible()
        expect(table).not_to_contain_text(_registered["code"])
        response = page.goto(f"/warehouses/{_registered['id']}")
        assert response.status in (403, 404), f"another tenant opened the warehouse: HTTP {response.status}"

