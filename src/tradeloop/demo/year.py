"""The demo year run through the real services: the bamboo trader's catalogue, a year of export
declarations answered by the customs simulator on its own clock (dated across the year), headhaul
shipments with their tracking events, inbound receipts (dated) with a few discrepancies, the order files
imported by the importers, fulfilment from the overseas warehouses, and returns.

Which dates the services take and which they stamp "now": a declaration takes its ``ie_date``, the
simulator's receipts (release, closure, summaries, entry numbers) carry the simulator's clock, shipments
their planned times and events theirs, receipts at the warehouse ``ReceiveIn.received_at``, sales their
files' dates and fulfilment the sales' ship dates. Submission times (``submitted_at``), outbound orders'
creation time, and the receipt and inspection of returns are stamped at build time.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from tradeloop.demo.plan import BAMBOO_US, LANES, SILK_DE, SILK_US, Export, Order, YearPlan
from tradeloop.logistics.codes import iso6346_check_digit

BEIJING_OFFSET = timedelta(hours=8)


@dataclass
class YearCounts:
    declarations: int = 0
    retail: int = 0
    summaries: int = 0
    shipments: int = 0
    inbound: int = 0
    lines_by_channel: dict[str, int] = field(default_factory=dict)
    outbound: int = 0
    short: int = 0
    returns: int = 0
    fulfilment: str = ""
    money: object = None  # money.MoneyCounts of the settlements, statements, invoices and claims


# --- the bamboo trader's catalogue ---------------------------------------------------------------------

#: The starter HS table (catalog/data/hs_codes.csv) has the bamboo lines only at 8 digits (44191100,
#: 44191290, 44191900): no source read gave their 10-digit lines, and the catalogue takes 10-digit codes only.
#: The demo therefore loads, into its own database only, placeholder 10-digit lines (the 8-digit code + "00")
#: marked as fictional; the shipped table is unchanged. Rates stay unknown (empty), as in the starter table.
HS_PLACEHOLDERS = (
    ("4419110000", "44191100", "竹制切面包板、砧板及类似板", "bamboo cutting boards", "4419.11"),
    ("4419129000", "44191290", "其他竹制筷子", "bamboo chopsticks", "4419.12"),
    ("4419190000", "44191900", "其他竹制餐具及厨房用具", "bamboo kitchen utensils", "4419.19"),
)
BAMBOO_PRODUCTS = (
    # sku, name_zh, name_en, declared name, hs, unit, gross, net, cost (CNY), elements
    ("BB-BOARD-L", "竹制砧板（大号）", "Bamboo cutting board, large", "竹砧板", "4419110000", "011", "1.450", "1.300",
     "28.50", "品名|材质:毛竹|用途:厨房切菜|品牌:竹韵"),
    ("BB-UTEN-6", "竹制厨具六件套", "Bamboo cooking utensil set, 6 pieces", "竹制厨具套装", "4419190000", "006",
     "0.520", "0.450", "14.20", "品名|材质:毛竹|用途:厨房烹饪|品牌:竹韵"),
    ("BB-STEAM-10", "10寸双层竹蒸笼", "Bamboo steamer 10 inch, 2 tiers", "竹蒸笼", "4419190000", "007", "0.980",
     "0.850", "24.00", "品名|材质:毛竹|用途:厨房蒸制食品|品牌:竹韵"),
    ("BB-CHOP-10P", "竹筷子10双装", "Reusable bamboo chopsticks, 10 pairs", "竹筷子", "4419129000", "006", "0.260",
     "0.220", "6.80", "品名|材质:毛竹|用途:餐具|非一次性|品牌:竹韵"),
)


def load_hs_placeholders(session, *, system, work: Path) -> None:
    """Load the packaged HS table plus the placeholder lines through the reference loader (the platform
    admin's ``tradeloop reference load --dir``), into the demo database only."""
    from tradeloop.reference.service import load_reference_data, packaged_data_dirs

    source = packaged_data_dirs()[1]
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["datasets"] if e["name"] == "hs_codes")
    text = (source / entry["file"]).read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    for code10, code8, desc, product, given in HS_PLACEHOLDERS:
        writer.writerow({"id": code10, "code10": code10, "code8": code8, "description_zh": desc, "product": product,
                         "hs_given": given, "source": "tradeloop demo: FICTIONAL placeholder, not from any tariff "
                         "source (the 8-digit line and its name: turbanisch/chinautils zh-hs8-2023.csv)",
                         "confidence": "demo placeholder (fictional)",
                         "note": "10-digit split not found in any source read; the demo uses code8+00 so that its "
                                 "bamboo products can be catalogued. Not for real declarations."})
    work.mkdir(parents=True, exist_ok=True)
    (work / "hs_codes.csv").write_text(text.rstrip("\n") + "\n" + buf.getvalue(), encoding="utf-8")
    rows = entry["rows"] + len(HS_PLACEHOLDERS)
    (work / "manifest.json").write_text(json.dumps({"datasets": [{
        **entry, "version": f"{entry['version']} + demo placeholders (fictional)", "rows": rows,
        "notes": entry.get("notes", "") + " DEMO DATABASE ONLY: 3 fictional 10-digit placeholder lines for bamboo "
                                          "kitchenware (confidence 'demo placeholder (fictional)')."}]},
        ensure_ascii=False, indent=1), encoding="utf-8")
    load_reference_data(session, principal=system, data_dir=work)


