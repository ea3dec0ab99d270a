"""Byte units. Memory figures are bytes in machine output and GiB (2**30 bytes) for people."""

from __future__ import annotations

MIB = 1024**2
GIB = 1024**3
