"""The clock's jobs stop in order: a running tick may finish; one that will not is cancelled, never left behind."""

from __future__ import annotations

import asyncio

from rules.clock import SystemClock
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
