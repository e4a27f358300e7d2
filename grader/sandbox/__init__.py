"""Run student code in a confined worker that can neither see the answers nor touch the score.

The trusted side uses `Sandbox` (client.py), whose workers come from the warm
zygote (zygote_client.py talks to zygote.py); the worker side is worker.py,
confined with the protections of protections.py; plain data crosses as
described in wire.py; config.py holds the limits and result records.
shared.py puts check inputs in memory the trusted side reads itself, pixels.py
draws a returned figure in the worker and checks its pixels on the trusted
side, and cleanup.py removes a worker's files without recursion and within a
budget.
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
from grader.sandbox.pixels import png_bytes, rgb_pixels
from grader.sandbox.wire import Handle

__all__ = [
    "CallResult", "CallTimeout", "Handle", "InfrastructureError", "Limits", "LoadProblem",
    "MissingName", "ProtocolError", "RefusedImport", "ResultTooLarge", "Sandbox", "SandboxConfig",
    "SandboxError", "SharedHandle", "StaleHandle", "StudentException", "WorkerDied", "Zygote",
    "announce_protections", "close_shared_zygotes", "png_bytes", "protections_off", "rgb_pixels", "shared_zygote",
]
