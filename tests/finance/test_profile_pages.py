"""Payout file profile pages (SQLite and PostgreSQL): the list beside the starter layouts, a starter adapted and
saved, edited, refused with the field named, deleted; a viewer sees no buttons and cannot post; another
tenant's profile is 404. The saved profile then reads a payout file through ``import settlement``."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select

from tests.finance.test_pages import client_for, post
from tradeloop.audit.models import AuditLog
from tradeloop.finance import payouts
from tradeloop.finance.payout_models import PayoutProfile
from tradeloop.kit.tenancy import system_principal


def profile(db, world, name: str) -> PayoutProfile | None:
    with db.transaction(write=False) as s:
        return s.scalar(select(PayoutProfile).where(PayoutProfile.enterprise_id == world.a.enterprise.id,
                                                    PayoutProfile.name == name))


def starter_form(c) -> dict:
    """The form as the page pre-fills it from the PingPong starter layout."""
    html = c.get("/finance/payout-profiles/new?start=pingpong").text
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', html))
    form["type_map"] = re.search(r'<textarea id="f-type_map" name="type_map"[^>]*>(.*?)</textarea>', html,
                                 re.S).group(1)
    form["sign_convention"] = re.search(r'name="sign_convention" value="([^"]+)" checked', html).group(1)
    return form


class TestPayoutProfilePages:
    def test_adapt_a_starter_then_import_with_it(self, app, world, db):
        c = client_for(app, world.a.users["admin"])
        page = c.get("/finance/payout-profiles").text
        assert 'data-name="pingpong"' in page and 'data-action="adapt"' in page
        form = starter_form(c)
        assert form["col_payout_id"] == "提现单号" and form["sign_convention"] == "fees_positive"
        assert "提现 = transfer" in form["type_map"]
        form.update(name="pingpong", col_gross="订单金额", type_map=form["type_map"] + "\n平台补贴 = adjustment")
        r = post(c, "/finance/payout-profiles", "/finance/payout-profiles/new", **form)
        assert r.status_code == 303, r.text[:500]
        saved = profile(db, world, "pingpong")
        assert saved.columns["gross"] == "订单金额" and saved.type_map["平台补贴"] == "adjustment"
        assert saved.timezone == "Asia/Shanghai" and saved.date_format == "%Y-%m-%d %H:%M:%S"
        page = c.get("/finance/payout-profiles").text
        assert f'data-id="{saved.id}"' in page
        assert 'id="payout-starters"' in page and 'data-name="pingpong" ><td' not in page  # own copy replaces it
        # The saved profile reads a file written in its layout.
        data = ("提现单号,创建时间,交易类型,订单金额,手续费,到账金额,币种,订单号,流水号\n"
                "W-1,2026-10-02 10:00:00,订单,100.00,1.00,99.00,USD,A-1,R-1\n"
                "W-1,2026-10-02 11:00:00,平台补贴,5.00,0.00,5.00,USD,,R-2\n").encode()
        seller = replace(system_principal(label="tests"), enterprise_id=world.a.enterprise.id)
        with db.transaction() as s:
            result = payouts.import_settlement(s, principal=seller, filename="pp.csv", data=data,
                                               channel="pingpong")
        assert result.payouts == 1
        with db.transaction(write=False) as s:
            from tradeloop.finance.money_models import Payout, PayoutItem

            p = s.scalar(select(Payout).where(Payout.enterprise_id == world.a.enterprise.id))
            kinds = sorted((i.kind, i.amount_minor) for i in s.scalars(select(PayoutItem).where(
                PayoutItem.payout_id == p.id)))
        assert p.total_minor == 10400
        assert kinds == [("adjustment", 500), ("fee", -100), ("principal", 10000)]

    def test_edit_refusal_names_the_field_and_changes_nothing(self, app, world, db):
        c = client_for(app, world.a.users["admin"])
        form = starter_form(c) | {"name": "lianlian-usd"}
        assert post(c, "/finance/payout-profiles", "/finance/payout-profiles/new", **form).status_code == 303
        saved = profile(db, world, "lianlian-usd")
        edit = f"/finance/payout-profiles/{saved.id}/edit"
        bad = form | {"col_date": "", "default_currency": "XYZ"}
        r = post(c, edit, edit, **bad)
        assert r.status_code == 422
        assert 'data-error-for="columns.date"' in r.text and 'data-error-for="default_currency"' in r.text
        bad_types = form | {"type_map": "提现 = transfer\n没有等号的行"}
        r = post(c, edit, edit, **bad_types)
        assert r.status_code == 422 and 'data-error-for="type_map"' in r.text
        wrong_kind = form | {"type_map": "提现 = withdrawal"}
        r = post(c, edit, edit, **wrong_kind)
        assert r.status_code == 422 and "提现" in re.search(r'data-error-for="type_map">(.*?)<', r.text).group(1)
        assert profile(db, world, "lianlian-usd").columns == saved.columns
        r = post(c, edit, edit, **(form | {"timezone": "UTC"}))
        assert r.status_code == 303
        assert profile(db, world, "lianlian-usd").timezone == "UTC"
        with db.transaction(write=False) as s:
            actions = list(s.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(saved.id))
                                     .order_by(AuditLog.id)))
        assert actions == ["finance.payout_profile.create", "finance.payout_profile.update"]
        # The name is the import's --channel: taken names and built-in formats are refused.
        r = post(c, "/finance/payout-profiles", "/finance/payout-profiles/new", **(form | {"name": "amazon"}))
        assert r.status_code == 422 and 'data-error-for="name"' in r.text
        r = post(c, "/finance/payout-profiles", "/finance/payout-profiles/new", **form)
        assert r.status_code == 422 and 'data-error-for="name"' in r.text
        r = post(c, f"/finance/payout-profiles/{saved.id}/delete", "/finance/payout-profiles")
        assert r.status_code == 303 and profile(db, world, "lianlian-usd") is None

    def test_viewer_and_other_tenant(self, app, world, db):
        c = client_for(app, world.a.users["admin"])
        form = starter_form(c) | {"name": "payoneer-eur"}
        assert post(c, "/finance/payout-profiles", "/finance/payout-profiles/new", **form).status_code == 303
        saved = profile(db, world, "payoneer-eur")
        viewer = client_for(app, world.a.users["viewer"])
        page = viewer.get("/finance/payout-profiles")
        assert page.status_code == 200 and f'data-id="{saved.id}"' in page.text
        assert 'data-action="edit"' not in page.text and 'data-action="new-payout-profile"' not in page.text
        assert viewer.get("/finance/payout-profiles/new").status_code == 403
        r = post(viewer, f"/finance/payout-profiles/{saved.id}/delete", "/finance/payout-profiles")
        assert r.status_code == 403 and profile(db, world, "payoneer-eur") is not None
        other = client_for(app, world.b.users["admin"])
        assert other.get(f"/finance/payout-profiles/{saved.id}/edit").status_code == 404
        r = post(other, f"/finance/payout-profiles/{saved.id}/delete", "/finance/payout-profiles")
        assert r.status_code == 404 and profile(db, world, "payoneer-eur") is not None
        assert f'data-id="{saved.id}"' not in other.get("/finance/payout-profiles").text
