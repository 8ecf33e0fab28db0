"""Outbound orders per second under concurrent clients, and the stock ledger's correctness under them.

Issue 4 item 8. For each backend (SQLite, PostgreSQL) this script:

1. makes a fresh data directory (``tempfile``) and, for PostgreSQL, a scratch database of its own inside
   the server named by ``TRADELOOP_BENCH_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``;
   the database in that URL is only used to connect, the scratch database is dropped at the end);
2. runs ``tradeloop db upgrade`` and builds, through the real service functions, an exporter, a warehouse
   operator with a US warehouse the exporter is a client of, ``SKUS`` products, a write-scoped API key and
   two received inbound orders per SKU (two lots each, ``STOCK_PER_LOT`` units per lot, so nothing runs
   out except in the oversell probe);
3. starts the server as a subprocess — ``python -m uvicorn tradeloop.app:create_app --factory`` with ONE
   worker process by default (``--workers N`` for more; no access log), on a free port — and waits for
   ``/healthz``;
4. measures ``POST /api/v1/outbound`` with ``allocate=true`` (1–3 lines of random SKUs, 1–3 units each)
   from 1, 8 and 32 concurrent clients (threads, one keep-alive ``httpx.Client`` each), ``--duration``
   seconds each; orders/s = 201 responses / wall time from the start signal until the last client has
   its last answer;
5. runs the oversell probe: a new SKU with exactly ``PROBE_UNITS`` units in two lots, 32 clients ×
   ``PROBE_ORDERS_PER_CLIENT`` orders of 1 unit at once; exactly ``PROBE_UNITS`` may succeed;
6. seeds ``--seed-orders`` existing outbound orders (default 100,000) and measures again, then probes again;
7. checks the whole database: every lot's on_hand/allocated against the sum of its movements and
   against its open allocations, every acknowledged (201) order present and fully allocated, no
   document number used twice.

Seeding (fast SQL path). ``TEMPLATE_ORDERS`` orders are first created through the real
``stock_service.create_outbound`` (allocate=True, as the API key's principal); the script checks that
this touched only the tables it knows how to clone (outbound_orders, outbound_lines,
stock_allocations, stock_movements, audit_log; stock_lots and document_sequences updated) and stops if
the service writes anywhere else. The seeded orders are then copies of those real rows with fresh
UUIDv7 ids, their own numbers (reserved from the same ``document_sequences`` counter) and marketplace
references, inserted in transactions of ``SEED_CHUNK`` orders (PostgreSQL: ``COPY FROM STDIN``; SQLite:
``executemany``), each of which also adds the copied allocation movements to the lots' ``allocated``
counters and reserves its numbers from the counter. The copies carry the seeding time as their
timestamps (their UUIDv7 ids are made then too, so ids and times agree). So the
tables and indexes hold exactly what the API writes — orders, lines, allocations, movements and audit
rows — and the ledger stays consistent (the lost-update check below covers the seeded rows too). After
seeding, PostgreSQL gets ``VACUUM ANALYZE`` of the seeded tables (what autovacuum does soon after a bulk
load on its own; without it the measurement would depend on when autovacuum happens to run) and SQLite
only a WAL checkpoint — no ``ANALYZE``, because nothing in tradeloop runs one, so a SQLite database that
grew to this size through the API has no planner statistics either.

Counts printed at the end, all of which must be 0 (exit code 1 otherwise):

- ``oversells``: probe successes above the units that existed, allocated units above them, and lots
  with on_hand < 0, allocated < 0 or allocated > on_hand (summed over both probes);
- ``lost_updates``: lots whose on_hand/allocated differ from the sums of their movements, lots whose
  allocated differs from the sum of their open allocation rows, allocated orders whose allocations do
  not cover their lines, and orders acknowledged with 201 that are not in the database;
- ``duplicate_numbers``: outbound order numbers occurring more than once per enterprise in the
  database (or, if larger, numbers handed out twice in 201 responses).

The final line uses PostgreSQL's orders/s and ratios when PostgreSQL was measured (``--backend sqlite``:
SQLite's); the three counts are summed over the backends measured. Server errors (5xx, transport
errors) are shown in the tables with the first response bodies and the server log's tracebacks; they
do not change the exit code unless they also show up as one of the three counts.

Run from the repository root::

    .venv/bin/python benchmarks/outbound_concurrency.py            # both backends, ~5 s per measurement
    .venv/bin/python benchmarks/outbound_concurrency.py --quick    # smoke run: 1 s, 5,000 seeded orders

The machine's cores are shared by the client threads, the server and PostgreSQL. Each table shows,
per measurement, the CPU used by the server process(es), the database's PostgreSQL processes, the
client (this process) and everything else on the host ("other": when it is high, another job disturbed
the measurement and the table says so), and for PostgreSQL the mean number of the server's statements
that were waiting for a row lock, sampled from ``pg_stat_activity`` every 50 ms, with the statements
they waited in.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import JSON, func, insert, select, text, update
from sqlalchemy.engine import make_url

from tradeloop.catalog import service as catalog
from tradeloop.catalog.schemas import ProductCreate
from tradeloop.enterprises import service as enterprises
from tradeloop.enterprises.schemas import EnterpriseCreate
from tradeloop.enterprises.uscc import CHARSET, check_character
from tradeloop.identity import service as identity
from tradeloop.identity.models import ApiScope
from tradeloop.kit.db import Database
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.numbering import DocumentSequence
from tradeloop.kit.tenancy import system_principal
from tradeloop.models import metadata
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse import stock_service
from tradeloop.warehouse.schemas import ClientCreate, WarehouseCreate
from tradeloop.warehouse.stock_models import StockLot
from tradeloop.warehouse.stock_schemas import InboundCreate, OutboundCreate, ReceiveIn

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SKUS = 50  # products the clients order from
STOCK_PER_LOT = 100_000_000  # the API takes quantities up to 999,999,999
PROBE_UNITS = 40  # split over two lots (15 + 25), so concurrent allocations cross a lot boundary
PROBE_ORDERS_PER_CLIENT = 4
PROBE_CLIENTS = 32
TEMPLATE_ORDERS = 64
SEED_CHUNK = 10_000
CLIENT_COUNTS = (1, 8, 32)
OTHER_CPU_WARNING = 0.25  # share of a core used by unrelated processes that makes the table say so
SHIP_TO = [
    {"name": "Jane Roe", "country": "US", "address": "1 Main St, Springfield, IL", "postcode": "62701"},
    {"name": "John Smith", "country": "US", "address": "742 Evergreen Terrace, Portland, OR", "postcode": "97201"},
    {"name": "Erika Mustermann", "country": "US", "address": "350 Fifth Avenue, New York, NY", "postcode": "10118"},
]
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- small helpers --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


_uscc_counter = itertools.count(int(time.time()) % 100_000)


def new_uscc(division: str = "320509") -> str:
    n, digits = next(_uscc_counter), []
    for _ in range(8):
        n, r = divmod(n, len(CHARSET))
        digits.append(CHARSET[r])
    first17 = "91" + division + "B" + "".join(reversed(digits))
    return first17 + check_character(first17)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return float("nan")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (uvicorn's worker processes when --workers > 1)."""
    total = process_cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += process_cpu_seconds(int(entry.name))
    return total


