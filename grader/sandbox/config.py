"""The sandbox's configuration (limits per assignment) and the records a call or a load produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker; every field is configurable per assignment."""

    call_timeout: float = 10.0          # wall seconds per call unless the call says otherwise
    load_timeout: float = 10.0          # wall seconds to load the submission
    memory_bytes: int = 2 * 2**30       # address space on top of the warm interpreter's
    cpu_seconds: int = 600              # CPU seconds over the worker's whole life
    nproc: int = 32                     # processes and threads of the worker's uid
    nofile: int = 256                   # open files
    fsize: int = 64 * 2**20             # largest file the worker may write
    disk_bytes: int = 256 * 2**20       # all files of the worker together (its private tmpfs)
    disk_files: int = 10_000            # files and folders the worker may create (the tmpfs's inodes)
    output_bytes: int = 64 * 2**10      # captured stdout+stderr per submission; the rest is counted
    max_message_bytes: int = 64 * 2**20  # largest reply the trusted side will read (bigger: the call fails)


@dataclass(frozen=True)
class SandboxConfig:
    """What an assignment asks of the sandbox."""

    assignment: str = "this assignment"
    limits: Limits = field(default_factory=Limits)
    refused_imports: tuple[str, ...] = ()
    support_dirs: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()


@dataclass
class CallResult:
    """Everything one call produced besides its return value."""

    value: Any
    seconds: float
    peak_bytes: int | None
    output: str
    figure: dict | None = None          # bounded words about a returned figure (see client._validated_figure)
    pixels: np.ndarray | None = None    # a returned figure drawn without text: (height, width, 3) uint8, checked


@dataclass
class LoadProblem:
    """A top-level statement that failed while loading the submission."""

    lineno: int
    type_name: str
    message: str
