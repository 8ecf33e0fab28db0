"""``tradeloop import orders``: the ``--json`` document, exit 0 when applied and 2 when nothing was, on SQLite
and PostgreSQL (the command run as a subprocess, like tests/test_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.sales.conftest import FIXTURES, make_seller

KEYS = ["read", "inserted", "updated", "unchanged", "rejected", "errors"]


@pytest.fixture
def cli(db, database_url, tmp_path):
    seller = make_seller(db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    env["TRADELOOP_DATABASE_URL"] = database_url

    def run(*args, enterprise=seller.enterprise.uscc):
        return subprocess.run([sys.executable, "-m", "tradeloop", "import", "orders", *map(str, args),
                               "--enterprise", enterprise, "--data-dir", str(tmp_path / "data")],
                              capture_output=True, text=True, env=env, timeout=120)

    return run


class TestImportOrdersCommand:
    def test_json_shape_exit_0_and_same_file_twice(self, cli):
        first = cli(FIXTURES / "amazon_all_orders.txt", "--channel", "amazon", "--json")
        assert first.returncode == 0, first.stderr
        body = json.loads(first.stdout)
        assert list(body) == KEYS
        assert body == {"read": 9, "inserted": 9, "updated": 0, "unchanged": 0, "rejected": 0, "errors": []}
        assert "MYSTERY-SKU-9" in first.stderr  # the unknown SKU, as a warning
        second = json.loads(cli(FIXTURES / "amazon_all_orders.txt", "--channel", "amazon", "--json").stdout)
        assert (second["inserted"], second["updated"], second["unchanged"]) == (0, 0, 9)
        later = json.loads(cli(FIXTURES / "amazon_all_orders_later.txt", "--channel", "amazon", "--json").stdout)
        assert (later["inserted"], later["updated"], later["unchanged"]) == (0, 3, 6)

    def test_bad_rows_are_listed_and_the_rest_applied(self, cli):
        proc = cli(FIXTURES / "amazon_bad_rows.txt", "--channel", "amazon", "--json")
        assert proc.returncode == 0, proc.stderr
        body = json.loads(proc.stdout)
        assert (body["read"], body["inserted"], body["rejected"]) == (9, 2, 7)
        assert all(list(e) == ["row", "column", "value", "reason"] for e in body["errors"])
        assert body["errors"][1] == {"row": 4, "column": "quantity", "value": "two", "reason": "must be a whole number"}
        assert [e["row"] for e in body["errors"]] == [3, 4, 5, 6, 7, 8, 9]

    @pytest.mark.parametrize(("name", "channel", "extra"), [
        ("amazon_missing_column.txt", "amazon", []), ("not_decodable.txt", "amazon", []),
        ("shopify_orders.csv", "ebay", []), ("generic.xlsx", "generic", ["--profile", "missing"]),
        ("amazon_bad_rows.txt", "amazon", ["--max-bad-share", "0.5"])])
    def test_fatal_exit_2_applies_nothing(self, cli, name, channel, extra):
        proc = cli(FIXTURES / name, "--channel", channel, "--json", *extra)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        body = json.loads(proc.stdout)
        assert list(body) == KEYS and (body["inserted"], body["updated"]) == (0, 0)
        assert body["errors"] and body["errors"][0]["row"] == 1
        # Nothing was applied: the good file afterwards inserts everything.
        good = json.loads(cli(FIXTURES / "amazon_all_orders.txt", "--channel", "amazon", "--json").stdout)
        assert good["inserted"] == 9

    def test_human_output(self, cli):
        proc = cli(FIXTURES / "shopify_orders_bom.csv", "--channel", "shopify")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().splitlines()[-1] == "1 lines read: 1 inserted, 0 updated, 0 unchanged, 0 rejected."

    def test_unknown_enterprise_and_channel(self, cli):
        proc = cli(FIXTURES / "amazon_all_orders.txt", "--channel", "amazon", enterprise="91320509MA1XXXXXXE")
        assert proc.returncode == 1 and "No enterprise with USCC" in proc.stderr
        proc = cli(FIXTURES / "amazon_all_orders.txt", "--channel", "walmart", "--json")
        assert proc.returncode == 2 and "the channel must be one of" in json.loads(proc.stdout)["errors"][0]["reason"]
