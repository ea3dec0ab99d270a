"""Turning what a user types (form fields, JSON, URL query parameters) into schedule inputs.

No streamlit here: the page and the tests share these functions. Every value goes through its
`Field` (a scheduler argument, or a catalogue field such as learning_rate), so every error is a
FieldError naming the field, exactly as the engine and the command line word it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues import params
from lrexplorer.core.fields import Field, FieldError
from lrexplorer.schedules import CATALOGUE, NOTES_SCHEDULES, Schedule

DEFAULT_SCHEDULES = ("linear", "cosine")
# Short names the page's links use, and the catalogue field each one sets.
QUERY_ALIASES = {"lr": "learning_rate", "steps": "max_steps", "warmup": "warmup_steps"}


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


def placeholder(param: Field, span: int) -> str:
    """What an empty field stands for, shown greyed out inside it."""
    if param.derived_from_lr is not None:
        return f"auto: {param.empty_means()}"
    value = param.run_default(span)
    if param.default is None and param.derived is not None:
        return f"auto {fmt_value(value)}"
    if value is None:
        return "not set"
    return f"default {fmt_value(value)}"


def collect_kwargs(schedule: Schedule, values: Mapping[str, Any], json_text: str | None = None) -> dict[str, Any]:
    """The lr_scheduler_kwargs a user asked for: fields they filled, then the JSON box on top.

    Each filled field is converted by its `Field` (text such as '1e3' or '30, 80' included), so a bad
    value raises FieldError naming it. Empty fields and switches left at their default are not passed,
    so the result is the smallest kwargs dict that gives this curve (what one would write in
    TrainingArguments), and a pair such as min_lr / min_lr_rate is not sent twice.
    """
    fields = {p.name: p for p in schedule.params}
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        param = fields[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if param.kind in ("bool", "choice") and value == param.default:
            continue
        kwargs[name] = param.convert(value, schedule.name)
    kwargs.update(params.CATALOGUE["lr_scheduler_kwargs"].convert(json_text or ""))
    return kwargs


@dataclass
class Preset:
    """Initial page values read from the URL; fields left None keep the page's own defaults."""

    schedules: list[str] | None = None
    learning_rate: float | None = None
    max_steps: int | None = None
    warmup_steps: float | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # old names read under their current one


def preset_from_query(query: Mapping[str, Any]) -> Preset:
    """Read ?schedule=a,b&lr=..&steps=..&warmup=.. (or the field names learning_rate, max_steps,
    warmup_steps, and old names such as warmup_ratio); bad values are skipped and reported, never raised."""
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
    wanted = tuple(QUERY_ALIASES.values())
    given = {QUERY_ALIASES.get(k, k): _first(v) for k, v in query.items()}
    given = {k: v for k, v in given.items() if k in wanted or k in params.RENAMED_BY_OLD}
    translated, preset.notes, errors = params.translate(given, wanted)
    shown = {name: f"`{key}` ({name})" for key, name in QUERY_ALIASES.items() if key in query}
    preset.problems += [f"`{e.field}` {e.problem}" for e in errors]
    for name, text in translated.items():
        try:
            value = params.CATALOGUE[name].convert(text)
            if name == "max_steps" and value < 1:
                raise FieldError(name, f"must be a whole number >= 1 here; got {text!r}")
        except FieldError as exc:
            preset.problems.append(f"{shown.get(name, f'`{name}`')} {exc.problem}")
            continue
        setattr(preset, name, value)
    return preset


def _first(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)
