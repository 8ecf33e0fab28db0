"""Sales import throughput against the database's own bulk path, and idempotency of a second run.

Issue 5 item 7. The script:

1. generates ``--rows`` order lines (default 1,000,000) as an Amazon "All Orders" report with the tests'
   generator (``python -m tests.sales.generate N FILE``, written line by line to a temporary directory);
2. parses that file ONCE in this process with the importer's own parser (``parsed_rows`` + ``line_hash``)
   into a COPY-text file holding exactly the columns the importer writes to ``sales_order_lines``
   (``sales.bulk.COLUMNS``, values as text, ``\\N`` for NULL) — the rows of the raw baselines;
3. for each backend (``--backend sqlite|postgresql|both``): a fresh data directory, for PostgreSQL a scratch
   database of its own inside the server of ``TRADELOOP_BENCH_PG_URL`` (default
   ``postgresql://postgres@127.0.0.1:5432/test``; dropped at the end), ``tradeloop db upgrade``,
   ``tradeloop enterprise create``, then:

   - import #1: ``tradeloop import orders FILE --channel amazon --enterprise USCC --json`` as a subprocess;
     wall time = from spawning the process until it exited (so it includes the interpreter's start, the
     imports of the app and the connection: the "CLI start" column shows that fixed cost, measured with
     ``tradeloop enterprise list --json`` on the same database); peak memory = ``ru_maxrss`` of that one
     child, read with ``os.wait4`` (the same number ``/usr/bin/time -v`` prints as "Maximum resident set
     size");
   - import #2 of the same file: must report 0 inserted and 0 updated (exit 1 otherwise);
   - the rows in ``sales_order_lines`` are counted (must equal read - rejected);
   - the raw baseline with the rows of step 2: PostgreSQL ``COPY … FROM STDIN`` (text format, the file
     streamed in 1 MiB blocks) into a bare UNLOGGED table of the same columns, all ``text``, no indexes,
     no constraints, committed; SQLite one ``executemany`` INSERT into a bare table of the same columns (no
     types, no indexes) in a new database file with tradeloop's pragmas (WAL, synchronous=NORMAL), in one
     transaction, committed — the rows are read from the COPY-text file and split per line by a generator
     (that split is part of the baseline's time; holding 1M rows as Python tuples would take gigabytes).

rows/s = data rows of the file / wall time. The ratios are importer rows/s divided by raw rows/s (1.00 =
as fast as the bare bulk path; the importer also parses, validates, hashes, looks up SKUs, and on PostgreSQL
merges into an indexed table). ``peak_mb`` is the largest peak RSS of the importer processes (both imports
of both backends), in MiB.

Run from the repository root::

    .venv/bin/python benchmarks/import_orders.py --rows 200000
    .venv/bin/python benchmarks/import_orders.py                 # 1,000,000 rows, both backends
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
OTHER_CPU_WARNING = 0.25
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def new_uscc(division: str = "320509") -> str:
    from tradeloop.enterprises.uscc import CHARSET, check_character

    n, digits = int(time.time() * 1000) % (len(CHARSET) ** 8), []
    for _ in range(8):
        n, r = divmod(n, len(CHARSET))
        digits.append(CHARSET[r])
    first17 = "91" + division + "B" + "".join(reversed(digits))
    return first17 + check_character(first17)


def host_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


@dataclass
class Timed:
    """One measured subprocess or in-process step."""

    seconds: float = 0.0
    peak_mb: float | None = None  # ru_maxrss of the child (subprocess steps only)
    child_cpu: float | None = None  # user+sys CPU seconds of the child
    host_busy: float = 0.0  # share of the whole host's cores busy during the step (0..1)
    out: dict = field(default_factory=dict)


def run_child(cmd: list[str], env: dict, stdout_path: Path) -> tuple[int, Timed, str]:
    """Run ``cmd``; wall time from spawn to exit, and the child's own rusage via ``os.wait4``."""
    t = Timed()
    b0, a0 = host_cpu()
    with stdout_path.open("wb") as out, (stdout_path.with_suffix(".err")).open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=ROOT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        t.seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    b1, a1 = host_cpu()
    t.host_busy = (b1 - b0) / max(1, a1 - a0)
    t.peak_mb = usage.ru_maxrss / 1024  # Linux: KiB
    t.child_cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, t, stdout_path.with_suffix(".err").read_text(errors="replace")


