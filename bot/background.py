"""A job that runs as one background task while the bot runs (the janitor, the morning plan)."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundJob:
    """``_run`` as one task from ``start()`` until ``stop()`` cancels it.

    ``_run`` loops on its own timer; it is cancelled only while it waits or between its steps'
    awaits, so a step that is one transaction is never cut.
    """

    task_name = "job"
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the job (again after ``stop()``; a second ``start()`` changes nothing)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Stop the job and wait until its task has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        raise NotImplementedError
