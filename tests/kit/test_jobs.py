"""kit.jobs: a job's row follows its work — running, succeeded with its result, failed with the reason the
user may see — and its progress is readable while it runs (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

import pytest

from tests.factories import make_enterprise
from tradeloop.kit import jobs
from tradeloop.kit.tenancy import system_principal


@pytest.fixture
def principal(db):
    with db.transaction() as s:
        ent = make_enterprise(s, name="任务企业")
    return replace(system_principal(), enterprise_id=ent.id)


def new_job(db, principal):
    with db.transaction() as s:
        return jobs.create_job(s, principal=principal, kind="test.job", label="a job", params={"n": 3})


def row(db, principal, job):
    with db.transaction(write=False) as s:
        return jobs.JobRepository(s, principal).get(job.id)


class TestRun:
    def test_success_with_progress_seen_while_running(self, db, principal):
        job = new_job(db, principal)
        assert row(db, principal, job).status == "queued"
        seen = {}

        def work(ctx):
            assert ctx.params == {"n": 3}
            ctx.progress(5, 10, "rows", read=5)
            seen["during"] = jobs.progress_of(row(db, principal, job))
            seen["status"] = row(db, principal, job).status
            return {"answer": 42}

        jobs.run(db, job, work)
        done = row(db, principal, job)
        assert (seen["status"], seen["during"].done, seen["during"].total, seen["during"].percent) == (
            "running", 5, 10, 50.0)
        assert (done.status, done.result, done.error, done.progress_done, done.counters) == (
            "succeeded", {"answer": 42}, None, 5, {"read": 5})
        assert done.started_at <= done.finished_at

    def test_complete_inside_the_works_transaction(self, db, principal):
        job = new_job(db, principal)

        def work(ctx):
            with db.transaction() as s:
                ctx.complete(s, {"done": True})
                assert row(db, principal, job).status == "running"  # not committed yet
            return {"ignored": True}

        jobs.run(db, job, work)
        assert row(db, principal, job).result == {"done": True}

    def test_job_failed_keeps_its_message_and_result(self, db, principal):
        job = new_job(db, principal)

        def work(ctx):
            raise jobs.JobFailed("Nothing was imported.", {"errors": [1]})

        jobs.run(db, job, work)
        failed = row(db, principal, job)
        assert (failed.status, failed.error, failed.result) == ("failed", "Nothing was imported.", {"errors": [1]})

    def test_unexpected_errors_are_logged_not_shown(self, db, principal, caplog):
        job = new_job(db, principal)

        def work(ctx):
            raise RuntimeError("secret detail")

        with caplog.at_level(logging.ERROR, logger="tradeloop.kit.jobs"):
            jobs.run(db, job, work)
        failed = row(db, principal, job)
        assert failed.status == "failed" and "secret" not in failed.error
        assert "secret detail" in caplog.text

    def test_start_runs_in_a_thread(self, db, principal):
        job = new_job(db, principal)
        gate = threading.Event()

        def work(ctx):
            gate.wait(10)
            return {}

        thread = jobs.start(db, job, work)
        assert thread.is_alive()
        gate.set()
        thread.join(10)
        assert row(db, principal, job).status == "succeeded"

    def test_another_tenant_cannot_read_the_job(self, db, principal):
        job = new_job(db, principal)
        with db.transaction() as s:
            other = replace(principal, enterprise_id=make_enterprise(s, name="别家").id)
        from tradeloop.kit.errors import NotFound

        with db.transaction(write=False) as s, pytest.raises(NotFound):
            jobs.JobRepository(s, other).get(job.id)
