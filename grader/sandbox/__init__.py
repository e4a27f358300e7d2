"""Run student code in a confined worker that can neither see the answers nor touch the score.

The trusted side uses `Sandbox` (client.py), whose workers come from the warm
zygote (zygote_client.py talks to zygote.py); the worker side is worker.py,
confined with the protections of protections.py; plain data crosses as
described in wire.py; config.py holds the limits and result records.
"""

from grader.sandbox.client import (
    CallTimeout,
    MissingName,
    ProtocolError,
    RefusedImport,
    Sandbox,
    SandboxError,
    StaleHandle,
    StudentException,
    WorkerDied,
)
from grader.sandbox.config import CallResult, Limits, LoadProblem, SandboxConfig
from grader.sandbox.zygote_client import (
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
