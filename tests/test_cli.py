"""The command-line interfaces later checks rely on (README, "Interfaces")."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.factories import new_uscc
from tradeloop.demo import SILK_USCC


def run(*args, env_extra=None, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "tradeloop", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    run("db", "upgrade", "--data-dir", str(d))
    return d


class TestDbUpgrade:
    def test_upgrade_is_repeatable_and_loads_reference_data_once(self, tmp_path):
        d = tmp_path / "fresh"
        first = run("db", "upgrade", "--data-dir", str(d))
        assert "reference countries: loaded 243 rows" in first.stdout
        assert (d / "tradeloop.sqlite3").exists()
        second = run("db", "upgrade", "--data-dir", str(d))
        assert "reference" not in second.stdout and "database at head" in second.stdout

    def test_database_url_overrides_the_data_dir(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
        run("db", "upgrade", "--data-dir", str(tmp_path / "d"), env_extra={"TRADELOOP_DATABASE_URL": url})
        assert (tmp_path / "elsewhere.sqlite3").exists()
        assert not (tmp_path / "d" / "tradeloop.sqlite3").exists()


class TestEnterpriseCommands:
    def test_create_then_list_json(self, data_dir):
        uscc = new_uscc()
        out = run("enterprise", "create", "--uscc", uscc, "--name", "苏州测试丝绸有限公司", "--kind", "manufacturer",
                  "--data-dir", str(data_dir))
        assert uscc in out.stdout
        listed = json.loads(run("enterprise", "list", "--json", "--data-dir", str(data_dir)).stdout)
        assert listed == [{"id": listed[0]["id"], "uscc": uscc, "name": "苏州测试丝绸有限公司", "kind": "manufacturer"}]

    def test_bad_uscc_is_refused_with_the_reason(self, data_dir):
        proc = run("enterprise", "create", "--uscc", "914403001922038217", "--name", "X", "--kind", "trader",
                   "--data-dir", str(data_dir), check=False)
        assert proc.returncode != 0
        assert "check character" in proc.stderr and "校验码" in proc.stderr

    def test_unmigrated_database_names_the_command_to_run(self, tmp_path):
        proc = run("enterprise", "list", "--data-dir", str(tmp_path / "empty"), check=False)
        assert proc.returncode != 0 and "tradeloop db upgrade" in proc.stderr


class TestApiKeyCommand:
    def test_key_alone_on_last_line_and_usable(self, data_dir, tmp_path):
        uscc = new_uscc()
        run("enterprise", "create", "--uscc", uscc, "--name", "钥匙企业", "--kind", "trader",
            "--data-dir", str(data_dir))
        out = run("apikey", "create", "--enterprise", uscc, "--scope", "read", "--data-dir", str(data_dir))
        key = out.stdout.strip().splitlines()[-1]
        assert key.startswith("tl_") and " " not in key
        from fastapi.testclient import TestClient

        from tradeloop.app import create_app
        from tradeloop.config import load_settings

        with TestClient(create_app(load_settings(data_dir))) as c:
            r = c.get("/api/v1/enterprise", headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 200 and r.json()["uscc"] == uscc
            r = c.post("/api/v1/warehouses", json={}, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code in (403, 422)


class TestUserCommand:
    def test_member_and_regulator(self, data_dir):
        uscc = new_uscc()
        run("enterprise", "create", "--uscc", uscc, "--name", "用户企业", "--kind", "trader",
            "--data-dir", str(data_dir))
        run("user", "create", "--username", "boss", "--password", "a-long-password", "--enterprise", uscc,
            "--role", "admin", "--data-dir", str(data_dir))
        run("user", "create", "--username", "bureau", "--password", "a-long-password", "--regulator-authority",
            "苏州市商务局", "--province", "江苏省", "--city", "苏州市", "--data-dir", str(data_dir))
        proc = run("user", "create", "--username", "boss", "--password", "a-long-password", "--data-dir",
                   str(data_dir), check=False)
        assert proc.returncode != 0 and "already taken" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestDemoAndServe:
    def test_demo_no_serve_builds_then_serve_answers(self, tmp_path):
        d = tmp_path / "demo"
        out = run("demo", "--no-serve", "--data-dir", str(d))
        assert "silk-admin" in out.stdout and "suzhou-commerce" in out.stdout
        # rebuilding is allowed in a demo directory, refused in a directory with other data
        run("demo", "--no-serve", "--data-dir", str(d))
        other = tmp_path / "real"
        other.mkdir()
        (other / "tradeloop.sqlite3").write_bytes(b"")
        assert run("demo", "--no-serve", "--data-dir", str(other), check=False).returncode != 0
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
        server = subprocess.Popen([sys.executable, "-m", "tradeloop", "serve", "--data-dir", str(d), "--host",
                                   "127.0.0.1", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                        assert resp.status == 200 and json.load(resp)["status"] == "ok"
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.3)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as resp:
                assert "/api/v1/warehouses" in json.load(resp)["paths"]
        finally:
            server.terminate()
            server.wait(10)

    def test_serve_refuses_an_unmigrated_database(self, tmp_path):
        proc = run("serve", "--data-dir", str(tmp_path / "nothing"), "--port", str(_free_port()), check=False)
        assert proc.returncode != 0 and "tradeloop db upgrade" in proc.stderr


class TestCustomsExchange:
    def test_exchange_round_and_summary_on_the_demo(self, tmp_path):
        d = tmp_path / "demo"
        run("demo", "--no-serve", "--data-dir", str(d))
        inbox = d / "exchange" / "inbox"
        (inbox / "junk.xml").write_bytes(b"<not-a-receipt")
        out = run("customs", "exchange", "--once", "--data-dir", str(d)).stdout
        assert "exchange: 0 to outbox, 0 simulated receipts, 1 inbox files (0 applied, 0 duplicate, 1 quarantined)" \
            in out
        assert (d / "exchange" / "failed" / "junk.xml").exists()
        # the demo already summarised this month's closed lists: nothing is left, and the reason is printed
        month = time.strftime("%Y-%m", time.gmtime(time.time() + 8 * 3600))
        refused = run("customs", "summarize", "--enterprise", SILK_USCC, "--month", month,
                      "--data-dir", str(d), check=False)
        assert refused.returncode == 1 and "no closed lists" in refused.stderr
        checked = run("check", "--data-dir", str(d))
        assert checked.stdout.startswith("quantity conserved on all ")
