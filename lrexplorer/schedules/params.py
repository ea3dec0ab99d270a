"""Scheduler arguments: each is a `Field` (type, default, range) named as the real scheduler names it.

Every error is a FieldError naming the argument with its schedule as scope, because these messages
are shown verbatim in the page and the command line.
"""

from __future__ import annotations

from typing import Any

from ..fields import Field, FieldError


def resolve_kwargs(schedule: str, params: tuple[Field, ...], given: dict[str, Any] | None, span: int) -> dict:
    """Fill defaults, convert and validate. Unknown keys are an error that lists the known ones.

    Arguments that follow learning_rate (`derived_from_lr`) stay None here: `with_lr` fills them.
    """
    given = dict(given or {})
    known = {p.name: p for p in params}
    for key in given:
        if key not in known:
            allowed = ", ".join(known) or "none (this schedule takes no arguments)"
            raise FieldError(key, f"unknown argument; allowed: {allowed}", schedule)
    out: dict[str, Any] = {}
    for p in params:
        value = given[p.name] if p.name in given else p.run_default(span)
        out[p.name] = p.convert(value, schedule)
    return out


def with_lr(params: tuple[Field, ...], kwargs: dict[str, Any], learning_rate: float) -> dict[str, Any]:
    """The kwargs with every empty argument that follows learning_rate set to its factor times it."""
    out = dict(kwargs)
    for p in params:
        if p.derived_from_lr is not None and out.get(p.name) is None:
            out[p.name] = p.derived_from_lr * learning_rate
    return out
