"""Background jobs with progress: one row per job (who started it, its status, progress and result) and a
runner that does the work in a thread with its own database transactions.

A request creates the job row in its own transaction and starts the work after that transaction committed
(``start`` from a background task of the response), so the thread always finds the row. The work runs in
its own transaction(s); it may call ``JobContext.complete`` inside its last transaction, so that its data
and the job's "succeeded" commit together. Raising :class:`JobFailed` ends the job as failed with a result
(e.g. an import's error report); any other exception ends it as failed with a generic message (the details
go to the log, never to the user).

Progress is kept in memory while the job runs: on SQLite the work's write transaction holds the database
write lock, so progress cannot be written beside it. The row gets the progress when the job starts and ends,
and on PostgreSQL every few seconds while it runs, so a poll answered by another process sees it move.
Readers use :func:`progress_of`, which prefers the live value of this process.

Jobs are tenant data (``enterprise_id`` leads the key); the row is bookkeeping of the work, not business
data, so creating it writes no audit row: the work audits the changes it makes.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKeyConstraint, Index, Select, String, Text, Uuid, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tradeloop.kit.db import Base, Database
from tradeloop.kit.errors import NotFound
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import UTCDateTime, created_column, utcnow
from tradeloop.kit.pagination import paginate
from tradeloop.kit.tenancy import Action, Principal

log = logging.getLogger(__name__)

#: Seconds between progress writes to the row on PostgreSQL.
PERSIST_EVERY_SECONDS = 2.0


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_jobs_kind", "enterprise_id", "kind", "id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: What the job does, e.g. ``sales.import``; the module that owns the kind reads ``params``/``result``.
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    #: Shown in lists, e.g. the uploaded file's name.
    label: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    #: What done/total count, e.g. ``bytes`` or ``rows``.
    progress_unit: Mapped[str | None] = mapped_column(String(16))
    #: Other running counts (e.g. rows read), shown beside the bar.
    counters: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = created_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass
class Progress:
    done: int = 0
    total: int | None = None
    unit: str | None = None
    counters: dict[str, Any] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        if not self.total:
            return None
        return round(min(100.0, 100.0 * self.done / self.total), 1)


class JobFailed(Exception):
    """The work failed in a way the user should see (``message``), with an optional ``result``."""

    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.message = message
        self.result = result


_live: dict[uuid.UUID, Progress] = {}
_live_lock = threading.Lock()


def create_job(session: Session, *, principal: Principal, kind: str, label: str,
               params: dict | None = None) -> Job:
    enterprise_id = principal.tenant(Action.WRITE)
    job = Job(enterprise_id=enterprise_id, id=uuid7(), kind=kind, status=JobStatus.QUEUED, label=label[:200],
              params=params or {}, progress_done=0, counters={}, created_by=principal.label[:200],
              user_id=principal.user_id)
    session.add(job)
    session.flush()
    return job


class JobRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def readable(self, kind: str | None = None) -> Select:
        stmt = select(Job).where(Job.enterprise_id == self.principal.tenant(Action.READ))
        return stmt.where(Job.kind == kind) if kind else stmt

    def get(self, job_id: uuid.UUID, *, kind: str | None = None) -> Job:
        job = self.session.scalar(self.readable(kind).where(Job.id == job_id))
        if job is None:
            raise NotFound("Job not found.", message_zh="未找到该任务")
        return job

    def page(self, *, kind: str | None, cursor: str | None, limit: int | None):
        return paginate(self.session, self.readable(kind), Job.id, cursor=cursor, limit=limit)


def progress_of(job: Job) -> Progress:
    """The live progress when this process runs the job, else what the row holds."""
    with _live_lock:
        live = _live.get(job.id)
        if live is not None and not job.finished:
            return Progress(live.done, live.total, live.unit, dict(live.counters))
    return Progress(job.progress_done or 0, job.progress_total, job.progress_unit, dict(job.counters or {}))


class JobContext:
    """Handed to the work: report progress, and complete the job inside the work's own transaction."""

    def __init__(self, db: Database, job: Job):
        self.db = db
        self.job_id = job.id
        self.enterprise_id = job.enterprise_id
        self.params = dict(job.params or {})
        self.completed = False
        self._last_persist = time.monotonic()

    def progress(self, done: int, total: int | None = None, unit: str | None = None, **counters) -> None:
        with _live_lock:
            live = _live.setdefault(self.job_id, Progress())
            live.done = done
            if total is not None:
                live.total = total
            if unit is not None:
                live.unit = unit
            live.counters.update(counters)
            snapshot = Progress(live.done, live.total, live.unit, dict(live.counters))
        if not self.db.is_sqlite and time.monotonic() - self._last_persist >= PERSIST_EVERY_SECONDS:
            self._last_persist = time.monotonic()
            try:
                with self.db.transaction() as s:
                    _store_progress(s, self.enterprise_id, self.job_id, snapshot)
            except Exception:  # noqa: BLE001 - progress is best effort; the work goes on
                log.warning("could not store the progress of job %s", self.job_id, exc_info=True)

    def complete(self, session: Session, result: dict | None) -> None:
        """Mark the job succeeded in ``session`` (the work's transaction): data and status commit together."""
        _finish(session, self.enterprise_id, self.job_id, JobStatus.SUCCEEDED, result, None, self._snapshot())
        self.completed = True

    def _snapshot(self) -> Progress | None:
        with _live_lock:
            live = _live.get(self.job_id)
            return Progress(live.done, live.total, live.unit, dict(live.counters)) if live else None


