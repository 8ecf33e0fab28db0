"""This month's story, on top of the year: the silk maker's declarations of the current month — the
first US one sailed, received with one carton short and sold through three outbound orders (one returned
and restocked), a German one under inspection and still at sea, one rejected and waiting for a correction,
and a draft. Answered by the customs simulator on today's clock.
"""

from __future__ import annotations

from datetime import date

from tradeloop.config import Settings


def demo_customs(db, settings: Settings, silk, us_warehouse, de_warehouse) -> int:
    """Export declarations of the silk maker, answered by the customs simulator through the exchange
    folders: closed and summarised (with an export declaration number), under inspection, rejected and
    waiting for a correction, and a draft."""
    from tradeloop.customs import gateway, service
    from tradeloop.customs.gateway import ExchangeFolders, exchange_config
    from tradeloop.customs.simulator import CustomsSimulator

    folders = ExchangeFolders.from_settings(settings).ensure()
    simulator = CustomsSimulator(folders)
    config = exchange_config(settings)
    common = {"mode": "9810", "logistics_code": "3205980777", "logistics_name": "苏州吴江远航国际货运代理有限公司",
              "customs_code": "2305", "port_code": "2248", "traf_mode": "2", "currency": "USD", "wrap_type": "2"}
    plans = [
        (us_warehouse, "US", "USLA", "COSU6312001", "SZ2611001", "", [("SC-MUL-90", 1200, "9.80"),
                                                                     ("BL-CREPE-M", 300, "31.50")]),
        (us_warehouse, "US", "USLA", "COSU6312002", "SZ2611002", "", [("PC-22MM", 800, "12.40")]),
        (de_warehouse, "DE", "DEHA", "MSCU7781003", "SZ2611003", "SIM:INSPECT", [("SC-MUL-90", 600, "10.20")]),
        (de_warehouse, "DE", "DEHA", "MSCU7781004", "SZ2611004", "SIM:REJECT", [("BL-CREPE-M", 200, "33.00")]),
    ]
    ids = []
    with db.transaction() as s:
        for warehouse, country, pod, bill, waybill, note, lines in plans:
            decl = service.create_declaration(s, principal=silk, data={
                **common, "warehouse_id": warehouse, "country": country, "pod": pod, "bill_no": bill,
                "logistics_no": waybill, "ie_date": date.today().isoformat(), "pack_no": 20 + len(ids),
                "traf_name": "COSCO SHIPPING ARIES" if country == "US" else "MSC GULSUN", "voyage_no": "045E",
                "note": f"demo {note}".strip(),
                "lines": [{"sku": sku, "qty": str(qty), "price": price} for sku, qty, price in lines]})
            ids.append(decl.id)
        for declaration_id in ids:
            service.submit_declaration(s, principal=silk, declaration_id=declaration_id, config=config)
        service.create_declaration(s, principal=silk, data={
            **common, "warehouse_id": us_warehouse, "country": "US", "pod": "USLA", "logistics_no": "SZ2611005",
            "ie_date": date.today().isoformat(), "pack_no": 8, "note": "demo draft",
            "lines": [{"sku": "PC-22MM", "qty": "150", "price": "12.40"}]})
    gateway.dispatch(db, folders)
    simulator.run_once()
    gateway.poll(db, folders)
    month = date.today().strftime("%Y-%m")
    with db.transaction() as s:
        service.create_summaries(s, principal=silk, month=month, config=config)
    gateway.dispatch(db, folders)
    simulator.run_once()
    gateway.poll(db, folders)
    demo_logistics_and_stock(db, silk, ids[0], ids[2])
    return len(ids) + 1


