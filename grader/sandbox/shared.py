"""Arrays in memory the trusted side owns, mapped into the worker, read back without asking it.

A check that must know whether the student's function changed its inputs
cannot ask the worker afterwards: the worker belongs to the student, whose
code can hook the worker's replies. Instead the trusted side writes the
inputs into a sealed memfd it created (`SharedBlock`), hands the worker the
descriptor, and the worker maps it ``MAP_SHARED`` and passes real ndarrays
over that memory to the student's function (`map_block`). After the call the
trusted side reads the current bytes from its own descriptor.

The memfd is sealed against shrinking and growing before the worker gets it:
a worker that truncated it would otherwise make the trusted side's reads of
a mapping fail (the trusted side reads with ``pread``, which cannot fault,
but the seals also keep the layout fixed).
"""

from __future__ import annotations

import fcntl
import mmap
import os
from typing import Any

import numpy as np

ALIGN = 64
_KINDS = {"b", "i", "u", "f", "c"}
MAX_SHARED_BYTES = 256 * 2**20


def available() -> bool:
    """Whether this system has sealable memfds (Linux 3.17+)."""
    return hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")


class SharedBlock:
    """Trusted side: one array or a dict of arrays in a sealed memfd."""

    def __init__(self, value: np.ndarray | dict[str, np.ndarray]) -> None:
        """Copy `value` (an array, or a dict of str -> array of plain numbers) into a new sealed memfd."""
        if not available():
            raise OSError("shared memory (sealed memfd) is not available on this system")
        self.single = isinstance(value, np.ndarray)
        items = {"": value} if self.single else value
        if not isinstance(items, dict) or not items:
            raise TypeError("put_shared takes a NumPy array or a non-empty dict of them")
        self.layout: list[list] = []
        arrays = []
        size = 0
        for key, arr in items.items():
            if type(key) is not str or not isinstance(arr, np.ndarray):
                raise TypeError("put_shared takes a NumPy array or a dict of str -> NumPy array")
            if arr.dtype.kind not in _KINDS or arr.dtype.fields is not None:
                raise TypeError(f"put_shared cannot share an array of dtype {arr.dtype}")
            size += (-size) % ALIGN
            self.layout.append([key, arr.dtype.str, list(arr.shape), size, arr.nbytes])
            arrays.append((size, arr))
            size += arr.nbytes
        if size > MAX_SHARED_BYTES:
            raise ValueError(f"put_shared is for check inputs; {size} bytes is too much")
        self.size = size
        self.fd = os.memfd_create("grader-shared", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(self.fd, max(size, 1))
            for offset, arr in arrays:
                data = memoryview(arr.tobytes())
                written = 0
                while written < len(data):
                    written += os.pwrite(self.fd, data[written:], offset + written)
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        except BaseException:
            os.close(self.fd)
            raise

    def read(self) -> np.ndarray | dict[str, np.ndarray]:
        """The arrays' current contents, read from the trusted side's own descriptor (fresh copies)."""
        out = {}
        for key, dtype, shape, offset, nbytes in self.layout:
            data = bytearray()
            while len(data) < nbytes:
                chunk = os.pread(self.fd, nbytes - len(data), offset + len(data))
                if not chunk:  # cannot happen while sealed against shrinking; never hand back short data
                    raise OSError("the shared memory is shorter than it was made")
                data += chunk
            out[key] = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape)
        return out[""] if self.single else out

    def close(self) -> None:
        """Release the trusted side's descriptor (the worker's mapping, if any, stays valid)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def map_block(fd: int, layout: list, single: bool) -> Any:
    """Worker side: map the memfd shared and writable; returns the ndarray (or dict of them) over it."""
    for entry in layout:
        if type(entry) is not list or len(entry) != 5:
            raise ValueError("malformed shared-memory layout")
    size = max((entry[3] + entry[4] for entry in layout), default=0)
    block = mmap.mmap(fd, max(size, 1), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    out = {}
    for key, dtype, shape, offset, nbytes in layout:
        dt = np.dtype(dtype)
        count = nbytes // dt.itemsize if dt.itemsize else 0
        if nbytes == 0:
            out[key] = np.zeros(shape, dtype=dt)
        else:
            out[key] = np.frombuffer(block, dtype=dt, count=count, offset=offset).reshape(shape)
    return out[""] if single else out
