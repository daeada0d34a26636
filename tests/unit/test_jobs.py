"""The clock's jobs stop in order: a running tick may finish; one that will not is cancelled, never left behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

import pytest

from rules.clock import FixedClock, SystemClock
from scheduler.jobs import Jobs


async def test_stopping_lets_a_running_job_finish_and_cancels_one_that_will_not() -> None:
    jobs = Jobs(SystemClock(), "Europe/London")
    release, a_started, b_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    async def finishes() -> None:
        a_started.set()
        await release.wait()
        seen.append("finished")

    async def never() -> None:
        b_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    jobs.every("finishes", 3600, finishes)
    jobs.every("never", 3600, never)
    jobs.start()
    await asyncio.wait_for(asyncio.gather(a_started.wait(), b_started.wait()), 10)
    stopping = asyncio.create_task(jobs.stop(grace=0.5))
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert sorted(seen) == ["cancelled", "finished"]
    assert not jobs.running
    assert "finishes" in jobs.last_run and "never" not in jobs.last_run


async def test_jobs_run_only_once_started_or_when_run_by_name() -> None:
    clock = FixedClock(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    jobs = Jobs(clock, "Europe/London")
    seen: list[str] = []

    async def tick() -> None:
        seen.append("tick")

    async def broken() -> None:
        raise RuntimeError("the records are down")

    jobs.every("tick", 3600, tick)
    jobs.daily("broken", time(8, 30), broken)
    with pytest.raises(ValueError, match="already a job called 'tick'"):
        jobs.every("tick", 60, tick)
    assert jobs.names == ["tick", "broken"] and not jobs.running and seen == []
    await jobs.run("tick")
    await jobs.run("broken")  # logged, not raised: one failed tick must not stop the clock
    assert seen == ["tick"] and jobs.last_run == {"tick": clock.now()}
    # A job run by name is over when run() returns: stopping has nothing to wait for, and never cancels the caller.
    await jobs.stop(grace=5)
    assert seen == ["tick"]
