"""Run student code in a confined worker that can neither see the answers nor touch the score.

The trusted side uses `Sandbox` (client.py), whose workers come from the warm
zygote (zygote_client.py talks to zygote.py); the worker side is worker.py,
confined with the protections of protections.py; plain data crosses as
described in wire.py; config.py holds the limits and result records.
shared.py puts check inputs in memory the trusted side reads itself, png.py
decodes a figure's PNG on the trusted side, and cleanup.py removes a
worker's files without recursion and within a budget.
"""

from grader.sandbox.client import (
    CallTimeout,
    InfrastructureError,
    MissingName,
    ProtocolError,
    RefusedImport,
    ResultTooLarge,
    Sandbox,
    SandboxError,
    SharedHandle,
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
from grader.sandbox.png import ImageError, decode_png
from grader.sandbox.wire import Handle

__all__ = [
    "CallResult", "CallTimeout", "Handle", "ImageError", "InfrastructureError", "Limits", "LoadProblem",
    "MissingName", "ProtocolError", "RefusedImport", "ResultTooLarge", "Sandbox", "SandboxConfig",
    "SandboxError", "SharedHandle", "StaleHandle", "StudentException", "WorkerDied", "Zygote",
    "announce_protections", "close_shared_zygotes", "decode_png", "protections_off", "shared_zygote",
]
