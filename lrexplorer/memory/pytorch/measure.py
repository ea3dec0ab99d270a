"""Memory of one real steady-state training step, counted by PyTorch itself.

`measure_step` builds the model and the Trainer's optimizer, brings the optimizer state into
existence (as in every step after the first), then tracks one step done the way
`Trainer.training_step` does it: forward with labels under autocast, loss / accumulation, backward,
gradient clipping, optimizer step, `zero_grad(set_to_none=True)`.

- CPU (and FakeTensorMode, see simulate.py): `torch.distributed._tools.mem_tracker.MemTracker`
  counts every tensor storage; its peak is the step's peak.
- CUDA: `torch.cuda.max_memory_allocated`, reset per phase.
Per component: weights, gradients and optimizer states are summed from the tensors after the step;
activations are the storages autograd saves in one micro-batch's forward, seen through
`saved_tensors_hooks`, de-duplicated by storage, parameters excluded.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.memory.pytorch.counting import (
    PhaseTracker,
    SavedTensorCounter,
    nbytes,
    optimizer_state_tensors,
)
from lrexplorer.memory.results import Progress, StepMemory
from lrexplorer.memory.setup import TrainingSetup, as_trained


def _autocast(setup: TrainingSetup) -> Any:
    if setup.bf16 or setup.fp16:
        dtype = torch.bfloat16 if setup.bf16 else torch.float16
        return torch.autocast(device_type=setup.device, dtype=dtype)
    return contextlib.nullcontext()


def micro_batch_loss(model: torch.nn.Module, batch: dict[str, Any], fused: bool) -> torch.Tensor:
    """The loss of one micro-batch: the model's own (the Trainer), or SFTTrainer's through TRL's fused head.

    SFTTrainer.compute_loss sums the per-token log-probabilities over the labelled tokens and logs the
    mean entropy and top-1 accuracy the head returns (their `.item()` is left out: it changes no memory).
    """
    if not fused:
        return model(**batch)["loss"]
    outputs = model(**batch, fused_lm_head=True)
    loss = -outputs.log_probs.sum() / outputs.label_mask.sum().clamp(min=1)
    outputs.entropy.detach().sum()
    outputs.is_top1.sum()
    return loss


def training_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[dict[str, Any]],
    setup: TrainingSetup,
    scaler: Any = None,
    tracker: PhaseTracker | None = None,
    counter: SavedTensorCounter | None = None,
    fused: bool = False,
) -> None:
    """One optimizer update as `Trainer.training_step` + its inner loop run it (micro-batches in turn)."""
    params = [p for p in model.parameters() if p.requires_grad]
    ga = setup.gradient_accumulation_steps
    for micro in range(ga):
        saving = counter.context() if (counter is not None and micro == 0) else contextlib.nullcontext()
        with saving, _autocast(setup):
            loss = micro_batch_loss(model, batches[micro % len(batches)], fused)
        if tracker:  # compute_loss returns only the loss: the logits (or the head's outputs) are gone
            tracker.end_phase("forward")
        loss = loss / ga
        (scaler.scale(loss) if scaler is not None else loss).backward()
        del loss
        if tracker:
            tracker.end_phase("backward")
    if scaler is not None:
        scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(params, 1.0)  # the Trainer's default max_grad_norm
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    model.zero_grad(set_to_none=True)
    if tracker:
        tracker.end_phase("optimizer_step")


def init_optimizer_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Bring the optimizer to its steady state: one update from zero gradients creates every state
    tensor exactly as a first training step would, without paying for a forward and backward."""
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.zeros_like(p)
    optimizer.step()
    model.zero_grad(set_to_none=True)