def postgres_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds of the PostgreSQL processes serving ``database`` (its backends, found by their process
    title) and of the server's background processes (WAL writer, checkpointer, autovacuum …)."""
    if not database:
        return {}
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        is_backend = re.search(r"\d+\.\d+\.\d+\.\d+|\[local\]", title)
        if title.startswith("postgres: ") and (f" {database} " in title or not is_backend):
            found[int(entry.name)] = process_cpu_seconds(int(entry.name))
    return found


def host_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class LockSampler(threading.Thread):
    """PostgreSQL only: every ``interval`` s, which statements of the benchmark's database wait for a lock
    (``pg_stat_activity.wait_event_type = 'Lock'``: a row lock held by another transaction until it ends)."""

    def __init__(self, database_url: str, database: str, interval: float = 0.05):
        super().__init__(daemon=True)
        self.database_url, self.database, self.interval = database_url, database, interval
        self.stop_event = threading.Event()
        self.samples, self.active = 0, 0
        self.waiting: Counter = Counter()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop_event.is_set():
                rows = conn.execute("SELECT wait_event_type, query FROM pg_stat_activity WHERE datname = %s "
                                    "AND state = 'active' AND pid <> pg_backend_pid()", (self.database,)).fetchall()
                self.samples += 1
                for wait_type, query in rows:
                    self.active += 1
                    if wait_type == "Lock":
                        m = re.search(r"\b(UPDATE|INTO|FROM)\s+(\w+)", query or "")
                        self.waiting[f"{m.group(1).replace('INTO', 'INSERT INTO')} {m.group(2)}" if m else "?"] += 1
                self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(5)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# --- the world the clients act in -----------------------------------------------------------------


@dataclass
class Fixture:
    enterprise_id: uuid.UUID
    operator_id: uuid.UUID
    warehouse_id: uuid.UUID
    api_key: str
    skus: list[str]


def _product(sku: str, name: str) -> ProductCreate:
    return ProductCreate(sku=sku, name_zh=f"真丝围巾 {name}", name_en=f"Silk scarf {name}", declared_name="围巾",
                         declared_elements="0|0|桑蚕丝100%|机织|无品牌", hs_code="6214100090",
                         customs_unit="011", unit1="011", unit1_factor=1, gross_weight_kg="0.12",
                         net_weight_kg="0.1")


def _receive(db: Database, principal, warehouse_id: uuid.UUID, lines: list[tuple[str, int]]) -> None:
    """One inbound order (ASN) for ``lines``, received in full and closed: one new lot per line."""
    with db.transaction() as s:
        order = stock_service.create_inbound(s, principal=principal, data=InboundCreate(
            warehouse_id=warehouse_id, reference="BENCH-ASN",
            lines=[{"sku": sku, "expected_qty": qty} for sku, qty in lines]))
        stock_service.receive_inbound(s, principal=principal, inbound_id=order.id, data=ReceiveIn(
            close=True, lines=[{"line_no": i + 1, "received_qty": qty} for i, (_sku, qty) in enumerate(lines)]))


