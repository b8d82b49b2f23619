"""The emulator's own exceptions.

It shares nothing with the client side (docs/architecture.md).
"""

from __future__ import annotations

__all__ = ["EmulatorError", "SeedError"]


class EmulatorError(Exception):
    """Bad emulator settings or state; the message names the setting and what is allowed."""


class SeedError(EmulatorError):
    """A seed file or dict that cannot be loaded; the message names the path inside it."""
