"""Odd bytes and numbers in order files: a clear error naming row and column, never a crash (both databases)."""

from __future__ import annotations

import pytest

from tests.sales.conftest import do_import, stored
from tradeloop.sales import service

HEADER = "amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\tcurrency\titem-price\n"


def write(tmp_path, body: str, name="odd.txt"):
    path = tmp_path / name
    path.write_bytes((HEADER + body).encode())
    return path


def test_a_nul_byte_refuses_the_file_naming_row_and_column(db, seller, tmp_path):
    path = write(tmp_path, "111-1\t2026-01-15T09:00:00+00:00\tShipped\tSILK-SCARF-01\t1\tUSD\t9.99\n"
                           "111-2\t2026-01-15T09:00:00+00:00\tShipped\tSILK\x00SCARF\t1\tUSD\t9.99\n")
    with pytest.raises(service.ImportFatal) as exc:
        do_import(db, seller, path, "amazon")
    [error] = exc.value.result.errors
    assert (error.row, error.column) == (3, "column 4") and "NUL" in error.reason
    assert stored(db, seller) == {}


@pytest.mark.parametrize("quantity,reason", [("²", "must be a whole number"), ("99999999", "is too large"),
                                             ("-1", "must not be negative"), ("1.5", "must be a whole number")])
def test_quantities_that_are_not_plain_numbers_are_row_errors(db, seller, tmp_path, quantity, reason):
    path = write(tmp_path, "111-1\t2026-01-15T09:00:00+00:00\tShipped\tSILK-SCARF-01\t1\tUSD\t9.99\n"
                           f"111-2\t2026-01-15T09:00:00+00:00\tShipped\tSILK-SCARF-01\t{quantity}\tUSD\t9.99\n")
    result = do_import(db, seller, path, "amazon")
    assert (result.inserted, result.rejected) == (1, 1)
    assert [(e.row, e.column, e.reason) for e in result.errors] == [(3, "quantity", reason)]
