"""The handout's error: a handout that cannot be made."""

from __future__ import annotations

from grader.errors import ConfigurationError


class HandoutError(ConfigurationError):
    """A handout that cannot be made; the message names the file and what to fix."""
