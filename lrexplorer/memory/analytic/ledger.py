"""A running count of live bytes, the way a memory tracker sees a step: allocate, free, record the peak.

The analytic engine replays one decoder layer's forward and backward operations on a Ledger (see
`layer.py`) instead of guessing a per-layer constant: the peaks inside a layer depend on which
temporaries coexist, and only an ordered replay gets that right for every dtype and attention kind.
Tensors are named; `alias` lets a no-op cast (same dtype) share its source's bytes, freed with the
last name, as a view or `.to()` of the same dtype shares storage in PyTorch.
"""

from __future__ import annotations


class Ledger:
    __slots__ = ("_base", "_refs", "_size", "live", "peak")

    def __init__(self, live: int = 0) -> None:
        self.live = live
        self.peak = live
        self._size: dict[str, int] = {}
        self._refs: dict[str, int] = {}
        self._base: dict[str, str] = {}

    def new(self, name: str, nbytes: int) -> str:
        """Allocate `nbytes` under `name` (an op's output)."""
        if name in self._base:
            raise KeyError(f"ledger: {name!r} allocated twice")
        self._base[name] = name
        self._size[name] = nbytes
        self._refs[name] = 1
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        return name

    def adopt(self, name: str, nbytes: int) -> str:
        """Name `nbytes` that are already counted in `live` (composed in closed form elsewhere)."""
        self.live -= nbytes
        return self.new(name, nbytes)

    def forget(self, name: str) -> None:
        """Drop a name whose bytes are accounted for elsewhere (a closed-form net change)."""
        self.live += self._size.get(self._base[name], 0) if self._refs.get(self._base[name]) == 1 else 0
        self.free(name)

    def alias(self, name: str, source: str) -> str:
        """`name` shares `source`'s storage (a view, or a cast to the same dtype)."""
        base = self._base[source]
        self._base[name] = base
        self._refs[base] += 1
        return name

    def free(self, *names: str | None) -> None:
        for name in names:
            if name is None:
                continue
            base = self._base.pop(name)
            self._refs[base] -= 1
            if self._refs[base] == 0:
                self.live -= self._size.pop(base)
                del self._refs[base]

    def has(self, name: str) -> bool:
        return name in self._base

    def bump(self, nbytes: int) -> None:
        """A transient that lives for one instant (inside an op): counts toward the peak only."""
        self.peak = max(self.peak, self.live + nbytes)
