"""Shipment pages in a browser's shoes, in Chinese and English: list, late list, form with field errors,
detail, timeline with a recorded event, event import."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import csrf_from, page_login
from tests.logistics.builders import T0, apply, create_shipment, event, load, shipment_body, submitted_9810


@pytest.fixture
def browser(app, world):
    c = TestClient(app)
    page_login(c, world.a.users["admin"])
    return c


@pytest.fixture
def shipment(db, world):
    decl = submitted_9810(db, world)
    shipment = create_shipment(db, world.a, shipment_body(world, decl))
    apply(db, world.a, [event(shipment, "DEPA", T0, location="CNSHA"),
                        event(shipment, "ARRI", T0 + timedelta(days=15), classifier="EST", location="USONT",
                              created=T0 + timedelta(days=1)),
                        event(shipment, "HOLD", T0 + timedelta(days=2), event_type="SHIPMENT")])
    return shipment


class TestPagesRender:
    @pytest.mark.parametrize(("lang", "words"), [("zh_CN", ["头程运单", "预计到达", "运输段"]),
                                                  ("en", ["Shipment", "ETA", "Legs"])])
    def test_every_page_in_both_languages(self, browser, shipment, lang, words):
        browser.get(f"/lang/{lang}?next=/")
        pages = ["/logistics", "/logistics/late", "/logistics/new", f"/logistics/{shipment.id}",
                 f"/logistics/{shipment.id}/edit", f"/logistics/{shipment.id}/timeline", "/logistics/events/import"]
        seen = ""
        for url in pages:
            r = browser.get(url)
            assert r.status_code == 200, (url, r.text[:500])
            seen += r.text
        for word in words:
            assert word in seen, word
        assert shipment.number in seen and "CSQU3054383" in seen

    def test_list_filters_and_the_nav_item_is_live(self, browser, shipment):
        page = browser.get("/logistics", params={"status": "exception"}).text
        assert f'data-id="{shipment.id}"' in page and 'data-nav="logistics"' in page
        assert f'data-id="{shipment.id}"' not in browser.get("/logistics", params={"status": "planned"}).text
        assert f'data-id="{shipment.id}"' in browser.get("/logistics", params={"q": "COSU6312345670"}).text

    def test_timeline_shows_events_in_time_order(self, browser, shipment):
        page = browser.get(f"/logistics/{shipment.id}/timeline").text
        codes = re.findall(r'data-code="(\w+)"', page)
        assert codes == ["DEPA", "HOLD", "ARRI"]

    def test_viewer_sees_no_write_actions(self, app, world, shipment):
        c = TestClient(app)
        page_login(c, world.a.users["viewer"])
        assert 'data-action="new-shipment"' not in c.get("/logistics").text
        assert c.get("/logistics/new").status_code == 403


class TestForm:
    def test_create_from_the_form_with_errors_first(self, browser, db, world):
        decl = submitted_9810(db, world)
        form = browser.get("/logistics/new").text
        token = csrf_from(form)
        rows = dict(re.findall(r'name="lines-(\d+)-declaration_line_id" value="([0-9a-f-]+)"', form))
        decl_ids = dict(re.findall(r'name="lines-(\d+)-declaration_id" value="([0-9a-f-]+)"', form))
        assert len(rows) == 2 and set(decl_ids.values()) == {str(decl.id)}
        data = {"csrf_token": token, "warehouse_id": str(world.operator.warehouse.id), "bl_no": "COSU6312345670",
                "legs-0-mode": "sea", "legs-0-from_locode": "CNSHA", "legs-0-to_locode": "USLAX",
                "legs-0-planned_departure": "2026-03-02T08:00", "legs-0-planned_arrival": "2026-03-16T08:00",
                "legs-1-mode": "", "legs-1-from_locode": "", "legs-1-to_locode": "",
                "containers-0-container_no": "CSQU3054384", "containers-1-container_no": "",
                "lines-0-carry": "1", "lines-0-declaration_id": decl_ids["0"],
                "lines-0-declaration_line_id": rows["0"], "lines-0-qty": "501",
                "lines-1-declaration_id": decl_ids["1"], "lines-1-declaration_line_id": rows["1"]}
        r = browser.post("/logistics", data=data)
        assert r.status_code == 422
        assert 'data-error-for="containers-0-container_no"' in r.text
        assert f'data-error-for="line-{rows["0"]}-qty"' in r.text
        assert 'value="CSQU3054384"' in r.text and 'value="501"' in r.text  # what was typed stays
        data.update({"containers-0-container_no": "CSQU3054383", "lines-0-qty": "250", "lines-1-carry": "1"})
        r = browser.post("/logistics", data=data, follow_redirects=False)
        assert r.status_code == 303, r.text[:1000]
        loaded = load(db, world.a, uuid.UUID(r.headers["location"].rsplit("/", 1)[1]))
        assert sorted(c.line.qty for c in loaded.lines) == [120, 250]
        assert loaded.legs[0].planned_arrival.isoformat() == "2026-03-16T00:00:00+00:00"  # Beijing 08:00

    def test_edit_after_departure_keeps_the_goods(self, browser, db, world, shipment):
        form = browser.get(f"/logistics/{shipment.id}/edit").text
        assert 'id="lines-fixed"' in form
        r = browser.post(f"/logistics/{shipment.id}/edit", follow_redirects=False, data={
            "csrf_token": csrf_from(form), "warehouse_id": str(world.operator.warehouse.id), "reference": "PO-9",
            "legs-0-mode": "sea", "legs-0-from_locode": "CNSHA", "legs-0-to_locode": "USONT"})
        assert r.status_code == 303
        loaded = load(db, world.a, shipment.id)
        assert loaded.shipment.reference == "PO-9" and len(loaded.lines) == 2 and len(loaded.legs) == 1


class TestRecordEvent:
    def test_recording_twice_records_once(self, browser, db, world, shipment):
        page = browser.get(f"/logistics/{shipment.id}/timeline").text
        event_id = re.search(r'name="event_id" value="([0-9a-f-]+)"', page).group(1)
        created = re.search(r'name="event_created_at" value="([^"]+)"', page).group(1)
        data = {"csrf_token": csrf_from(page), "event_id": event_id, "event_created_at": created,
                "classifier": "ACT", "event_type": "SHIPMENT",
                "event_code": "RELS", "event_time": "2026-03-05T10:00"}
        for _ in range(2):
            assert browser.post(f"/logistics/{shipment.id}/events", data=data, follow_redirects=False).status_code \
                == 303
        assert load(db, world.a, shipment.id).status == "departed"  # the hold is released
        bad = browser.post(f"/logistics/{shipment.id}/events", data={**data, "event_id": "", "location": "XX1"})
        assert bad.status_code == 422 and "UN/LOCODE" in bad.text


class TestImportPage:
    def test_errors_are_listed_and_nothing_is_applied(self, browser, db, world, shipment):
        token = csrf_from(browser.get("/logistics/events/import").text)
        data = "事件编号,头程运单号,事件创建时间,事件时间,类别,事件类型,事件代码,地点\n" \
               f"3f0c6a54-1111-4aaa-8bbb-000000000001,{shipment.number},2026-03-20T08:00:00Z,2026-03-20T08:00:00Z," \
               "ACT,TRANSPORT,ARRI,USZZ0\n"
        r = browser.post("/logistics/events/import", data={"csrf_token": token},
                         files={"file": ("e.csv", data.encode(), "text/csv")})
        assert r.status_code == 422 and 'id="import-errors"' in r.text and "USZZ0" in r.text
        ok = browser.post("/logistics/events/import", data={"csrf_token": token},
                          files={"file": ("e.csv", data.replace("USZZ0", "USONT").encode(), "text/csv")})
        assert ok.status_code == 200 and 'id="import-result"' in ok.text
        assert load(db, world.a, shipment.id).status == "arrived"


def test_another_tenants_shipment_pages_are_not_found(app, world, shipment):
    c = TestClient(app)
    page_login(c, world.b.users["admin"])
    for url in (f"/logistics/{shipment.id}", f"/logistics/{shipment.id}/timeline", f"/logistics/{shipment.id}/edit"):
        r = c.get(url)
        assert r.status_code == 404 and shipment.number not in r.text
