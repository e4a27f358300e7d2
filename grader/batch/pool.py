"""Where a batch's work units run: a local process pool or a Dask cluster, and the loop that drives them.

`drive` hands out tasks (anything with the work unit's ``args`` and
``kwargs``) to an executor, a few at a time, and passes each outcome (a
result or an exception) on as it arrives. When a pool process dies, the tasks
that were in that pool are retried alone in a fresh one, so one crash costs
only the student that caused it. `local_engine` makes forkserver process
pools whose processes share one sandbox zygote (`batch_zygote`);
`dask_engine` submits to an existing Dask cluster.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from grader.errors import ConfigurationError, GraderFault

WorkUnit = Callable[..., Any]


class Task(Protocol):
    """A work unit's arguments."""

    args: tuple
    kwargs: dict


class ClusterError(ConfigurationError):
    """The Dask cluster cannot be used (no `distributed` package, or no scheduler at the address)."""


class PoolProcessDied(GraderFault):
    """A grading process ended abruptly while grading one submission."""


@dataclass
class Engine:
    """Where work units run: how to get an executor, how to close one, and how many to keep in flight."""

    make_executor: Callable[[int], Executor]
    close: Callable[[Executor, bool], None]
    workers: int | None  # None: as many as there are tasks (a cluster queues them itself)
    # Tasks queued beyond the busy workers, so that a worker that finishes starts
    # its next student at once instead of waiting for this process to write files.
    queued: int = 0


def drive(tasks: list[Task], work: WorkUnit, finish: Callable[[Task, Any], bool | None],
          make_executor: Callable[[], Executor], close: Callable[[Executor, bool], None], *, window: int) -> None:
    """Run every task's work unit, at most `window` at once; `finish(task, result or exception)` for each.

    Keeping no more than `window` in flight means that when a pool breaks
    (a process died), the tasks it took down are few: the ones running and
    at most a queued one. Each of them is retried alone in a fresh pool: the
    one that breaks it again is the culprit and gets a grader error; the
    others are graded normally. When `finish` returns True, the task is run
    again (a regrade after a fault of ours).
    """
    queue: deque[Task] = deque(tasks)

    def settle(task: Task, outcome: Any) -> None:
        if finish(task, outcome):
            queue.append(task)

    suspects: deque[Task] = deque()
    inflight: dict[Future, Task] = {}
    executor: Executor | None = None
    alone = False
    try:
        while queue or suspects or inflight:
            if executor is None:
                executor = make_executor()
            try:
                if suspects and not inflight:
                    _submit(executor, work, suspects, inflight)
                    alone = True
                while not suspects and not alone and queue and len(inflight) < window:
                    _submit(executor, work, queue, inflight)
            except BrokenExecutor:
                if not inflight:  # it broke between two tasks: start a fresh one
                    close(executor, True)
                    executor = None
                    continue
            done, _ = wait(inflight, return_when=FIRST_COMPLETED)
            broken = _settle(done, inflight, settle)
            if broken:
                # Every other task in the pool fails with it: collect them all, then replace the pool.
                broken += _settle(wait(list(inflight)).done, inflight, settle)
                close(executor, True)
                executor = None
                if alone:
                    for task in broken:
                        settle(task, PoolProcessDied("the grading process died while grading this submission, also "
                                                "when it was graded alone (a crash of the grader itself, or "
                                                "the machine ran out of memory)"))
                else:
                    suspects.extend(broken)
            if not inflight:
                alone = False
    except BaseException:
        for future in inflight:
            future.cancel()
        if executor is not None:
            close(executor, True)
            executor = None
        raise
    finally:
        if executor is not None:
            close(executor, False)


def _submit(executor: Executor, work: WorkUnit, source: deque[Task], inflight: dict[Future, Task]) -> None:
    """Submit the first task of `source`; it leaves `source` only once the executor took it."""
    task = source[0]
    future = executor.submit(work, *task.args, **task.kwargs)
    inflight[future] = source.popleft()


def _settle(done: set[Future], inflight: dict[Future, Task], finish: Callable[[Task, Any], None]) -> list[Task]:
    """Hand each finished future's outcome to `finish`; returns the tasks whose pool broke under them."""
    broken, interrupted = [], False
    for future in done:
        task = inflight.pop(future)
        if future.cancelled():
            finish(task, RuntimeError("the work unit was cancelled by the cluster"))
            continue
        exc = future.exception()
        if isinstance(exc, BrokenExecutor):
            broken.append(task)
        elif isinstance(exc, KeyboardInterrupt):
            interrupted = True  # Ctrl-C where the work ran: stop the batch, after keeping what is done
        else:
            finish(task, exc if exc is not None else future.result())
    if interrupted:
        raise KeyboardInterrupt
    return broken


def local_engine(jobs: int | None, preload: tuple[str, ...] = (), zygote: str | None = None,
                 trusted_modules: list[str] | tuple[str, ...] = ()) -> Engine:
    """`jobs` local pool processes (default: one per usable CPU) whose sandboxes come from the zygote at `zygote`.

    `trusted_modules` are the assignment's own modules (its hooks, its
    reference) that the fork server imports once, with the engine's, before
    it forks the pool's processes.
    """
    return Engine(functools.partial(_local_executor, preload=preload, zygote=zygote,
                                    trusted_modules=tuple(trusted_modules)), _close_local,
                  jobs or _usable_cpus(), queued=1)