# --- the rows of the raw baselines ------------------------------------------------------------------


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def prepare_rows(report: Path, target: Path, database_url: str) -> tuple[int, int]:
    """Parse the report with the importer's parser into COPY text of ``bulk.COLUMNS``. (lines, rejected)."""
    from tradeloop.kit.db import Database
    from tradeloop.kit.models import utcnow
    from tradeloop.sales.bulk import new_ids
    from tradeloop.sales.importers import IMPORTERS, Codes, Context, open_source, parsed_rows
    from tradeloop.sales.importers.values import Row, line_hash, zone

    db = Database.from_url(database_url)
    try:
        with db.transaction() as session:
            ctx = Context(Codes.load(session), zone("UTC"))
    finally:
        db.dispose()
    importer = IMPORTERS["amazon"](ctx)
    source = open_source(report, delimiter=importer.delimiter)
    enterprise, import_id = uuid.uuid4().hex, uuid.uuid4().hex
    now = _copy_text(utcnow())
    lines = rejected = 0
    batch: list = []

    def flush(fh):
        ids = new_ids(len(batch))
        fh.write("".join(
            "\t".join([enterprise, row_id, *map(_copy_text, values), line_hash(values), "\\N", "t", import_id,
                       now, now]) + "\n"
            for values, row_id in zip(batch, ids, strict=True)))
        batch.clear()

    with target.open("w", encoding="utf-8", newline="\n") as fh:
        for _number, out in parsed_rows(source, importer):
            if isinstance(out, Row):
                rejected += 1
                continue
            batch.append(out)
            lines += 1
            if len(batch) >= 5000:
                flush(fh)
        flush(fh)
    return lines, rejected


def _unescape(cell: str):
    if cell == "\\N":
        return None
    if "\\" in cell:
        return cell.replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").replace("\\\\", "\\")
    return cell


def raw_postgres(database_url: str, rows_file: Path, columns: tuple[str, ...]) -> Timed:
    import psycopg

    t = Timed()
    with psycopg.connect(database_url) as conn:
        conn.execute(f"CREATE UNLOGGED TABLE bench_bare_lines ({', '.join(f'{c} text' for c in columns)})")
        conn.commit()
        b0, a0 = host_cpu()
        start = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_bare_lines ({', '.join(columns)}) FROM STDIN") as copy, \
                rows_file.open("rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.commit()
        t.seconds = time.perf_counter() - start
        b1, a1 = host_cpu()
        t.host_busy = (b1 - b0) / max(1, a1 - a0)
        t.out["count"] = conn.execute("SELECT COUNT(*) FROM bench_bare_lines").fetchone()[0]
    return t


def raw_sqlite(path: Path, rows_file: Path, columns: tuple[str, ...]) -> Timed:
    t = Timed()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"CREATE TABLE bench_bare_lines ({', '.join(columns)})")
        sql = f"INSERT INTO bench_bare_lines VALUES ({', '.join('?' for _ in columns)})"

        def rows():
            with rows_file.open("r", encoding="utf-8", newline="\n") as fh:
                for line in fh:
                    yield tuple(_unescape(c) for c in line.rstrip("\n").split("\t"))

        b0, a0 = host_cpu()
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows())
        conn.execute("COMMIT")
        t.seconds = time.perf_counter() - start
        b1, a1 = host_cpu()
        t.host_busy = (b1 - b0) / max(1, a1 - a0)
        t.out["count"] = conn.execute("SELECT COUNT(*) FROM bench_bare_lines").fetchone()[0]
    finally:
        conn.close()
    return t


# --- one backend ------------------------------------------------------------------------------------


@dataclass
class BackendResult:
    name: str
    detail: str = ""
    startup: Timed | None = None
    first: Timed | None = None
    second: Timed | None = None
    raw: Timed | None = None
    stored: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def tradeloop_cli(env: dict, tmp: Path, name: str, *args: str) -> tuple[int, Timed, str]:
    return run_child([sys.executable, "-m", "tradeloop", *args], env, tmp / f"{name}.out")


