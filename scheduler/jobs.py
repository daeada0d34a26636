"""The service's clock: APScheduler runs periodic jobs; each reads what is due from the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, time
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from rules.clock import Clock

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
Guarded = Callable[[], Coroutine[Any, Any, None]]


class Jobs:
    """The periodic jobs of one `sobot serve` process, and when each last finished.

    Jobs are named when the service is built and handed to the scheduler only by start(), so a service built
    and never started runs nothing, and an interval job's first run is the moment the service starts.
    """

    def __init__(self, clock: Clock, timezone: str) -> None:
        self._clock = clock
        self._scheduler = AsyncIOScheduler(timezone=timezone)
        self.last_run: dict[str, datetime] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._jobs: dict[str, Guarded] = {}
        self._triggers: dict[str, tuple[str, dict[str, Any]]] = {}

    def _guarded(self, name: str, job: Job) -> Guarded:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job()
            except Exception:
                # One failed tick must not stop the clock; the next tick tries again.
                log.exception("job %s failed", name)
            else:
                self.last_run[name] = self._clock.now()
            finally:
                self._running.discard(task)

        return run

    def _add(self, name: str, job: Job, trigger: str, **options: Any) -> None:
        if name in self._jobs:
            raise ValueError(f"there is already a job called {name!r}")
        self._jobs[name] = self._guarded(name, job)
        self._triggers[name] = (trigger, options)

    def every(self, name: str, seconds: int, job: Job) -> None:
        """Every `seconds`, the first time as the jobs start."""
        self._add(name, job, "interval", seconds=seconds)

    def daily(self, name: str, at: time, job: Job) -> None:
        """Each working-week morning at `at` (the job itself skips bank holidays and closure days)."""
        self._add(name, job, "cron", day_of_week="mon-fri", hour=at.hour, minute=at.minute, misfire_grace_time=3600)

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    async def run(self, name: str) -> None:
        """Run one job now, as the scheduler would: a failure is logged, a success is recorded in last_run."""
        # In a task of its own, as the scheduler runs it, so stop() cancels the job and not whoever asked for it.
        await asyncio.create_task(self._jobs[name]())

    def start(self) -> None:
        for name, (trigger, options) in self._triggers.items():
            if trigger == "interval":
                options = {**options, "next_run_time": self._clock.now()}
            self._scheduler.add_job(self._jobs[name], trigger, id=name, name=name, max_instances=1, coalesce=True,
                                    **options)  # fmt: skip
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def stop(self, grace: float = 10.0) -> None:
        """Start no more jobs; let those running finish within `grace` seconds, then cancel them.

        Called before the database closes, so a tick stopped halfway rolls back on a connection still open.
        """
        self.shutdown()
        if not self._running:
            return
        _, late = await asyncio.wait(set(self._running), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d jobs were still running after %g s and were cancelled", len(late), grace)
            await asyncio.wait(late, timeout=grace)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)
