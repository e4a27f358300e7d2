"""The one adapter between the server and the grading engine: where and how a submission is graded.

The work unit is the batch's (`grader.batch.grade_student`), run in another
process: a local process whose sandboxes come from one zygote shared by all
(grader/pool.py's `local_engine` and `batch_zygote`), or a Dask worker with
``--scheduler``. `server_work`, the function that process runs, grades and
then renders both views of the result (the full one, and the public one a
student sees before release: grader/server/feedback.py), so the server
process never runs student code, pytest, or even report rendering.

Each local slot is a pool of one process: when a grading exceeds its time
budget the slot's process is stopped (its sandbox with it) and replaced,
without touching the other slots. A fault of ours (the budget exceeded, the
process died, an exception in the work unit) is raised as `InfrastructureFault`;
the queue decides whether to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from typing import Any, Callable

from grader.batch.workunit import grade_student

# A job's budget when its assignment cannot be loaded (the grading then fails fast anyway).
DEFAULT_BUDGET = 300.0


class InfrastructureFault(Exception):
    """The grading failed for a reason that is ours, not the student's (retried; never charged to them)."""


@dataclass(frozen=True)
class GradeArgs:
    """What one grading needs: the stored file, the assignment, the seed, the student and their overrides."""

    path: str
    assignment: str
    seed: int
    student: str
    overrides: dict = field(default_factory=dict)


def seed_for(key: bytes, sha256: str, assignment: str) -> int:
    """The seed a submission is graded with: fixed by its content (the same file gets the same score,
    alone or in a burst, now or at a regrade) yet unpredictable without the course's secret key."""
    mac = hmac.new(key, f"seed\0{assignment}\0{sha256}".encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:4], "big") & 0x7FFFFFFF


def time_budget(assignment_id: str) -> float:
    """The wall time one grading of `assignment_id` may take: its load timeout twice plus its CPU limit.

    Every call into student code is already bounded by the sandbox (call and
    training timeouts, CPU seconds); this outer bound catches a stuck grader
    and is generous enough that honest work never meets it.
    """
    from grader.config.assignment import AssignmentError, load_assignment
    from grader.sandbox import Limits
    try:
        limits = Limits(**load_assignment(assignment_id).limits)
    except AssignmentError:
        return DEFAULT_BUDGET
    return max(30.0, 2 * limits.load_timeout + limits.cpu_seconds)


def server_work(args: GradeArgs, work: Callable[..., dict] = grade_student) -> dict:
    """Grade in this (worker) process and render both views; returns plain data."""
    from grader.server.feedback import render_views
    outcome = work(args.path, args.assignment, args.seed, (), args.overrides, student=args.student)
    return render_views(outcome, args.assignment, args.student)


class _Slot:
    """One local grading process (a pool of one), replaced when it has to be stopped."""

    def __init__(self, make: Callable[[], Executor], close: Callable[[Executor, bool], None]) -> None:
        self._make, self._close = make, close
        self.executor: Executor | None = None

    def get(self) -> Executor:
        if self.executor is None:
            self.executor = self._make()
        return self.executor

    def stop(self, abort: bool) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            self._close(executor, abort)


class Grader:
    """Runs `server_work` for the dispatcher: `workers` local slots, or a Dask cluster."""

    def __init__(self, workers: int, *, scheduler: str | None = None, preload: tuple[str, ...] = (),
                 work: Callable[..., dict] = grade_student) -> None:
        self.workers = max(1, int(workers))
        self.scheduler, self.preload, self.work = scheduler, tuple(preload), work
        self._stack = contextlib.ExitStack()
        self._slots: asyncio.Queue[_Slot] | None = None
        self._all: list[_Slot] = []

    def start(self) -> None:
        """Start the zygote (local) or connect to the cluster; slots start their process on first use."""
        from grader.batch.pool import batch_zygote, dask_engine, local_engine
        self._slots = asyncio.Queue()
        if self.scheduler:
            engine = self._stack.enter_context(dask_engine(self.scheduler))
            shared = engine.make_executor(self.workers)
            # A cluster queues work itself: every slot hands to the same executor, and a stuck task
            # is dropped (cancelled) rather than killed.
            make, close = (lambda: shared), (lambda executor, abort: None)
            self._stack.callback(lambda: engine.close(shared, True))
        else:
            zygote = self._stack.enter_context(batch_zygote(self.preload))
            engine = local_engine(1, preload=self.preload, zygote=zygote)
            make, close = (lambda: engine.make_executor(1)), engine.close
        for _ in range(self.workers):
            slot = _Slot(make, close)
            self._all.append(slot)
            self._slots.put_nowait(slot)

    def warm(self) -> None:
        """Start every local slot's process now (they import the grader while the server starts)."""
        for slot in self._all:
            slot.get()

    def close(self) -> None:
        """Stop every slot's process and the zygote (or the cluster connection)."""
        for slot in self._all:
            slot.stop(abort=True)
        self._stack.close()

    async def grade(self, args: GradeArgs, budget: float) -> dict:
        """The work unit's outcome for `args`, within `budget` seconds; InfrastructureFault otherwise."""
        assert self._slots is not None, "Grader.start() first"
        slot = await self._slots.get()
        try:
            # In a thread: starting a slot's process (or the fork server, which imports the grader
            # first) takes seconds, and the event loop must keep serving pages and renewing leases.
            future = await asyncio.to_thread(lambda: slot.get().submit(server_work, args, self.work))
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), budget)
            except asyncio.TimeoutError:
                future.cancel()
                await asyncio.to_thread(slot.stop, True)
                raise InfrastructureFault(f"grading took longer than its time budget of {budget:g} s; "
                                          "the grading process was stopped") from None
            except BrokenExecutor:
                await asyncio.to_thread(slot.stop, True)
                raise InfrastructureFault("the grading process died while grading this submission") from None
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 -- any exception of the work unit is a grader fault
                raise InfrastructureFault(f"the grader failed: {type(exc).__name__}: {exc}"[:1000]) from None
        finally:
            self._slots.put_nowait(slot)


def usable_cpus() -> int:
    """How many CPUs this process may use (the default number of grading processes)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def outcome_problem(outcome: Any) -> str | None:
    """Why a work unit's return value cannot be recorded, or None when it has every field the queue stores."""
    if not isinstance(outcome, dict):
        return f"the work unit returned {type(outcome).__name__}, not a result"
    for key, kind in (("results", dict), ("report_html", str), ("status", str), ("public_results", dict),
                      ("public_html", str), ("summary", str), ("public_summary", str)):
        if not isinstance(outcome.get(key), kind):
            return f"the work unit's result has no valid {key!r}"
    return None
