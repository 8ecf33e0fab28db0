"""The demo year as plain data, before any service runs: what each lane exports every month, when it
arrives and how much is counted, and the orders that sell it — drawn from a seeded random generator, so the
same day builds the same demo. Everything here is fictional.

Sales never outrun stock: orders of a day only take units received at the warehouse before that day (less
what earlier orders took), per exporter, warehouse and SKU; a line the stock cannot cover is not sold. So
the fulfilment later finds lots received before every sale, and every unit sold traces to an export.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

#: Demand by calendar month (1 = an average month): quiet after New Year, Prime Day in July, the Q4 peak
#: (Black Friday/Cyber Monday, Christmas). A shape for the demo's analytics, not a measured curve.
SEASON = {1: 0.75, 2: 0.7, 3: 0.85, 4: 0.9, 5: 1.0, 6: 0.95, 7: 1.15, 8: 0.9, 9: 0.95, 10: 1.1, 11: 1.6, 12: 1.45}


@dataclass(frozen=True)
class Item:
    sku: str
    monthly: int  # units exported in an average month
    declared: str  # declared unit price (FOB, the declaration's currency)
    price: str  # the shop's unit price (the sale currency)
    name: str  # product name as the marketplace shows it


@dataclass(frozen=True)
class Lane:
    """One export flow under 9810: an exporter's goods to one overseas warehouse, sold on one channel."""
    key: str
    owner: str  # silk | bamboo
    warehouse: str
    country: str
    pod: str
    items: tuple[Item, ...]
    sea_days: int
    day: int  # day of the month the declaration is made


SILK_US = Lane("silk-us", "silk", "US-ONT-1", "US", "USLA", (
    Item("SC-MUL-90", 880, "9.80", "39.99", "Mulberry Silk Square Scarf 90 x 90 cm, 100% Silk"),
    Item("BL-CREPE-M", 300, "31.50", "89.00", "Silk Crepe de Chine Blouse for Women"),
    Item("PC-22MM", 620, "12.40", "29.99", "22 Momme Mulberry Silk Pillowcase, Queen"),
), sea_days=15, day=6)
SILK_DE = Lane("silk-de", "silk", "DE-HAM-1", "DE", "DEHA", (
    Item("SC-MUL-90", 480, "10.20", "36.99", "Seidentuch Maulbeerseide 90 x 90 cm"),
    Item("BL-CREPE-M", 160, "33.00", "84.90", "Damen Bluse aus Crêpe de Chine Seide"),
    Item("PC-22MM", 340, "12.90", "27.99", "Kissenbezug 22 Momme Maulbeerseide 50 x 75 cm"),
), sea_days=32, day=8)
BAMBOO_US = Lane("bamboo-us", "bamboo", "US-ONT-1", "US", "USLA", (
    Item("BB-BOARD-L", 330, "6.20", "34.95", "Bamboo Cutting Board, Large"),
    Item("BB-UTEN-6", 300, "3.10", "19.95", "Bamboo Cooking Utensil Set (6 pieces)"),
    Item("BB-STEAM-10", 190, "5.40", "29.95", "Bamboo Steamer Basket 10 inch, 2 tiers"),
    Item("BB-CHOP-10P", 280, "1.60", "12.95", "Reusable Bamboo Chopsticks, 10 pairs"),
), sea_days=15, day=10)
LANES = (SILK_US, SILK_DE, BAMBOO_US)
#: Units the current month's story takes from the US silk stock (3 outbound orders; see ``story``).
STORY_UNITS = {("silk", "US-ONT-1", "SC-MUL-90"): 12, ("silk", "US-ONT-1", "BL-CREPE-M"): 3}


@dataclass
class Export:
    """One 9810 declaration of the year and its journey."""
    lane: Lane
    month: date
    ie_date: date
    n: int
    lines: list[tuple[str, int, str]]  # sku, qty, declared price
    departed: datetime
    arrived: datetime  # at the port of discharge
    received: datetime | None  # counted at the warehouse (None: still on its way)
    counts: list[dict] = field(default_factory=list)  # receive lines: line_no, received_qty, damaged_qty, reason


@dataclass
class OrderLine:
    sku: str
    qty: int
    price: str