def run_backend(name: str, report: Path, rows_file: Path, expected_lines: int, pg_admin_url: str | None,
                ) -> BackendResult:
    from sqlalchemy import text

    from tradeloop.kit.db import Database
    from tradeloop.sales.bulk import COLUMNS

    started = time.perf_counter()
    result = BackendResult(name)
    with tempfile.TemporaryDirectory(prefix=f"tradeloop-bench-import-{name}-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = tmp / "data"
        data_dir.mkdir()
        env = {**os.environ, "TRADELOOP_DATA_DIR": str(data_dir), "TRADELOOP_SECRET_KEY": "benchmark-secret",
               "PYTHONUNBUFFERED": "1"}
        env.pop("TRADELOOP_DATABASE_URL", None)
        scratch = admin = None
        database_url = f"sqlite:///{data_dir / 'tradeloop.sqlite3'}"
        if name == "postgresql":
            import psycopg

            scratch = f"tradeloop_bench_import_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = psycopg.connect(pg_admin_url, autocommit=True)
            admin.execute(f"CREATE DATABASE \"{scratch}\" ENCODING 'UTF8' TEMPLATE template0")
            database_url = make_url(pg_admin_url).set(database=scratch).render_as_string(hide_password=False)
            env["TRADELOOP_DATABASE_URL"] = database_url
        try:
            rc, _t, err = tradeloop_cli(env, tmp, "upgrade", "db", "upgrade", "--data-dir", str(data_dir))
            if rc != 0:
                raise SystemExit(f"{name}: tradeloop db upgrade failed ({rc}):\n{err}")
            uscc = new_uscc()
            rc, _t, err = tradeloop_cli(env, tmp, "enterprise", "enterprise", "create", "--uscc", uscc,
                                        "--name", "苏州吴江丝绸服饰有限公司", "--kind", "manufacturer",
                                        "--data-dir", str(data_dir))
            if rc != 0:
                raise SystemExit(f"{name}: tradeloop enterprise create failed ({rc}):\n{err}")
            db = Database.from_url(database_url)
            with db.engine.connect() as conn:
                version = conn.exec_driver_sql("SELECT sqlite_version()" if db.is_sqlite else "SHOW server_version"
                                               ).scalar()
            db.dispose()
            result.detail = (f"SQLite {version} (WAL, synchronous=NORMAL), file in {data_dir}" if name == "sqlite"
                             else f"PostgreSQL {version}, scratch database {scratch}")
            log(f"{name}: {result.detail}; enterprise {uscc}")
            rc, result.startup, err = tradeloop_cli(env, tmp, "startup", "enterprise", "list", "--json",
                                                    "--data-dir", str(data_dir))
            if rc != 0:
                raise SystemExit(f"{name}: tradeloop enterprise list failed ({rc}):\n{err}")

            for label in ("first", "second"):
                log(f"{name}: import #{1 if label == 'first' else 2} of {report.name}")
                rc, t, err = tradeloop_cli(env, tmp, f"import-{label}", "import", "orders", str(report),
                                           "--channel", "amazon", "--enterprise", uscc, "--json",
                                           "--data-dir", str(data_dir))
                if rc != 0:
                    raise SystemExit(f"{name}: import #{label} exited {rc} after {t.seconds:.1f} s:\n{err[-4000:]}")
                t.out = json.loads((tmp / f"import-{label}.out").read_text())
                t.out["errors"] = len(t.out.get("errors") or [])
                setattr(result, label, t)
                log(f"  {t.seconds:.1f} s, peak RSS {t.peak_mb:.0f} MiB: "
                    + ", ".join(f"{k} {v:,}" for k, v in t.out.items()))
            one, two = result.first.out, result.second.out
            if one["read"] != two["read"] or one["read"] < expected_lines:
                result.problems.append(f"read {one['read']:,} / {two['read']:,} lines, the file has "
                                       f"{expected_lines:,} order lines")
            if one["inserted"] != expected_lines:
                result.problems.append(f"import #1 inserted {one['inserted']:,}, expected {expected_lines:,}")
            if two["inserted"] or two["updated"]:
                result.problems.append(f"import #2 changed rows: inserted {two['inserted']:,}, updated "
                                       f"{two['updated']:,} (must both be 0)")
            if two["unchanged"] != two["read"] - two["rejected"]:
                result.problems.append(f"import #2: unchanged {two['unchanged']:,} != read - rejected")
            db = Database.from_url(database_url)
            try:
                with db.engine.connect() as conn:
                    result.stored = conn.execute(text("SELECT COUNT(*) FROM sales_order_lines")).scalar()
            finally:
                db.dispose()
            if result.stored != expected_lines:
                result.problems.append(f"sales_order_lines holds {result.stored:,} rows, expected {expected_lines:,}")

            what = "COPY into an unlogged text table" if name == "postgresql" else "executemany into a bare table"
            log(f"{name}: raw baseline ({what})")
            if name == "postgresql":
                result.raw = raw_postgres(make_url(database_url).render_as_string(hide_password=False), rows_file,
                                          COLUMNS)
            else:
                result.raw = raw_sqlite(tmp / "bare.sqlite3", rows_file, COLUMNS)
            if result.raw.out["count"] != expected_lines:
                result.problems.append(f"raw baseline stored {result.raw.out['count']:,} rows")
            log(f"  {result.raw.seconds:.1f} s")
        finally:
            if admin is not None:
                with suppress(Exception):
                    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = %s AND pid <> pg_backend_pid()", (scratch,))
                    admin.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
                admin.close()
    result.seconds = time.perf_counter() - started
    return result


# --- report -----------------------------------------------------------------------------------------


def others(t: Timed) -> float:
    """Cores kept busy during the step by processes other than the measured child."""
    own = (t.child_cpu or 0.0) / t.seconds if t.seconds > 0 else 0.0
    return max(0.0, t.host_busy * (os.cpu_count() or 1) - own)


def rate(rows: int, t: Timed | None) -> float:
    return rows / t.seconds if t and t.seconds > 0 else float("nan")


def print_results(rows: int, results: list[BackendResult], gen_seconds: float, prep_seconds: float,
                  file_mb: float) -> None:
    print()
    print(f"== {rows:,} order lines, Amazon All Orders report of {file_mb:,.1f} MiB (generated in "
          f"{gen_seconds:.1f} s; parsed once for the raw baselines in {prep_seconds:.1f} s); "
          f"host: {os.cpu_count()} cores ==")
    head = (f"{'backend':<12}{'step':<34}{'wall s':>9}{'rows/s':>11}{'vs raw':>8}{'peak MiB':>10}{'CPU s':>8}"
            f"{'host busy':>10}{'others':>8}  result")
    print(head)
    print("-" * len(head))
    for r in results:
        raw_rate = rate(rows, r.raw)
        steps = [("CLI start (enterprise list)", r.startup), ("import #1 (CLI, new rows)", r.first),
                 ("import #2 (CLI, same file)", r.second),
                 ("raw COPY, unlogged text table" if r.name == "postgresql" else "raw executemany, bare table",
                  r.raw)]
        for label, t in steps:
            if t is None:
                continue
            is_import = label.startswith("import")
            rr = rate(rows, t) if label != steps[0][0] else float("nan")
            vs = f"{rr / raw_rate:.2f}" if is_import else ""
            outcome = ""
            if is_import:
                outcome = (f"read {t.out['read']:,} ins {t.out['inserted']:,} upd {t.out['updated']:,} "
                           f"unch {t.out['unchanged']:,} rej {t.out['rejected']:,}")
            elif t is r.raw:
                outcome = f"{t.out['count']:,} rows in the bare table"
            print(f"{r.name:<12}{label:<34}{t.seconds:>9.2f}{'' if rr != rr else f'{rr:,.0f}':>11}{vs:>8}"
                  f"{'' if t.peak_mb is None else f'{t.peak_mb:,.0f}':>10}"
                  f"{'' if t.child_cpu is None else f'{t.child_cpu:.1f}':>8}{t.host_busy:>10.0%}"
                  f"{'' if t.child_cpu is None else f'{others(t):.2f}':>8}  {outcome}")
        print(f"{'':<12}sales_order_lines rows after both imports: {r.stored:,}; backend took {r.seconds:.0f} s"
              + ("" if not r.problems else "; PROBLEMS: " + "; ".join(r.problems)))
    print("(wall s of an import = spawn to exit of `tradeloop import orders … --json`, so it includes the CLI start "
          "shown on the first line; peak MiB = ru_maxrss of that process (os.wait4), CPU s = its user+sys CPU "
          "(PostgreSQL's server processes are not in it); host busy = share of all the host's cores busy during the "
          "step, including the database server and anything else running; others = cores busy during the step "
          "minus the importing process's own CPU, i.e. the PostgreSQL server plus every other process on the host.)")
    busy = [t for r in results for t in (r.first, r.second) if t is not None and r.name == "sqlite"
            and others(t) > OTHER_CPU_WARNING]
    if busy:
        print(f"NOTE: during {len(busy)} SQLite import(s) (where the importing process is the only worker) other "
              f"processes kept up to {max(others(t) for t in busy):.2f} cores busy: the host was not quiet (e.g. a "
              "CI run), these numbers are disturbed.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="order lines to generate (default 1000000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pg_admin_url = None
    if "postgresql" in backends:
        raw = os.environ.get("TRADELOOP_BENCH_PG_URL", DEFAULT_PG_URL)
        pg_admin_url = make_url(raw).set(drivername="postgresql").render_as_string(hide_password=False)

    started = time.perf_counter()
    log(f"import benchmark: {args.rows:,} order lines, backends {', '.join(backends)}")
    with tempfile.TemporaryDirectory(prefix="tradeloop-bench-import-") as tmp_name:
        tmp = Path(tmp_name)
        report = tmp / "amazon-all-orders.txt"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tests.sales.generate", str(args.rows), str(report)], cwd=ROOT,
                       check=True)
        gen_seconds = time.perf_counter() - t0
        file_mb = report.stat().st_size / (1 << 20)
        log(f"generated {report} ({file_mb:,.1f} MiB) in {gen_seconds:.1f} s")

        # The baseline rows are parsed with the importer's parser against a migrated throw-away database
        # (the parser reads the reference codes: countries, currencies).
        prep_dir = tmp / "prep"
        prep_dir.mkdir()
        env = {**os.environ, "TRADELOOP_DATA_DIR": str(prep_dir), "TRADELOOP_SECRET_KEY": "benchmark-secret"}
        env.pop("TRADELOOP_DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "tradeloop", "db", "upgrade", "--data-dir", str(prep_dir)], env=env,
                       cwd=ROOT, check=True, capture_output=True)
        rows_file = tmp / "rows.copy"
        t0 = time.perf_counter()
        lines, rejected = prepare_rows(report, rows_file, f"sqlite:///{prep_dir / 'tradeloop.sqlite3'}")
        prep_seconds = time.perf_counter() - t0
        log(f"parsed {lines:,} lines ({rejected} rejected) into {rows_file.name} "
            f"({rows_file.stat().st_size / (1 << 20):,.1f} MiB) in {prep_seconds:.1f} s")
        if lines != args.rows:
            print(f"the parser produced {lines:,} lines from {args.rows:,} generated ({rejected} rejected)")
            return 1

        results = [run_backend(name, report, rows_file, lines, pg_admin_url) for name in backends]
    print_results(args.rows, results, gen_seconds, prep_seconds, file_mb)

    by = {r.name: r for r in results}
    nan = float("nan")

    def fmt(v: float, spec: str) -> str:
        return "n/a" if v != v else format(v, spec)

    pg, sq = by.get("postgresql"), by.get("sqlite")
    pg_rate = rate(args.rows, pg.first) if pg else nan
    pg_copy = rate(args.rows, pg.raw) if pg else nan
    sq_rate = rate(args.rows, sq.first) if sq else nan
    sq_raw = rate(args.rows, sq.raw) if sq else nan
    peak = max((t.peak_mb for r in results for t in (r.first, r.second) if t is not None), default=nan)
    problems = [f"{r.name}: {p}" for r in results for p in r.problems]
    print()
    if problems:
        print("FAILED: " + "; ".join(problems))
    print(f"(total {time.perf_counter() - started:.0f} s; rates from import #1 of each backend)")
    print(f"rows={args.rows} pg_rows_per_s={fmt(pg_rate, '.0f')} pg_copy_rows_per_s={fmt(pg_copy, '.0f')} "
          f"ratio_pg_vs_copy={fmt(pg_rate / pg_copy, '.3f')} sqlite_rows_per_s={fmt(sq_rate, '.0f')} "
          f"ratio_sqlite_vs_executemany={fmt(sq_raw and sq_rate / sq_raw, '.3f')} peak_mb={fmt(peak, '.0f')}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
