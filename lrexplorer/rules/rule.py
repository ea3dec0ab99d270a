"""What a rule is: a small named function over a tool's catalogue values, with its severity.

A rule reads a `Subject`, the values of one tool (a run spec for `train`, an estimate's setup for
`memory`) and what is known about where they run: the machine's `Facts` (a run spec always has them),
the model's `Architecture` (an estimate knows it), the run's `Outlook` (its length, first learning rate and
memory, once the pre-flight has computed them). It returns None, or what is wrong in words that name the
field. A `refusal` stops the values (validation raises it); an `advice` is shown beside them, at a level
("error": shown red but not refused, "warning", "info").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.facts import Facts
from lrexplorer.core.fields import FieldError
from lrexplorer.core.groups import MEMORY, TRAIN

Severity = Literal["refusal", "advice"]
Level = Literal["error", "warning", "info"]
Needs = Literal["facts", "arch", "outlook"]
BOTH = (TRAIN, MEMORY)


@dataclass(frozen=True)
class Outlook:
    """What the pre-flight computed for a run: None where it is not known (a length that needs the data)."""

    total_steps: int | None = None
    warmup_steps: int | None = None
    first_lr: float | None = None
    peak_bytes: int | None = None
    capacity_bytes: int | None = None
    capacity_label: str = ""


@dataclass(frozen=True)
class Subject:
    """The values the rules check and what is known about where they run."""

    tool: str  # TRAIN (a run spec) or MEMORY (the setup of an estimate)
    values: Mapping[str, Any]
    facts: Facts | None = None  # the machine a run trains on; None: an estimate for a device by name
    arch: Architecture | None = None  # the model, where it is known before loading it
    outlook: Outlook | None = None

    @property
    def on_cpu(self) -> bool:
        if self.facts is not None:
            return self.facts.on_cpu(bool(self.values.get("use_cpu")))
        return self.values.get("device") == "cpu"

    @property
    def capability(self) -> tuple[int, int] | None:
        """The GPU's compute capability; None on the CPU, and for an estimate (its GPU is checked apart)."""
        if self.on_cpu or self.facts is None:
            return None
        return self.facts.first_capability

    @property
    def where(self) -> str:
        """The device, as the messages say it."""
        if self.on_cpu:
            return "this machine trains on the CPU" if self.facts is not None else "the estimate is for the CPU"
        cap = self.capability
        return "the GPU is not known" if cap is None else f"the GPU has compute capability {cap[0]}.{cap[1]}"


Check = Callable[[Subject], "str | FieldError | None"]


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on a subject."""

    rule: str
    severity: Severity
    level: Level
    field: str
    text: str
    scope: str | None = None

    def error(self) -> FieldError:
        return FieldError(self.field, self.text, self.scope)


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    level: Level
    field: str  # the field its message names (a check may name another one, as a FieldError)
    tools: tuple[str, ...]
    needs: tuple[Needs, ...]
    check: Check

    @property
    def summary(self) -> str:
        return (self.check.__doc__ or "").strip().split("\n")[0]

    def applies(self, subject: Subject) -> bool:
        known = {"facts": subject.facts, "arch": subject.arch, "outlook": subject.outlook}
        return subject.tool in self.tools and all(known[n] is not None for n in self.needs)

    def __call__(self, subject: Subject) -> Finding | None:
        if not self.applies(subject):
            return None
        found = self.check(subject)
        if found is None:
            return None
        if isinstance(found, FieldError):
            return Finding(self.name, self.severity, self.level, found.field, found.problem, found.scope)
        return Finding(self.name, self.severity, self.level, self.field, found)


def refusal(field: str, tools: tuple[str, ...] = (TRAIN,), needs: tuple[Needs, ...] = ()) -> Callable[[Check], Rule]:
    """Make a check a rule that refuses the values."""
    return lambda check: Rule(check.__name__, "refusal", "error", field, tools, needs, check)


def advice(
    level: Level, field: str, tools: tuple[str, ...] = (TRAIN,), needs: tuple[Needs, ...] = ()
) -> Callable[[Check], Rule]:
    """Make a check a rule that advises, shown at `level`."""
    return lambda check: Rule(check.__name__, "advice", level, field, tools, needs, check)


def half(values: Mapping[str, Any]) -> bool:
    """The step computes in 16 bits: mixed precision, or 16-bit weights."""
    return bool(values.get("bf16") or values.get("fp16") or values.get("dtype") in ("bfloat16", "float16"))
