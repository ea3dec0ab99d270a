"""Units: bytes (memory figures are bytes in machine output and GiB, 2**30 bytes, for people), the one
format of a duration, and counts with their noun."""

from __future__ import annotations

import math

MIB = 1024**2
GIB = 1024**3


def format_duration(seconds: float | None) -> str:
    """A duration as every page and command shows it: `42s`, `3m05s`, `1h02m05s`; `—` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def plural(count: float, noun: str) -> str:
    """`1 seed`, `3 seeds`, `0.5 epochs`: a count with its noun, plural unless the count is exactly one."""
    return f"{count:g} {noun}" + ("" if count == 1 else "s")