def build_fixture(db: Database) -> Fixture:
    """Exporter, operator, warehouse, products, API key and stock — all through the service functions."""
    system = system_principal(label="benchmark")
    with db.transaction() as s:
        exporter = enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
            uscc=new_uscc(), name_zh="苏州吴江丝绸服饰有限公司", kind="manufacturer", province="江苏省",
            city="苏州市", district="吴江区"))
        operator = enterprises.create_enterprise(s, principal=system, data=EnterpriseCreate(
            uscc=new_uscc(), name_zh="洛杉矶港湾海外仓有限公司", kind="warehouse", province="江苏省", city="苏州市"))
        as_operator = replace(system, enterprise_id=operator.id)
        warehouse = warehouses.create_warehouse(s, principal=as_operator, data=WarehouseCreate(
            code="US-LAX-BENCH", name_zh="洛杉矶仓", name_en="LA warehouse", country="US",
            address="1 Harbor Way, Los Angeles, CA", unlocode="USLAX", tenure="owned", operator_name="Harbor 3PL"))
        warehouses.add_client(s, principal=as_operator, warehouse_id=warehouse.id,
                              data=ClientCreate(client_uscc=exporter.uscc, since=date(2025, 1, 1)))
        as_exporter = replace(system, enterprise_id=exporter.id)
        skus = [f"BENCH-SKU-{i:03d}" for i in range(1, SKUS + 1)]
        for sku in skus:
            catalog.create_product(s, principal=as_exporter, data=_product(sku, sku[-3:]))
        _row, key = identity.create_api_key(s, principal=as_exporter, name="benchmark-oms", scope=ApiScope.WRITE)
    for _lot in range(2):  # two lots per SKU: FIFO reads both, takes from the older
        _receive(db, as_exporter, warehouse.id, [(sku, STOCK_PER_LOT) for sku in skus])
    return Fixture(exporter.id, operator.id, warehouse.id, key, skus)


def add_probe_sku(db: Database, fx: Fixture, sku: str) -> None:
    """A SKU with exactly PROBE_UNITS units, in two lots (received one after the other)."""
    p = system_principal(fx.enterprise_id, label="benchmark")
    with db.transaction() as s:
        catalog.create_product(s, principal=p, data=_product(sku, "probe"))
    first = PROBE_UNITS * 3 // 8
    _receive(db, p, fx.warehouse_id, [(sku, first)])
    _receive(db, p, fx.warehouse_id, [(sku, PROBE_UNITS - first)])


# --- the server -----------------------------------------------------------------------------------


class Server:
    """``python -m uvicorn tradeloop.app:create_app --factory`` with ``--workers`` worker processes (default 1)."""

    def __init__(self, data_dir: Path, database_url: str | None, workers: int = 1):
        self.data_dir = data_dir
        self.workers = workers
        self.database_url = database_url
        self.database_name = make_url(database_url).database if database_url else None
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.env = {**os.environ, "TRADELOOP_DATA_DIR": str(data_dir), "TRADELOOP_SECRET_KEY": "benchmark-secret",
                    "TRADELOOP_EXCHANGE_INTERVAL_SECONDS": "0", "PYTHONUNBUFFERED": "1"}
        self.env.pop("TRADELOOP_DATABASE_URL", None)
        if database_url:
            self.env["TRADELOOP_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None

    def upgrade(self) -> None:
        out = subprocess.run([sys.executable, "-m", "tradeloop", "db", "upgrade", "--data-dir", str(self.data_dir)],
                             env=self.env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"tradeloop db upgrade failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tradeloop.app:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), "--no-access-log", "--log-level", "warning"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}:\n{self.log_tail(40)}")
            with suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer /healthz within 60 s:\n{self.log_tail(40)}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def log_tail(self, n: int) -> str:
        with suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def error_excerpts(self, limit_lines: int = 60) -> str:
        """The server log's first tracebacks / error lines (uvicorn logs every unhandled exception)."""
        with suppress(OSError):
            lines = self.log_path.read_text(errors="replace").splitlines()
            hits = [i for i, line in enumerate(lines) if re.search(r"Traceback|ERROR|Exception|error", line)]
            if not hits:
                return ""
            start = hits[0]
            return "\n".join(lines[start:start + limit_lines]) + (
                f"\n… ({len(hits)} error lines in {self.log_path.name} in all)" if len(hits) > 1 else "")
        return ""


# --- clients --------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    clients: int
    wall: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, 201 responses
    ids: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # first unexpected answers
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    #: PostgreSQL: mean number of the database's statements running / waiting for a row lock, per sample
    db_active: float | None = None
    lock_waits: Counter = field(default_factory=Counter)
    db_cpu: float = 0.0
    host_cpu: float = 0.0

    @property
    def other_cpu(self) -> float:
        """CPU used by processes that are not part of the measurement (other work on the host)."""
        return max(0.0, self.host_cpu - self.client_cpu - self.server_cpu - self.db_cpu)

    @property
    def ok(self) -> int:
        return self.statuses[201]

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status not in (201, 409))


def order_body(rng: random.Random, fx: Fixture, reference: str, skus: list[str] | None = None,
               qty: int | None = None) -> dict:
    picked = skus or rng.sample(fx.skus, rng.choice((1, 1, 2, 3)))
    return {"warehouse_id": str(fx.warehouse_id), "reference": reference, "ship_to": rng.choice(SHIP_TO),
            "lines": [{"sku": sku, "qty": qty or rng.randint(1, 3)} for sku in picked], "allocate": True}


