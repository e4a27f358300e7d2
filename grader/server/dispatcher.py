"""The dispatcher: an asyncio task in the server that feeds the queue's jobs to the grader.

It claims as many jobs as there are free grading slots, grades each through
grader/server/grading.py (in another process, within the assignment's time
budget), renews each lease while its grading runs, and records the outcome:
the result, or an infrastructure fault for the queue to retry. Database
calls run in threads, so the event loop that serves pages never waits on
them. It wakes when a submission arrives (`wake`) and polls every second for
jobs added by others and leases that expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Iterable

from sqlalchemy.engine import Engine

from grader.server import queue
from grader.server.feedback import scores
from grader.server.grading import GradeArgs, Grader, InfrastructureFault, outcome_problem, time_budget
from grader.server.store import FileStore

log = logging.getLogger("grader.server")
POLL_SECONDS = 1.0
EXPIRE_EVERY = 5.0


class Dispatcher:
    """Claims jobs, grades them, records results; `run` until `stop`."""

    def __init__(self, engine: Engine, grader: Grader, store: FileStore, *,
                 budget: Callable[[str], float] = time_budget, lease_seconds: float = queue.LEASE_SECONDS,
                 changed: Callable[[Iterable[int]], None] = lambda submission_ids: None) -> None:
        self.engine, self.grader, self.store, self.budget = engine, grader, store, budget
        self.changed = changed  # told the submissions whose state this dispatcher changed (wakes held requests)
        self.lease_seconds = lease_seconds
        self.slots = grader.workers
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task] = {}
        self._tickets: dict[int, queue.Ticket] = {}
        self._stopping = False
        self._budgets: dict[str, float] = {}

    def wake(self) -> None:
        """A job was queued: look at the queue now instead of at the next poll."""
        self._wake.set()

    @property
    def busy(self) -> int:
        """Jobs being graded by this server now."""
        return len(self._running)

    async def run(self) -> None:
        """The loop: expire stale leases, claim for free slots, grade; until `stop`."""
        renewer = asyncio.create_task(self._renew_loop())
        last_expiry = 0.0
        try:
            while not self._stopping:
                try:
                    if time.monotonic() - last_expiry >= EXPIRE_EVERY:
                        last_expiry = time.monotonic()
                        await asyncio.to_thread(queue.expire_leases, self.engine)
                    free = self.slots - len(self._running)
                    if free > 0:
                        self._wake.clear()
                        claimed = await asyncio.to_thread(queue.claim, self.engine, free,
                                                          lease_seconds=self.lease_seconds)
                        for ticket in claimed:
                            self._tickets[ticket.job_id] = ticket
                            self._running[ticket.job_id] = asyncio.create_task(self._grade(ticket))
                        self.changed(ticket.submission_id for ticket in claimed)
                except Exception:  # noqa: BLE001 -- a database hiccup must not stop grading for good
                    log.exception("the dispatcher's round failed; retrying in a second")
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                waiters = [asyncio.create_task(self._wake.wait())]
                try:
                    await asyncio.wait([*waiters, *self._running.values()], timeout=POLL_SECONDS,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
        finally:
            renewer.cancel()

    async def stop(self) -> None:
        """Stop claiming; running gradings are abandoned and their jobs put back in the queue, uncounted.

        (After a crash or kill -9 nothing runs here: the leases expire instead, and those jobs run again.)
        """
        self._stopping = True
        self._wake.set()
        tickets = list(self._tickets.values())
        for task in list(self._running.values()):
            task.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        if tickets:
            await asyncio.to_thread(queue.release, self.engine, tickets)
            self.changed(ticket.submission_id for ticket in tickets)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            tickets = list(self._tickets.values())
            if tickets:
                try:
                    lost = await asyncio.to_thread(queue.renew, self.engine, tickets,
                                                   lease_seconds=self.lease_seconds)
                except Exception:  # noqa: BLE001 -- a database hiccup: the next round retries
                    log.exception("renewing leases failed")
                    continue
                for job_id in lost:
                    log.warning("job %s lost its lease; its result will be discarded", job_id)

    def _budget(self, assignment: str) -> float:
        if assignment not in self._budgets:
            self._budgets[assignment] = self.budget(assignment)
        return self._budgets[assignment]

    async def _grade(self, ticket: queue.Ticket) -> None:
        try:
            args = GradeArgs(str(self.store.path(ticket.sha256, ticket.ext)), ticket.assignment, ticket.seed,
                             ticket.student_id, ticket.overrides)
            try:
                outcome = await self.grader.grade(args, self._budget(ticket.assignment))
                problem = outcome_problem(outcome)
                if problem:
                    raise InfrastructureFault(problem)
            except InfrastructureFault as fault:
                if self._stopping:
                    return  # the server is stopping (its grading processes with it): stop() gives the job back
                state = await asyncio.to_thread(queue.fail, self.engine, ticket, str(fault))
                log.warning("job %s (submission %s): %s -> %s", ticket.job_id, ticket.submission_id, fault, state)
                return
            recorded = await asyncio.to_thread(queue.complete, self.engine, ticket, outcome, scores(outcome))
            if not recorded:
                log.warning("job %s: result discarded (lease lost)", ticket.job_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 -- never let one job stop the loop; its lease expires and it reruns
            log.exception("job %s: recording its outcome failed", ticket.job_id)
        finally:
            self._running.pop(ticket.job_id, None)
            self._tickets.pop(ticket.job_id, None)
            self._wake.set()
            self.changed([ticket.submission_id])
