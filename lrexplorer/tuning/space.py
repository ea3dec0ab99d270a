"""A sweep's search space: which run fields vary, and over what, checked against the catalogue.

The YAML maps catalogue field names to either a list of values or a range::

    learning_rate: {low: 1.0e-5, high: 1.0e-2, log: true}
    per_device_train_batch_size: {values: [4, 8, 16]}
    lr_scheduler_type: {values: [linear, cosine]}

Every value goes through the field's own `convert`, so a sweep accepts exactly what a run accepts,
and every error names the field. The catalogue is used only through `CATALOGUE[name].convert` and
the `CATALOGUE` / `RENAMED` lookups: whether a field is numeric, and whether it takes only whole
numbers, is found by asking `convert` (a field that refuses the midpoint of its own range when it
is not a whole number is an integer field).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

from lrexplorer.catalogues.params import CATALOGUE, RENAMED, FieldError
from lrexplorer.core.documents import DocumentError, load_yaml, read_text
from lrexplorer.core.limits import MAX_SPACE_FIELDS, MAX_SPACE_VALUES

RANGE_KEYS = {"low", "high", "log"}
UNSWEPT = {
    "output_dir": "each trial is its own run with its own folder",
    "run_name": "trials are named after the sweep and their number",
}
MAX_INT_CHECKS = 10_000  # whole numbers in a range checked one by one up to this many


@dataclass(frozen=True)
class Dimension:
    """One swept field: `values` (a list to choose from) or `low`/`high` (a range, on a log scale if `log`)."""

    name: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def choices(self) -> list[Any]:
        """The values as Optuna stores them: lists and objects become their JSON text."""
        return [_encode(v) for v in self.values or ()]

    def distribution(self) -> Any:
        import optuna.distributions as d

        if self.values is not None:
            return d.CategoricalDistribution(self.choices())
        if self.integer:
            return d.IntDistribution(int(self.low), int(self.high), log=self.log)  # type: ignore[arg-type]
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log)  # type: ignore[arg-type]

    def decode(self, stored: Any) -> Any:
        """The run field's value for what Optuna stored."""
        if self.values is None:
            return stored
        return self.values[self.choices().index(stored)]

    def to_yaml(self) -> dict[str, Any]:
        if self.values is not None:
            return {"values": list(self.values)}
        return {"low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class SweepSpace:
    dimensions: tuple[Dimension, ...]

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def grid_size(self) -> int | None:
        """Trials in the full grid, or None when a field is a range."""
        if any(d.values is None for d in self.dimensions):
            return None
        return math.prod(len(d.values or ()) for d in self.dimensions)

    def grid(self) -> dict[str, list[Any]]:
        for d in self.dimensions:
            if d.values is None:
                raise FieldError(d.name, "a grid search needs values: [...]; use the random or tpe sampler for a range")
        return {d.name: d.choices() for d in self.dimensions}

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the grid, as run field values."""
        names = self.names
        return [dict(zip(names, combo)) for combo in product(*(d.values or () for d in self.dimensions))]

    def distributions(self) -> dict[str, Any]:
        return {d.name: d.distribution() for d in self.dimensions}

    def decode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run field values for a trial's stored params."""
        by_name = {d.name: d for d in self.dimensions}
        return {name: by_name[name].decode(value) for name, value in params.items()}

    def to_yaml(self) -> dict[str, Any]:
        return {d.name: d.to_yaml() for d in self.dimensions}


def load_space(path: str) -> SweepSpace:
    try:
        text = read_text(path)
    except DocumentError as exc:
        raise FieldError("space", f"{path[:200]!r}: {exc}") from None
    return parse_space(text)


def parse_space(text: str) -> SweepSpace:
    """The space of a YAML text (read by core/documents: no aliases, bounded size and depth)."""
    try:
        data = load_yaml(text)
    except DocumentError as exc:
        raise FieldError("space", str(exc)) from None
    return space_from_dict(data)


def space_from_dict(data: Any) -> SweepSpace:
    if not isinstance(data, Mapping) or not data:
        raise FieldError(
            "space", "must map run fields to {values: [...]} or {low: ..., high: ..., log: true|false}; it is empty"
        )
    if len(data) > MAX_SPACE_FIELDS:
        raise FieldError("space", f"varies {len(data)} fields; at most {MAX_SPACE_FIELDS}")
    return SweepSpace(tuple(_dimension(str(name), spec) for name, spec in data.items()))


def _dimension(name: str, spec: Any) -> Dimension:
    param = _param(name)
    if not isinstance(spec, Mapping):
        raise FieldError(name, f"give {{values: [...]}} or {{low: ..., high: ...}}; got {spec!r}")
    keys = set(spec)
    if "values" in keys:
        if keys != {"values"}:
            raise FieldError(name, "give either values or low/high, not both")
        return _values(name, param, spec["values"])
    unknown = keys - RANGE_KEYS
    if unknown or not {"low", "high"} <= keys:
        raise FieldError(name, f"give values: [...] or low and high (and log); got keys {', '.join(sorted(keys))}")
    return _range(name, param, spec["low"], spec["high"], spec.get("log", False))


def _param(name: str) -> Any:
    if name in UNSWEPT:
        raise FieldError(name, f"cannot be swept: {UNSWEPT[name]}")
    if name in CATALOGUE:
        return CATALOGUE[name]
    renamed = {r.old: r for r in RENAMED}.get(name)
    if renamed is not None:
        now = f"; sweep {renamed.new} instead" if renamed.new else ""
        raise FieldError(name, f"is an old name ({renamed.note}){now}")
    import difflib

    close = difflib.get_close_matches(name, list(CATALOGUE), n=1)
    raise FieldError(name, "is not a run field" + (f"; did you mean {close[0]}?" if close else ""))


def _values(name: str, param: Any, given: Any) -> Dimension:
    if not isinstance(given, list):
        raise FieldError(name, f"values must be a list, e.g. values: [a, b]; got {given!r}")
    if not given:
        raise FieldError(name, "values is empty: give at least one value")
    if len(given) > MAX_SPACE_VALUES:
        raise FieldError(name, f"lists {len(given)} values; at most {MAX_SPACE_VALUES}")
    out: list[Any] = []
    seen: set[str] = set()
    for value in given:
        converted = param.convert(value)
        key = json.dumps(converted, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(converted)
    return Dimension(name, values=tuple(out))


def _range(name: str, param: Any, low: Any, high: Any, log: Any) -> Dimension:
    if not isinstance(log, bool):
        raise FieldError(name, f"log must be true or false; got {log!r}")
    lo, hi = (_number(name, param, v) for v in (low, high))
    if lo >= hi:
        raise FieldError(name, f"low ({lo:g}) must be below high ({hi:g})")
    if log and lo <= 0:
        raise FieldError(name, f"log: true needs low > 0; got low {lo:g}")
    integer = _is_integer_field(param, lo, hi)
    if integer:
        if not (float(lo).is_integer() and float(hi).is_integer()):
            raise FieldError(name, f"takes whole numbers: low and high must be integers; got {lo:g} and {hi:g}")
        lo, hi = int(lo), int(hi)
        # Catch holes such as max_steps, which takes -1 or >= 1 but not 0.
        count = hi - lo + 1
        points = range(lo, hi + 1) if count <= MAX_INT_CHECKS else range(lo, hi + 1, count // MAX_INT_CHECKS + 1)
        for value in points:
            param.convert(value)
    else:
        lo, hi = float(lo), float(hi)
    return Dimension(name, low=lo, high=hi, log=log, integer=integer)


def _number(name: str, param: Any, value: Any) -> float:
    converted = param.convert(value)
    if isinstance(converted, bool) or not isinstance(converted, (int, float)):
        raise FieldError(name, "low/high need a numeric field; give values: [...] instead")
    return converted


def _is_integer_field(param: Any, lo: float, hi: float) -> bool:
    probe = (lo + hi) / 2
    if float(probe).is_integer():
        probe += min(0.5, (hi - lo) / 4)
    try:
        param.convert(probe)
    except FieldError:
        return True
    return False


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)
