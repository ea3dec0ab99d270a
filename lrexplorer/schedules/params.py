"""Scheduler parameters: their types, defaults and allowed ranges, and the validation of user kwargs.

Every error names the schedule, the field and what is allowed, because these messages are shown
verbatim in the page and the command line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Integers beyond this overflow numpy's int64 arithmetic long before they could mean anything here.
MAX_INT = 10**12

# A default that depends on the run: called with the number of steps the schedule itself spans
# (total steps minus our warmup for torch classes, total steps for transformers schedules).
Derived = Callable[[int], Any]


class ScheduleError(ValueError):
    """Bad schedule input. `field` names the offending argument, for forms to highlight it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Param:
    """One keyword argument of a scheduler, as the real scheduler spells it."""

    name: str
    kind: str  # "float", "int", "bool", "choice" or "int_list"
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low instead of >=
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is an accepted value (the real function treats it specially)
    derived: Derived | None = None  # default computed from the run length when `default` is None
    derived_help: str = ""  # how the derived default is computed, for the help text

    def allowed(self) -> str:
        """Human description of the allowed values."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "int_list":
            return "a list of non-negative integers, e.g. [30, 80]"
        word = "an integer" if self.kind == "int" else "a number"
        lo = "" if self.low is None else ("> " if self.low_open else ">= ") + _fmt(self.low)
        hi = "" if self.high is None else ("< " if self.high_open else "<= ") + _fmt(self.high)
        rng = " and ".join(part for part in (lo, hi) if part)
        text = f"{word} {rng}".strip()
        return text + (" (or null)" if self.optional else "")

    def default_for(self, span: int) -> Any:
        if self.default is None and self.derived is not None:
            return self.derived(span)
        return self.default

    def check(self, value: Any, schedule: str) -> Any:
        """Return the value converted to the real scheduler's type, or raise ScheduleError."""
        where = f"{schedule}: `{self.name}`"
        if value is None:
            if self.optional:
                return None
            raise ScheduleError(f"{where} is required; allowed: {self.allowed()}.", self.name)
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise ScheduleError(f"{where} must be true or false, got {value!r}.", self.name)
        if self.kind == "choice":
            if value in self.choices:
                return value
            raise ScheduleError(f"{where} must be {self.allowed()}, got {value!r}.", self.name)
        if self.kind == "int_list":
            if isinstance(value, (list, tuple)) and all(_is_int(v) and 0 <= v <= MAX_INT for v in value):
                return [int(v) for v in value]
            raise ScheduleError(f"{where} must be {self.allowed()}, got {value!r}.", self.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScheduleError(f"{where} must be {self.allowed()}, got {value!r}.", self.name)
        if self.kind == "int":
            if not _is_int(value):
                raise ScheduleError(f"{where} must be an integer, got {value!r}.", self.name)
            value = int(value)
            if abs(value) > MAX_INT:
                raise ScheduleError(f"{where} must be at most {MAX_INT:g}, got {value!r}.", self.name)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ScheduleError(f"{where} must be a finite number, got {value!r}.", self.name)
        if not self._in_range(value):
            raise ScheduleError(f"{where} must be {self.allowed()}, got {value!r}.", self.name)
        return value

    def _in_range(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        return not (self.high is not None and (v >= self.high if self.high_open else v > self.high))


def _is_int(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and float(v).is_integer()


def _fmt(x: float) -> str:
    return f"{x:g}"


def resolve_kwargs(schedule: str, params: tuple[Param, ...], given: dict[str, Any] | None, span: int) -> dict:
    """Fill defaults, convert and validate. Unknown keys are an error that lists the known ones."""
    given = dict(given or {})
    known = {p.name: p for p in params}
    for key in given:
        if key not in known:
            allowed = ", ".join(known) or "none (this schedule takes no arguments)"
            raise ScheduleError(f"{schedule}: unknown argument `{key}`; allowed: {allowed}.", key)
    out: dict[str, Any] = {}
    for p in params:
        value = given[p.name] if p.name in given else p.default_for(span)
        out[p.name] = p.check(value, schedule)
    return out


def parse_kwargs_json(text: str | None) -> dict[str, Any]:
    """Parse `--lr_scheduler_kwargs` JSON text; the error names the field."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleError(
            f"lr_scheduler_kwargs: not valid JSON ({exc.msg} at character {exc.pos}); "
            'expected an object such as {"num_cycles": 2}.',
            "lr_scheduler_kwargs",
        ) from None
    if not isinstance(value, dict):
        raise ScheduleError(
            f'lr_scheduler_kwargs: expected a JSON object such as {{"num_cycles": 2}}, got {type(value).__name__}.',
            "lr_scheduler_kwargs",
        )
    return value