def _store_progress(session: Session, enterprise_id: uuid.UUID, job_id: uuid.UUID, p: Progress) -> None:
    values: dict[str, Any] = {"progress_done": p.done, "counters": p.counters}
    if p.total is not None:
        values["progress_total"] = p.total
    if p.unit is not None:
        values["progress_unit"] = p.unit
    session.execute(update(Job).where(Job.enterprise_id == enterprise_id, Job.id == job_id).values(**values))


def _finish(session: Session, enterprise_id, job_id, status: JobStatus, result, error, progress) -> None:
    if progress is not None:
        _store_progress(session, enterprise_id, job_id, progress)
    session.execute(update(Job).where(Job.enterprise_id == enterprise_id, Job.id == job_id).values(
        status=status, result=result, error=error, finished_at=utcnow()))


def run(db: Database, job: Job, work: Callable[[JobContext], dict | None]) -> None:
    """Run ``work`` now, in this thread (the thread body of :func:`start`; tests may call it directly)."""
    ctx = JobContext(db, job)
    with _live_lock:
        _live[job.id] = Progress()
    try:
        with db.transaction() as s:
            s.execute(update(Job).where(Job.enterprise_id == job.enterprise_id, Job.id == job.id).values(
                status=JobStatus.RUNNING, started_at=utcnow()))
        try:
            result = work(ctx)
        except JobFailed as exc:
            with db.transaction() as s:
                _finish(s, job.enterprise_id, job.id, JobStatus.FAILED, exc.result, exc.message, ctx._snapshot())
            return
        except Exception:  # noqa: BLE001 - the user sees a generic failure; the log has the details
            log.exception("job %s (%s) failed", job.id, job.kind)
            with db.transaction() as s:
                _finish(s, job.enterprise_id, job.id, JobStatus.FAILED, None,
                        "The job failed unexpectedly; nothing it was doing was kept.", ctx._snapshot())
            return
        if not ctx.completed:
            with db.transaction() as s:
                _finish(s, job.enterprise_id, job.id, JobStatus.SUCCEEDED, result, None, ctx._snapshot())
    finally:
        with _live_lock:
            _live.pop(job.id, None)


def start(db: Database, job: Job, work: Callable[[JobContext], dict | None]) -> threading.Thread:
    """Run ``work`` in a new thread. Call after the transaction that created ``job`` committed."""
    thread = threading.Thread(target=run, args=(db, job, work), name=f"job-{job.kind}-{job.id}", daemon=True)
    thread.start()
    return thread