def run_tracked_step(
    config: dict[str, Any],
    arch: Architecture,
    setup: TrainingSetup,
    *,
    engine: str,
    progress: Progress | None = None,
    warmup_steps: int = 0,
) -> StepMemory:
    """Build, warm up, then track one step. Runs on the current default device (or fake mode)."""
    from lrexplorer.memory.analytic.fused_head import head_kind
    from lrexplorer.memory.pytorch.realmodel import (
        add_sft_head,
        bnb_cpu_kernels_traced,
        build_model,
        build_optimizer,
        make_batch,
    )

    say = progress or (lambda msg, frac: None)
    start = time.perf_counter()
    say("building the model", 0.05)
    model = build_model(config, arch, setup)
    optimizer = build_optimizer(model, setup)
    fused = head_kind(arch, setup) != "logits"
    if fused:
        add_sft_head(model)
    # Under FakeTensorMode transformers cannot read the mask's values to see it is all ones, and would
    # build a 4-D mask a real run skips; without a mask it takes the same path as with all ones.
    # SFTTrainer fetches every micro-batch of an update first; the plain step reuses one.
    fetched = setup.gradient_accumulation_steps if setup.trainer == "sft" else 1
    batches = [make_batch(arch, setup, with_attention_mask=engine != "simulated") for _ in range(fetched)]
    external = [t for batch in batches for t in batch.values() if isinstance(t, torch.Tensor)]
    scaler = torch.amp.GradScaler(setup.device) if setup.fp16 else None
    say("allocating the optimizer state", 0.3)
    init_optimizer_state(model, optimizer)
    for i in range(warmup_steps):  # full real steps first, when the caller wants a run-like sequence
        say(f"real step {i + 1} of {warmup_steps + 1}", 0.3 + 0.3 * i / warmup_steps)
        training_step(model, optimizer, batches, setup, scaler, fused=fused)
    say("tracked step", 0.6)
    weights = nbytes(p for p in model.parameters())
    states = nbytes(optimizer_state_tensors(optimizer))
    counter = SavedTensorCounter(model)
    ckpt_hooks = counter.watch_checkpoints(model) if setup.activation_checkpointing else []
    tracker = PhaseTracker(setup.device, model, optimizer, external)
    grads_seen: dict[str, int] = {}

    def grab_grads() -> None:  # gradients exist between backward and zero_grad: count them there
        grads_seen["bytes"] = nbytes(p.grad for p in model.parameters() if p.grad is not None)

    hook = optimizer.register_step_pre_hook(lambda *a: grab_grads())
    try:
        with tracker, bnb_cpu_kernels_traced(setup):
            training_step(model, optimizer, batches, setup, scaler, tracker, counter, fused)
    finally:
        hook.remove()
        for h in ckpt_hooks:
            h.remove()
    say("done", 1.0)
    peaks = tracker.peaks
    return StepMemory(
        engine=engine,
        device=setup.device,
        peak_bytes=max(peaks.values()),
        phase_peaks=dict(peaks),
        weights=weights,
        gradients=grads_seen.get("bytes", 0),
        optimizer_states=states,
        activations=counter.total,
        n_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        seconds=time.perf_counter() - start,
    )


def measure_step(
    config: dict[str, Any],
    arch: Architecture,
    setup: TrainingSetup,
    progress: Progress | None = None,
    seed: int = 0,
    warmup_steps: int = 0,
) -> StepMemory:
    """Measure a real step with real tensors on `setup.device` (the CPU, or the first CUDA GPU).

    Trainer sft: step 2 of a real TRL SFTTrainer run (`measure_sft.py`); transformers: the plain
    Trainer's step replayed here (after `warmup_steps` untracked steps).
    """
    setup = as_trained(setup)
    if setup.trainer == "sft":
        from lrexplorer.memory.pytorch.measure_sft import measure_sft_step

        return measure_sft_step(config, arch, setup, progress=progress, seed=seed)
    torch.manual_seed(seed)
    device = torch.device("cuda" if setup.device == "cuda" else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        from lrexplorer.core.fields import FieldError

        raise FieldError("device", "no CUDA GPU is available to measure on; use device cpu")
    if device.type == "cpu":  # the default device already; a device context slows every torch call
        return run_tracked_step(config, arch, setup, engine="measured", progress=progress, warmup_steps=warmup_steps)
    with device:
        return run_tracked_step(config, arch, setup, engine="measured", progress=progress, warmup_steps=warmup_steps)
