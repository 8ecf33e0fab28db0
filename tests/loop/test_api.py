"""The loop API: per declaration the same numbers as the service, the fulfilment endpoint, the lineage of a
sale, and another tenant's ids (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.customs.builders import principal_of
from tests.factories import bearer
from tests.sales.test_fulfilment import amazon_file, import_file, line_of, two_lots  # noqa: F401 (fixture)
from tradeloop.loop import service as loop


def test_loop_numbers_fulfilment_and_lineage(client, db, world, two_lots, tmp_path):  # noqa: F811
    (d1, _l1), (d2, _l2) = two_lots
    key = world.a.keys["write"]
    import_file(db, world, amazon_file(tmp_path / "o.txt", [
        ("111-0000001-0000001", "2026-02-20", "Shipped", "SILK-SCARF-01", 510, "5100.00", "0"),
        ("111-0000002-0000002", "2026-02-21", "Pending", "SILK-BLOUSE-02", 2, "60.00", "0")]))
    r = client.post("/api/v1/sales/fulfilments", headers=bearer(key),
                    json={"warehouse_id": str(world.operator.warehouse.id), "channel": "amazon"})
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("orders_created", "lines_linked", "units_shipped", "units_allocated")} == \
        {"orders_created": 2, "lines_linked": 2, "units_shipped": 510, "units_allocated": 512}

    body = client.get(f"/api/v1/loop/declarations/{d1.id}", headers=bearer(key)).json()
    with db.transaction(write=False) as s:
        view = loop.one_declaration(s, principal=principal_of(world.a), declaration_id=d1.id)
    assert body["declaration"]["cop_no"] == d1.cop_no
    for api_line, line in zip(body["lines"], view.lines, strict=True):
        for field in ("received", "on_hand", "allocated", "sold", "sold_linked", "returned", "losses"):
            assert api_line[field] == getattr(line, field), field
        assert api_line["sales_value"] == line.sales_value
    scarf, blouse = body["lines"]
    assert (scarf["sold"], scarf["on_hand"], scarf["sales_value"], scarf["sales_value_cny"]) == \
        (500, 0, {"USD": 500000}, None)
    assert scarf["missing_rates"] == ["USD 2026-02-20"]
    assert (blouse["allocated"], blouse["sold"]) == (2, 0)
    assert body["totals"]["sold"] == 500 and body["totals"]["balanced"] is True
    assert sum(scarf["abroad_by_age"].values()) == scarf["on_hand"]

    listed = client.get("/api/v1/loop/declarations", headers=bearer(key), params={"limit": 1}).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = client.get("/api/v1/loop/declarations", headers=bearer(key),
                      params={"cursor": listed["next_cursor"]}).json()
    assert {i["declaration"]["id"] for i in listed["items"] + rest["items"]} == {str(d1.id), str(d2.id)}

    sale = line_of(db, world, "111-0000001-0000001")
    lineage = client.get(f"/api/v1/loop/sales-lines/{sale.id}/lineage", headers=bearer(key)).json()
    assert [(x["cop_no"], x["gnum"], x["qty"], x["state"]) for x in lineage] == \
        [(d1.cop_no, 1, 500, "shipped"), (d2.cop_no, 1, 10, "shipped")]

    other = world.b.keys["write"]
    assert client.get(f"/api/v1/loop/declarations/{d1.id}", headers=bearer(other)).status_code == 404
    assert client.get(f"/api/v1/loop/sales-lines/{sale.id}/lineage", headers=bearer(other)).status_code == 404
    assert client.get("/api/v1/loop/declarations", headers=bearer(other)).json()["items"] == []
    r = client.post("/api/v1/sales/fulfilments", headers=bearer(other),
                    json={"warehouse_id": str(world.operator.warehouse.id)})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "warehouse_id"
