"""The content-addressed store: one file per content, nothing left of a refused upload, no path from a name."""

from __future__ import annotations

import pytest

from grader.server.store import FileStore, StoreError, TooLarge, display_name, extension_of


def test_the_same_bytes_are_stored_once(tmp_path):
    store = FileStore(tmp_path)
    first = store.put([b"X = ", b"1\n"], ".py", limit=100)
    again = store.put([b"X = 1\n"], ".py", limit=100)
    assert first == again and first.path.read_bytes() == b"X = 1\n"
    assert first.path == tmp_path / first.sha256[:2] / f"{first.sha256}.py"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_file_over_the_cap_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(TooLarge):
        store.put(iter([b"x" * 60, b"x" * 60]), ".py", limit=100)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_names_give_a_kind_and_a_label_never_a_path(tmp_path):
    assert extension_of("../../Lab.IPYNB") == ".ipynb"
    with pytest.raises(StoreError):
        extension_of("lab.py.exe")
    assert display_name("../a/b\\c\x00.py") == ".._a_b_c?.py"
    with pytest.raises(StoreError):
        FileStore(tmp_path).path("../../etc/passwd", ".py")
