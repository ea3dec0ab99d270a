"""Turning what a user types (form fields, JSON, URL query parameters) into schedule inputs.

No streamlit here: the page and the tests share these functions, and every error is a
ScheduleError whose message names the field, as the engine's own errors do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .schedules import CATALOGUE, NOTES_SCHEDULES, Param, Schedule, ScheduleError, parse_kwargs_json

DEFAULT_SCHEDULES = ("linear", "cosine")


def ordered_schedule_names() -> list[str]:
    """The training notes' six first (in the notes' order), then transformers, then torch schedules."""
    rest = [n for n in CATALOGUE if n not in NOTES_SCHEDULES]
    hf = [n for n in rest if CATALOGUE[n].family == "transformers"]
    torch = [n for n in rest if CATALOGUE[n].family == "torch"]
    return [*NOTES_SCHEDULES, *hf, *torch]


def fmt_value(value: Any) -> str:
    """Compact display of a default: 1e-07 rather than 0.0000001, [5, 8] as written."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def placeholder(param: Param, span: int) -> str:
    """What an empty field stands for, shown greyed out inside it."""
    value = param.default_for(span)
    if param.default is None and param.derived is not None:
        return f"auto {fmt_value(value)}"
    if value is None:
        return "not set"
    return f"default {fmt_value(value)}"


def help_text(param: Param, span: int) -> str:
    """Tooltip: the parameter's meaning, what it accepts and what an empty field means."""
    parts = [param.help, f"Allowed: {param.allowed()}."]
    if param.default is None and param.derived is not None:
        parts.append(f"Empty: {param.derived_help} ({fmt_value(param.default_for(span))} for this run).")
    elif param.kind not in ("bool", "choice"):
        parts.append("Empty: the default." if param.default is not None else "Empty: not passed.")
    return "\n\n".join(parts)


def parse_int_list(text: str | None, schedule: str, param: Param) -> list[int] | None:
    """'30, 80' or '[30, 80]' -> [30, 80]; empty -> None (the default). Range checks are the engine's."""
    if text is None or not text.strip():
        return None
    tokens = [t for t in re.split(r"[,\s]+", text.strip().strip("[]")) if t]
    values = []
    for token in tokens:
        try:
            values.append(int(token))
        except ValueError:
            raise ScheduleError(
                f"{schedule}: `{param.name}` must be {param.allowed()}; could not read {token!r}.", param.name
            ) from None
    return values


def parse_number(text: str | None, schedule: str, param: Param) -> int | float | None:
    """A typed number ('0.1', '1e-7', '2000'); empty -> None (the default). Range checks are the engine's.

    Typed text rather than a spinner, because scheduler arguments span many decades (eps 1e-8,
    final_div_factor 1e4) and a number box can neither show nor step through them well.
    """
    if text is None or not text.strip():
        return None
    try:
        value = float(text.strip())
    except ValueError:
        raise ScheduleError(
            f"{schedule}: `{param.name}` must be {param.allowed()}; could not read {text.strip()!r}.", param.name
        ) from None
    if param.kind == "int" and value.is_integer():
        return int(value)
    return value  # a fractional value for an int parameter is reported by the engine, naming the field


def collect_kwargs(schedule: Schedule, values: Mapping[str, Any], json_text: str | None = None) -> dict[str, Any]:
    """The lr_scheduler_kwargs a user asked for: fields they filled, then the JSON box on top.

    Empty fields and switches left at their default are not passed, so the result is the smallest
    kwargs dict that gives this curve (what one would write in TrainingArguments), and a pair such
    as min_lr / min_lr_rate is not sent twice.
    """
    params = {p.name: p for p in schedule.params}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        param = params[name]
        if value is None or (param.kind in ("bool", "choice") and value == param.default):
            continue
        kwargs[name] = value
    kwargs.update(parse_kwargs_json(json_text))
    return kwargs


@dataclass
class Preset:
    """Initial page values read from the URL; fields left None keep the page's own defaults."""

    schedules: list[str] | None = None
    learning_rate: float | None = None
    max_steps: int | None = None
    warmup_steps: float | None = None
    problems: list[str] = field(default_factory=list)


def preset_from_query(query: Mapping[str, Any]) -> Preset:
    """Read ?schedule=a,b&lr=..&steps=..&warmup=..; bad values are skipped and reported, never raised."""
    preset = Preset()
    raw = _first(query.get("schedule"))
    if raw:
        by_lower = {n.lower(): n for n in CATALOGUE}
        names: list[str] = []
        unknown: list[str] = []
        for token in (t.strip() for t in raw.split(",")):
            if token:
                match = token if token in CATALOGUE else by_lower.get(token.lower())
                (names if match else unknown).append(match or token)
        if unknown:
            preset.problems.append(f"unknown schedule {', '.join(repr(u) for u in unknown)} in `schedule`")
        if names:
            preset.schedules = list(dict.fromkeys(names))
    lr = _number(query, "lr", preset.problems, "a number > 0")
    if lr is not None and lr > 0:
        preset.learning_rate = lr
    elif lr is not None:
        preset.problems.append("`lr` must be a number > 0")
    steps = _number(query, "steps", preset.problems, "a whole number >= 1")
    if steps is not None and steps >= 1 and float(steps).is_integer():
        preset.max_steps = int(steps)
    elif steps is not None:
        preset.problems.append("`steps` must be a whole number >= 1")
    warmup = _number(query, "warmup", preset.problems, "a number >= 0")
    if warmup is not None and warmup >= 0:
        preset.warmup_steps = warmup
    elif warmup is not None:
        preset.problems.append("`warmup` must be a number >= 0")
    return preset


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


def _number(query: Mapping[str, Any], key: str, problems: list[str], wanted: str) -> float | None:
    text = _first(query.get(key))
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"`{key}` must be {wanted}, got {text!r}")
        return None
    if not math.isfinite(value):
        problems.append(f"`{key}` must be {wanted}, got {text!r}")
        return None
    return value
