"""Shipments through the service on SQLite and PostgreSQL: declaration lines within their declared
quantity, field checks, numbering under concurrency, changes and deletion, the audit trail."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.customs.builders import principal_of
from tests.logistics.builders import (
    T0,
    another_9810,
    apply,
    create_shipment,
    event,
    load,
    shipment_body,
    submitted_9810,
)
from tradeloop.audit.models import AuditLog
from tradeloop.customs import service as customs
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.kit.errors import Conflict, NotFound, ValidationFailed
from tradeloop.logistics import service
from tradeloop.logistics.models import Shipment


def fields(exc: ValidationFailed) -> dict[str, str]:
    return {e.field: e.message_en for e in exc.errors}


def refused(db, tenant, body) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        create_shipment(db, tenant, body)
    return fields(info.value)


def declared_lines(db, world, decl):
    with db.transaction(write=False) as s:
        return DeclarationRepository(s, principal_of(world.a)).lines(decl.id)


class TestCreateShipment:
    def test_carries_the_full_quantity_of_every_line_by_default(self, db, world):
        decl = submitted_9810(db, world)
        shipment = create_shipment(db, world.a, shipment_body(world, decl))
        loaded = load(db, world.a, shipment.id)
        assert shipment.number.startswith("SH") and loaded.status == "planned"
        assert [(c.line.item_no, c.line.qty) for c in loaded.lines] == [("SILK-SCARF-01", Decimal(500)),
                                                                        ("SILK-BLOUSE-02", Decimal(120))]
        assert loaded.warehouse.id == world.operator.warehouse.id
        assert [leg.sequence for leg in loaded.legs] == [1, 2] and loaded.legs[0].distance_km == Decimal("10470.5")
        assert [c.container_no for c in loaded.containers] == ["CSQU3054383"]
        assert loaded.shipment.eta == loaded.legs[-1].planned_arrival and loaded.shipment.eta_source == "PLAN"
        assert set(loaded.by_declaration_line()) == {li.id for li in declared_lines(db, world, decl)}

    def test_a_line_splits_over_shipments_but_never_beyond_the_declared_quantity(self, db, world):
        decl = submitted_9810(db, world)
        scarf, blouse = declared_lines(db, world, decl)
        first = create_shipment(db, world.a, shipment_body(world, lines=[
            {"declaration_id": str(decl.id), "declaration_line_id": str(scarf.id), "qty": "300"}]))
        errors = refused(db, world.a, shipment_body(world, lines=[
            {"declaration_id": str(decl.id), "declaration_line_id": str(scarf.id), "qty": "200.00001"}]))
        assert errors == {"lines[0].qty": "exceeds what is left to ship of line 1: 200 of 500 declared"}
        second = create_shipment(db, world.a, shipment_body(world, lines=[{"declaration_id": str(decl.id)}]))
        assert {c.line.item_no: c.line.qty for c in load(db, world.a, second.id).lines} == {
            "SILK-SCARF-01": Decimal(200), "SILK-BLOUSE-02": Decimal(120)}
        errors = refused(db, world.a, shipment_body(world, lines=[{"declaration_id": str(decl.id)}]))
        assert errors == {"lines": "nothing is left to ship on these declarations"}
        # the first shipment may grow only into what the second left
        with db.transaction() as s, pytest.raises(ValidationFailed):
            service.update_shipment(s, principal=principal_of(world.a), shipment_id=first.id, data={"lines": [
                {"declaration_id": str(decl.id), "declaration_line_id": str(blouse.id), "qty": "1"}]})

    def test_declarations_not_with_customs_or_of_another_tenant_are_refused(self, db, world):
        from tests.customs.builders import add_products, body_9810, create

        add_products(db, world.a)
        draft = create(db, world.a, body_9810(world))
        errors = refused(db, world.a, shipment_body(world, draft))
        assert "only declarations submitted to customs" in errors["lines[0].declaration_id"]
        with db.transaction() as s:
            customs.cancel_declaration(s, principal=principal_of(world.a), declaration_id=draft.id, reason="取消",
                                       config=customs.ExchangeConfig())
        assert "lines[0].declaration_id" in refused(db, world.a, shipment_body(world, draft))
        decl = another_9810(db, world)
        assert refused(db, world.b, shipment_body(world, decl, warehouse_id=None)) == {
            "lines[0].declaration_id": "is not a declaration of your enterprise"}

    def test_every_field_is_checked_at_once(self, db, world):
        errors = refused(db, world.a, {
            "warehouse_id": str(world.b.warehouse.id), "bl_no": "B/L?", "awb_no": "176-12345674",
            "containers": [{"container_no": "CSQU3054384"}, {"container_no": "MSCU6639870", "size_type": "45G"},
                           {"container_no": "MSCU6639870"}],
            "legs": [{"mode": "boat", "from_locode": "CNSH1", "to_locode": "XXABC", "carrier_scac": "C0SU",
                      "planned_departure": "2026-03-05T08:00", "planned_arrival": "2026-03-01T08:00"},
                     {"mode": "VESSEL", "from_locode": "USLAX", "to_locode": "USLAX", "flight_no": "X"}]})
        assert set(errors) == {"warehouse_id", "bl_no", "awb_no", "containers[0].container_no",
                               "containers[1].size_type", "containers[2].container_no", "legs[0].mode",
                               "legs[0].from_locode", "legs[0].to_locode", "legs[0].carrier_scac",
                               "legs[0].planned_arrival", "legs[1].to_locode", "legs[1].flight_no"}
        assert "check digit" in errors["containers[0].container_no"] and "check digit" in errors["awb_no"]
        assert errors["containers[2].container_no"] == "appears twice"

    def test_a_well_formed_unlocode_the_reference_table_does_not_list_is_accepted(self, db, world):
        shipment = create_shipment(db, world.a, shipment_body(world, legs=[
            {"mode": "VESSEL", "from_locode": "cntao", "to_locode": "DEBRV"}], awb_no="17612345675"))
        loaded = load(db, world.a, shipment.id)
        assert (loaded.legs[0].mode, loaded.legs[0].from_locode) == ("sea", "CNTAO")
        assert loaded.shipment.awb_no == "176-12345675"

    def test_a_warehouse_the_exporter_is_a_client_of_is_allowed_and_audited(self, db, world):
        shipment = create_shipment(db, world.a, shipment_body(world))
        with db.transaction(write=False) as s:
            row = s.scalar(select(AuditLog).where(AuditLog.entity_id == str(shipment.id)))
        assert row.action == "logistics.shipment.create" and row.after["containers"][0]["container_no"] == \
            "CSQU3054383"


class TestNumbering:
    def test_numbers_are_never_duplicated_under_concurrent_creation(self, db, world):
        barrier, errors = threading.Barrier(8), []

        def make():
            barrier.wait()
            try:
                create_shipment(db, world.a, shipment_body(world))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with db.transaction(write=False) as s:
            numbers = list(s.scalars(select(Shipment.number)))
        assert len(numbers) == len(set(numbers)) == 8
        assert sorted(int(n[-4:]) for n in numbers) == list(range(1, 9))

    def test_another_enterprise_counts_on_its_own(self, db, world):
        a, b = create_shipment(db, world.a, shipment_body(world)), create_shipment(db, world.b, {})
        assert a.number == b.number


class TestUpdateAndDelete:
    def test_change_the_plan_then_the_goods_are_fixed_after_departure(self, db, world):
        decl = submitted_9810(db, world)
        shipment = create_shipment(db, world.a, shipment_body(world, decl))
        with db.transaction() as s:
            service.update_shipment(s, principal=principal_of(world.a), shipment_id=shipment.id,
                                    data={"reference": "PO-77", "containers": []})
        loaded = load(db, world.a, shipment.id)
        assert loaded.shipment.reference == "PO-77" and loaded.containers == [] and len(loaded.lines) == 2
        apply(db, world.a, [event(shipment, "DEPA", T0, location="CNSHA")])
        with db.transaction() as s, pytest.raises(Conflict):
            service.update_shipment(s, principal=principal_of(world.a), shipment_id=shipment.id,
                                    data={"lines": []})
        with db.transaction() as s, pytest.raises(Conflict):
            service.delete_shipment(s, principal=principal_of(world.a), shipment_id=shipment.id)

    def test_an_unchanged_save_writes_no_audit_row(self, db, world):
        shipment = create_shipment(db, world.a, shipment_body(world))
        with db.transaction() as s:
            before = s.scalar(select(func.count()).select_from(AuditLog))
            service.update_shipment(s, principal=principal_of(world.a), shipment_id=shipment.id,
                                    data=shipment_body(world))
            assert s.scalar(select(func.count()).select_from(AuditLog)) == before

    def test_delete_frees_the_quantities(self, db, world):
        decl = submitted_9810(db, world)
        shipment = create_shipment(db, world.a, shipment_body(world, decl))
        with db.transaction() as s:
            service.delete_shipment(s, principal=principal_of(world.a), shipment_id=shipment.id)
        with pytest.raises(NotFound):
            load(db, world.a, shipment.id)
        assert len(load(db, world.a, create_shipment(db, world.a, shipment_body(world, decl)).id).lines) == 2


class TestInboundView:
    def test_the_warehouse_keeper_loads_shipments_addressed_to_it(self, db, world):
        decl = submitted_9810(db, world)
        shipment = create_shipment(db, world.a, shipment_body(world, decl))
        from tradeloop.logistics.repository import ShipmentRepository

        with db.transaction(write=False) as s:
            keeper = ShipmentRepository(s, principal_of(world.operator))
            loaded = keeper.load(shipment.id, inbound=True)
            assert [c.line.qty for c in loaded.lines] == [Decimal(500), Decimal(120)]
            assert [x.id for x in s.scalars(keeper.inbound())] == [shipment.id]
            with pytest.raises(NotFound):
                keeper.load(shipment.id)  # not the operator's own shipment
            with pytest.raises(NotFound):
                ShipmentRepository(s, principal_of(world.b)).load(shipment.id, inbound=True)
