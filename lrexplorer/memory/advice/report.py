"""One result shape for both engines (machine output in bytes) and its readable table (GiB)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.units import GIB
from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT, Estimate, estimate
from lrexplorer.memory.analytic.parallel import scheme
from lrexplorer.memory.gpus import Fit, Gpu
from lrexplorer.memory.results import RankStep, StepMemory
from lrexplorer.memory.setup import TRAINERS, TrainingSetup

if TYPE_CHECKING:
    from lrexplorer.memory.advice.advisor import Advice

SHORT_LABELS = {
    "weights": "weights",
    "gradients": "gradients",
    "optimizer_states": "optimizer states",
    "activations": "activations (+ logits, loss)",
    "loss_buffers": "loss buffers",
    "optimizer_step_buffers": "optimizer step buffers",
    "communication_buffers": "communication buffers",
    "cuda_context": "CUDA context",
    "cuda_workspace": "cuBLAS workspace",
    "batch": "input batch",
}
SCHEMES = {
    "ddp": "DDP (a full replica on each GPU)",
    "zero1": "DeepSpeed ZeRO-1",
    "zero2": "DeepSpeed ZeRO-2",
    "zero3": "DeepSpeed ZeRO-3",
    "fsdp": "FSDP2",
}
# The kinds of FSDPMemTracker that are FSDP's own buffers: gathered weights, their gradients, collectives.
COMMUNICATION_KINDS = ("Unsharded Param", "Unsharded Grad", "All Gather", "Reduce Scatter")
COMPONENT_LABELS = {
    "weights": "weights",
    "gradients": "gradients",
    "optimizer_states": "optimizer states",
    "activations": "activations (saved for backward, logits and loss included)",
    "loss_buffers": "loss buffers (logits copies while the loss is computed)",
    "optimizer_step_buffers": "optimizer step buffers",
    "communication_buffers": "communication buffers (buckets, gathered layers, collectives)",
    "cuda_context": "CUDA context",
    "cuda_workspace": "cuBLAS workspace",
    "batch": "input batch",
}


def parallel_label(setup: TrainingSetup) -> str:
    """How the GPUs share the run, in words ('' for one GPU)."""
    kind = scheme(setup)
    if kind == "single":
        return ""
    name = SCHEMES[kind]
    if kind == "fsdp":
        name += " full shard" if setup.fsdp_reshard_after_forward else " shard-grad-op"
        if setup.fsdp_offload_params:
            name += ", CPU offload"
        name += ", accelerate's groups" if setup.fsdp_wrap == "accelerate" else ", one group per decoder layer + root"
    return f"per GPU (rank) of {setup.num_gpus}, {name}"


def _rank_components(result: RankStep, cuda: bool) -> dict[str, int]:
    kinds = result.at_peak
    return {
        "weights": result.weights,
        "gradients": result.gradients,
        "optimizer_states": result.optimizer_states,
        "activations": kinds.get("Activation", 0) + kinds.get("Temp", 0),
        "communication_buffers": sum(kinds.get(k, 0) for k in COMMUNICATION_KINDS),
        "batch": kinds.get("Inputs", 0),
        "cuda_context": CUDA_CONTEXT if cuda else 0,
        "cuda_workspace": CUBLAS_WORKSPACE if cuda else 0,
    }


def result_dict(
    result: Estimate | StepMemory | RankStep, setup: TrainingSetup, gpus: list[Gpu], model: str
) -> dict[str, Any]:
    """`{"n_params", "trainable_params", "components", "peak_bytes", "gpus", ...}` with byte counts."""
    if isinstance(result, Estimate):
        components = dict(result.components)
        phases, engine = dict(result.phases), "analytic"
        peak_phase: str | None = result.peak_phase
        notes = list(result.notes)
        host = result.host_bytes
    elif isinstance(result, RankStep):
        components = _rank_components(result, setup.device == "cuda")
        phases, engine, peak_phase = dict(result.phase_peaks), result.engine, result.peak_phase
        notes, host = list(result.notes), result.host_bytes
    else:
        host = 0
        cuda = setup.device == "cuda"
        components = {
            "weights": result.weights,
            "gradients": result.gradients,
            "optimizer_states": result.optimizer_states,
            "activations": result.activations,
            "cuda_context": CUDA_CONTEXT if cuda else 0,
            "cuda_workspace": CUBLAS_WORKSPACE if cuda else 0,
        }
        phases = dict(result.phase_peaks)
        peak_phase = max(phases, key=lambda k: phases[k]) if phases else None
        engine = result.engine
        notes = list(result.notes)
    attention = setup.attn_implementation or ""
    return {
        "engine": engine,
        "model": model,
        "device": setup.device,
        "trainer": setup.trainer,
        "notes": notes,
        "n_params": result.n_params,
        "trainable_params": result.trainable_params,
        "num_gpus": setup.num_gpus,
        "parallel": parallel_label(setup),
        "cpu_ram_per_rank_bytes": host,
        "components": components,
        "phases": phases,
        "peak_phase": peak_phase,
        "peak_bytes": result.peak_bytes,
        "gpus": [Fit(g, result.peak_bytes).to_dict(setup, attention) for g in gpus] if setup.device == "cuda" else [],
    }


def text_table(data: dict[str, Any], note: str | None = None) -> str:
    """The result as a readable table in GiB."""
    lines = [
        (
            f"model: {data['model']}  ({data['n_params'] / 1e9:.3f} B parameters, "
            f"{data['trainable_params'] / 1e6:,.1f} M trainable)"
        ),
        f"engine: {data['engine']}, device: {data['device']}",
        f"trainer: {data['trainer']}: {TRAINERS[data['trainer']]}",
        *([f"figures {data['parallel']}"] if data.get("parallel") else []),
        *(f"WARNING: {n}" for n in data["notes"]),
        "",
        f"{'component' + (' (per GPU, rank)' if data.get('parallel') else ''):62s} {'GiB':>9s}",
    ]
    for key, value in data["components"].items():
        if value:
            lines.append(f"{COMPONENT_LABELS.get(key, key):62s} {value / GIB:9.3f}")
    lines.append("")
    for phase, value in data["phases"].items():
        mark = "  <- peak" if phase == data["peak_phase"] else ""
        lines.append(f"{'peak during ' + phase.replace('_', ' '):62s} {value / GIB:9.3f}{mark}")
    where = f"per GPU (rank) of {data['num_gpus']}" if data.get("parallel") else "per device"
    lines.append(f"{'PEAK (the largest phase, ' + where + ')':62s} {data['peak_bytes'] / GIB:9.3f}")
    if data.get("cpu_ram_per_rank_bytes"):
        label = "CPU RAM per rank (offloaded shards, gradients, optimizer)"
        lines.append(f"{label:62s} {data['cpu_ram_per_rank_bytes'] / GIB:9.3f}")
    lines += gpu_lines(data["gpus"])
    if note:
        lines += ["", note]
    return "\n".join(lines)


def gpu_lines(gpus: list[dict[str, Any]]) -> list[str]:
    """The fit on each GPU (`Fit.to_dict`s) as table lines in GiB, after a blank line (none without GPUs)."""
    if not gpus:
        return []
    lines = ["", f"{'GPU':32s} {'memory GiB':>10s} {'fits':>5s} {'headroom GiB':>13s}"]
    for g in gpus:
        memory = "the memory would fit, but " if g.get("fits_memory") else ""
        extra = f"  ({memory}cannot run: {'; '.join(g['unsupported'])})" if g.get("unsupported") else ""
        lines.append(
            f"{g['name']:32s} {g['total_bytes'] / GIB:10.1f} {'yes' if g['fits'] else 'NO':>5s} "
            f"{g['headroom_bytes'] / GIB:13.2f}{extra}"
        )
    return lines


def advice_text(advice: Advice) -> str:
    """The fit advisor's answer in a few lines (GiB)."""
    verdict = "fits" if advice.fits else "does NOT fit"
    lines = [
        f"{advice.gpu.name}: the peak {advice.peak_bytes / GIB:.2f} GiB {verdict} in "
        f"{advice.usable_bytes / GIB:.2f} GiB ({advice.margin_percent:g} % of {advice.gpu.total_bytes / GIB:.1f} GiB "
        f"kept free as the safety margin); {'left' if advice.fits else 'missing'}: {abs(advice.margin_bytes) / GIB:.2f} GiB",
        f"largest per_device_train_batch_size that fits: {advice.max_batch or 'none (not even 1)'}",
    ]
    if advice.keep_global is not None:
        b, ga = advice.keep_global
        lines.append(f"same global batch: per_device_train_batch_size {b} x gradient_accumulation_steps {ga}")
    suggestions = advice.suggestions()
    if suggestions:
        lines += [
            "",
            "changes that make it fit (fewest GPUs first, then quality cost, then compute per update vs now):",
        ]
        for s in suggestions:
            star = f"  <- best on {s.gpus} GPU{'s' if s.gpus > 1 else ''}" if advice.is_best(s) else ""
            flags = " ".join(f"--{k} {str(v).lower() if isinstance(v, bool) else v}" for k, v in s.changes.items())
            lines.append(
                f"  {s.label}: {s.peak_bytes / GIB:.2f} GiB; quality {s.quality_cost}, {s.gpus} GPU(s), "
                f"compute x{s.flops / advice.flops:.2f}  [{flags}]{star}"
            )
    elif not advice.fits:
        lines.append("no change the advisor knows makes it fit on this GPU")
    return "\n".join(lines)


