"""Remove a folder a student's code wrote into: no recursion, no path lengths, bounded in time and entries.

`shutil.rmtree` recurses once per folder level, so a worker that made a
chain of 1,500 nested folders raised RecursionError in whoever cleaned up
(the zygote, and with it every worker it had forked). `remove_tree` keeps an
explicit stack of open folder descriptors and works only with the ``*at``
system calls relative to them, so neither depth nor path length matters and
no symbolic link is ever followed. When the stack reaches `MAX_OPEN` folders,
a deeper folder is moved up to the top of the tree (``renameat``) and
removed from there, so a chain of any depth needs a bounded number of
descriptors.

Normally a worker writes only into its own tmpfs, which vanishes with its
mount namespace and needs no cleanup at all; this is for machines where that
tmpfs is not available, and for the grader's own scratch folder. It runs in a
process of its own (`remove_tree_in_background`), never on the zygote's loop.
"""

from __future__ import annotations

import os
import signal
import time

MAX_OPEN = 64              # open folder descriptors at most
MAX_ENTRIES = 1_000_000    # entries looked at before giving up
MAX_SECONDS = 60.0         # wall time before giving up

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str, *, max_entries: int = MAX_ENTRIES, max_seconds: float = MAX_SECONDS) -> bool:
    """Remove `path` and everything under it; True when it is gone, False when the budget ran out.

    Never raises for what it finds inside (files it cannot remove are left,
    and the result is False); never follows a symbolic link.
    """
    parent, name = os.path.split(os.path.abspath(path))
    try:
        parent_fd = os.open(parent, _DIR_FLAGS & ~os.O_NOFOLLOW)
    except OSError:
        return not os.path.lexists(path)
    try:
        return _remove_entry(parent_fd, name, max_entries, time.monotonic() + max_seconds)
    finally:
        os.close(parent_fd)


def _remove_entry(parent_fd: int, name: str, max_entries: int, deadline: float) -> bool:
    try:
        top = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return True
    except OSError:  # not a folder (or a link to one): unlink the entry itself
        return _unlink(parent_fd, name)
    stack: list[tuple[int, str]] = [(top, name)]
    seen = 0
    moved = 0
    try:
        while stack:
            fd = stack[-1][0]
            child = None
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        seen += 1
                        if seen > max_entries or time.monotonic() > deadline:
                            return False
                        if not entry.is_dir(follow_symlinks=False):
                            _unlink(fd, entry.name)
                            continue
                        if len(stack) >= MAX_OPEN:
                            # Flatten: move the deep folder to the top and deal with it from there.
                            moved += 1
                            try:
                                os.rename(entry.name, f".cleanup-{moved}", src_dir_fd=fd, dst_dir_fd=top)
                            except OSError:
                                pass
                            continue
                        try:
                            child = (os.open(entry.name, _DIR_FLAGS, dir_fd=fd), entry.name)
                        except OSError:
                            _unlink(fd, entry.name)
                            continue
                        break
            except OSError:
                pass
            if child is not None:
                stack.append(child)
                continue
            fd, own_name = stack.pop()
            os.close(fd)
            holder = stack[-1][0] if stack else parent_fd
            try:
                os.rmdir(own_name, dir_fd=holder)
            except FileNotFoundError:
                pass
            except OSError:
                if not stack:
                    return False
                # Something reappeared or cannot go: the parent's next scan sees it again (budget-bounded).
    finally:
        for fd, _ in stack:
            os.close(fd)
    return True


def _unlink(dir_fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def remove_tree_in_background(path: str, *, max_seconds: float = MAX_SECONDS) -> int | None:
    """Fork a process that removes `path` (bounded by `max_seconds`, then killed); returns its pid.

    The caller reaps it (the zygote is a child subreaper, so it inherits the
    remover when the process that started it exits first). Returns None when
    the fork fails: the folder is then left for the grader's final cleanup.
    """
    try:
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:
        code = 1
        try:
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(max_seconds) + 5)  # a hard stop even if a system call hangs
            code = 0 if remove_tree(path, max_seconds=max_seconds) else 1
        finally:
            os._exit(code)
    return pid
