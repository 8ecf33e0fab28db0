"""Warehouse pages in a browser's shoes: the list filters, sorts, pages and exports; the form shows its errors."""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.factories import PASSWORD, csrf_from, make_enterprise, make_warehouse, page_login
from tradeloop.identity import service as identity
from tradeloop.identity.models import Role
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse.models import Warehouse

ROW_CODE = re.compile(r'<td><a href="/warehouses/[0-9a-f-]{36}">([^<]+)</a></td>')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORM = {"code": "DE-BRV-1", "name_zh": "不来梅仓", "name_en": "Bremerhaven", "country": "DE",
        "address": "Am Containerterminal 1, Bremerhaven", "unlocode": "DEBRV", "area_m2": "3,200.5",
        "tenure": "leased", "lease_start": "2024-03-01", "lease_end": "2029-02-28", "operator_uscc": "",
        "operator_name": "Weser Logistik GmbH", "contact": ""}


@dataclass
class Tenants:
    a: object
    b: object


@pytest.fixture
def tenants(db) -> Tenants:
    """Two exporters, an admin user each ("a-admin", "b-admin") and some warehouses:

    a: A-WH-1 (US, owned), DE-HAM-1 (DE, leased), DE-FRA-1 (DE, owned); b: B-HAM-1 (DE, leased, "Hamburg")."""
    system = system_principal()
    with db.transaction() as s:
        a = make_enterprise(s, kind="manufacturer", name="甲企业")
        b = make_enterprise(s, kind="trader", name="乙企业")
        for ent, username in ((a, "a-admin"), (b, "b-admin")):
            user = identity.create_user(s, principal=system, username=username, display_name=username,
                                        password=PASSWORD)
            identity.grant_membership(s, principal=system, user=user, enterprise_id=ent.id, role=Role.ADMIN)
        make_warehouse(s, a, code="A-WH-1")
        make_warehouse(s, a, code="DE-HAM-1", country="DE", unlocode="DEHAM", name_zh="汉堡仓",
                       name_en="Hamburg warehouse", address="Hafenstraße 1, Hamburg", tenure="leased",
                       lease_start=date(2024, 1, 1), lease_end=date(2027, 12, 31))
        make_warehouse(s, a, code="DE-FRA-1", country="DE", unlocode="DEFRA", name_zh="法兰克福仓",
                       name_en="Frankfurt warehouse", address="Cargo City Süd, Frankfurt")
        make_warehouse(s, b, code="B-HAM-1", country="DE", unlocode="DEHAM", name_zh="乙汉堡仓",
                       name_en="Hamburg B", address="Hamburg", tenure="leased",
                       lease_start=date(2024, 1, 1), lease_end=date(2025, 12, 31))
    return Tenants(a, b)


def logged_in(client, username="a-admin"):
    r = page_login(client, username)
    assert r.status_code == 303, r.text
    return client


def codes(page: str) -> list[str]:
    return ROW_CODE.findall(page)


def form_values(page: str) -> dict[str, str]:
    """What a browser would post from the warehouse form as rendered: inputs' values and selected options."""
    values = {name: html.unescape(value) for name, value in re.findall(
        r'<input id="f-(\w+)" name="\w+" type="\w+" value="([^"]*)"', page)}
    for name, body in re.findall(r'<select id="f-(\w+)"[^>]*>([\s\S]*?)</select>', page):
        selected = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = selected.group(1) if selected else ""
    values["csrf_token"] = csrf_from(page)
    return values


def warehouse_count(db, enterprise) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(Warehouse).where(Warehouse.enterprise_id == enterprise.id))


def add_many(db, enterprise, prefix: str, n: int) -> list[str]:
    with db.transaction() as s:
        return [make_warehouse(s, enterprise, code=f"{prefix}-{i:02d}", unlocode=None).code for i in range(1, n + 1)]