def trl_defaults(arch: Architecture, setup: TrainingSetup, changes: dict[str, Any]) -> dict[str, Any] | None:
    """The step an SFTTrainer script runs when it leaves `changes`' fields to TRL's SFTConfig (see
    `setup.trl_unset_defaults`): `{"fields", "peak_bytes", "peak_phase"}`, or None when nothing is left."""
    if not changes:
        return None
    alt = estimate(arch, setup.with_(**changes))
    return {"fields": dict(changes), "peak_bytes": alt.peak_bytes, "peak_phase": alt.peak_phase}


def trl_defaults_text(info: dict[str, Any], peak_bytes: int, flag: str = "--") -> str:
    """One paragraph: what was assumed, what TRL's SFTConfig would turn on, and that step's peak."""
    names = list(info["fields"])
    one = len(names) == 1
    ours = " and ".join(f"{n}=false" for n in names)
    theirs = " and ".join(f"{n}=true" for n in names)
    change = (info["peak_bytes"] - peak_bytes) / peak_bytes if peak_bytes else 0.0
    diff = "the same peak" if abs(change) < 0.0005 else f"{100 * change:+.1f}% against the figure above"
    choose = " and ".join(f"{flag}{n} true|false" for n in names) if flag else "them in the form"
    return (
        f"SFTTrainer's step estimated with {ours}: {'the value' if one else 'the values'} lrexplorer's runs and "
        f"exports pass to SFTConfig. A script that leaves {' and '.join(names)} out of SFTConfig gets TRL's "
        f"{'default' if one else 'defaults'}, {theirs}: that step peaks at {info['peak_bytes'] / GIB:.3f} GiB "
        f"({diff}, during the {info['peak_phase'].replace('_', ' ')}). Set {choose} to choose."
    )
