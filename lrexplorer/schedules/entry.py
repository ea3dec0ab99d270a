"""The catalogue entry type shared by the transformers and torch schedule lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lrexplorer.core.fields import Field
from lrexplorer.schedules.params import check_floors, resolve_kwargs, with_lr


@dataclass(frozen=True)
class Schedule:
    """One schedule: what the page shows about it and how its curve is computed.

    family "transformers": built by `transformers.get_scheduler(name, ...)`; the curve function is
    `curve(k, lr, n, w, kwargs)` over all updates, warmup included.
    family "torch": the `torch.optim.lr_scheduler` class of that name, started after our linear
    warmup (see `warmup.py`); the curve function is `curve(m, lr, span, kwargs)` over its own steps.
    """

    name: str
    family: str
    title: str
    latex: str
    explanation: str
    curve: Callable[..., Any]
    params: tuple[Field, ...] = ()
    uses_warmup: bool = True
    metric_driven: bool = False
    notes_title: str | None = None  # the training notes' name for it, when it is one of their six
    # (a, b): when the user gives `a`, the default of `b` is dropped (the real function wants one of them).
    exclusive: tuple[tuple[str, str], ...] = field(default=())

    @property
    def label(self) -> str:
        if self.notes_title:
            return f"{self.notes_title} · {self.name}"
        return f"{self.title} · {self.name}"

    def resolve(self, given: dict[str, Any] | None, span: int) -> dict[str, Any]:
        """Validated kwargs with defaults filled in, exactly as they are passed to the real scheduler."""
        given = dict(given or {})
        for a, b in self.exclusive:
            if given.get(a) is not None and b not in given:
                given[b] = None
        return resolve_kwargs(self.name, self.params, given, span)

    def with_lr(self, kwargs: dict[str, Any], learning_rate: float) -> dict[str, Any]:
        """Resolved kwargs with the empty arguments that follow learning_rate (CyclicLR's base_lr and
        max_lr, OneCycleLR's max_lr) set from it: what the real scheduler is constructed with.
        Raises FieldError when a floor argument lies above the peak."""
        real = with_lr(self.params, kwargs, learning_rate)
        check_floors(self.name, real, learning_rate)
        return real
