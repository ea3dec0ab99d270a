"""Progress and ETA of a lab run, from the work planned and the speed measured so far.

The work comes in kinds (setting up a training, optimizer steps, questions evaluated closed-book, questions evaluated with
retrieved documents). Each kind's speed is measured as it runs; until a kind has
run, a rough prior stands in. ETA = sum over kinds of remaining units x seconds per unit.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Seconds per unit before anything is measured: an order of magnitude, replaced after the first units.
PRIORS = {"setup": 5.0, "train": 0.1, "eval-closed": 0.01, "eval-rag": 0.03}
EVERY_S = 0.5  # at most this often to the progress hook, except at the start of each phase


class Progress:
    def __init__(self, totals: dict[str, int], report: Callable[[float, str, float | None], None] | None) -> None:
        self.totals = dict(totals)
        self.done = dict.fromkeys(totals, 0)
        self.spent = dict.fromkeys(totals, 0.0)
        self.report = report
        self.kind = next(iter(totals))
        self.message = "starting"
        self.started = self.last_tick = time.monotonic()
        self.last_report = 0.0

    def begin(self, kind: str, message: str) -> None:
        self._tick()
        self.kind, self.message = kind, message
        self._emit(force=True)

    def add(self, units: int) -> None:
        """`units` of the current kind are done."""
        self._tick()
        self.done[self.kind] += units
        self._emit()

    def step(self, global_step: int, max_steps: int) -> None:
        """Trainer's step hook: one optimizer step done.

        A training starts in the `setup` kind (copying the model, tokenizing, building the Trainer: seconds
        that would swamp the per-step rate); its first step ends the setup.
        """
        if self.kind == "setup":
            self.add(1)
            self.kind = "train"
        self.add(1)

    def skip(self, kind: str, units: int) -> None:
        """Planned work that will not run (a training stopped early leaves steps undone)."""
        self.totals[kind] -= units

    def eta(self) -> float:
        remaining = 0.0
        for kind, total in self.totals.items():
            left = max(0, total - self.done[kind])
            rate = self.spent[kind] / self.done[kind] if self.done[kind] else PRIORS.get(kind, 0.01)
            remaining += left * rate
        return remaining

    def fraction(self) -> float:
        elapsed = time.monotonic() - self.started
        eta = self.eta()
        return elapsed / (elapsed + eta) if elapsed + eta > 0 else 1.0

    def finish(self, message: str) -> None:
        self._tick()
        if self.report is not None:
            self.report(1.0, message, 0.0)

    def _tick(self) -> None:
        now = time.monotonic()
        self.spent[self.kind] += now - self.last_tick
        self.last_tick = now

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.report is None or (not force and now - self.last_report < EVERY_S):
            return
        self.last_report = now
        self.report(min(self.fraction(), 0.999), self.message, self.eta())