@dataclass
class Order:
    channel: str  # amazon.com | amazon.de | shopify
    order_id: str
    at: datetime
    status: str  # shipped | pending | cancelled | returned
    country: str
    lines: list[OrderLine]
    retail_9610: bool = False  # a direct parcel from China (9610), not warehouse stock


@dataclass
class YearPlan:
    today: date
    months: list[date]
    exports: list[Export]
    orders: list[Order]

    def of_channel(self, channel: str) -> list[Order]:
        return [o for o in self.orders if o.channel == channel]

    @property
    def retail(self) -> list[Order]:
        return [o for o in self.orders if o.retail_9610]


def month_start(d: date, back: int = 0) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - back, 12)
    return date(y, m + 1, 1)


def _at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


# Receiving discrepancies of the year (lane key, month index, line index): short or damaged, with the reason.
DISCREPANCIES = {
    ("silk-us", 2, 0): (-20, 0, "短少1箱（20条），提单件数相符，已向承运人索赔"),
    ("silk-de", 4, 2): (0, 6, "外箱受潮，6只枕套污损"),
    ("bamboo-us", 3, 0): (0, 9, "9块砧板运输中开裂"),
    ("silk-us", 7, 1): (-5, 2, "短少5件，2件吊牌缺失不可售"),
    ("bamboo-us", 8, 2): (-10, 0, "短少1箱（10只蒸笼）"),
}


def plan_year(today: date, seed: int = 2026) -> YearPlan:
    rnd = random.Random(seed)
    current = month_start(today)
    months = [month_start(today, back) for back in range(11, 0, -1)]  # the 11 months before this one
    exports: list[Export] = []
    for lane in LANES:
        for i, month in enumerate(months):
            ie = month.replace(day=lane.day)
            # goods leave for the demand one to two months later
            factor = (SEASON[month_start(ie, -1).month] + SEASON[month_start(ie, -2).month]) / 2
            lines = [(item.sku, max(10, round(item.monthly * factor / 10) * 10), item.declared)
                     for item in lane.items]
            departed = _at(ie + timedelta(days=2), 8)
            arrived = departed + timedelta(days=lane.sea_days)
            received = arrived + timedelta(days=2 if lane.country == "US" else 3, hours=6)
            if received >= _at(today, 0):
                received = None  # still on its way at the demo's today
            exp = Export(lane, month, ie, i + 1, lines, departed, arrived, received)
            for line_no, (_sku, qty, _p) in enumerate(lines, start=1):
                short, damaged, reason = DISCREPANCIES.get((lane.key, i, line_no - 1), (0, 0, None))
                exp.counts.append({"line_no": line_no, "received_qty": qty + short - damaged,
                                   "damaged_qty": damaged, **({"reason": reason} if reason else {})})
            exports.append(exp)
    orders = _orders(rnd, today, months[0], current, exports)
    return YearPlan(today, months, exports, orders)


class _Stock:
    """Units each (owner, warehouse, SKU) may still sell on a day: received before it, less what was sold."""

    def __init__(self, exports: list[Export]):
        self.arrivals = sorted(((e.received, e.lane, e.counts, e.lines) for e in exports if e.received),
                               key=lambda a: a[0])
        self.free: dict[tuple, int] = defaultdict(int)
        self.pos = 0
        for key, n in STORY_UNITS.items():  # taken by the story's orders: never sold twice
            self.free[key] -= n

    def until(self, moment: datetime) -> None:
        while self.pos < len(self.arrivals) and self.arrivals[self.pos][0] < moment:
            _when, lane, counts, lines = self.arrivals[self.pos]
            for count, (sku, _q, _p) in zip(counts, lines, strict=True):
                self.free[(lane.owner, lane.warehouse, sku)] += count["received_qty"]
            self.pos += 1

    def take(self, key: tuple, qty: int) -> int:
        got = min(qty, max(0, self.free[key]))
        self.free[key] -= got
        return got


AMAZON_PREFIX = {"amazon.com": ("111", "112", "113", "114"), "amazon.de": ("028", "302", "303", "304", "305", "306")}
RETAIL_COUNTRIES = ("CA", "GB", "AU", "CA", "GB", "NZ", "IE")