def bamboo_catalogue(session, *, principal) -> int:
    import zlib

    from tradeloop.catalog import service as catalog
    from tradeloop.catalog.gtin import check_digit
    from tradeloop.catalog.schemas import ProductCreate

    for sku, zh, en, declared, hs, unit, gross, net, cost, elements in BAMBOO_PRODUCTS:
        body = f"69{zlib.crc32(sku.encode()) % 10**10:010d}"
        catalog.create_product(session, principal=principal, data=ProductCreate(
            sku=sku, name_zh=zh, name_en=en, declared_name=declared, declared_elements=elements, hs_code=hs,
            customs_unit=unit, unit1=unit, unit1_factor=Decimal(1), unit2="035", unit2_factor=Decimal(net),
            gross_weight_kg=Decimal(gross), net_weight_kg=Decimal(net), origin_country="142", brand="竹韵",
            gtin=body + check_digit(body), cost=Decimal(cost), cost_currency="CNY"))
    return len(BAMBOO_PRODUCTS)


# --- customs: a year of declarations, answered on the simulator's clock -----------------------------------

SILK_COMMON = {"mode": "9810", "logistics_code": "3205980777", "logistics_name": "苏州吴江远航国际货运代理有限公司",
               "customs_code": "2305", "port_code": "2248", "traf_mode": "2", "currency": "USD", "wrap_type": "2"}
BAMBOO_COMMON = {"mode": "9810", "logistics_code": "3301980456", "logistics_name": "杭州钱塘国际货运代理有限公司",
                 "customs_code": "2928", "port_code": "2248", "traf_mode": "2", "currency": "USD", "wrap_type": "2"}
RETAIL_COMMON = {"mode": "9610", "logistics_code": "3301980789", "logistics_name": "杭州萧山国际快件服务有限公司",
                 "customs_code": "2928", "port_code": "2928", "traf_mode": "5", "currency": "USD", "wrap_type": "6",
                 "statistics_flag": "A", "pay_name": "Shopify Payments", "pack_no": 1}
RETAIL_POD = {"CA": "YYZ", "GB": "LHR", "AU": "SYD", "NZ": "AKL", "IE": "DUB"}
#: lane -> vessel, carrier SCAC, carrier, container owner code (vessel names only label the demo's voyages)
VESSELS = {"silk-us": ("COSCO SHIPPING ARIES", "COSU", "COSCO", "CSQU"),
           "silk-de": ("MSC GULSUN", "MSCU", "MSC", "MSCU"),
           "bamboo-us": ("CMA CGM BOUGAINVILLE", "CMDU", "CMA CGM", "CMAU")}


def _beijing(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=UTC) - BEIJING_OFFSET


