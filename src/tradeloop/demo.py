"""The demo: a fresh SQLite database seeded through the real service functions (never raw inserts).

Enterprises, USCCs and people are fictional; each USCC carries a correct GB 32100-2015 check character
over a real administrative division code (320509 苏州市吴江区, 320506 苏州市吴中区, 330106 杭州市西湖区,
310115 上海市浦东新区).
Later issues grow the demo to a whole year of the export loop.
"""

from __future__ import annotations

import shutil
import zlib
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from tradeloop.config import Settings
from tradeloop.enterprises.uscc import check_character

DEMO_MARKER = "TRADELOOP_DEMO"


class DemoError(RuntimeError):
    pass


@dataclass
class DemoLogin:
    username: str
    password: str
    description: str


def fictional_uscc(division: str, org_code: str, kind: str = "91") -> str:
    first17 = f"{kind}{division}{org_code}"
    return first17 + check_character(first17)


SILK_USCC = fictional_uscc("320509", "MA1WJ7K3X")
BAMBOO_USCC = fictional_uscc("330106", "MA2HG5B8Y")
WAREHOUSE_USCC = fictional_uscc("310115", "MA3PD9W4U")

# A one-page PDF, enough to show an evidence file end to end.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def _prepare_dir(settings: Settings) -> None:
    data_dir = settings.data_dir
    db_file = data_dir / "tradeloop.sqlite3"
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / DEMO_MARKER).exists():
        raise DemoError(f"{data_dir} holds data that is not a demo; choose an empty --data-dir for the demo.")
    for path in (db_file, data_dir / "tradeloop.sqlite3-wal", data_dir / "tradeloop.sqlite3-shm"):
        path.unlink(missing_ok=True)
    shutil.rmtree(data_dir / "files", ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("This directory holds a tradeloop demo; `tradeloop demo` rebuilds it.\n")


def build_demo(settings: Settings, *, echo=print) -> list[DemoLogin]:
    from tradeloop.cli import upgrade_database
    from tradeloop.enterprises import service as enterprises
    from tradeloop.enterprises.schemas import EnterpriseCreate
    from tradeloop.identity import service as identity
    from tradeloop.identity.models import Role
    from tradeloop.kit.db import Database
    from tradeloop.kit.files import FileStore
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.warehouse import service as warehouses
    from tradeloop.warehouse.models import FilingStatus, Tenure
    from tradeloop.warehouse.schemas import ClientCreate, FilingCreate, FilingEventCreate, WarehouseCreate

    _prepare_dir(settings)
    upgrade_database(settings, echo=lambda _m: None)
    db = Database.from_url(settings.resolved_database_url)
    system = system_principal(label="demo")
    logins: list[DemoLogin] = []
    try:
        with db.transaction() as s:
            silk = enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
                uscc=SILK_USCC, name_zh="苏州吴江云锦丝绸服饰有限公司", name_en="Wujiang Yunjin Silk Apparel Co., Ltd.",
                kind="manufacturer", customs_code="3205960ABC", province="江苏省", city="苏州市", district="吴江区",
                pilot_zone="中国（苏州）跨境电子商务综合试验区", industry_belts=["吴江丝绸", "纺织服装"]))
            bamboo = enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
                uscc=BAMBOO_USCC, name_zh="杭州竹韵厨具贸易有限公司",
                name_en="Hangzhou Zhuyun Kitchenware Trading Co., Ltd.",
                kind="trader", customs_code="3301960XYZ", province="浙江省", city="杭州市", district="西湖区",
                pilot_zone="中国（杭州）跨境电子商务综合试验区", industry_belts=["竹木制品"]))
            operator = enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
                uscc=WAREHOUSE_USCC, name_zh="环球海外仓供应链（上海）有限公司",
                name_en="Globe Overseas Warehousing (Shanghai) Co., Ltd.", kind="warehouse", province="上海市",
                city="上海市", district="浦东新区"))
            # The silk maker's catalogue (HS lines and rates from the starter HS table; GTINs fictional,
            # with correct GS1 check digits).
            from tradeloop.catalog import service as catalog
            from tradeloop.catalog.gtin import check_digit
            from tradeloop.catalog.schemas import ProductCreate

            silk_p = replace(system, enterprise_id=silk.id, label="demo:silk-admin")
            for sku, name_zh, name_en, declared, hs, unit, gross, net, cost in (
                ("SC-MUL-90", "真丝桑蚕丝方巾 90cm", "Mulberry silk square scarf 90 cm", "丝巾", "6214100090", "015",
                 "0.120", "0.095", "86.00"),
                ("BL-CREPE-M", "真丝双绉女式衬衫", "Silk crepe de chine blouse", "女式衬衫", "6206100099", "011",
                 "0.320", "0.250", "168.00"),
                ("PC-22MM", "22姆米真丝枕套", "22 momme silk pillowcase", "枕套", "6302391010", "011",
                 "0.180", "0.140", "72.50"),
            ):
                body = f"69{zlib.crc32(sku.encode()) % 10**10:010d}"
                catalog.create_product(s, principal=silk_p, data=ProductCreate(
                    sku=sku, name_zh=name_zh, name_en=name_en, declared_name=declared,
                    declared_elements="品名|织造方法:机织|成分含量:100%桑蚕丝|品牌:云锦", hs_code=hs,
                    customs_unit=unit, unit1=unit, unit1_factor=Decimal(1), unit2="035", unit2_factor=Decimal(net),
                    gross_weight_kg=Decimal(gross), net_weight_kg=Decimal(net),
                    origin_country="142", brand="云锦", gtin=body + check_digit(body), cost=Decimal(cost),
                    cost_currency="CNY"))

            # More exporters of the Suzhou silk belt, so the regulator's aggregates have cells to show.
            belt = []
            for org, name, kind, district in (
                ("MA4HT2K8N", "苏州盛泽锦绣丝绸织造有限公司", "manufacturer", "吴江区"),
                ("MA5HC3C7P", "苏州震泽蚕丝家纺有限公司", "manufacturer", "吴江区"),
                ("MA6WD4D6Q", "苏州吴中丝语服饰外贸有限公司", "trader", "吴中区"),
            ):
                belt.append(enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
                    uscc=fictional_uscc("320509" if district == "吴江区" else "320506", org), name_zh=name,
                    kind=kind, province="江苏省", city="苏州市", district=district,
                    pilot_zone="中国（苏州）跨境电子商务综合试验区", industry_belts=["吴江丝绸", "纺织服装"])))
            people = [
                ("platform", "平台管理员", None, None, True, "platform admin: enterprises, reference data"),
                ("silk-admin", "沈丝雨", silk, Role.ADMIN, False, "silk manufacturer, admin"),
                ("silk-ops", "陆晓峰", silk, Role.OPERATOR, False, "silk manufacturer, operator"),
                ("silk-viewer", "顾明", silk, Role.VIEWER, False, "silk manufacturer, read only"),
                ("bamboo-admin", "竹青", bamboo, Role.ADMIN, False, "bamboo kitchenware trader, admin"),
                ("wh-admin", "Olivia Chen", operator, Role.ADMIN, False, "overseas warehouse operator, admin"),
                ("wh-ops", "Marco Weber", operator, Role.WAREHOUSE_OPERATOR, False, "warehouse operator staff"),
            ]
            password = "tradeloop-demo"
            for username, display, ent, role, is_admin, desc in people:
                user = identity.create_user(s, principal=system, username=username, display_name=display,
                                            password=password, is_platform_admin=is_admin)
                if ent is not None:
                    identity.grant_membership(s, principal=system, user=user, enterprise_id=ent.id, role=role)
                logins.append(DemoLogin(username, password, desc))
            regulator = identity.create_user(s, principal=system, username="suzhou-commerce",
                                             display_name="苏州市商务局", password=password)
            identity.set_regulator_scope(s, principal=system, user=regulator, authority="苏州市商务局",
                                         province="江苏省", city="苏州市")
            logins.append(DemoLogin("suzhou-commerce", password, "regulator: aggregates for 江苏省苏州市"))

            op = replace(system, enterprise_id=operator.id, label="demo:wh-admin")
            la = warehouses.create_warehouse(s, principal=op, data=WarehouseCreate(
                code="US-ONT-1", name_zh="安大略海外仓", name_en="Ontario Fulfilment Center", country="US",
                address="4100 E Airport Dr, Ontario, CA 91761, USA", unlocode="USONT", area_m2=Decimal("12500"),
                tenure=Tenure.LEASED, lease_start=date(2022, 3, 1), lease_end=date(2029, 2, 28),
                contact="ops-us@example.com"))
            de = warehouses.create_warehouse(s, principal=op, data=WarehouseCreate(
                code="DE-HAM-1", name_zh="汉堡海外仓", name_en="Hamburg Fulfilment Center", country="DE",
                address="Am Ballinkai 1, 21129 Hamburg, Germany", unlocode="DEHAM", area_m2=Decimal("8000"),
                tenure=Tenure.OWNED, contact="ops-de@example.com"))
            for wh in (la, de):
                warehouses.add_client(s, principal=op, warehouse_id=wh.id, data=ClientCreate(
                    client_uscc=SILK_USCC, since=date(2023, 1, 1)))
            warehouses.add_client(s, principal=op, warehouse_id=la.id, data=ClientCreate(
                client_uscc=BAMBOO_USCC, since=date(2024, 5, 1)))
            for i, exporter in enumerate(belt):
                for wh in (la, de) if i < 2 else (la,):
                    warehouses.add_client(s, principal=op, warehouse_id=wh.id, data=ClientCreate(
                        client_uscc=exporter.uscc, since=date(2024, 3, 1)))
            warehouses.add_evidence(s, principal=op, store=FileStore(settings.files_dir),
                                    max_bytes=settings.max_upload_bytes, warehouse_id=la.id, kind="lease",
                                    filename="ontario-lease-2022.pdf", data=DEMO_PDF,
                                    valid_from=date(2022, 3, 1), valid_to=date(2029, 2, 28))
            filing = warehouses.record_filing(s, principal=op, warehouse_id=la.id, data=FilingCreate(
                customs_office="2248", filing_no="HWC-2248-2022-0042", modes="9810", filed_on=date(2022, 4, 18)))
            warehouses.add_filing_event(s, principal=op, warehouse_id=la.id, filing_id=filing.id,
                                        data=FilingEventCreate(status=FilingStatus.CHANGED,
                                                               effective_on=date(2023, 6, 1),
                                                               note="面积由9000平方米扩建至12500平方米"))
            warehouses.add_filing_event(s, principal=op, warehouse_id=la.id, filing_id=filing.id,
                                        data=FilingEventCreate(status=FilingStatus.LAPSED,
                                                               effective_on=date(2024, 12, 15),
                                                               note="海关总署公告2024年第167号取消海外仓备案"))
            # The bamboo trader also keeps goods at a third-party warehouse that is not on the platform.
            bam = replace(system, enterprise_id=bamboo.id, label="demo:bamboo-admin")
            warehouses.create_warehouse(s, principal=bam, data=WarehouseCreate(
                code="US-NJ-3PL", name_zh="新泽西第三方仓", name_en="New Jersey 3PL",
                operator_name="Garden State 3PL LLC",
                country="US", address="100 Port Jersey Blvd, Jersey City, NJ 07305, USA", unlocode=None,
                area_m2=Decimal("3000"), tenure=Tenure.LEASED, lease_start=date(2024, 1, 1),
                lease_end=date(2026, 12, 31)))
        declared = _demo_customs(db, settings, replace(system, enterprise_id=silk.id, label="demo:silk-ops"),
                                 la.id, de.id)
    finally:
        db.dispose()
    echo(f"demo built: 6 enterprises, 3 products, 3 warehouses, {declared} export declarations, "
         f"{len(logins)} logins")
    return logins


def _demo_customs(db, settings: Settings, silk, us_warehouse, de_warehouse) -> int:
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
    _demo_logistics_and_stock(db, silk, ids[0], ids[2])
    return len(ids) + 1


def _demo_logistics_and_stock(db, silk, us_declaration, de_declaration) -> None:
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