def _orders(rnd: random.Random, today: date, first: date, current: date, exports: list[Export]) -> list[Order]:
    stock = _Stock(exports)
    lanes = {"amazon.com": SILK_US, "amazon.de": SILK_DE, "shopify": BAMBOO_US}
    # orders per day in an average month, so that most of what was exported sells within the year
    per_day = {"amazon.com": 40.0, "amazon.de": 22.0, "shopify": 17.0}
    orders: list[Order] = []
    end = today
    day = first
    now = _at(today, 0)
    while day <= end:
        start = _at(day, 0)
        stock.until(start)
        for channel, lane in lanes.items():
            weights = [item.monthly for item in lane.items]
            n = _poisson(rnd, per_day[channel] * SEASON[day.month] * (1.1 if day.weekday() >= 5 else 1.0))
            for _ in range(n):
                at = start + timedelta(seconds=rnd.randrange(86_400))
                age = (now - at).total_seconds() / 86_400
                if at >= datetime.now(UTC) - timedelta(minutes=30):
                    continue
                status = "pending" if age < 1.5 else "shipped"
                roll = rnd.random()
                if roll < 0.02:
                    status = "cancelled"
                elif roll < 0.03 and status == "shipped" and channel != "shopify" and age > 10:
                    status = "returned"
                kinds = 1 + (rnd.random() < (0.35 if channel == "shopify" else 0.12))
                lines = []
                for item in rnd.choices(lane.items, weights, k=kinds):
                    if any(li.sku == item.sku for li in lines):
                        continue
                    qty = 1 if rnd.random() < 0.82 else rnd.choice((2, 2, 3, 4))
                    if status != "cancelled":
                        qty = stock.take((lane.owner, lane.warehouse, item.sku), qty)
                    if qty:
                        lines.append(OrderLine(item.sku, qty, item.price))
                if not lines:
                    continue
                if channel == "shopify":
                    oid, country = "", "US"  # numbered below, in time order
                else:
                    prefix = rnd.choice(AMAZON_PREFIX[channel])
                    oid = f"{prefix}-{rnd.randrange(10**7):07d}-{rnd.randrange(10**7):07d}"
                    country = "DE" if channel == "amazon.de" and rnd.random() < 0.86 else \
                        ("AT" if channel == "amazon.de" else "US")
                    if channel == "amazon.de" and country == "AT" and rnd.random() < 0.4:
                        country = rnd.choice(("FR", "NL", "BE"))
                orders.append(Order(channel, oid, at, status, country, lines))
        # the bamboo shop's orders from outside the US go as direct parcels from China (9610)
        if day.weekday() in (1, 4) and rnd.random() < 0.45 and day > first + timedelta(days=20):
            at = _at(day, 3) + timedelta(seconds=rnd.randrange(40_000))
            if at < now - timedelta(days=2):
                items = rnd.sample(BAMBOO_US.items, k=rnd.choice((1, 1, 2)))
                orders.append(Order("shopify", "", at, "shipped", rnd.choice(RETAIL_COUNTRIES),
                                    [OrderLine(i.sku, rnd.choice((1, 1, 2)), i.price) for i in items],
                                    retail_9610=True))
        day += timedelta(days=1)
    orders.sort(key=lambda o: o.at)
    shop = (o for o in orders if o.channel == "shopify")
    # A shop numbers its orders in the order they come in, from 1001. Shopify writes the order's name as the
    # number with the shop's prefix and suffix ("Order ID format" in the general settings, "#" by default:
    # shopidevs.com/shopify-order-numbers, support.storeautomator.com "Reference Order Number Source"); this
    # shop uses the prefix "SHOP", so that its 9610 parcels' declarations (CEB orderNo) carry the same text as
    # its orders export and the rebate's and the receivables' order-number link finds the sale.
    for n, order in enumerate(shop, start=1001):
        order.order_id = f"SHOP{n}"
    return orders


def _poisson(rnd: random.Random, lam: float) -> int:
    # normal approximation is enough for a demo's daily counts (λ ≥ 10)
    return max(0, round(rnd.gauss(lam, lam ** 0.5)))