@contextlib.contextmanager
def batch_zygote(preload: tuple[str, ...]) -> Iterator[str | None]:
    """One sandbox zygote for the whole local batch, started now; yields the address pool processes attach to.

    It imports NumPy and matplotlib on one core while the fork server imports
    the grader on another, so the pool's first students start at once instead
    of each pool process starting (and waiting for) a zygote of its own.
    Yields None, and each pool process starts its own, if it cannot start.
    """
    from grader.sandbox import Zygote

    zygote = Zygote(preload, listen=True)
    try:
        zygote.start(wait=False)
    except (OSError, RuntimeError, ValueError):
        zygote.close()
        yield None
        return
    try:
        yield zygote.address
    finally:
        zygote.close()


def _usable_cpus() -> int:
    # os.cpu_count() counts the machine's CPUs; a container or `taskset` may allow fewer.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


# The engine's modules, imported once by the fork server before it forks any
# pool process: each process then starts with them loaded instead of importing
# them itself (seconds per process, paid by every process at once at the start
# of a batch). These imports create no grading state; the assignment's own
# modules are added per batch. A name that fails to import is skipped.
FORKSERVER_PRELOAD = ["grader.batch", "grader.batch.workunit", "grader.outputs", "grader.grading",
                      "grader.checking", "grader.checking.runner", "grader.scoring.rubric",
                      "grader.config.overrides", "grader.scoring.quality", "grader.report.results_json",
                      "grader.report.html", "PIL.Image", "PIL.PngImagePlugin"]


def _local_executor(workers: int, preload: tuple[str, ...] = (), zygote: str | None = None,
                    trusted_modules: tuple[str, ...] = ()) -> ProcessPoolExecutor:
    # Never fork this process: a forked child would share whatever grading state
    # (sandbox zygote sockets, threads) the parent may hold. forkserver forks a
    # clean server instead; spawn where it is not available.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # No effect once this process's fork server runs.
        context.set_forkserver_preload(FORKSERVER_PRELOAD + list(trusted_modules))
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_pool_worker,
                               initargs=(tuple(preload), zygote))


def _init_pool_worker(preload: tuple[str, ...] = (), zygote: str | None = None) -> None:
    # Ctrl-C is the parent's to handle: it cancels, stops the pool and keeps the
    # results. A worker interrupted mid-run would instead turn pytest's
    # KeyboardInterrupt into a bogus low grade.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_pool_worker)
    # Pool workers end through multiprocessing, which skips atexit: stop the sandbox's zygote explicitly.
    from grader.sandbox import close_shared_zygotes, shared_zygote
    multiprocessing.util.Finalize(None, close_shared_zygotes, exitpriority=10)
    # Attach to the batch's zygote (or start one, which then imports NumPy and
    # matplotlib while this process receives its first student); a failure to
    # start is reported by that grading.
    try:
        shared_zygote(preload, address=zygote).start(wait=False)
    except Exception:  # noqa: BLE001 (the first spawn retries and says what went wrong)
        pass
    # The modules preloaded by the fork server live as long as this process: frozen, the garbage
    # collections of every grading skip them (12 -> 5 ms of collecting per grading).
    gc.freeze()


def _stop_pool_worker(signum: int, frame: Any) -> None:
    """SIGTERM in a pool process (the batch was interrupted): stop its sandbox cleanly, then exit at once."""
    from grader.sandbox import close_shared_zygotes
    # In a helper thread with a deadline: should this thread have been stopped
    # while holding the zygote's lock, closing would wait forever.
    closer = threading.Thread(target=close_shared_zygotes, daemon=True)
    closer.start()
    closer.join(timeout=5)
    os._exit(128 + signum)


def _close_local(executor: Executor, abort: bool) -> None:
    if not abort:
        executor.shutdown(wait=True)
        return
    # Running work units cannot be cancelled; their processes are stopped
    # instead (SIGTERM: each closes its sandbox, see _stop_pool_worker).
    # `_processes` is the pool's own table of them; there is no public one.
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


@contextlib.contextmanager
def dask_engine(address: str, jobs: int | None = None) -> Iterator[Engine]:
    """Work units on the Dask cluster at `address`, through its client's concurrent.futures executor.

    The executor hands each work unit to `client.submit` (pure=False: every
    student is a new task); each Dask worker process grades with its own
    sandbox, one student at a time (see grader.batch._GRADING_LOCK); `jobs`,
    when given, caps how many work units are in flight. The workers read the
    submissions by path, so on a multi-machine cluster the class folder (and
    the output folder, where a class zip is unpacked) must be shared.
    """
    try:
        import distributed
    except ImportError:
        raise ClusterError("--scheduler needs Dask's `distributed` package: pip install distributed") from None
    try:
        client = distributed.Client(address, timeout=30, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 -- any failure to connect is the same usage error
        raise ClusterError(f"--scheduler {address}: cannot connect to the Dask scheduler "
                           f"({type(exc).__name__}: {exc})") from None

    def close(executor: Executor, abort: bool) -> None:
        # Cancelled tasks that already run finish on their worker and are dropped.
        executor.shutdown(wait=not abort)

    try:
        yield Engine(lambda workers: client.get_executor(pure=False), close, jobs)
    finally:
        client.close()

