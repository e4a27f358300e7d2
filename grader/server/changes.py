"""Who waits for a submission to change: the long poll behind ``GET /api/submissions/{id}?wait=N``.

A page that follows a submission sends the ETag of the state it shows and
``wait=N``; the route answers at once when the state differs, and otherwise
holds the request until this server changes that submission (the dispatcher
claims, grades or fails it; an instructor acts) or N seconds pass. Polling
every half second instead cost the server several milliseconds of CPU per
request: at a deadline, with hundreds of students watching their pages, that
was the CPU the grading needed (benchmarks/server_bench.py, the evening).

Every call happens on the event loop's thread (the dispatcher and the routes
are coroutines), so plain asyncio events suffice. Another server process on
the same database does not notify this one: the wait's bound keeps what a
page shows at most that stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Callable, Iterable, Iterator

# The longest a request is held (a page asks for less; proxies often cut idle requests at 30 to 60 s).
MAX_WAIT_SECONDS = 25.0
# How often the shutdown watcher looks at the server's stop flag (held requests end within this).
STOP_CHECK_SECONDS = 0.5


class Changes:
    """Events that wake the requests waiting on a submission."""

    def __init__(self) -> None:
        self._waiting: dict[int, set[asyncio.Event]] = defaultdict(set)
        self.closed = False

    @contextlib.contextmanager
    def watch(self, submission_id: int) -> Iterator[asyncio.Event]:
        """An event set at the next change of `submission_id` (or of everything); register it before reading
        the state, so that a change between the read and the wait is not missed."""
        event = asyncio.Event()
        if self.closed:
            event.set()
        self._waiting[submission_id].add(event)
        try:
            yield event
        finally:
            waiting = self._waiting.get(submission_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiting[submission_id]

    def notify(self, submission_ids: Iterable[int]) -> None:
        """These submissions changed: wake whoever waits on them."""
        for submission_id in submission_ids:
            for event in self._waiting.get(submission_id, ()):
                event.set()

    def notify_all(self) -> None:
        """Anything may have changed (an instructor's action): wake every waiting request."""
        for events in self._waiting.values():
            for event in events:
                event.set()

    def close(self) -> None:
        """The server is stopping: end every held request now, and hold none from now on."""
        self.closed = True
        self.notify_all()


async def close_when(changes: Changes, stopping: Callable[[], bool]) -> None:
    """Close `changes` once `stopping()` says the server is stopping (uvicorn's ``should_exit``).

    uvicorn lets requests in flight finish before it runs the app's
    shutdown: without this, a page's held request would delay a stop by its
    wait."""
    while not stopping():
        await asyncio.sleep(STOP_CHECK_SECONDS)
    changes.close()
