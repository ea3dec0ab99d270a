"""Counting a step's memory with PyTorch's own tools: live storages de-duplicated by storage, the
optimizer's state tensors, what autograd saves (`SavedTensorCounter`), torch's MemTracker taught to skip
frozen parameters, and the peak per phase (`PhaseTracker`). Shared by the plain Trainer's step (`measure.py`),
TRL's SFTTrainer step (`measure_sft.py`) and the FSDP2 simulation (`simulate_parallel.py`)."""

from __future__ import annotations

import contextlib
from typing import Any, Self

import torch


def _storage_key(t: torch.Tensor) -> int:
    return t.untyped_storage()._cdata  # the same C storage for every view, real or fake


def nbytes(tensors: Any) -> int:
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


def mem_tracker() -> Any:
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


class PhaseTracker:
    """Peak bytes per phase: MemTracker on the CPU / under FakeTensorMode, the CUDA allocator on a GPU."""

    def __init__(
        self, device: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, external: list[torch.Tensor]
    ) -> None:
        """`external`: tensors made before the step that live through it (the batch)."""
        self.cuda = device == "cuda" and not fake_active()
        self.peaks: dict[str, int] = {}
        self.tracker: Any = None  # torch's MemTracker on the CPU and under FakeTensorMode
        if not self.cuda:
            self.tracker = mem_tracker()
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


def fake_active() -> bool:
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    return any(isinstance(m, FakeTensorMode) for m in _get_current_dispatch_mode_stack())
