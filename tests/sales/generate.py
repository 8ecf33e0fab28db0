"""Generated Amazon "All Orders" reports of any size, written line by line (tests, measurements).

    python -m tests.sales.generate ROWS FILE [--seed N] [--unknown-share 0.01]
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = ("amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
          "fulfillment-channel", "sales-channel", "order-channel", "url", "ship-service-level", "product-name", "sku",
          "asin", "item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
          "gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount", "ship-city",
          "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
          "purchase-order-number", "price-designation")
SKUS = ("SILK-SCARF-01", "SILK-TIE-02", "SILK-PJ-03")
STATUSES = (("Shipped", "Shipped"), ("Shipped", "Shipped"), ("Shipped - Delivered to Buyer", "Shipped"),
            ("Pending", "Unshipped"), ("Cancelled", "Cancelled"))


def write_amazon(path: Path, rows: int, *, seed: int = 7, unknown_share: float = 0.01, status_of=None) -> Path:
    """``rows`` order lines (orders of 1–3 lines); ``status_of(order_number)`` may override the status."""
    rnd = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = order = 0
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(HEADER) + "\n")
        while written < rows:
            order += 1
            order_id = f"{100 + order % 900:03d}-{order:07d}-{order * 7 % 10_000_000:07d}"
            when = start + timedelta(seconds=order * 37)
            status, item_status = status_of(order) if status_of else STATUSES[order % len(STATUSES)]
            for n in range(min(1 + order % 3, rows - written)):
                sku = f"GEN-UNKNOWN-{order % 50}" if rnd.random() < unknown_share else SKUS[(order + n) % 3]
                qty = 1 + (order + n) % 3
                cents = 1999 + (order * 13 + n) % 5000
                price = "" if status == "Cancelled" else f"{cents * qty / 100:.2f}"
                tax = "" if status == "Cancelled" else f"{cents * qty * 8 // 100 / 100:.2f}"
                fields = [order_id, "", when.isoformat(), (when + timedelta(days=2)).isoformat(), status,
                          "Amazon" if order % 2 else "Merchant", "Amazon.com", "", "", "Standard",
                          f"Generated product {sku}", sku, f"B0GEN{order % 1000:05d}",
                          item_status, str(qty), "" if status == "Cancelled" else "USD", price, tax, "0.00", "0.00",
                          "", "", "-1.00" if n == 0 and order % 5 == 0 else "", "", "Los Angeles", "CA", "90001",
                          "US", "", "false", "", ""]
                fh.write("\t".join(fields) + "\n")
                written += 1
    return Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", type=int)
    parser.add_argument("file", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--unknown-share", type=float, default=0.01)
    args = parser.parse_args()
    write_amazon(args.file, args.rows, seed=args.seed, unknown_share=args.unknown_share)


if __name__ == "__main__":
    main()
