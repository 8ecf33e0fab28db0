"""The demo's order files, in the real column layouts the importers read: Amazon "All Orders" reports
(tab-separated, the header of ``GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL`` as in
``tests/sales/generate.py``) for Amazon.com and Amazon.de, and a Shopify orders export (the columns of
Admin → Orders → Export, as in ``tests/fixtures/sales/shopify_orders.csv``). Buyers, order numbers and
amounts are fictional.
"""

from __future__ import annotations

import csv
import zlib
from datetime import timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from tradeloop.demo.plan import Order

AMAZON_HEADER = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "url", "ship-service-level", "product-name", "sku",
    "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
    "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
    "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order", "purchase-order-number",
    "price-designation")
SHOPIFY_HEADER = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price", "Lineitem sku",
    "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip", "Billing Province",
    "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street", "Shipping Address1", "Shipping Address2",
    "Shipping Company", "Shipping City", "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone",
    "Notes", "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level", "Source",
    "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value",
    "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties",
    "Billing Province Name", "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At",
    "Payment References")

#: Amazon order and item status per demo status (order-status, item-status).
AMAZON_STATUS = {"shipped": ("Shipped", "Shipped"), "pending": ("Pending", "Unshipped"),
                 "cancelled": ("Cancelled", "Cancelled"), "returned": ("Shipped - Returned to Seller", "Shipped")}
#: Sales tax / VAT the demo puts on a line (fictional flat rates, only so that the columns carry amounts).
TAX = {"amazon.com": Decimal("0.08"), "amazon.de": Decimal("0.19")}
CITIES = {
    "US": (("Los Angeles", "CA", "90012"), ("Austin", "TX", "78701"), ("Brooklyn", "NY", "11201"),
           ("Seattle", "WA", "98101"), ("Miami", "FL", "33131"), ("Chicago", "IL", "60601")),
    "DE": (("Hamburg", "HH", "20095"), ("Berlin", "BE", "10115"), ("München", "BY", "80331"),
           ("Köln", "NW", "50667"), ("Frankfurt am Main", "HE", "60311")),
    "AT": (("Wien", "W", "1010"), ("Graz", "ST", "8010")), "FR": (("Strasbourg", "", "67000"),),
    "NL": (("Utrecht", "", "3511"),), "BE": (("Antwerpen", "", "2000"),),
    "CA": (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1")), "GB": (("London", "", "EC1A 1BB"),),
    "AU": (("Sydney", "NSW", "2000"),), "NZ": (("Auckland", "", "1010"),), "IE": (("Dublin", "", "D02 X285"),),
}
CENT = Decimal("0.01")
#: The shop's zone, US Eastern fixed at −05:00 (a demo simplification: no daylight saving time).
_EST = timezone(timedelta(hours=-5))


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def write_amazon(path: Path, orders: list[Order], marketplace: str, names: dict[str, str]) -> int:
    """One row per order item; cancelled rows without prices or currency, as Amazon writes them."""
    currency = "EUR" if marketplace == "Amazon.de" else "USD"
    rate = TAX[marketplace.lower()]
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(AMAZON_HEADER) + "\n")
        for n, order in enumerate(orders):
            order_status, item_status = AMAZON_STATUS[order.status]
            updated = order.at + timedelta(days=0 if order.status == "pending" else 2, hours=3)
            if order.status == "returned":
                updated += timedelta(days=9)
            city, state, postcode = CITIES[order.country][n % len(CITIES[order.country])]
            cancelled = order.status == "cancelled"
            for i, line in enumerate(order.lines):
                price = Decimal(line.price) * line.qty
                promo = "-5.00" if n % 17 == 0 and i == 0 and not cancelled else ""
                fields = [order.order_id, "", order.at.isoformat(), updated.isoformat(), order_status, "Merchant",
                          marketplace, "", "", "Standard", names[line.sku], line.sku,
                          f"B0{zlib.crc32(line.sku.encode()) % 10**8:08d}", item_status, str(line.qty),
                          "" if cancelled else currency]
                if cancelled:
                    fields += [""] * 8
                else:
                    price_text = _money(price)
                    fields += [price_text, _money(price - price / (1 + rate)) if currency == "EUR"
                               else _money(price * rate), "0.00", "0.00", "", "", promo, ""]
                fields += [city, state, postcode, order.country, "DEAL-Q4" if promo else "", "false", "", ""]
                fh.write("\t".join(fields) + "\n")
                rows += 1
    return rows


def write_shopify(path: Path, orders: list[Order], names: dict[str, str]) -> int:
    """One row per line item; the order's columns on its first row only, as Shopify exports them."""
    rows = 0
    blank = {h: "" for h in SHOPIFY_HEADER}
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=SHOPIFY_HEADER, lineterminator="\n")
        out.writeheader()
        for n, order in enumerate(orders):
            created = order.at.astimezone(_EST).strftime("%Y-%m-%d %H:%M:%S %z")
            subtotal = sum(Decimal(li.price) * li.qty for li in order.lines)
            shipping = Decimal("14.95") if order.retail_9610 else Decimal("0.00") if subtotal >= 50 \
                else Decimal("6.95")
            taxes = (subtotal * Decimal("0.07")).quantize(CENT) if order.country == "US" else Decimal("0.00")
            fulfilled = order.status == "shipped"
            cancelled = order.status == "cancelled"
            financial = "voided" if cancelled else "paid"
            city, province, postcode = CITIES[order.country][n % len(CITIES[order.country])]
            shipped_at = (order.at + timedelta(days=2 if order.retail_9610 else 1, hours=5)).astimezone(_EST)
            buyer = f"Customer {n + 1:05d}"
            for i, line in enumerate(order.lines):
                row = dict(blank)
                row.update({"Name": order.order_id, "Created at": created, "Lineitem quantity": str(line.qty),
                            "Lineitem name": names[line.sku], "Lineitem price": line.price, "Lineitem sku": line.sku,
                            "Lineitem requires shipping": "true", "Lineitem taxable": "true",
                            "Lineitem fulfillment status": "fulfilled" if fulfilled else "pending",
                            "Vendor": "Zhuyun Home", "Lineitem discount": "0.00"})
                if i == 0:
                    row.update({
                        "Email": f"customer{n + 1:05d}@example.com", "Financial Status": financial,
                        "Paid at": "" if cancelled else created,
                        "Fulfillment Status": "fulfilled" if fulfilled else "unfulfilled",
                        "Fulfilled at": shipped_at.strftime("%Y-%m-%d %H:%M:%S %z") if fulfilled else "",
                        "Accepts Marketing": "no", "Currency": "USD", "Subtotal": _money(subtotal),
                        "Shipping": _money(shipping), "Taxes": _money(taxes),
                        "Total": _money(subtotal + shipping + taxes), "Discount Amount": "0.00",
                        "Shipping Method": "International Standard" if order.retail_9610 else "Standard",
                        "Billing Name": buyer, "Billing City": city, "Billing Zip": postcode,
                        "Billing Province": province, "Billing Country": order.country, "Shipping Name": buyer,
                        "Shipping Address1": f"{100 + n % 900} Demo Street", "Shipping City": city,
                        "Shipping Zip": postcode, "Shipping Province": province, "Shipping Country": order.country,
                        "Cancelled at": created if cancelled else "", "Payment Method": "Shopify Payments",
                        "Refunded Amount": "0.00", "Outstanding Balance": "0.00", "Id": str(5_550_000_000 + n),
                        "Risk Level": "Low", "Source": "web"})
                out.writerow(row)
                rows += 1
    return rows

