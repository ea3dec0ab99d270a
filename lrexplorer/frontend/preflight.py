"""What the Train page says about a run before it starts: is the spec valid, how many updates it makes,
the LR at each of them, the memory it needs per device, and what is likely to go wrong.

Pure library code (no streamlit): the page calls `preflight(form_values, facts, hardware)` and lays
out the result. The LR curve comes from the Schedules engine with the step count of `plan_steps`,
the very numbers the real Trainer uses; the memory figure comes from the Memory engine (see
`memory_check`, which degrades to "unavailable, because ..." instead of failing the page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.hardware import Hardware
from lrexplorer.core.units import GIB
from lrexplorer.runs.estimates import MemoryCheck, memory_check
from lrexplorer.runs.sequences import count_sequences
from lrexplorer.runs.spec import RunSpec
from lrexplorer.runs.steps import StepPlan, plan_for
from lrexplorer.runs.validate import AMPERE, Facts, attention_note
from lrexplorer.schedules import Curve, curve_for

HIGH_LR = 1e-2  # above this, Adam-family fine-tuning usually diverges


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


# -- warnings ------------------------------------------------------------------------------------------------
def run_warnings(
    values: dict[str, Any], facts: Facts, plan: StepPlan | None, curve: Curve | None, memory: MemoryCheck | None
) -> list[tuple[str, str]]:
    """(level, text) for what is likely to surprise: will not fit, LR 0 at the first update, ..."""
    out: list[tuple[str, str]] = []
    on_cpu = facts.on_cpu(values["use_cpu"])
    cap = facts.first_capability
    peak = memory.peak_bytes if memory is not None else None
    capacity = memory.capacity_bytes if memory is not None else None
    if memory is not None and peak is not None and capacity and peak > capacity:
        out.append(
            (
                "error",
                (
                    f"Will not fit: the estimated peak is {peak / GIB:.2f} GiB per device but "
                    f"{memory.capacity_label} holds {capacity / GIB:.2f} GiB. Lower "
                    "per_device_train_batch_size or max_length, or turn on activation_checkpointing, an 8-bit "
                    "optim, bf16 or use_peft."
                ),
            )
        )
    elif memory is not None and peak is not None and capacity and peak > 0.9 * capacity:
        out.append(
            (
                "warning",
                (
                    f"Tight: the estimated peak ({peak / GIB:.2f} GiB) is over 90% of "
                    f"{memory.capacity_label}; fragmentation may still run it out of memory."
                ),
            )
        )
    if curve is not None and curve.lr.size and curve.lr[0] == 0:
        out.append(
            (
                "warning",
                (
                    "The first update uses LR 0: warmup starts at 0, so update 0 only fills Adam's "
                    "moment estimates and leaves the weights unchanged."
                ),
            )
        )
    if plan is not None:
        if plan.warmup_steps >= plan.total_steps:
            out.append(
                (
                    "warning",
                    (
                        f"Warmup ({plan.warmup_steps} updates) is as long as the run ({plan.total_steps} "
                        "updates): the LR never reaches learning_rate. Lower warmup_steps (a value below 1 "
                        "is a fraction of the run)."
                    ),
                )
            )
        elif plan.warmup_steps > plan.total_steps / 2:
            out.append(
                ("info", f"Warmup takes {plan.warmup_steps} of {plan.total_steps} updates: more than half the run.")
            )
        if (
            values["logging_strategy"] == "steps"
            and values["logging_steps"] >= 1
            and values["logging_steps"] > plan.total_steps
        ):
            out.append(
                (
                    "warning",
                    (
                        f"logging_steps ({values['logging_steps']:g}) exceeds the run's {plan.total_steps} "
                        "updates: nothing will be logged, so the charts stay empty."
                    ),
                )
            )
    if values["logging_strategy"] == "no":
        out.append(("warning", "logging_strategy is no: no metrics are written, so the live charts stay empty."))
    if values["fp16"] and not on_cpu and cap is not None and cap >= AMPERE:
        out.append(
            (
                "warning",
                (
                    f"fp16 on a GPU with bfloat16 (compute capability {cap[0]}.{cap[1]}): bf16 has "
                    "float32's range and needs no loss scaling; prefer bf16."
                ),
            )
        )
    half = values["bf16"] or values["fp16"] or values["dtype"] in ("bfloat16", "float16")
    out.append(("info", attention_note(values, facts)))
    if values["attn_implementation"] == "eager":
        out.append(
            (
                "info",
                (
                    "eager attention keeps the full attention matrix (batch x heads x length²) for the backward "
                    "pass; sdpa computes the same result with far less memory."
                ),
            )
        )
    if not on_cpu and cap is not None and cap >= AMPERE and not half:
        out.append(
            (
                "info",
                (
                    "This GPU supports bf16: mixed precision would roughly halve activation memory and speed "
                    "up training."
                ),
            )
        )
    if values["learning_rate"] > HIGH_LR and values["optim"] != "sgd":
        out.append(
            (
                "warning",
                (
                    f"learning_rate {values['learning_rate']:g} is high for fine-tuning with "
                    f"{values['optim']}; the loss may diverge (nan)."
                ),
            )
        )
    if values["max_steps"] > 0 and values["num_train_epochs"] != 1.0:
        out.append(("info", "max_steps is set, so num_train_epochs is ignored."))
    if values["max_grad_norm"] == 0:
        out.append(("info", "max_grad_norm is 0: gradients are not clipped."))
    return out


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
    result.warnings = run_warnings(values, facts, result.plan, result.curve, result.memory)
    result.warnings += [("info", note) for note in spec.notes]
    return result