def run_clients(label: str, server: Server, fx: Fixture, clients: int, *, duration: float | None = None,
                orders_per_client: int | None = None, skus: list[str] | None = None, qty: int | None = None) -> Run:
    """``clients`` threads post outbound orders from one start signal until ``duration`` is over (or each
    has posted ``orders_per_client``). Wall time runs from the signal to the last answer."""
    run = Run(label, clients)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    state = {"deadline": 0.0}
    tag = uuid.uuid4().hex[:6]

    def client(n: int) -> None:
        rng = random.Random(f"{label}-{n}")
        statuses, latencies, ids, numbers, samples = Counter(), [], [], [], []
        with httpx.Client(base_url=server.base_url, timeout=120,
                          headers={"Authorization": f"Bearer {fx.api_key}"}) as http:
            http.get("/healthz")  # open the keep-alive connection before the start signal
            start.wait()
            for i in itertools.count():
                if (orders_per_client is not None and i >= orders_per_client) or (
                        duration is not None and time.perf_counter() >= state["deadline"]):
                    break
                body = order_body(rng, fx, f"AMZ-{tag}-{n}-{i}", skus, qty)
                t0 = time.perf_counter()
                try:
                    r = http.post("/api/v1/outbound", json=body)
                except httpx.HTTPError as exc:
                    statuses["transport-error"] += 1
                    if len(samples) < 3:
                        samples.append(f"{exc.__class__.__name__}: {exc}")
                    continue
                elapsed = time.perf_counter() - t0
                statuses[r.status_code] += 1
                if r.status_code == 201:
                    data = r.json()
                    latencies.append(elapsed)
                    ids.append(data["id"])
                    numbers.append(data["number"])
                elif (r.status_code != 409 or "insufficient-stock" not in r.text) and len(samples) < 3:
                    samples.append(f"HTTP {r.status_code} for {body['lines']}: {r.text[:500]}")
        with lock:
            run.statuses.update(statuses)
            run.latencies += latencies
            run.ids += ids
            run.numbers += numbers
            run.samples += samples[: max(0, 5 - len(run.samples))]

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    cpu0, srv0, host0 = time.process_time(), tree_cpu_seconds(server.proc.pid), host_cpu()
    db0 = postgres_cpu(server.database_name)
    sampler = LockSampler(server.database_url, server.database_name) if server.database_name else None
    if sampler:
        sampler.start()
    state["deadline"] = time.perf_counter() + (duration or 0)
    start.wait()
    t0 = time.perf_counter()
    state["deadline"] = t0 + (duration or 0)
    for t in threads:
        t.join()
    run.wall = time.perf_counter() - t0
    if sampler:
        sampler.stop()
        n = max(1, sampler.samples)
        run.db_active = sampler.active / n
        run.lock_waits = Counter({k: v / n for k, v in sampler.waiting.items()})
    run.client_cpu = (time.process_time() - cpu0) / run.wall
    run.server_cpu = (tree_cpu_seconds(server.proc.pid) - srv0) / run.wall
    db1, host1 = postgres_cpu(server.database_name), host_cpu()
    run.db_cpu = sum(cpu - db0.get(pid, 0.0) for pid, cpu in db1.items()) / run.wall
    run.host_cpu = (host1[0] - host0[0]) / max(1, host1[1] - host0[1]) * (os.cpu_count() or 1)
    return run


# --- the oversell probe ---------------------------------------------------------------------------


@dataclass
class Probe:
    label: str
    sku: str
    run: Run
    lots: list[tuple[int, int]]  # (on_hand, allocated)
    movement_sums: list[tuple[int, int]]

    @property
    def allocated(self) -> int:
        return sum(a for _o, a in self.lots)

    @property
    def bad_lots(self) -> int:
        return sum(1 for o, a in self.lots if o < 0 or a < 0 or a > o)

    @property
    def oversells(self) -> int:
        return max(0, self.run.ok - PROBE_UNITS, self.allocated - PROBE_UNITS) + self.bad_lots

    @property
    def undersold(self) -> int:
        return max(0, PROBE_UNITS - self.run.ok)


def probe(label: str, db: Database, server: Server, fx: Fixture, sku: str) -> Probe:
    add_probe_sku(db, fx, sku)
    run = run_clients(f"probe-{label}", server, fx, PROBE_CLIENTS, orders_per_client=PROBE_ORDERS_PER_CLIENT,
                      skus=[sku], qty=1)
    with db.transaction(write=False) as s:
        lots = s.execute(select(StockLot.id, StockLot.on_hand, StockLot.allocated).where(
            StockLot.enterprise_id == fx.enterprise_id, StockLot.sku == sku).order_by(StockLot.received_at)).all()
        mv = metadata.tables["stock_movements"]
        sums = {lot_id: (on, al) for lot_id, on, al in s.execute(
            select(mv.c.lot_id, func.coalesce(func.sum(mv.c.d_on_hand), 0),
                   func.coalesce(func.sum(mv.c.d_allocated), 0))
            .where(mv.c.enterprise_id == fx.enterprise_id, mv.c.sku == sku).group_by(mv.c.lot_id))}
    return Probe(label, sku, run, [(int(o), int(a)) for _id, o, a in lots],
                 [tuple(int(v) for v in sums.get(i, (0, 0))) for i, _o, _a in lots])


# --- seeding --------------------------------------------------------------------------------------

CLONED = ("outbound_orders", "outbound_lines", "stock_allocations", "stock_movements", "audit_log")


def _row_counts(session) -> dict[str, int]:
    return {name: session.scalar(select(func.count()).select_from(table)) for name, table in metadata.tables.items()}