def _export_data(exp: Export, warehouses: dict) -> dict:
    lane = exp.lane
    vessel = VESSELS[lane.key][0]
    units = sum(q for _s, q, _p in exp.lines)
    common = SILK_COMMON if lane.owner == "silk" else BAMBOO_COMMON
    prefix = "WJ" if lane.owner == "silk" else "HZ"
    return {**common, "warehouse_id": warehouses[lane.warehouse], "country": lane.country, "pod": lane.pod,
            "bill_no": _bill(exp), "logistics_no": f"{prefix}{exp.ie_date:%y%m}{LANES.index(lane) + 1:02d}",
            "ie_date": exp.ie_date.isoformat(), "pack_no": max(1, units // 20), "traf_name": vessel,
            "voyage_no": f"{exp.n:03d}{'W' if lane.country == 'DE' else 'E'}", "note": f"demo year {lane.key}",
            "lines": [{"sku": sku, "qty": str(qty), "price": price} for sku, qty, price in exp.lines]}


def _bill(exp: Export) -> str:
    return f"{VESSELS[exp.lane.key][1]}{exp.ie_date:%y%m}{LANES.index(exp.lane) + 1:02d}{exp.n:03d}"


def _retail_data(order: Order, n: int, shipped: date) -> dict:
    return {**RETAIL_COMMON, "country": order.country, "pod": RETAIL_POD[order.country],
            "ebp_code": "3301960XYZ", "ebp_name": "杭州竹韵厨具贸易有限公司", "order_no": order.order_id,
            "logistics_no": f"HZP{shipped:%y%m%d}{n:04d}", "ie_date": shipped.isoformat(),
            "paid_at": order.at.isoformat(), "note": f"demo 9610 Shopify order {order.order_id}",
            "lines": [{"sku": li.sku, "qty": str(li.qty), "price": li.price} for li in order.lines]}


class _Clock:
    def __init__(self):
        self.at = datetime.now(UTC)

    def __call__(self):
        from tradeloop.customs.messages import BEIJING

        return self.at.astimezone(BEIJING)


def customs_year(db, settings, plan: YearPlan, *, silk, bamboo, warehouses: dict, step) -> tuple[dict, YearCounts]:
    """Declarations of the year in date order; each day's are submitted together, then the outbox goes
    to the simulator with its clock set to that day. Lists closed in a month are summarised on the 3rd
    of the next. Returns the declaration id of every export (keyed by ``id(export)``) and the counts."""
    from tradeloop.customs import gateway, service
    from tradeloop.customs.gateway import ExchangeFolders, exchange_config
    from tradeloop.customs.simulator import CustomsSimulator

    folders = ExchangeFolders.from_settings(settings).ensure()
    clock = _Clock()
    simulator = CustomsSimulator(folders, clock=clock)
    config = exchange_config(settings)
    now = datetime.now(UTC)
    days: dict[datetime, list[tuple]] = {}
    for exp in plan.exports:
        at = _beijing(exp.ie_date, 10 + LANES.index(exp.lane))
        days.setdefault(at, []).append(("export", exp))
    for n, order in enumerate(plan.retail, start=1):
        shipped = (order.at + BEIJING_OFFSET).date() + timedelta(days=1)
        at = min(_beijing(shipped, 16), now - timedelta(hours=1))
        days.setdefault(at, []).append(("retail", (order, n, shipped)))
    months = [*plan.months[1:], date(plan.today.year, plan.today.month, 1)]
    for month in months:
        previous = (month - timedelta(days=1)).strftime("%Y-%m")
        days.setdefault(_beijing(month.replace(day=3), 9), []).append(("summary", previous))
    ids: dict[int, uuid.UUID] = {}
    counts = YearCounts()
    for at in sorted(days):
        todo = days[at]
        if any(kind == "summary" for kind, _x in todo):
            gateway.poll(db, folders)
        with db.transaction() as s:
            for kind, item in todo:
                if kind == "export":
                    p = silk if item.lane.owner == "silk" else bamboo
                    decl = service.create_declaration(s, principal=p, data=_export_data(item, warehouses))
                    service.submit_declaration(s, principal=p, declaration_id=decl.id, config=config)
                    ids[id(item)] = decl.id
                    counts.declarations += 1
                elif kind == "retail":
                    order, n, shipped = item
                    decl = service.create_declaration(s, principal=bamboo, data=_retail_data(order, n, shipped))
                    service.submit_declaration(s, principal=bamboo, declaration_id=decl.id, config=config)
                    counts.retail += 1
                else:
                    for p in (silk, bamboo):
                        if service.plan_summaries(s, principal=p, month=item):
                            counts.summaries += len(service.create_summaries(s, principal=p, month=item,
                                                                             config=config))
        gateway.dispatch(db, folders)
        clock.at = at
        simulator.run_once()
        step()
    gateway.poll(db, folders)
    return ids, counts


# --- shipments, tracking events and receipts -----------------------------------------------------------


def _container(exp: Export) -> str:
    first10 = f"{VESSELS[exp.lane.key][3]}{exp.ie_date:%y%m}{LANES.index(exp.lane) + 1}{exp.n % 10}"
    return first10 + str(iso6346_check_digit(first10))


def logistics_year(db, plan: YearPlan, ids: dict, *, silk, bamboo) -> tuple[int, int]:
    """A sea shipment per 9810 declaration (and the road leg to Ontario), its DCSA events, and the
    inbound receipt counted at the warehouse on the day the goods came in."""
    from tradeloop.customs.repository import DeclarationRepository
    from tradeloop.logistics import events
    from tradeloop.logistics import service as logistics
    from tradeloop.warehouse import stock_service as stock
    from tradeloop.warehouse.stock_schemas import InboundCreate, ReceiveIn

    now = datetime.now(UTC)
    shipments = inbound = 0
    with db.transaction() as s:
        batches: dict[int, list] = {0: [], 1: []}
        made = []
        for exp in plan.exports:
            p = silk if exp.lane.owner == "silk" else bamboo
            decl = DeclarationRepository(s, p).get(ids[id(exp)])
            vessel, scac, carrier, _owner = VESSELS[exp.lane.key]
            port = "DEHAM" if exp.lane.country == "DE" else "USLAX"
            legs = [{"mode": "sea", "from_locode": "CNSHA", "to_locode": port, "carrier_name": carrier,
                     "carrier_scac": scac, "vessel_name": vessel, "voyage_no": decl.voyage_no,
                     "distance_km": "19500" if port == "DEHAM" else "10470",
                     "planned_departure": exp.departed.isoformat(), "planned_arrival": exp.arrived.isoformat()}]
            if port == "USLAX":
                legs.append({"mode": "road", "from_locode": "USLAX", "to_locode": "USONT",
                             "planned_departure": (exp.arrived + timedelta(days=1)).isoformat(),
                             "planned_arrival": (exp.arrived + timedelta(days=1, hours=4)).isoformat()})
            shipment = logistics.create_shipment(s, principal=p, data={
                "warehouse_id": str(decl.warehouse_id), "bl_no": decl.bill_no, "legs": legs,
                "containers": [{"container_no": _container(exp), "seal_no": f"CN{exp.ie_date:%y%m}{exp.n:03d}",
                                "size_type": "45G1"}],
                "lines": [{"declaration_id": str(decl.id)}]})
            shipments += 1
            made.append((exp, p, shipment))
            final = "USONT" if port == "USLAX" else "DEHAM"

            def event(code, at, where, kind="TRANSPORT", shipment=shipment):
                classifier = "ACT" if at <= now else "EST"
                return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{shipment.number}/{code}/{where}")),
                        "shipment_number": shipment.number, "event_created_at": min(at, now).isoformat(),
                        "event_time": at.isoformat(), "classifier": classifier, "event_type": kind,
                        "event_code": code, "location": where}

            arrived_final = exp.arrived + timedelta(days=1, hours=4) if port == "USLAX" else exp.arrived
            trip = [event("GTOT", exp.departed - timedelta(days=1), "CNSHA", "EQUIPMENT"),
                    event("DEPA", exp.departed, "CNSHA"), event("ARRI", exp.arrived, port)]
            if port == "USLAX":  # the road leg to the warehouse
                trip += [event("DEPA", exp.arrived + timedelta(days=1), port),
                         event("ARRI", arrived_final, final)]
            trip.append(event("DROP", arrived_final + timedelta(hours=3), final, "EQUIPMENT"))
            batches[exp.lane.owner == "bamboo"] += [e for e in trip if e["classifier"] == "ACT"
                                                    or e["event_code"] in ("ARRI",)]
        events.apply_events(s, principal=silk, events=batches[0])
        events.apply_events(s, principal=bamboo, events=batches[1])
        for exp, p, shipment in made:
            if exp.received is None:
                continue
            order = stock.create_inbound(s, principal=p, data=InboundCreate(shipment_id=shipment.id,
                                                                            expected_at=exp.received))
            stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(
                close=True, lines=exp.counts, received_at=exp.received))
            inbound += 1
    return shipments, inbound


