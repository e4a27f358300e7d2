"""One zygote shared by several grading processes (a batch's pool): attach, isolation, fallback."""

from __future__ import annotations

import os
import stat
import time

import pytest

from grader.sandbox import Limits, Zygote
from tests.sandbox_helpers import sandbox_on

SOURCE = "import os\n\ndef ok(x):\n    return x + 1\n\ndef pid():\n    return os.getpid()\n"


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except FileNotFoundError:
        return None


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _parent_of(pid) is None:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def owner():
    zygote = Zygote(listen=True)
    zygote.start()
    yield zygote
    zygote.close()


def test_an_attached_process_runs_students_through_the_owners_zygote(owner):
    client = Zygote(address=owner.address)
    try:
        with sandbox_on(client, SOURCE) as sb:
            assert sb.student.ok(1) == 2
        keeper, sock, out_fd = client.spawn(Limits(), ())
        try:
            assert _parent_of(keeper) == owner.pid  # forked by the owner's zygote, not a new one
            assert client.pid == owner.pid
            assert client.protections == owner.protections
        finally:
            sock.close()
            os.close(out_fd)
            client.kill(keeper)
            assert client.exit_code(keeper) is not None  # the exit event comes back to this client
    finally:
        client.close()
    assert owner.alive()  # a client leaving never stops the owner's zygote


def test_clients_cannot_kill_each_others_workers_and_take_their_own_along(owner):
    client, other = Zygote(address=owner.address), Zygote(address=owner.address)
    mine = client.spawn(Limits(), ())
    theirs = other.spawn(Limits(), ())
    try:
        other.kill(mine[0])  # not `other`'s worker: the zygote ignores the request
        assert not _gone(mine[0], timeout=0.5)
        client.close()
        assert _gone(mine[0]), "the closed client's worker is still running"
        assert _parent_of(theirs[0]) == owner.pid, "another client's worker was killed too"
    finally:
        for _, sock, out_fd in (mine, theirs):
            sock.close()
            os.close(out_fd)
        other.close()


def test_when_the_shared_zygote_is_gone_a_client_starts_its_own():
    owner = Zygote(listen=True)
    owner.start()
    address, first = owner.address, owner.pid
    client = Zygote(address=address)
    try:
        with sandbox_on(client, SOURCE) as sb:
            assert sb.student.ok(1) == 2
        owner.close()
        assert not os.path.exists(address)  # the owner removes its socket and folder
        with sandbox_on(client, SOURCE) as sb:
            assert sb.student.ok(2) == 3  # graded anyway, by a zygote of the client's own
        assert client.pid not in (None, first)
    finally:
        client.close()
        owner.close()


def test_the_socket_is_for_the_graders_user_only(owner):
    folder = os.path.dirname(owner.address)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(owner.address).st_mode)
    assert stat.S_IMODE(os.stat(owner.address).st_mode) == 0o600


def test_student_code_cannot_reach_the_shared_zygote(owner):
    source = ("import socket\n\ndef attach(path):\n    try:\n        s = socket.socket(socket.AF_UNIX)\n"
              "        s.connect(path)\n        return 'connected'\n    except Exception as exc:\n"
              "        return type(exc).__name__\n")
    client = Zygote(address=owner.address)
    try:
        with sandbox_on(client, source) as sb:
            assert sb.student.attach(owner.address) != "connected"
    finally:
        client.close()


def test_closing_a_zygote_that_is_still_starting_leaves_nothing_behind():
    before = _zygote_processes()
    zygote = Zygote(preload=("matplotlib.pyplot",), listen=True)
    zygote.start(wait=False)
    assert len(_zygote_processes() - before) == 1
    zygote.close()
    assert _zygote_processes() == before
    assert not os.path.exists(zygote.address) and not os.path.exists(os.path.dirname(zygote.address))


def _zygote_processes() -> set[int]:
    """This process's children running the zygote."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent_of(int(entry)) == os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"grader.sandbox.zygote" in f.read():
                        found.add(int(entry))
            except FileNotFoundError:
                pass
    return found