def bulk_insert(session, table, rows: list[dict]) -> None:
    """PostgreSQL: ``COPY … FROM STDIN`` on the session's connection (same transaction); SQLite: executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), rows)
        return
    columns = [c.name for c in table.columns]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                            for c in columns])


def seed_orders(db: Database, fx: Fixture, n: int, rng: random.Random) -> dict:
    """``n`` outbound orders: TEMPLATE_ORDERS through the service, the rest copied from them (see the module
    docstring). Returns counts of what was written."""
    t = {name: metadata.tables[name] for name in CLONED}
    oo, ol, sa, sm, al = (t[name] for name in CLONED)
    templates = min(n, TEMPLATE_ORDERS)
    with db.transaction() as s:
        before = _row_counts(s)
        principal = identity.principal_for_api_key(s, key=fx.api_key)
        ids = [stock_service.create_outbound(s, principal=principal, data=OutboundCreate.model_validate(
            order_body(rng, fx, f"SEED-T{i}"))).id for i in range(templates)]
        s.flush()
        grown = {k: v - before[k] for k, v in _row_counts(s).items() if v != before[k]}
    grown.pop("document_sequences", None)  # the counter row, on a database without outbound orders yet
    unknown = set(grown) - set(CLONED)
    if unknown:
        raise SystemExit(f"create_outbound now also writes {sorted(unknown)}; teach seed_orders() to copy them")
    with db.transaction(write=False) as s:
        orders = {r.id: dict(r._mapping) for r in s.execute(select(oo).where(
            oo.c.enterprise_id == fx.enterprise_id, oo.c.id.in_(ids)))}
        lines = [dict(r._mapping) for r in s.execute(select(ol).where(ol.c.enterprise_id == fx.enterprise_id,
                                                                      ol.c.outbound_id.in_(ids)))]
        allocs = [dict(r._mapping) for r in s.execute(select(sa).where(sa.c.enterprise_id == fx.enterprise_id,
                                                                       sa.c.outbound_id.in_(ids)))]
        moves = [dict(r._mapping) for r in s.execute(select(sm).where(
            sm.c.enterprise_id == fx.enterprise_id, sm.c.document_type == "outbound", sm.c.document_id.in_(ids)))]
        audits = [dict(r._mapping) for r in s.execute(select(al).where(
            al.c.entity_type == "outbound_order", al.c.entity_id.in_([str(i) for i in ids])))]
    per_order = {oid: {"order": order, "lines": [x for x in lines if x["outbound_id"] == oid],
                       "allocs": [x for x in allocs if x["outbound_id"] == oid],
                       "moves": [x for x in moves if x["document_id"] == oid],
                       "audits": [x for x in audits if x["entity_id"] == str(oid)]}
                 for oid, order in orders.items()}
    assert all(p["lines"] and p["allocs"] and p["moves"] and p["audits"] for p in per_order.values()), \
        "a template order lacks lines, allocations, movements or its audit row"
    tpl = list(per_order.values())
    prefix, digits = re.fullmatch(r"(\D*)(\d+)", tpl[0]["order"]["number"]).groups()
    width = len(digits)
    written = Counter({k: v for k, v in grown.items()})
    remaining = n - templates
    while remaining > 0:
        count = min(SEED_CHUNK, remaining)
        remaining -= count
        with db.transaction() as s:
            last = s.execute(update(DocumentSequence).where(
                DocumentSequence.enterprise_id == fx.enterprise_id, DocumentSequence.kind == "outbound")
                .values(last_value=DocumentSequence.last_value + count)
                .returning(DocumentSequence.last_value)).scalar_one()
            now = utcnow()
            rows = {name: [] for name in CLONED}
            lot_delta: Counter = Counter()
            for k in range(count):
                src = tpl[k % len(tpl)]
                oid, number = uuid7(), f"{prefix}{last - count + 1 + k:0{width}d}"
                reference = f"SEED-{number}"
                rows["outbound_orders"].append({**src["order"], "id": oid, "number": number, "reference": reference,
                                                "created_at": now, "updated_at": now})
                line_ids = {}
                for li in src["lines"]:
                    line_ids[li["id"]] = uuid7()
                    rows["outbound_lines"].append({**li, "id": line_ids[li["id"]], "outbound_id": oid})
                for a in src["allocs"]:
                    rows["stock_allocations"].append({**a, "id": uuid7(), "outbound_id": oid,
                                                      "line_id": line_ids[a["line_id"]]})
                for m in src["moves"]:
                    rows["stock_movements"].append({**m, "id": uuid7(), "document_id": oid, "document_no": number,
                                                    "occurred_at": now, "created_at": now})
                    lot_delta[(m["lot_id"], "on")] += m["d_on_hand"]
                    lot_delta[(m["lot_id"], "al")] += m["d_allocated"]
                for a in src["audits"]:
                    after = dict(a["after"] or {})
                    after.update({key: value for key, value in (("id", str(oid)), ("number", number),
                                                                ("reference", reference),
                                                                ("created_at", now.isoformat()),
                                                                ("updated_at", now.isoformat())) if key in after})
                    rows["audit_log"].append({**a, "id": uuid7(), "entity_id": str(oid), "after": after, "at": now})
            for name in CLONED:
                bulk_insert(s, t[name], rows[name])
                written[name] += len(rows[name])
            for lot_id in {lot for lot, _kind in lot_delta}:
                s.execute(update(StockLot).where(StockLot.enterprise_id == fx.enterprise_id, StockLot.id == lot_id)
                          .values(on_hand=StockLot.on_hand + lot_delta[(lot_id, "on")],
                                  allocated=StockLot.allocated + lot_delta[(lot_id, "al")], updated_at=now)
                          .execution_options(synchronize_session=False))
    if db.is_sqlite:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE " + ", ".join(CLONED + ("stock_lots", "document_sequences")))
    return dict(written)


# --- whole-database checks ------------------------------------------------------------------------


@dataclass
class Checks:
    lots: int = 0
    lot_vs_movements: int = 0
    lot_vs_allocations: int = 0
    negative_lots: int = 0
    orders: int = 0
    underallocated_orders: int = 0
    acknowledged_missing: int = 0
    db_duplicate_numbers: int = 0
    response_duplicate_numbers: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def lost_updates(self) -> int:
        return self.lot_vs_movements + self.lot_vs_allocations + self.underallocated_orders + self.acknowledged_missing

    @property
    def duplicate_numbers(self) -> int:
        return max(self.db_duplicate_numbers, self.response_duplicate_numbers)


def check_database(db: Database, acknowledged_ids: list[str], numbers: list[str]) -> Checks:
    c = Checks()
    with db.engine.connect() as conn:
        lots = conn.execute(text("""
            SELECT l.id, l.sku, l.on_hand, l.allocated,
                   COALESCE(m.s_on, 0), COALESCE(m.s_al, 0), COALESCE(a.s_open, 0)
              FROM stock_lots l
              LEFT JOIN (SELECT enterprise_id, lot_id, SUM(d_on_hand) AS s_on, SUM(d_allocated) AS s_al
                           FROM stock_movements GROUP BY enterprise_id, lot_id) m
                     ON m.enterprise_id = l.enterprise_id AND m.lot_id = l.id
              LEFT JOIN (SELECT enterprise_id, lot_id, SUM(qty) AS s_open
                           FROM stock_allocations WHERE state = 'allocated' GROUP BY enterprise_id, lot_id) a
                     ON a.enterprise_id = l.enterprise_id AND a.lot_id = l.id""")).all()
        c.lots = len(lots)
        for lot_id, sku, *values in lots:
            on, al, s_on, s_al, s_open = (int(v) for v in values)  # SUM is NUMERIC on PostgreSQL
            if (on, al) != (s_on, s_al):
                c.lot_vs_movements += 1
                c.samples.append(f"lot {lot_id} ({sku}): on_hand/allocated {on}/{al}, movements say {s_on}/{s_al}")
            if al != s_open:
                c.lot_vs_allocations += 1
                c.samples.append(f"lot {lot_id} ({sku}): allocated {al}, open allocation rows say {s_open}")
            if on < 0 or al < 0 or al > on:
                c.negative_lots += 1
                c.samples.append(f"lot {lot_id} ({sku}): on_hand {on}, allocated {al}")
        c.orders = conn.scalar(text("SELECT COUNT(*) FROM outbound_orders"))
        c.underallocated_orders = conn.scalar(text("""
            SELECT COUNT(*) FROM outbound_orders o
              JOIN (SELECT enterprise_id, outbound_id, SUM(qty) AS q FROM outbound_lines
                     GROUP BY enterprise_id, outbound_id) li
                ON li.enterprise_id = o.enterprise_id AND li.outbound_id = o.id
              LEFT JOIN (SELECT enterprise_id, outbound_id, SUM(qty) AS q FROM stock_allocations
                          GROUP BY enterprise_id, outbound_id) a
                ON a.enterprise_id = o.enterprise_id AND a.outbound_id = o.id
             WHERE o.status = 'allocated' AND li.q <> COALESCE(a.q, 0)"""))
        c.db_duplicate_numbers = conn.scalar(text("""
            SELECT COUNT(*) FROM (SELECT enterprise_id, number FROM outbound_orders
                                   GROUP BY enterprise_id, number HAVING COUNT(*) > 1) d"""))
        table = metadata.tables["outbound_orders"]
        present = {str(i) for i in conn.execute(select(table.c.id)).scalars()}
    c.acknowledged_missing = sum(1 for i in acknowledged_ids if i not in present)
    c.response_duplicate_numbers = sum(1 for _n, k in Counter(numbers).items() if k > 1)
    return c


# --- one backend ----------------------------------------------------------------------------------


@dataclass
class BackendResult:
    name: str
    detail: str
    workers: int = 1
    runs: list[Run] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    checks: Checks | None = None
    seeded: dict = field(default_factory=dict)
    seed_seconds: float = 0.0
    seed_orders: int = 0
    server_errors: str = ""
    seconds: float = 0.0

    def rate(self, stage: str, clients: int) -> float:
        return next((r.rate for r in self.runs if r.label == stage and r.clients == clients), float("nan"))

    @property
    def oversells(self) -> int:
        return sum(p.oversells for p in self.probes)


def measure(stage: str, server: Server, fx: Fixture, duration: float) -> list[Run]:
    runs = []
    for clients in CLIENT_COUNTS:
        run = run_clients(stage, server, fx, clients, duration=duration)
        log(f"  {stage:>6} {clients:>2} clients: {run.ok} orders in {run.wall:.2f} s = {run.rate:.1f}/s"
            + (f"  (other answers: {dict((k, v) for k, v in run.statuses.items() if k != 201)})"
               if run.failures or run.statuses[409] else ""))
        runs.append(run)
    return runs


def run_backend(name: str, args, pg_admin_url: str | None) -> BackendResult:
    started = time.perf_counter()
    rng = random.Random(f"seed-{name}")
    with tempfile.TemporaryDirectory(prefix=f"tradeloop-bench-{name}-") as tmp:
        data_dir = Path(tmp)
        scratch = None
        database_url = None
        admin = None
        if name == "postgresql":
            import psycopg

            scratch = f"tradeloop_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = psycopg.connect(pg_admin_url, autocommit=True)
            admin.execute(f'CREATE DATABASE "{scratch}" ENCODING \'UTF8\' TEMPLATE template0')
            database_url = make_url(pg_admin_url).set(database=scratch).render_as_string(hide_password=False)
        server = Server(data_dir, database_url, args.workers)
        db = None
        try:
            server.upgrade()
            db = Database.from_url(database_url or f"sqlite:///{data_dir / 'tradeloop.sqlite3'}")
            with db.engine.connect() as conn:
                version = conn.exec_driver_sql("SELECT sqlite_version()" if db.is_sqlite else "SHOW server_version"
                                               ).scalar()
            detail = (f"SQLite {version}, WAL, file in {data_dir}" if db.is_sqlite
                      else f"PostgreSQL {version}, scratch database {scratch}")
            result = BackendResult(name, detail, args.workers)
            log(f"{name}: {detail}; building exporter, warehouse, {SKUS} products, API key, stock")
            fx = build_fixture(db)
            server.start()
            log(f"{name}: server on {server.base_url} ({args.workers} uvicorn worker process(es)); warming up")
            warm = run_clients("warm-up", server, fx, 1, orders_per_client=30)
            if warm.failures:
                log(f"  warm-up answers: {dict(warm.statuses)} {warm.samples[:1]}")
            result.runs += measure("empty", server, fx, args.duration)
            result.probes.append(probe("empty", db, server, fx, "BENCH-PROBE-1"))
            log(f"  probe (empty): {result.probes[-1].run.ok} of {PROBE_CLIENTS * PROBE_ORDERS_PER_CLIENT} "
                f"one-unit orders succeeded for {PROBE_UNITS} units")
            if args.seed_orders > 0:
                log(f"{name}: seeding {args.seed_orders:,} outbound orders")
                t0 = time.perf_counter()
                result.seeded = seed_orders(db, fx, args.seed_orders, rng)
                result.seed_seconds = time.perf_counter() - t0
                result.seed_orders = args.seed_orders
                log(f"  seeded in {result.seed_seconds:.1f} s: {result.seeded}")
                result.runs += measure("seeded", server, fx, args.duration)
                result.probes.append(probe("seeded", db, server, fx, "BENCH-PROBE-2"))
                log(f"  probe (seeded): {result.probes[-1].run.ok} of {PROBE_CLIENTS * PROBE_ORDERS_PER_CLIENT} "
                    f"one-unit orders succeeded for {PROBE_UNITS} units")
            all_runs = [warm, *result.runs, *(p.run for p in result.probes)]
            result.checks = check_database(db, [i for r in all_runs for i in r.ids],
                                           [n for r in all_runs for n in r.numbers])
            result.runs.insert(0, warm)
            server.stop()
            result.server_errors = server.error_excerpts()
        finally:
            server.stop()
            if db is not None:
                db.dispose()
            if admin is not None:
                with suppress(Exception):
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()", (scratch,))
                    admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
                admin.close()
    result.seconds = time.perf_counter() - started
    return result


# --- report ---------------------------------------------------------------------------------------


def print_backend(r: BackendResult) -> None:
    print()
    print(f"== {r.name}: {r.detail}; server: {r.workers} uvicorn worker process{'es' if r.workers > 1 else ''} ==")
    head = (f"{'database':<16}{'clients':>8}{'orders':>8}{'wall s':>8}{'orders/s':>10}{'vs 1 cl.':>9}"
            f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'409':>6}{'errors':>7}{'server':>8}{'db':>6}{'client':>8}"
            f"{'other':>7}{'lock wait':>10}")
    print(head)
    print("-" * len(head))
    names = {"warm-up": "warm-up (empty)", "empty": "empty",
             "seeded": f"{r.seed_orders:,} orders"}
    for run in r.runs:
        base = r.rate(run.label, 1)
        vs1 = f"{run.rate / base:.2f}" if run.label != "warm-up" and base == base and base > 0 else ""
        lat = [x * 1000 for x in run.latencies]
        print(f"{names.get(run.label, run.label):<16}{run.clients:>8}{run.ok:>8}{run.wall:>8.2f}{run.rate:>10.1f}"
              f"{vs1:>9}{percentile(lat, .5):>8.1f}{percentile(lat, .95):>8.1f}{percentile(lat, .99):>8.1f}"
              f"{run.statuses[409]:>6}{run.failures:>7}{run.server_cpu:>8.0%}{run.db_cpu:>6.0%}"
              f"{run.client_cpu:>8.0%}{run.other_cpu:>7.0%}"
              f"{'' if run.db_active is None else format(sum(run.lock_waits.values()), '.1f'):>10}")
    print(f"(server/db/client/other: CPU used during the measurement, in shares of one core, by the server process, "
          f"the database's PostgreSQL processes, this client process, and everything else on the host; the host has "
          f"{os.cpu_count()} cores. 'errors' = 5xx, other 4xx and transport errors. 'lock wait' (PostgreSQL): "
          f"mean number of the server's statements waiting for a row lock held by another transaction)")
    for run in r.runs:
        if run.db_active is not None and run.clients > 1 and run.lock_waits:
            waits = ", ".join(f"{v:.1f} {k}" for k, v in run.lock_waits.most_common(4))
            print(f"  {run.label} {run.clients} clients: {run.db_active:.1f} statements in flight on average, "
                  f"waiting for a row lock: {waits}")
    busy = [run for run in r.runs if run.other_cpu > OTHER_CPU_WARNING]
    if busy:
        print(f"WARNING: other processes used up to {max(run.other_cpu for run in busy):.0%} of a core during "
              f"{len(busy)} of the measurements: the host was not quiet, these orders/s are disturbed")
    empty32, seeded32 = r.rate("empty", 32), r.rate("seeded", 32)
    if r.seed_orders:
        print(f"32 clients with {r.seed_orders:,} orders vs empty: {seeded32 / empty32:.2f}")
        rows = ", ".join(f"{k} {v:,}" for k, v in r.seeded.items())
        print(f"seeding: {r.seed_orders:,} orders in {r.seed_seconds:.1f} s ({r.seed_orders / r.seed_seconds:,.0f} "
              f"orders/s; {TEMPLATE_ORDERS} through create_outbound, the rest copied in one transaction per "
              f"{SEED_CHUNK:,}): {rows}")
    for p in r.probes:
        other = {k: v for k, v in p.run.statuses.items() if k not in (201, 409)}
        print(f"oversell probe ({p.label}): {PROBE_UNITS} units of {p.sku} in {len(p.lots)} lots, "
              f"{PROBE_CLIENTS} clients x {PROBE_ORDERS_PER_CLIENT} one-unit orders: {p.run.ok} x 201, "
              f"{p.run.statuses[409]} x 409" + (f", other {other}" if other else "")
              + f"; lots on_hand/allocated {p.lots}, movement sums {p.movement_sums} -> oversells {p.oversells}"
              + (f", UNDERSOLD {p.undersold}" if p.undersold else ""))
    c = r.checks
    if c is not None:
        print(f"ledger check: {c.lots} lots, {c.orders:,} outbound orders; lots != movement sums {c.lot_vs_movements}, "
              f"lots != open allocations {c.lot_vs_allocations}, negative lots {c.negative_lots}, allocated orders "
              f"not fully allocated {c.underallocated_orders}, acknowledged orders missing {c.acknowledged_missing} "
              f"-> lost updates {c.lost_updates}; duplicate numbers {c.db_duplicate_numbers} in the database, "
              f"{c.response_duplicate_numbers} in responses")
        for sample in c.samples[:10]:
            print("  " + sample)
    samples = [s for run in r.runs + [p.run for p in r.probes] for s in run.samples]
    if samples:
        print("first unexpected answers:")
        for s in samples[:5]:
            print("  " + s)
    if r.server_errors:
        print("server log (errors):")
        print("  " + r.server_errors.replace("\n", "\n  "))
    print(f"backend took {r.seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 s per measurement and 5,000 seeded orders (unless given)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per measurement (default 5)")
    parser.add_argument("--seed-orders", type=int, default=None,
                        help="existing outbound orders for the second half (default 100000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    args = parser.parse_args(argv)
    args.duration = args.duration if args.duration is not None else (1.0 if args.quick else 5.0)
    args.seed_orders = args.seed_orders if args.seed_orders is not None else (5_000 if args.quick else 100_000)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    pg_admin_url = None
    if "postgresql" in backends:
        raw = os.environ.get("TRADELOOP_BENCH_PG_URL", DEFAULT_PG_URL)
        pg_admin_url = make_url(raw).set(drivername="postgresql").render_as_string(hide_password=False)

    started = time.perf_counter()
    log(f"outbound concurrency benchmark: backends {', '.join(backends)}, {args.duration:g} s per measurement, "
        f"clients {', '.join(map(str, CLIENT_COUNTS))}, {args.seed_orders:,} seeded orders")
    results = [run_backend(name, args, pg_admin_url) for name in backends]
    for r in results:
        print_backend(r)

    # The orders/s and ratios of the final line are PostgreSQL's (the production backend) when it was measured.
    main_result = next((r for r in results if r.name == "postgresql"), results[0])
    one, empty32, seeded32 = (main_result.rate("empty", 1), main_result.rate("empty", 32),
                              main_result.rate("seeded", 32))
    oversells = sum(r.oversells for r in results)
    lost = sum(r.checks.lost_updates for r in results if r.checks)
    dups = sum(r.checks.duplicate_numbers for r in results if r.checks)
    print()
    print(f"(final line: orders/s and ratios from {main_result.name}; counts summed over "
          f"{' and '.join(r.name for r in results)}; total {time.perf_counter() - started:.0f} s)")
    ratio_100k = f"{seeded32 / empty32:.2f}" if main_result.seed_orders else "n/a"
    print(f"orders_per_s_1={one:.1f} orders_per_s_32={empty32:.1f} ratio_32_vs_1={empty32 / one:.2f} "
          f"ratio_100k_vs_empty={ratio_100k} oversells={oversells} lost_updates={lost} duplicate_numbers={dups}")
    return 1 if oversells or lost or dups else 0


if __name__ == "__main__":
    sys.exit(main())
