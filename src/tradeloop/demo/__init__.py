"""The demo: a fresh SQLite database in which a whole year of the export loop has run through the real
service functions (never raw inserts).

What the year holds (``plan`` draws it, ``year`` runs it, ``story`` adds the current month, ``money`` its
settlements, bank statements, invoices and rebate claims):

* two exporters: a silk apparel maker in Suzhou Wujiang selling on Amazon.com and Amazon.de through the
  operator's warehouses US-ONT-1 (Ontario, California) and DE-HAM-1 (Hamburg) under 9810, and a bamboo
  kitchenware trader in Hangzhou selling on its own Shopify shop — to US buyers from US-ONT-1 (9810), to
  buyers elsewhere as direct parcels from China (9610, one declaration per order, not stocked abroad);
* for each of the 11 months before this one, a 9810 declaration per exporter and warehouse, plus the
  9610 parcels, answered by the customs simulator with receipts dated on those days, and every month's
  closed lists summarised (CEB701) with an export declaration number from the simulator;
* a sea shipment per 9810 declaration with its DCSA tracking events, received at the warehouse on the day
  it came in, five receipts with short or damaged units;
* about 29,000 order lines written as an Amazon "All Orders" report per marketplace (USD, EUR) and a
  Shopify orders export in ``DATA_DIR/demo-files/``, imported by the importers: seasonal (a Q4 peak),
  only ever selling stock received before the sale; shipped, pending, cancelled and returned;
* fulfilment of those sales from the warehouses (FIFO lots, so each sale traces to its declaration line)
  and the returns Amazon reports ("Shipped - Returned to Seller") received and inspected;
* the money of those sales: Amazon settlement reports (V2 flat file) per marketplace and 14-day
  period and the bamboo trader's PingPong transactions, imported as payouts; monthly bank statements
  (camt.053 for the USD accounts, MT940 for the silk maker's EUR account) imported and matched to the
  payouts (one credit left for a person), and 结汇 to CNY; the bamboo trader's purchase invoices (.xlsx)
  allocated to its declarations; the silk maker's 免抵退 rebate claims, declared and approved, and an HWC-YT
  pre-rebate reconciled (the bamboo trader's chains stop at the rebate rate its placeholder HS lines lack);
* this month: the silk maker's first US declaration received one carton short and sold through three
  outbound orders (one returned and restocked), a German one inspected and at sea, a rejected one waiting
  for its correction, and a draft.

Enterprises, people, orders, buyers, amounts, accounts and numbers are fictional; each USCC carries a
correct GB 32100-2015 check character over a real administrative division code (320509 苏州市吴江区, 320506
苏州市吴中区, 330106 杭州市西湖区, 310115 上海市浦东新区; 330523 安吉县 for the bamboo trader's suppliers). The
bamboo products need 10-digit HS lines the starter HS table does not have: the demo database gets
fictional placeholders for them (see ``year``).
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
    for folder in ("files", "exchange", "demo-files"):  # the simulator's clock and state start afresh too
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("This directory holds a tradeloop demo; `tradeloop demo` rebuilds it.\n")


def build_demo(settings: Settings, *, echo=print, progress: bool = True) -> list[DemoLogin]:
    """Build the demo in ``settings.data_dir``; a progress bar on stderr (when it is a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("[bold]{task.description:<34}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TimeElapsedColumn(), console=console, transient=False,
                   disable=not (progress and console.is_terminal))
    with bar:
        stages = _Stages(bar)
        return _build(settings, echo=echo, stages=stages)


class _Stages:
    """One bar over the whole build, its description naming the stage; weights roughly the stages' time."""

    WEIGHTS = {"enterprises, users, warehouses": 3, "bamboo catalogue": 1, "customs year": 22,
               "shipments and receipts": 6, "this month": 5, "pre-rebate (HWC-YT)": 1, "order files": 4,
               "import Amazon.com": 6, "import Amazon.de": 3, "import Shopify": 4, "fulfilment": 12, "returns": 4,
               "settlements": 18, "bank statements": 3, "purchase invoices": 1, "rebate claims": 4}

    def __init__(self, bar):
        self.bar = bar
        self.task = bar.add_task("tradeloop demo", total=sum(self.WEIGHTS.values()))
        self.done = 0
        self.current = None

    def start(self, name: str) -> None:
        if self.current is not None:
            self.done += self.WEIGHTS[self.current]
        self.current = name
        self.bar.update(self.task, description=name, completed=self.done)

    def part(self, share: float) -> None:
        """Progress within the current stage (0–1)."""
        self.bar.update(self.task, completed=self.done + self.WEIGHTS[self.current] * min(1.0, share))

    def finish(self) -> None:
        self.bar.update(self.task, description="demo built", completed=sum(self.WEIGHTS.values()))


def _build(settings: Settings, *, echo, stages: _Stages) -> list[DemoLogin]:
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

    stages.start("enterprises, users, warehouses")
    _prepare_dir(settings)
    upgrade_database(settings, echo=lambda _m: None)
    db = Database.from_url(settings.resolved_database_url)
    system = system_principal(label="demo")
    logins: list[DemoLogin] = []
    try:
        with db.transaction() as s:  # the ECB reference rates shipped with the application, for the past year
            from datetime import timedelta

            from tradeloop.finance import rates

            rates.load_ecb(s, principal=system, since=date.today() - timedelta(days=400))
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
        counts = _year(db, settings, stages, system, silk, bamboo, {"US-ONT-1": la.id, "DE-HAM-1": de.id})
    finally:
        db.dispose()
    stages.finish()
    lines = counts.lines_by_channel
    echo(f"demo built: 6 enterprises, 7 products, 3 warehouses, {counts.declarations} export declarations "
         f"({counts.retail} of them 9610 parcels), {counts.shipments} shipments, {counts.inbound} inbound receipts, "
         f"{sum(lines.values())} order lines ({', '.join(f'{k} {v}' for k, v in lines.items())}), "
         f"{counts.outbound} outbound orders, {counts.returns} returns, {_money_line(counts.money)}, "
         f"{len(logins)} logins")
    if counts.short:
        echo(f"demo note: {counts.short} sales orders found no stock to ship from")
    if counts.fulfilment:
        echo(f"demo note: {counts.fulfilment}")
    for note in counts.money.notes:
        echo(f"demo note: {note}")
    return logins


def _money_line(m) -> str:
    payouts = sum(m.payouts.values())
    files = sum(m.statement_files.values())
    return (f"{payouts} payouts ({m.payouts.get('amazon', 0)} Amazon settlements, {m.payouts.get('pingpong', 0)} "
            f"PingPong withdrawals), {files} bank statements ({m.statement_files.get('camt.053', 0)} camt.053, "
            f"{m.statement_files.get('mt940', 0)} MT940) with {m.entries} entries, "
            f"{m.auto_matched + m.manual} credits matched ({m.auto_matched} automatically, {m.manual} by hand, "
            f"{m.left} left for a person), {m.fx_settlements} FX settlements, {m.invoices} purchase invoices, "
            f"{m.claims} rebate claims ({m.approved} approved)")


def _year(db, settings: Settings, stages: _Stages, system, silk, bamboo, warehouses: dict):
    from tradeloop.demo import money, story, year
    from tradeloop.demo import plan as planning

    silk_p = replace(system, enterprise_id=silk.id, label="demo:silk-ops")
    bamboo_p = replace(system, enterprise_id=bamboo.id, label="demo:bamboo-admin")
    stages.start("bamboo catalogue")
    with db.transaction() as s:
        year.load_hs_placeholders(s, system=system, work=settings.data_dir / "demo-files" / "reference")
        year.bamboo_catalogue(s, principal=bamboo_p)
    the_year = planning.plan_year(date.today())
    stages.start("customs year")
    rounds = [0]
    total = len(the_year.exports) + len(the_year.retail) + 12

    def step():
        rounds[0] += 1
        stages.part(rounds[0] / total)

    ids, counts = year.customs_year(db, settings, the_year, silk=silk_p, bamboo=bamboo_p, warehouses=warehouses,
                                    step=step)
    stages.start("shipments and receipts")
    counts.shipments, counts.inbound = year.logistics_year(db, the_year, ids, silk=silk_p, bamboo=bamboo_p)
    stages.start("this month")
    counts.declarations += counts.retail + story.demo_customs(db, settings, silk_p, warehouses["US-ONT-1"],
                                                              warehouses["DE-HAM-1"])
    counts.shipments += 2
    counts.inbound += 1
    stages.start("pre-rebate (HWC-YT)")  # right after departure, before any of it is sold
    money.customs_rates(db, settings.data_dir / "demo-files", the_year, system=system)
    pre_claim = money.pre_rebate(db, the_year, ids, silk=silk_p)
    stages.start("order files")
    files = year.write_files(the_year, settings.data_dir / "demo-files")
    stage_of = {"amazon-com-all-orders.txt": "import Amazon.com", "amazon-de-all-orders.txt": "import Amazon.de",
                "shopify-orders-export.csv": "import Shopify"}

    def on_progress(name, p):
        if stages.current != stage_of[name]:
            stages.start(stage_of[name])
        if p.total:
            stages.part(p.done / p.total)

    read = year.import_files(db, files, silk=silk_p, bamboo=bamboo_p, on_progress=on_progress)
    counts.lines_by_channel = {"Amazon.com": read["amazon-com-all-orders.txt"],
                               "Amazon.de": read["amazon-de-all-orders.txt"],
                               "Shopify": read["shopify-orders-export.csv"]}
    stages.start("fulfilment")
    if year.fulfil(db, silk=silk_p, bamboo=bamboo_p, warehouses=warehouses, counts=counts):
        stages.start("returns")
        counts.returns = year.returns(db, the_year, silk=silk_p)
    counts.outbound += 3
    counts.returns += 1
    folder = settings.data_dir / "demo-files"
    counts.money = money.MoneyCounts()
    stages.start("settlements")
    deposits = money.settlements(db, folder, silk=silk_p, bamboo=bamboo_p, counts=counts.money, step=stages.part)
    stages.start("bank statements")
    money.bank(db, folder, the_year, deposits, silk=silk_p, bamboo=bamboo_p, counts=counts.money)
    stages.start("purchase invoices")
    money.invoices(db, folder, the_year, bamboo=bamboo_p, counts=counts.money)
    stages.start("rebate claims")
    money.rebate_claims(db, the_year, ids, silk=silk_p, bamboo=bamboo_p, pre_claim=pre_claim, counts=counts.money)
    return counts