class TestListPage:
    def test_needs_a_login(self, client, tenants):
        r = client.get("/warehouses?q=x", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")

    def test_shows_own_warehouses_only(self, client, tenants):
        r = logged_in(client).get("/warehouses")
        assert r.status_code == 200
        assert codes(r.text) == ["A-WH-1", "DE-FRA-1", "DE-HAM-1"]  # default sort: code

    def test_filters(self, client, tenants):
        logged_in(client)
        cases = {
            "q=hamburg": ["DE-HAM-1"],  # matches the English name and the address; b's B-HAM-1 stays hidden
            "q=fra": ["DE-FRA-1"],
            "q=angeles": ["A-WH-1"],  # the address
            "q=harbor+3pl": ["A-WH-1", "DE-FRA-1", "DE-HAM-1"],  # the operator
            "q=%E6%B3%95%E5%85%B0": ["DE-FRA-1"],  # 法兰, the Chinese name
            "country=DE": ["DE-FRA-1", "DE-HAM-1"],
            "country=de&tenure=leased": ["DE-HAM-1"],
            "tenure=owned": ["A-WH-1", "DE-FRA-1"],
            "country=GB": [],
            "q=hamburg&tenure=owned": [],
        }
        for query, expected in cases.items():
            r = client.get(f"/warehouses?{query}")
            assert r.status_code == 200, query
            assert codes(r.text) == expected, query
        assert 'value="hamburg"' in client.get("/warehouses?q=hamburg").text  # the filter stays filled in

    def test_sorts(self, client, tenants):
        logged_in(client)
        assert codes(client.get("/warehouses?sort=code&desc=1").text) == ["DE-HAM-1", "DE-FRA-1", "A-WH-1"]
        assert codes(client.get("/warehouses?sort=country").text)[-1] == "A-WH-1"  # DE before US
        assert codes(client.get("/warehouses?sort=tenure").text)[0] == "DE-HAM-1"  # "leased" sorts before "owned"
        # An unknown sort key falls back to the code.
        assert codes(client.get("/warehouses?sort=drop+table").text) == ["A-WH-1", "DE-FRA-1", "DE-HAM-1"]

    def test_pages(self, client, tenants, db):
        made = add_many(db, tenants.a, "PG", 25)
        logged_in(client)
        first = client.get("/warehouses?q=PG-&per_page=20")
        second = client.get("/warehouses?q=PG-&per_page=20&page=2")
        assert codes(first.text) == made[:20] and codes(second.text) == made[20:]
        assert 'data-page="next"' in first.text and 'data-page="next"' not in second.text
        assert 'data-page="prev"' in second.text
        assert codes(client.get("/warehouses?q=PG-&per_page=50").text) == made
        # Descending pages run on from each other without overlap.
        desc = [*codes(client.get("/warehouses?q=PG-&sort=code&desc=1&page=1").text),
                *codes(client.get("/warehouses?q=PG-&sort=code&desc=1&page=2").text)]
        assert desc == made[::-1]
        # Page sizes outside the offered choices fall back to 20; a page past the end shows the last page.
        assert len(codes(client.get("/warehouses?q=PG-&per_page=5").text)) == 20
        assert codes(client.get("/warehouses?q=PG-&page=99").text) == made[20:]

    def test_search_takes_underscore_literally(self, client, tenants, db):
        with db.transaction() as s:
            make_warehouse(s, tenants.a, code="US_1", unlocode=None)
            make_warehouse(s, tenants.a, code="US-1", unlocode=None)
        logged_in(client)
        assert codes(client.get("/warehouses?q=US_1").text) == ["US_1"]
        assert codes(client.get("/warehouses?q=_").text) == ["US_1"]

    def test_a_malformed_page_number_is_not_a_server_error(self, app, tenants):
        with TestClient(app, raise_server_exceptions=False) as c:
            logged_in(c)
            for query in ("page=abc", "per_page=lots"):
                r = c.get(f"/warehouses?{query}")
                assert r.status_code < 500, query


class TestExportXlsx:
    def _sheet(self, response):
        assert response.status_code == 200
        assert response.headers["content-type"] == XLSX
        assert "warehouses.xlsx" in response.headers["content-disposition"]
        ws = load_workbook(io.BytesIO(response.content), read_only=True).active
        return [list(r) for r in ws.iter_rows(values_only=True)]

    def test_rows_match_the_filtered_list(self, client, tenants):
        logged_in(client)
        for query in ("", "country=DE", "q=hamburg", "tenure=owned", "country=GB"):
            listed = codes(client.get(f"/warehouses?{query}").text)
            header, *rows = self._sheet(client.get(f"/warehouses.xlsx?{query}"))
            assert len(header) == 12
            assert [r[0] for r in rows] == listed, query

    def test_values_of_a_row(self, client, tenants):
        logged_in(client)
        _header, *rows = self._sheet(client.get("/warehouses.xlsx?q=hamburg"))
        (row,) = rows
        assert row[:8] == ["DE-HAM-1", "汉堡仓", "Hamburg warehouse", "Harbor 3PL", "DE", "Hafenstraße 1, Hamburg",
                           "DEHAM", 1000]
        assert row[8] == "leased"
        assert [v.date() if isinstance(v, datetime) else v for v in row[9:11]] == [date(2024, 1, 1),
                                                                                   date(2027, 12, 31)]

    def test_export_ignores_paging(self, client, tenants, db):
        made = add_many(db, tenants.a, "PG", 25)
        logged_in(client)
        _header, *rows = self._sheet(client.get("/warehouses.xlsx?q=PG-&page=2&per_page=20"))
        assert [r[0] for r in rows] == made

    def test_export_holds_no_other_tenants_rows(self, client, tenants):
        logged_in(client, "b-admin")
        _header, *rows = self._sheet(client.get("/warehouses.xlsx"))
        assert [r[0] for r in rows] == ["B-HAM-1"]


class TestCreateWarehousePage:
    def _form(self, client):
        page = client.get("/warehouses/new")
        assert page.status_code == 200
        return csrf_from(page.text)

    def test_registers_and_redirects_to_the_detail(self, client, tenants, db):
        logged_in(client)
        r = client.post("/warehouses", data={**FORM, "csrf_token": self._form(client)}, follow_redirects=False)
        assert r.status_code == 303, r.text
        assert re.fullmatch(r"/warehouses/[0-9a-f-]{36}", r.headers["location"])
        detail = client.get(r.headers["location"])
        assert detail.status_code == 200 and "DE-BRV-1" in detail.text and "不来梅仓" in detail.text
        with db.transaction(write=False) as s:
            w = s.scalar(select(Warehouse).where(Warehouse.code == "DE-BRV-1"))
        assert (w.enterprise_id, str(w.area_m2), w.lease_end) == (tenants.a.id, "3200.50", date(2029, 2, 28))

    def test_invalid_input_re_renders_the_form_with_errors(self, client, tenants, db):
        logged_in(client)
        bad = {**FORM, "code": "", "country": "CN", "unlocode": "DEBRV", "lease_start": "", "lease_end": ""}
        r = client.post("/warehouses", data={**bad, "csrf_token": self._form(client)}, follow_redirects=False)
        assert r.status_code == 422
        assert 'id="warehouse-form"' in r.text
        for name in ("code", "country", "lease_start", "lease_end"):
            assert f'data-error-for="{name}"' in r.text, name
        assert 'data-error-for="name_zh"' not in r.text
        assert "海外仓应位于境外" in r.text  # Chinese is the default language
        assert 'value="不来梅仓"' in r.text and 'value="Weser Logistik GmbH"' in r.text  # nothing typed is lost
        assert warehouse_count(db, tenants.a) == 3

    def test_unparseable_date_and_number_are_field_errors(self, client, tenants, db):
        logged_in(client)
        for over, name in (({"lease_start": "01.03.2024"}, "lease_start"), ({"area_m2": "big"}, "area_m2")):
            r = client.post("/warehouses", data={**FORM, **over, "csrf_token": self._form(client)})
            assert r.status_code == 422, over
            assert f'data-error-for="{name}"' in r.text, over
        assert warehouse_count(db, tenants.a) == 3

    def test_non_finite_area_is_a_field_error(self, app, tenants, db):
        with TestClient(app, raise_server_exceptions=False) as c:
            logged_in(c)
            r = c.post("/warehouses", data={**FORM, "area_m2": "NaN", "csrf_token": self._form(c)})
            assert r.status_code == 422
            assert 'data-error-for="area_m2"' in r.text

    def test_all_errors_are_shown_at_once(self, client, tenants):
        logged_in(client)
        r = client.post("/warehouses", data={**FORM, "area_m2": "big", "code": "", "country": "CN",
                                             "csrf_token": self._form(client)})
        assert r.status_code == 422
        for name in ("area_m2", "code", "country"):
            assert f'data-error-for="{name}"' in r.text, name

    def test_without_the_csrf_token_it_is_refused(self, client, tenants, db):
        logged_in(client)
        self._form(client)
        assert client.post("/warehouses", data=FORM).status_code == 403
        assert client.post("/warehouses", data={**FORM, "csrf_token": "forged"}).status_code == 403
        assert warehouse_count(db, tenants.a) == 3


class TestEditWarehousePage:
    def _linked(self, db, tenants):
        with db.transaction() as s:
            operator = make_enterprise(s, kind="warehouse", name="丙海外仓")
            w = make_warehouse(s, tenants.a, code="US-ONT-1", unlocode="USONT", operator_uscc=operator.uscc)
        assert w.operator_enterprise_id == operator.id
        return w, operator

    def test_edit_changes_the_field_and_keeps_the_rest(self, client, tenants, db):
        w, _operator = self._linked(db, tenants)
        logged_in(client)
        values = form_values(client.get(f"/warehouses/{w.id}/edit").text)
        assert (values["code"], values["country"], values["tenure"]) == ("US-ONT-1", "US", "owned")
        r = client.post(f"/warehouses/{w.id}/edit", data={**values, "name_zh": "安大略仓"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/warehouses/{w.id}"
        with db.transaction(write=False) as s:
            stored = s.get(Warehouse, (tenants.a.id, w.id))
        assert (stored.name_zh, stored.code, stored.unlocode, stored.area_m2) == ("安大略仓", "US-ONT-1", "USONT", 1000)

    def test_invalid_edit_re_renders_and_changes_nothing(self, client, tenants, db):
        w, _operator = self._linked(db, tenants)
        logged_in(client)
        values = form_values(client.get(f"/warehouses/{w.id}/edit").text)
        r = client.post(f"/warehouses/{w.id}/edit", data={**values, "name_zh": "新名", "unlocode": "DEHAM"})
        assert r.status_code == 422 and 'data-error-for="unlocode"' in r.text
        with db.transaction(write=False) as s:
            assert s.get(Warehouse, (tenants.a.id, w.id)).name_zh == "洛杉矶仓"

    def test_edit_keeps_the_platform_operator_link(self, client, tenants, db):
        w, operator = self._linked(db, tenants)
        logged_in(client)
        values = form_values(client.get(f"/warehouses/{w.id}/edit").text)
        assert values["operator_name"] == "丙海外仓"
        r = client.post(f"/warehouses/{w.id}/edit", data={**values, "contact": "ops@example.com"},
                        follow_redirects=False)
        assert r.status_code == 303
        with db.transaction(write=False) as s:
            stored = s.get(Warehouse, (tenants.a.id, w.id))
        assert stored.contact == "ops@example.com"
        assert stored.operator_enterprise_id == operator.id


class TestDetailPage:
    def _id(self, db, enterprise, code):
        with db.transaction(write=False) as s:
            return s.scalar(select(Warehouse.id).where(Warehouse.enterprise_id == enterprise.id,
                                                       Warehouse.code == code))

    def test_owner_sees_the_warehouse(self, client, tenants, db):
        logged_in(client)
        r = client.get(f"/warehouses/{self._id(db, tenants.a, 'DE-HAM-1')}")
        assert r.status_code == 200
        assert "DE-HAM-1" in r.text and 'id="evidence"' in r.text and 'id="filings"' in r.text

    def test_another_tenants_warehouse_is_not_found(self, client, tenants, db):
        logged_in(client, "b-admin")
        wid = self._id(db, tenants.a, "DE-HAM-1")
        for path in (f"/warehouses/{wid}", f"/warehouses/{wid}/edit"):
            r = client.get(path, headers={"Accept": "text/html"})
            assert r.status_code == 404, path
            assert "DE-HAM-1" not in r.text and "汉堡仓" not in r.text

    def test_another_tenant_cannot_edit(self, client, tenants, db):
        logged_in(client, "b-admin")
        wid = self._id(db, tenants.a, "DE-HAM-1")
        token = csrf_from(client.get("/warehouses/new").text)
        r = client.post(f"/warehouses/{wid}/edit", data={**FORM, "code": "DE-HAM-1", "csrf_token": token})
        assert r.status_code == 404
        with db.transaction(write=False) as s:
            assert s.get(Warehouse, (tenants.a.id, wid)).name_zh == "汉堡仓"

    def test_history_shows_changes_to_the_warehouse_and_what_belongs_to_it(self, client, tenants, db):
        logged_in(client)
        wid = self._id(db, tenants.a, "DE-HAM-1")
        page = client.get(f"/warehouses/{wid}")
        token = csrf_from(page.text)
        client.post(f"/warehouses/{wid}/filings", data={"csrf_token": token, "customs_office": "2248",
                                                        "modes": "9810", "filed_on": "2023-03-01"})
        client.post(f"/warehouses/{wid}/evidence", data={"csrf_token": token, "kind": "lease"},
                    files={"file": ("lease.pdf", b"%PDF-1.4\n%history\n", "application/pdf")})
        history = client.get(f"/warehouses/{wid}").text.split('id="history"', 1)[1]
        for label in ("海外仓已登记", "海关备案已记录", "证明文件已上传"):
            assert label in history, label
