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
from typing import Any, Self

import torch

from .architecture import Architecture
from .results import Progress, StepMemory
from .setup import TrainingSetup


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata  # the same C storage for every view, real or fake


def _nbytes(tensors: Any) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            seen.setdefault(_storage_key(t), t.untyped_storage().nbytes())
    return sum(seen.values())


def optimizer_state_tensors(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    out = []
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                out.append(value)
    return out


class SavedTensorCounter:
    """Bytes of the distinct storages autograd saves for backward (parameters excluded)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.params = {_storage_key(p) for p in model.parameters()}
        self.seen: dict[int, int] = {}
        self.active = False

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in self.params and key not in self.seen:
            self.seen[key] = t.untyped_storage().nbytes()
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    @contextlib.contextmanager
    def context(self) -> Any:
        self.active = True
        try:
            with torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t):
                yield
        finally:
            self.active = False

    def watch_checkpoints(self, model: torch.nn.Module) -> list[Any]:
        """Count the inputs that activation checkpointing keeps to recompute each layer from.

        Non-reentrant checkpointing replaces what the layer saves by its own hooks, which hide the
        layer from ours; what it keeps instead is the layer's input, so that is what we add.
        """
        handles = []
        for module in model.modules():
            if getattr(module, "gradient_checkpointing", False) and hasattr(module, "_gradient_checkpointing_func"):

                def pre(mod: Any, args: Any, kwargs: Any = None) -> None:
                    if not self.active:
                        return
                    pending = list(args) + list((kwargs or {}).values())
                    while pending:  # the hidden states, and the rotary cos/sin and mask passed by keyword
                        x = pending.pop()
                        if isinstance(x, torch.Tensor):
                            self.pack(x)
                        elif isinstance(x, (tuple, list)):
                            pending.extend(x)

                handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        return handles


class _NoHandle:
    def remove(self) -> None:
        pass


def _mem_tracker() -> Any:
    """torch's MemTracker, taught to skip frozen parameters (LoRA's base weights).

    It registers a gradient hook on every parameter a module owns, which raises for a tensor that
    does not require grad; marking frozen ones as already hooked keeps its accounting unchanged.
    """
    from torch.distributed._tools.mem_tracker import MemTracker

    class Tracker(MemTracker):
        def _update_peak_stats(self, peak_state: Any) -> None:
            # Only the global peak: MemTracker's per-module peaks cost a loop over every module at
            # every operation, which made an 8B step take minutes instead of seconds.
            for dev, snap in self._curr_mem_snap.items():
                if self._peak_mem.get(dev, 0) < snap["Total"]:
                    self._peak_mem[dev] = snap["Total"]
                    self._peak_mem_snap[dev] = dict(snap)

        def _track_module_params_and_buffers(self, module: Any, install_grad_hooks: bool = True) -> Any:
            for p in module.parameters():
                if not p.requires_grad and self._param_to_grad_hook_handles.get(p, None) is None:
                    self._param_to_grad_hook_handles[p] = (_NoHandle(), _NoHandle())
            return super()._track_module_params_and_buffers(module, install_grad_hooks)

    return Tracker()


class _PhaseTracker:
    """Peak bytes per phase: MemTracker on the CPU / under FakeTensorMode, the CUDA allocator on a GPU."""

    def __init__(
        self, device: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, external: list[torch.Tensor]
    ) -> None:
        """`external`: tensors made before the step that live through it (the batch)."""
        self.cuda = device == "cuda" and not _fake_active()
        self.peaks: dict[str, int] = {}
        self.tracker: Any = None  # torch's MemTracker on the CPU and under FakeTensorMode
        if not self.cuda:
            self.tracker = _mem_tracker()
            self.tracker.track_external(model, optimizer, *external)

    def __enter__(self) -> Self:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.tracker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.cuda:
            self.tracker.__exit__(*exc)

    def _totals(self, kind: str) -> int:
        snap = self.tracker.get_tracker_snapshot(kind)
        return sum(dev.get("Total", 0) for dev in snap.values())

    def end_phase(self, name: str) -> None:
        """Record the phase's peak and start the next phase's peak from the current usage."""
        if self.cuda:
            torch.cuda.synchronize()
            self.peaks[name] = max(self.peaks.get(name, 0), torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()
            return
        self.peaks[name] = max(self.peaks.get(name, 0), self._totals("peak"))
        # MemTracker has no public peak reset; its peak lives in `_peak_mem` (per device). Lower it to
        # the current usage so the next phase's peak is its own.
        if name == "backward":
            # MemTracker refuses a module run twice in one tracking (the next micro-batch) unless its
            # per-module statistics, which we do not use, are cleared.
            self.tracker.reset_mod_stats()
        current = self.tracker.get_tracker_snapshot("current")
        if hasattr(self.tracker, "_peak_mem"):
            self.tracker._peak_mem = {dev: snap.get("Total", 0) for dev, snap in current.items()}


def _fake_active() -> bool:
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    return any(isinstance(m, FakeTensorMode) for m in _get_current_dispatch_mode_stack())


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
    tracker: _PhaseTracker | None = None,
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
    from .fused_head import head_kind
    from .realmodel import add_sft_head, bnb_cpu_kernels_traced, build_model, build_optimizer, make_batch

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
    weights = _nbytes(p for p in model.parameters())
    states = _nbytes(optimizer_state_tensors(optimizer))
    counter = SavedTensorCounter(model)
    ckpt_hooks = counter.watch_checkpoints(model) if setup.activation_checkpointing else []
    tracker = _PhaseTracker(setup.device, model, optimizer, external)
    grads_seen: dict[str, int] = {}

    def grab_grads() -> None:  # gradients exist between backward and zero_grad: count them there
        grads_seen["bytes"] = _nbytes(p.grad for p in model.parameters() if p.grad is not None)

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
    if setup.trainer == "sft":
        from .measure_sft import measure_sft_step

        return measure_sft_step(config, arch, setup, progress=progress, seed=seed)
    torch.manual_seed(seed)
    device = torch.device("cuda" if setup.device == "cuda" else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        from ..fields import FieldError

        raise FieldError("device", "no CUDA GPU is available to measure on; use device cpu")
    if device.type == "cpu":  # the default device already; a device context slows every torch call
        return run_tracked_step(config, arch, setup, engine="measured", progress=progress, warmup_steps=warmup_steps)
    with device:
        return run_tracked_step(config, arch, setup, engine="measured", progress=progress, warmup_steps=warmup_steps)
