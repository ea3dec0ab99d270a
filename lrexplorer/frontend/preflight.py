"""What the Train page says about a run before it starts: is the spec valid, how many updates it makes,
the LR at each of them, the memory it needs per device, and what is likely to go wrong.

Pure library code (no streamlit): the page calls `preflight(form_values, facts, hardware)` and lays
out the result. The LR curve comes from the Schedules engine with the step count of `plan_steps`,
the very numbers the real Trainer uses; the memory figure comes from the Memory engine (see
`memory_check`, which degrades to "unavailable, because ..." instead of failing the page). What is likely
to go wrong is the advice of the rules (`lrexplorer.rules`) over the spec and those numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues.params import TRAIN, FieldError
from lrexplorer.core.facts import Facts
from lrexplorer.core.hardware import Hardware
from lrexplorer.rules.attention import attention_note
from lrexplorer.rules.registry import check
from lrexplorer.rules.rule import Outlook, Subject
from lrexplorer.runs.estimates import MemoryCheck, memory_check
from lrexplorer.runs.sequences import count_sequences
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.steps import StepPlan, plan_for
from lrexplorer.schedules import Curve, curve_for


@dataclass
class Preflight:
    spec: RunSpec | None
    errors: list[FieldError]
    plan: StepPlan | None = None
    curve: Curve | None = None
    plan_error: str | None = None  # why the length or the curve is unknown (a spec can still start)
    num_examples: int | None = None  # the sequences the Trainer batches per epoch (TRL's preparation of the rows)
    data: Any = None  # runs.sequences.SequenceCount: where num_examples comes from
    memory: MemoryCheck | None = None
    lengths: Any = None  # DatasetLengths of the training rows, or why they are unknown (str)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (error|warning|info, text)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.errors


def outlook(pf: Preflight) -> Outlook:
    """What the rules read of the pre-flight's numbers."""
    mem = pf.memory
    return Outlook(
        total_steps=pf.plan.total_steps if pf.plan is not None else None,
        warmup_steps=pf.plan.warmup_steps if pf.plan is not None else None,
        first_lr=float(pf.curve.lr[0]) if pf.curve is not None and pf.curve.lr.size else None,
        peak_bytes=mem.peak_bytes if mem is not None else None,
        capacity_bytes=mem.capacity_bytes if mem is not None else None,
        capacity_label=mem.capacity_label if mem is not None else "",
    )


def preflight(given: dict[str, Any], facts: Facts, hw: Hardware | None = None) -> Preflight:
    """Validate the form's values and compute everything the page shows before Start."""
    try:
        spec = RunSpec.from_dict(given, facts)
    except FieldError as exc:
        return Preflight(spec=None, errors=list(exc.errors))
    from lrexplorer.runs.training.sources import check_sources

    result = Preflight(spec=spec, errors=check_sources(spec.values, probe_hub=False))
    values = spec.values
    try:
        if not result.errors:  # a missing dataset is already reported
            result.data = count_sequences(values)
            if result.data.problem is None:
                result.num_examples = result.data.sequences
            else:
                result.errors.extend(result.data.problem.errors)
        # The Trainer's step counts: each of the num_processes ranks takes its share of the batches.
        result.plan = plan_for(values, num_examples=result.num_examples, world_size=values["num_processes"])
        result.curve = curve_for(values, result.plan.total_steps, result.plan.warmup_steps)
    except FieldError as exc:
        if result.plan is None and values["max_steps"] < 1 and result.num_examples is None:
            why = f" ({result.data.how})" if result.data is not None else ""
            result.plan_error = (
                f"The number of updates depends on the sequences TRL makes of the data, unknown here{why}; set "
                "max_steps to see the LR curve now."
            )
        else:
            result.plan_error = str(exc)
    except OSError as exc:
        result.plan_error = f"cannot read the dataset to count its examples: {exc}"
    from lrexplorer.runs.training.lengths import dataset_lengths

    result.lengths = dataset_lengths(values)  # cached: memory_check pads to its longest
    result.memory = memory_check(values, facts, hw)
    # The rules' advice over the spec and these numbers (the spec's own advice again, now with its level),
    # what the attention will be, and the old names that were read.
    advice = check(Subject(TRAIN, values, facts, outlook=outlook(result))).advice
    result.warnings = [(a.level, a.text) for a in advice]
    result.warnings.append(("info", attention_note(values, facts)))
    result.warnings += [("info", note) for note in spec.renamed]
    return result