# --- orders: files, import, fulfilment, returns --------------------------------------------------------

NAMES = {item.sku: item.name for lane in LANES for item in lane.items}
DE_NAMES = {item.sku: item.name for item in SILK_DE.items}


def write_files(plan: YearPlan, folder: Path) -> list[tuple[Path, str]]:
    from tradeloop.demo.files import write_amazon, write_shopify

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    us = folder / "amazon-com-all-orders.txt"
    write_amazon(us, plan.of_channel("amazon.com"), "Amazon.com", {i.sku: i.name for i in SILK_US.items})
    de = folder / "amazon-de-all-orders.txt"
    write_amazon(de, plan.of_channel("amazon.de"), "Amazon.de", DE_NAMES)
    shop = folder / "shopify-orders-export.csv"
    write_shopify(shop, plan.of_channel("shopify"), {i.sku: i.name for i in BAMBOO_US.items})
    out += [(us, "silk"), (de, "silk"), (shop, "bamboo")]
    return out


def import_files(db, files: list[tuple[Path, str]], *, silk, bamboo, on_progress) -> dict[str, int]:
    from tradeloop.sales import service as sales

    read: dict[str, int] = {}
    for path, owner in files:
        with db.transaction() as s:
            result = sales.import_orders(s, principal=silk if owner == "silk" else bamboo, path=path,
                                         channel="shopify" if path.suffix == ".csv" else "amazon",
                                         progress=lambda p, name=path.name: on_progress(name, p))
        if result.rejected:
            raise RuntimeError(f"demo file {path.name}: {result.rejected} rows rejected: "
                               f"{[e.as_cli() for e in result.errors[:3]]}")
        read[path.name] = result.read
    return read


