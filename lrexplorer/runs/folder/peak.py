"""Predicted against measured peak memory of a run: the record in RUN/memory.json and how it reads.

The prediction is the Train pre-flight's (`runs/estimates.py`: `memory_check`) for the run's spec. The
measurement is what the run really used: on a CUDA GPU the allocator's peak over the whole run
(`max_memory_allocated`, with `max_memory_reserved` beside it); on the CPU, one steady-state step
(the second this process runs) tracked tensor by tensor with torch's MemTracker, for models up to
`MEASURE_MAX_PARAMS` parameters. Light module (no torch): the CLI and pages read it.
"""

from __future__ import annotations

from typing import Any

from lrexplorer.core.units import GIB, MIB

MEASURE_MAX_PARAMS = 50_000_000  # MemTracker follows every tensor op: a slow step beyond this size
OVER = 0.10  # a measured peak this much above the prediction is a warning in train.log


def predicted_fields(values: dict[str, Any], facts: Any) -> dict[str, Any]:
    """The pre-flight's estimate of the spec's peak per device, or why there is none; never raises."""
    from lrexplorer.runs.estimates import memory_check

    check = memory_check(values, facts, None)
    return {
        "device": check.device,
        "predicted_peak_bytes": check.peak_bytes,
        "predicted_unavailable": check.unavailable,
        "predicted_assumptions": list(check.assumptions),
    }


def cpu_measure_off(parameters: int) -> str | None:
    """Why the CPU step is not measured for a model of this size, or None when it is."""
    if parameters <= MEASURE_MAX_PARAMS:
        return None
    return (
        f"not measured: the model has {parameters / 1e6:,.0f} M parameters; a CPU step is tracked tensor by "
        f"tensor only for models up to {MEASURE_MAX_PARAMS / 1e6:.0f} M (it slows that step several times)"
    )


def excess(record: dict[str, Any]) -> float | None:
    """measured / predicted - 1, or None when either is missing."""
    predicted, measured = record.get("predicted_peak_bytes"), record.get("measured_peak_bytes")
    if not isinstance(predicted, (int, float)) or not isinstance(measured, (int, float)) or predicted <= 0:
        return None
    return measured / predicted - 1


def over_warning(record: dict[str, Any]) -> str | None:
    """The train.log warning when the run used more than OVER above its prediction."""
    over = excess(record)
    if over is None or round(over, 9) <= OVER:  # rounded: 110 / 100 - 1 is 0.10000000000000009
        return None
    how = f", {record['measured_how']}" if record.get("measured_how") else ""
    return (
        f"the measured peak ({size_text(record['measured_peak_bytes'])}{how}) "
        f"exceeds the predicted peak ({size_text(record['predicted_peak_bytes'])}) by {over:.0%}"
    )


def size_text(nbytes: float) -> str:
    return f"{nbytes / GIB:.2f} GiB" if nbytes >= GIB else f"{nbytes / MIB:.1f} MiB"


def peak_text(record: dict[str, Any]) -> str:
    """ "predicted / measured peak" in one short cell: '41.2 MiB / 39.8 MiB (-3%)', with '—' for a missing side."""
    if not record:
        return "—"
    predicted, measured = record.get("predicted_peak_bytes"), record.get("measured_peak_bytes")
    left = size_text(predicted) if isinstance(predicted, (int, float)) else "—"
    right = size_text(measured) if isinstance(measured, (int, float)) else "—"
    over = excess(record)
    return f"{left} / {right}" + (f" ({over:+.1%})" if over is not None else "")


def peak_details(record: dict[str, Any]) -> list[str]:
    """Sentences that say what each side is, or why it is missing."""
    out = []
    if record.get("predicted_unavailable"):
        out.append(f"No prediction: {record['predicted_unavailable']}.")
    elif isinstance(record.get("predicted_peak_bytes"), (int, float)):
        out.append("Predicted: the Memory engine's estimate the pre-flight showed for this spec.")
    if record.get("measured_off"):
        out.append(f"Measured peak {record['measured_off']}.")
    elif record.get("measured_how"):
        out.append(f"Measured: {record['measured_how']}.")
    if isinstance(record.get("measured_reserved_bytes"), (int, float)):
        out.append(f"The CUDA allocator reserved up to {size_text(record['measured_reserved_bytes'])}.")
    if record.get("warning"):
        out.append(f"Warning: {record['warning']}.")
    return out
