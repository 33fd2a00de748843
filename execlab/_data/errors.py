"""The input errors every path raises before anything is sent."""

from __future__ import annotations

__all__ = ["TargetError"]


class TargetError(ValueError):
    """Targets are unusable; the message names the row and symbol at fault. Nothing was sent."""
