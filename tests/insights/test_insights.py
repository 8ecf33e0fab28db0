"""Regulators' aggregates: their region only, and no cell small enough to expose one enterprise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.factories import login, make_enterprise
from tradeloop.insights.service import MIN_CELL, protect


class TestProtect:
    @given(st.lists(st.tuples(st.one_of(st.none(), st.text(min_size=1, max_size=3)),
                              st.integers(min_value=1, max_value=20))))
    def test_no_shown_cell_is_small_and_nothing_is_double_counted(self, rows):
        shown = protect(rows)
        assert all(b.count >= MIN_CELL for b in shown)
        assert sum(b.count for b in shown) <= sum(n for _k, n in rows)
        assert sum(1 for b in shown if b.key is None) <= 1

    def test_small_buckets_fold_into_other(self):
        shown = protect([("manufacturer", 5), ("trader", 2), ("platform", 1)])
        assert [(b.key, b.count) for b in shown] == [("manufacturer", 5), (None, 3)]
        assert [(b.key, b.count) for b in protect([("manufacturer", 5), ("trader", 2)])] == [("manufacturer", 5)]


class TestOverview:
    def test_region_only_and_small_totals_suppressed(self, client, world, db):
        with db.transaction() as s:  # outside the regulator's city: never counted
            make_enterprise(s, kind="trader", name="杭州企业", province="浙江省", city="杭州市")
        login(client, world.regulator)
        body = client.get("/api/v1/stats/overview").json()
        assert body["region"]["city"] == "苏州市"
        assert body["enterprises_total"] == 3 and not body["suppressed"]
        assert body["enterprises_by_kind"] == [{"key": None, "count": 3}]  # one of each kind: folded
        assert body["enterprises_by_district"] == [{"key": None, "count": 3}]

    def test_a_region_with_one_enterprise_shows_nothing(self, client, world, db):
        from tradeloop.identity import service as identity
        from tradeloop.kit.tenancy import system_principal

        with db.transaction() as s:
            make_enterprise(s, kind="trader", name="宁波企业", province="浙江省", city="宁波市")
            user = identity.create_user(s, principal=system_principal(), username="ningbo", display_name="宁波",
                                        password="a-long-password")
            identity.set_regulator_scope(s, principal=system_principal(), user=user, authority="宁波市商务局",
                                         province="浙江省", city="宁波市")
        login(client, "ningbo", "a-long-password")
        body = client.get("/api/v1/stats/overview").json()
        assert body["suppressed"] and body["enterprises_total"] == 0
        assert body["enterprises_by_kind"] == [] and body["industry_belts"] == []
        page = client.get("/insights")
        assert "不显示其数据" in page.text and "宁波企业" not in page.text
