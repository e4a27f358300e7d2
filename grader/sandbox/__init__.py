"""Run student code in a confined worker that can neither see the answers nor touch the score.

The trusted side uses `Sandbox` (see client.py); the worker side is
worker.py, started by the zygote (zygote.py) with the protections of
protections.py; plain data crosses as described in wire.py.
"""

from grader.sandbox.client import (
    CallResult,
    CallTimeout,
    Limits,
    LoadProblem,
    MissingName,
    ProtocolError,
    RefusedImport,
    Sandbox,
    SandboxConfig,
    SandboxError,
    StaleHandle,
    StudentException,
    WorkerDied,
    Zygote,
    announce_protections,
    close_shared_zygotes,
    protections_off,
    shared_zygote,
)
from grader.sandbox.wire import Handle

__all__ = [
    "CallResult", "CallTimeout", "Handle", "Limits", "LoadProblem", "MissingName", "ProtocolError",
    "RefusedImport", "Sandbox", "SandboxConfig", "SandboxError", "StaleHandle", "StudentException",
    "WorkerDied", "Zygote", "announce_protections", "close_shared_zygotes", "protections_off",
    "shared_zygote",
]
