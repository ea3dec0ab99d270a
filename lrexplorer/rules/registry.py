"""Every rule, once, in one registry: `RULES`, the rules of each module in the order they are written.

`check(subject)` runs every rule that applies to the subject (its tool, and what it needs being known) and
sorts what they found into refusals and advice; `refuse` raises the refusals as one FieldError naming each
field. Validation of a run spec, the pre-flight, the memory estimate and every front end call these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lrexplorer.core.fields import FieldError
from lrexplorer.rules import adapters, attention, batch, distributed, logging_saving, optimization, outlook, precision
from lrexplorer.rules.rule import Finding, Rule, Subject

MODULES = (precision, attention, batch, optimization, adapters, distributed, logging_saving, outlook)
RULES: tuple[Rule, ...] = tuple(r for m in MODULES for r in vars(m).values() if isinstance(r, Rule))
BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


@dataclass
class Findings:
    refusals: list[Finding] = field(default_factory=list)
    advice: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[FieldError]:
        return [f.error() for f in self.refusals]


def check(subject: Subject) -> Findings:
    """What every rule that applies finds in `subject`."""
    out = Findings()
    for rule in RULES:
        found = rule(subject)
        if found is not None:
            (out.refusals if found.severity == "refusal" else out.advice).append(found)
    return out


def refuse(subject: Subject) -> list[Finding]:
    """Raise one FieldError naming every field a refusal finds; else return the advice."""
    found = check(subject)
    if found.refusals:
        raise FieldError.collect(found.errors)
    return found.advice
