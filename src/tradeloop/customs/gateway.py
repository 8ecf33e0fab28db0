"""The file-drop exchange with customs, as an enterprise's data-exchange client works.

The client (中国电子口岸 跨境出口统一版客户端 / a DXP client) watches an *outbox* folder and sends every file
that appears there, and drops every file it receives into an *inbox* folder. So:

* outbound: each queued message is written to ``outbox/.<name>.tmp`` and renamed to ``outbox/<name>``
  (a rename within one folder is atomic: the client never sees half a file), then marked dispatched;
* inbound: every file in ``inbox/`` is ingested in its own transaction and then moved to ``processed/``
  (applied or already seen) or ``failed/`` (quarantined: the file is also kept in the database with the
  reason). A file is only moved after its transaction committed; if the process dies in between, the
  next poll finds the file again and recognises it by its SHA-256, so nothing is applied twice.

Folders default to ``DATA_DIR/exchange/{outbox,inbox,processed,failed}``; ``TRADELOOP_EXCHANGE_DIR``
moves the root.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tradeloop.customs import inbound
from tradeloop.customs.repository import ExchangeRepository
from tradeloop.customs.service import ExchangeConfig
from tradeloop.kit.db import Database
from tradeloop.kit.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExchangeFolders:
    root: Path

    @classmethod
    def from_settings(cls, settings) -> ExchangeFolders:
        return cls(Path(settings.exchange_dir) if settings.exchange_dir else settings.data_dir / "exchange")

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def ensure(self) -> ExchangeFolders:
        for folder in (self.outbox, self.inbox, self.processed, self.failed):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def write_atomic(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/name`` so that a reader sees either no file or the whole file."""
    target = folder / name
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return target


def incoming(folder: Path) -> list[Path]:
    """Files ready in a folder, oldest first; hidden and ``.tmp`` files are still being written."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
             and not p.name.endswith(".tmp")]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def dispatch(db: Database, folders: ExchangeFolders) -> int:
    """Move every queued outbound message to the outbox; returns how many were written."""
    folders.ensure()
    total = 0
    while True:
        with db.transaction() as session:
            batch = ExchangeRepository(session).undispatched(limit=200)
            for message in batch:
                write_atomic(folders.outbox, message.filename, message.content)
                message.dispatched_at = utcnow()
        total += len(batch)
        if len(batch) < 200:
            return total


@dataclass
class PollResult:
    filename: str
    result: inbound.IngestResult


def _unique(folder: Path, name: str) -> Path:
    target = folder / name
    n = 1
    while target.exists():
        target = folder / f"{Path(name).stem}.{n}{Path(name).suffix}"
        n += 1
    return target


def poll(db: Database, folders: ExchangeFolders, *, max_bytes: int = 20 * 1024 * 1024) -> list[PollResult]:
    """Ingest every file in the inbox; each file is one transaction."""
    folders.ensure()
    out = []
    for path in incoming(folders.inbox):
        try:
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)
        except FileNotFoundError:  # another poller took it
            continue
        try:
            with db.transaction() as session:
                result = inbound.ingest(session, filename=path.name, data=data, max_bytes=max_bytes)
        except Exception as exc:  # noqa: BLE001 - whatever it was, the file must not jam the inbox
            log.exception("could not apply %s", path.name)
            result = _hold_failed(db, path.name, data, exc)
            if result is None:
                continue  # the database itself failed: leave the file for the next poll
        dest = folders.failed if result.outcome == "quarantined" else folders.processed
        os.replace(path, _unique(dest, path.name))
        out.append(PollResult(path.name, result))
    return out


def _hold_failed(db: Database, filename: str, data: bytes, exc: Exception) -> inbound.IngestResult | None:
    """Quarantine a file whose application failed (e.g. a value the database refused), in a transaction of
    its own; None when even that fails (the database is down)."""
    try:
        with db.transaction() as session:
            return inbound.quarantine_failed(session, filename=filename, data=data,
                                             reason=f"could not be applied: {type(exc).__name__}: {exc}"[:2000])
    except Exception:  # noqa: BLE001
        log.exception("could not quarantine %s either; it stays in the inbox", filename)
        return None


class ExchangeWorker:
    """Runs dispatch → (simulator) → poll every ``interval`` seconds in a background thread (serve/demo)."""

    def __init__(self, db: Database, folders: ExchangeFolders, *, interval: float, simulator=None):
        self.db, self.folders, self.interval, self.simulator = db, folders, interval, simulator
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        dispatch(self.db, self.folders)
        if self.simulator is not None:
            self.simulator.run_once()
        poll(self.db, self.folders)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the worker alive; the next round retries
                log.exception("customs exchange round failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="customs-exchange", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


@lru_cache(maxsize=4)
def _signer(name: str):
    if name == "none":
        return None
    if name == "test":
        from tradeloop.customs.ceb.signing import RsaSha1TestSigner

        return RsaSha1TestSigner()
    raise ValueError(f"unknown customs signer {name!r} (none, test)")


def exchange_config(settings) -> ExchangeConfig:
    """BaseTransfer identity and signer from the settings (TRADELOOP_CUSTOMS_*)."""
    return ExchangeConfig(dxp_id=settings.customs_dxp_id, transfer_code=settings.customs_transfer_code,
                          transfer_name=settings.customs_transfer_name, signer=_signer(settings.customs_signer))
