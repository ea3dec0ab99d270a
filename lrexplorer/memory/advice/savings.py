"""What each memory-saving setting buys: alone against a plain baseline, all together, the ones
not chosen yet applied on top of the chosen setup, and (with fsdp on) each FSDP option on the chosen setup.

The baseline is the chosen run with every trick off and the same tokens per update: float32
weights, eager attention, AdamW (fused), no checkpointing, no accumulation (its micro-batches merged
into one batch), full fine-tuning, one GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from lrexplorer.catalogues import optimizers as optimizer_registry
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB
from lrexplorer.memory.advice.report import SHORT_LABELS
from lrexplorer.memory.analytic.dims import make_dims
from lrexplorer.memory.analytic.estimate import Estimate, estimate
from lrexplorer.memory.analytic.tensors import trainable_bytes_per_param
from lrexplorer.memory.setup import FSDP_ONLY, TrainingSetup, setup_changes


@dataclass(frozen=True)
class Trick:
    key: str
    label: str
    cost: str
    chosen: Callable[[TrainingSetup, Architecture], bool]
    apply: Callable[[TrainingSetup, TrainingSetup, Architecture], TrainingSetup]  # (target, chosen setup, arch)


def _accumulate(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    ga = c.gradient_accumulation_steps if c.gradient_accumulation_steps > 1 else 4
    batch = t.per_device_train_batch_size * t.gradient_accumulation_steps
    if batch % ga:
        ga = next(g for g in (4, 2, 1) if batch % g == 0)
    return replace(t, per_device_train_batch_size=batch // ga, gradient_accumulation_steps=ga)


def _precision(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    if c.dtype != "float32" or c.bf16 or c.fp16:
        return replace(t, dtype=c.dtype, bf16=c.bf16, fp16=c.fp16)
    return replace(t, dtype="bfloat16")


def _attention(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    chosen = c.attention(a)
    if chosen == "eager":
        chosen = "sdpa" if a.supports_sdpa else "flash_attention_2"
    return replace(t, attn_implementation=chosen)


def _lighter_optimizer(c: TrainingSetup, a: Architecture) -> bool:
    """Whether the chosen optimizer keeps fewer bytes per trained parameter than torch's AdamW, whose
    two moments are in the trained weights' dtype."""
    e = trainable_bytes_per_param(make_dims(a, c))
    return optimizer_registry.get(c.optim).state.bytes_per_param(e) < 2 * e