def demo_logistics_and_stock(db, silk, us_declaration, de_declaration) -> None:
    """The first US declaration travels by sea to Ontario (tracking events), is received with one carton
    short, and sells through outbound orders (one returned and restocked); the German one is still at sea,
    its estimated arrival later than planned."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from tradeloop.customs.repository import DeclarationRepository
    from tradeloop.logistics import events
    from tradeloop.logistics import service as logistics
    from tradeloop.warehouse import stock_service as stock
    from tradeloop.warehouse.stock_schemas import (
        InboundCreate,
        InspectIn,
        OutboundCreate,
        ReceiveIn,
        ReturnCreate,
        ShipIn,
    )

    now = datetime.now(UTC)
    sailed = now - timedelta(days=20)
    with db.transaction() as s:
        decls = DeclarationRepository(s, silk)
        us, de = decls.get(us_declaration), decls.get(de_declaration)
        legs = [{"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX", "carrier_name": "COSCO",
                 "carrier_scac": "COSU", "vessel_name": "COSCO SHIPPING ARIES", "voyage_no": "045E",
                 "distance_km": "10470", "planned_departure": sailed.isoformat(),
                 "planned_arrival": (sailed + timedelta(days=14)).isoformat()},
                {"mode": "road", "from_locode": "USLAX", "to_locode": "USONT",
                 "planned_departure": (sailed + timedelta(days=15)).isoformat(),
                 "planned_arrival": (sailed + timedelta(days=16)).isoformat()}]
        to_us = logistics.create_shipment(s, principal=silk, data={
            "warehouse_id": str(us.warehouse_id), "bl_no": us.bill_no, "legs": legs,
            "containers": [{"container_no": "CSQU3054383", "seal_no": "CN2611001", "size_type": "45G1"}],
            "lines": [{"declaration_id": str(us.id)}]})
        de_legs = [{"mode": "sea", "from_locode": "CNSHA", "to_locode": "DEHAM", "carrier_name": "MSC",
                    "carrier_scac": "MSCU", "vessel_name": "MSC GULSUN", "voyage_no": "FE612W", "distance_km": "19500",
                    "planned_departure": (now - timedelta(days=25)).isoformat(),
                    "planned_arrival": (now - timedelta(days=2)).isoformat()}]
        to_de = logistics.create_shipment(s, principal=silk, data={
            "warehouse_id": str(de.warehouse_id), "bl_no": de.bill_no, "legs": de_legs,
            "containers": [{"container_no": "MSCU6639870", "seal_no": "CN2611003", "size_type": "42G1"}],
            "lines": [{"declaration_id": str(de.id)}]})

        def event(shipment, code, at, where, classifier="ACT", kind="TRANSPORT"):
            return {"event_id": str(uuid.uuid4()), "shipment_number": shipment.number,
                    "event_created_at": min(at, now).isoformat(), "event_time": at.isoformat(),
                    "classifier": classifier, "event_type": kind, "event_code": code, "location": where}

        events.apply_events(s, principal=silk, events=[
            event(to_us, "GTOT", sailed - timedelta(days=1), "CNSHA", kind="EQUIPMENT"),
            event(to_us, "DEPA", sailed, "CNSHA"), event(to_us, "ARRI", sailed + timedelta(days=15), "USLAX"),
            event(to_us, "GTIN", sailed + timedelta(days=16), "USONT", kind="EQUIPMENT"),
            event(to_de, "DEPA", now - timedelta(days=24), "CNSHA"),
            event(to_de, "ARRI", now + timedelta(days=3), "DEHAM", classifier="EST")])
        inbound = stock.create_inbound(s, principal=silk, data=InboundCreate(shipment_id=to_us.id))
        counted = [{"line_no": 1, "received_qty": 1180, "damaged_qty": 5, "reason": "外箱破损5条，短少15条"},
                   {"line_no": 2, "received_qty": 300}]
        stock.receive_inbound(s, principal=silk, inbound_id=inbound.id, data=ReceiveIn(close=True, lines=counted))
        ship_to = [("Emily Carter", "US", "12 Oak St, Austin, TX", "78701"),
                   ("Liam Johnson", "US", "88 Pine Ave, Portland, OR", "97201"),
                   ("Sophia Martinez", "US", "5 Bay Rd, Miami, FL", "33101")]
        orders = []
        for n, (name, country, address, postcode) in enumerate(ship_to, start=1):
            order = stock.create_outbound(s, principal=silk, data=OutboundCreate(
                warehouse_id=us.warehouse_id, reference=f"amazon:113-20261{n:02d}", allocate=True,
                ship_to={"name": name, "country": country, "address": address, "postcode": postcode},
                lines=[{"sku": "SC-MUL-90", "qty": 2 * n}, {"sku": "BL-CREPE-M", "qty": 1}]))
            stock.ship_outbound(s, principal=silk, outbound_id=order.id, data=ShipIn(
                carrier="UPS", tracking_no=f"1Z999AA1012345678{n}"))
            orders.append(order)
        back = stock.create_return(s, principal=silk, data=ReturnCreate(outbound_id=orders[0].id, reason="尺寸不合适",
                                                                        lines=[{"sku": "BL-CREPE-M", "qty": 1}]))
        stock.receive_return(s, principal=silk, return_id=back.id)
        stock.inspect_return(s, principal=silk, return_id=back.id, data=InspectIn(lines=[
            {"line_no": 1, "condition": "完好，吊牌齐全", "disposition": "restock"}]))