def fulfil(db, *, silk, bamboo, warehouses: dict, counts: YearCounts) -> bool:
    """Link the imported sales to outbound orders of the warehouses; False when fulfilment is not there."""
    try:
        from tradeloop.sales.fulfilment import fulfil_orders
    except ImportError:
        counts.fulfilment = "sales.fulfilment is not available: sales left unlinked"
        return False
    runs = ((silk, "US-ONT-1", {"channel": "amazon", "marketplace": "Amazon.com"}),
            (silk, "DE-HAM-1", {"channel": "amazon", "marketplace": "Amazon.de"}),
            (bamboo, "US-ONT-1", {"channel": "shopify", "buyer_countries": ["US"]}))
    for p, code, filters in runs:
        with db.transaction() as s:
            result = fulfil_orders(s, principal=p, warehouse_id=warehouses[code], **filters)
        counts.outbound += result.orders_created + result.orders_linked
        counts.short += len(result.short)
    return True


RETURN_REASONS = (("尺码不合适", "完好，吊牌齐全", "restock"), ("颜色与图片不符", "完好，包装轻微破损", "restock"),
                  ("买家不再需要", "完好", "restock"), ("商品有污渍", "污损，不可再售", "dispose"))


def returns(db, plan: YearPlan, *, silk) -> int:
    """Orders Amazon reports as "Shipped - Returned to Seller" come back to the warehouse they left:
    received, inspected, mostly restocked."""
    from tradeloop.warehouse import stock_service as stock
    from tradeloop.warehouse.stock_models import OutboundStatus
    from tradeloop.warehouse.stock_repository import StockRepository
    from tradeloop.warehouse.stock_schemas import InspectIn, ReturnCreate

    refs = [f"amazon:{o.order_id}" for o in plan.orders if o.status == "returned"]
    done = 0
    with db.transaction() as s:
        repo = StockRepository(s, silk)
        found = repo.outbounds_by_reference(refs)
        for n, ref in enumerate(refs):
            if ref not in found:
                continue
            outbound, lines = found[ref]
            if outbound.status not in (OutboundStatus.SHIPPED, OutboundStatus.DELIVERED):
                continue
            why, condition, disposition = RETURN_REASONS[n % len(RETURN_REASONS)]
            back = stock.create_return(s, principal=silk, data=ReturnCreate(
                outbound_id=outbound.id, reason=why, lines=[{"sku": li.sku, "qty": li.qty} for li in lines]))
            stock.receive_return(s, principal=silk, return_id=back.id)
            stock.inspect_return(s, principal=silk, return_id=back.id, data=InspectIn(lines=[
                {"line_no": li.line_no, "condition": condition, "disposition": disposition}
                for li in repo.return_lines(back)]))
            done += 1
    return done