def _optimizer(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    return replace(t, optim=c.optim if _lighter_optimizer(c, a) else "adamw_8bit")


def _lora(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    return replace(t, use_peft=True, lora_r=c.lora_r, lora_target_modules=c.lora_target_modules)


def _qlora(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    return replace(_lora(t, c, a), load_in_4bit=True, bnb_4bit_use_double_quant=c.bnb_4bit_use_double_quant)


def _shard(t: TrainingSetup, c: TrainingSetup, a: Architecture) -> TrainingSetup:
    if c.zero_stage or c.fsdp:
        fsdp_options = {name: getattr(c, name) for name in FSDP_ONLY} if c.fsdp else {}
        return replace(t, num_gpus=c.num_gpus, zero_stage=c.zero_stage, fsdp=c.fsdp, **fsdp_options)
    return replace(t, num_gpus=max(2, c.num_gpus), zero_stage=3)


TRICKS: tuple[Trick, ...] = (
    Trick(
        "gradient_accumulation_steps",
        "gradient accumulation",
        "more, smaller micro-batches per update (same tokens, less parallel work per step)",
        lambda c, a: c.gradient_accumulation_steps > 1,
        _accumulate,
    ),
    Trick(
        "activation_checkpointing",
        "gradient checkpointing",
        "recomputes each layer's forward in the backward (about a third more compute)",
        lambda c, a: c.activation_checkpointing,
        lambda t, c, a: replace(t, activation_checkpointing=True),
    ),
    Trick(
        "precision",
        "16-bit weights / mixed precision",
        "bfloat16 rounding (fp16 needs loss scaling)",
        lambda c, a: c.dtype != "float32" or c.bf16 or c.fp16,
        _precision,
    ),
    Trick(
        "attn_implementation",
        "memory-efficient attention",
        "none (flash_attention_2 needs the flash-attn package and an Ampere or newer GPU)",
        lambda c, a: c.attention(a) != "eager",
        _attention,
    ),
    Trick(
        "optim",
        "lighter optimizer",
        "8-bit state rounding; the other optimizers converge differently from AdamW",
        _lighter_optimizer,
        _optimizer,
    ),
    Trick(
        "use_peft",
        "LoRA adapters",
        "trains low-rank adapters only (less capacity than full fine-tuning)",
        lambda c, a: c.lora and not c.load_in_4bit,
        _lora,
    ),
    Trick(
        "load_in_4bit",
        "QLoRA (4-bit base + LoRA)",
        "dequantises every weight in every step (slower); 4-bit rounding of the frozen base",
        lambda c, a: c.load_in_4bit,
        _qlora,
    ),
    Trick(
        "zero_stage",
        "sharding over GPUs (ZeRO / FSDP)",
        "gathers weights and reduces gradients over the network every step",
        lambda c, a: bool(c.zero_stage or c.fsdp),
        _shard,
    ),
)


# FSDP's own options: each measured on the chosen FSDP setup, off against on (alone on the one-GPU
# baseline they would mean nothing). `chosen` says whether the chosen setup has the option on.
FSDP_OPTIONS: tuple[Trick, ...] = (
    Trick(
        "fsdp_reshard_after_forward",
        "FSDP full shard (reshard after forward)",
        "gathers each layer's weights twice per micro-batch (forward and again for the backward) instead of once",
        lambda c, a: c.fsdp_reshard_after_forward,
        lambda t, c, a: replace(t, fsdp_reshard_after_forward=True),
    ),
    Trick(
        "fsdp_offload_params",
        "FSDP CPU offload (CPUOffloadPolicy)",
        "the optimizer steps on the CPU and the shards cross PCIe every step (much slower); needs CPU RAM per rank",
        lambda c, a: c.fsdp_offload_params,
        lambda t, c, a: replace(t, fsdp_offload_params=True),
    ),
)


@dataclass(frozen=True)
class Saving:
    trick: Trick
    setup: TrainingSetup
    estimate: Estimate | None
    saved_bytes: int
    saved_fraction: float
    note: str = ""
    compared: str = ""  # what changes against the setup it is measured on, `name old → new, ...`


@dataclass(frozen=True)
class SavingsReport:
    baseline: Estimate
    chosen: list[Saving]  # each chosen trick alone on the baseline
    combined: Saving  # the chosen setup against the baseline
    more: list[Saving]  # each trick not chosen, on top of the chosen setup
    fsdp: list[Saving]  # with fsdp on: each FSDP option on the chosen setup, off against on (else empty)


def baseline_setup(setup: TrainingSetup) -> TrainingSetup:
    return replace(
        setup,
        per_device_train_batch_size=setup.per_device_train_batch_size * setup.gradient_accumulation_steps,
        gradient_accumulation_steps=1,
        activation_checkpointing=False,
        optim="adamw_torch_fused",
        dtype="float32",
        bf16=False,
        fp16=False,
        attn_implementation="eager",
        use_peft=False,
        lora_target_modules=None,
        load_in_4bit=False,
        num_gpus=1,
        zero_stage=0,
        fsdp=False,
        fsdp_reshard_after_forward=True,
        fsdp_offload_params=False,
        fsdp_wrap="accelerate",
    )


def _measure(
    trick: Trick, target: TrainingSetup, against: Estimate, against_setup: TrainingSetup, arch: Architecture
) -> Saving:
    est: Estimate | None
    note = ""
    try:
        est = estimate(arch, target)
    except FieldError as exc:
        # Some tricks need another (flash attention needs 16 bits): show them with what they need.
        fixed = replace(target, dtype="bfloat16") if exc.field == "attn_implementation" else None
        try:
            est = estimate(arch, fixed) if fixed is not None else None
        except FieldError:
            est = None
        if est is None or fixed is None:
            return Saving(trick, target, None, 0, 0.0, f"not possible here: {exc}", _compared(against_setup, target))
        target, note = fixed, "with bfloat16 weights, which it needs"
    saved = against.peak_bytes - est.peak_bytes
    why = _why_no_saving(arch, target, against, est) if saved <= 0 else ""
    note = "; ".join(n for n in (note, why) if n)
    return Saving(trick, target, est, saved, saved / against.peak_bytes, note, _compared(against_setup, target))


def _compared(old: TrainingSetup, new: TrainingSetup) -> str:
    return ", ".join(setup_changes(old, new))


def _why_no_saving(arch: Architecture, target: TrainingSetup, against: Estimate, est: Estimate) -> str:
    """Why a setting saves nothing at the peak, or costs memory: the component that grows the most, or
    SDPA's float32 fallback to the kernel that keeps the scores as eager does."""
    if target.attention(arch) != "eager" and make_dims(arch, target).attn == "eager":
        return "no saving: in float32 with grouped key/value heads SDPA falls back to its math kernel, which keeps the scores like eager"
    if (
        target.gradient_accumulation_steps > against.setup.gradient_accumulation_steps
        and est.peak_bytes > against.peak_bytes
    ):
        return (
            "costs memory: the gradients stay allocated while the next micro-batches run their forward and "
            "backward, which outweighs the smaller activations"
        )
    grown = {k: est.components[k] - against.components.get(k, 0) for k in est.components}
    name, more = max(grown.items(), key=lambda kv: kv[1])
    if est.peak_bytes > against.peak_bytes and more > 0:
        return f"costs memory: {SHORT_LABELS.get(name, name)} grow by {more / GIB:.2f} GiB"
    phase = est.peak_phase.replace("_", " ")
    if est.peak_bytes > against.peak_bytes:
        return f"costs memory: more is live at once at the peak (the {phase})"
    return f"no change at the peak (the {phase})"


def savings(arch: Architecture, setup: TrainingSetup) -> SavingsReport:
    """Raises FieldError if `setup` itself is invalid."""
    chosen_est = estimate(arch, setup)
    base_setup = baseline_setup(setup)
    baseline = estimate(arch, base_setup)
    chosen, more = [], []
    for trick in TRICKS:
        if trick.chosen(setup, arch):
            chosen.append(_measure(trick, trick.apply(base_setup, setup, arch), baseline, base_setup, arch))
        elif (target := trick.apply(setup, setup, arch)) != setup:  # one that changes nothing is no option
            more.append(_measure(trick, target, chosen_est, setup, arch))
    saved = baseline.peak_bytes - chosen_est.peak_bytes
    combined = Saving(
        Trick("all", "all chosen settings together", "", lambda c, a: True, lambda t, c, a: t),
        setup,
        chosen_est,
        saved,
        saved / baseline.peak_bytes,
        compared="the baseline → your setup",
    )
    more.sort(key=lambda s: -s.saved_bytes)
    return SavingsReport(baseline, chosen, combined, more, fsdp_savings(arch, setup))


def fsdp_savings(arch: Architecture, setup: TrainingSetup) -> list[Saving]:
    """What each FSDP option saves per GPU (rank) on the chosen setup: the estimate with it off against
    the estimate with it on, the other option as chosen. Empty when fsdp is off (the options do nothing)."""
    if not setup.fsdp:
        return []
    out = []
    for trick in FSDP_OPTIONS:
        off = setup.with_(**{trick.key: False})
        on = trick.apply(setup, setup, arch)
        saving = _measure(trick, on, estimate(arch, off), off, arch)
        if trick.key == "fsdp_offload_params" and saving.estimate is not None:
            host = f"needs {saving.estimate.host_bytes / GIB:.2f} GiB of CPU RAM per rank"
            saving = replace(saving, note="; ".join(n for n in (saving.note, host) if n))
        out.append(saving)
    return out
