"""The simulated distributed step: one rank of an FSDP2 run, under FakeTensorMode and a fake process group.

The model is wrapped by accelerate's own `fsdp2_prepare_model` (what the Trainer does with FSDP2: a
`fully_shard` per decoder layer, the embedding, the [final norm, lm_head] tail, then the root, with
accelerate's mixed-precision policy and float32 master weights), or with fsdp_wrap "layers" as plain FSDP2
scripts wrap it (a `fully_shard` per decoder layer, then one on the model, whose root group holds the
embedding, final norm and lm_head; the same policies and master weights), its optimizer built by the Trainer's
`create_optimizer` on the sharded parameters, and one steady-state step run by `training_step`. Every
tensor is fake, so a 70B model over 512 ranks simulates on a laptop; PyTorch's FSDPMemTracker counts
rank 0's storages by kind (sharded and unsharded parameters, all-gather and reduce-scatter buffers ...).

The fake process group is process-wide state: `fake_process_group` creates it for one simulation and
destroys it after, so the app runs this in the worker process (worker.py) and never in its own.
DDP cannot run on fake tensors (its C++ Reducer reads the tensors' data), so DDP stays analytic.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.compat import require, uses_internals
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.results import Progress, RankStep
from lrexplorer.memory.setup import TrainingSetup, validate

# What a rank keeps in CPU RAM under CPUOffloadPolicy: the sharded parameters and gradients, and the
# optimizer (its states and the temporaries of its step, which runs on the CPU).
OFFLOADED = ("Sharded Param", "Sharded Grad", "OptState")
COMMUNICATION = ("Unsharded Param", "Unsharded Grad", "All Gather", "Reduce Scatter")


@contextlib.contextmanager
def fake_process_group(world_size: int) -> Iterator[Any]:
    """A fake process group of `world_size` ranks (this process is rank 0) and its 1-D device mesh.

    The mesh is made before FakeTensorMode starts: building it reads real tensors."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.testing._internal.distributed.fake_pg import FakeStore

    if dist.is_initialized():
        raise RuntimeError("a process group already exists in this process: simulate in a fresh one")
    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world_size)
    try:
        yield init_device_mesh("cpu", (world_size,), mesh_dim_names=("dp_shard",))
    finally:
        dist.destroy_process_group()


def fsdp_plugin(setup: TrainingSetup) -> Any:
    """accelerate's FSDP2 plugin as `--fsdp` / an accelerate config would set it up for this setup."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from torch.distributed.fsdp import CPUOffloadPolicy

    plugin = FullyShardedDataParallelPlugin(
        fsdp_version=2,
        auto_wrap_policy="transformer_based_wrap",
        reshard_after_forward=setup.fsdp_reshard_after_forward,
        cpu_offload=setup.fsdp_offload_params,
        cpu_ram_efficient_loading=False,
        mixed_precision_policy=_mixed(setup),
    )
    if setup.fsdp_offload_params:
        # Pinned host memory has no fake version; pinning changes no byte count.
        plugin.cpu_offload = CPUOffloadPolicy(pin_memory=False)
    return plugin


def _mixed(setup: TrainingSetup) -> str | None:
    return "bf16" if setup.bf16 else ("fp16" if setup.fp16 else None)


FSDP2_PURPOSE = "the FSDP2 simulation"
FSDP2_USES = "it calls accelerate's fsdp2_prepare_model"
TORCH_USES = "it runs PyTorch's FSDPMemTracker and fake process group"


@dataclass(frozen=True)
class FsdpPluginState:
    """`Accelerator.state` as far as `fsdp2_prepare_model` reads it."""

    fsdp_plugin: Any  # accelerate.utils.FullyShardedDataParallelPlugin


@dataclass(frozen=True)
class FsdpDimNames:
    """`Accelerator.parallelism_config` as far as `fsdp2_prepare_model` reads it: the mesh dimensions FSDP
    shards over."""

    fsdp_dim_names: tuple[str, ...] = ("dp_shard",)


@dataclass(frozen=True)
class FsdpAcceleratorView:
    """What accelerate's `fsdp2_prepare_model` (and `fsdp2_load_full_state_dict`, which it passes the
    accelerator to) reads of the Accelerator, and nothing else: a real Accelerator would set up a process
    group and a device of its own. Each attribute is one the installed accelerate reads (a test holds this
    list to accelerate's source), so a release that reads more fails there, not in a user's simulation."""

    state: FsdpPluginState
    mixed_precision: str  # "no", "bf16" or "fp16"
    torch_device_mesh: Any  # torch.distributed.device_mesh.DeviceMesh
    parallelism_config: FsdpDimNames = field(default_factory=FsdpDimNames)
    # Where accelerate puts ignored modules (and, with cpu_ram_efficient_loading, buffers): the CPU, where
    # the fake mesh lives; the simulation ignores no module and loads no state dict, so it moves nothing.
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # Rank 0 would log the fp32 upcast of every parameter name; the simulation wants no such notice.
    is_main_process: bool = False


def shard_model(model: torch.nn.Module, setup: TrainingSetup, mesh: Any) -> torch.nn.Module:
    """Wrap `model` with accelerate's `fsdp2_prepare_model`, on a view of the Accelerator
    (`UnsupportedVersion` for an accelerate outside the supported range, or one whose preparation changed);
    with fsdp_wrap "layers", one group per decoder layer and the root."""
    if setup.fsdp_wrap == "layers":
        return shard_layers(model, setup, mesh)
    with uses_internals("accelerate", FSDP2_PURPOSE, FSDP2_USES):
        from accelerate.utils.fsdp_utils import fsdp2_prepare_model

        view = FsdpAcceleratorView(
            state=FsdpPluginState(fsdp_plugin=fsdp_plugin(setup)),  # the plugin's arguments are accelerate's too
            mixed_precision=_mixed(setup) or "no",
            torch_device_mesh=mesh,
        )
        return fsdp2_prepare_model(view, model)


def shard_layers(model: torch.nn.Module, setup: TrainingSetup, mesh: Any) -> torch.nn.Module:
    """A `fully_shard` per decoder layer (the classes transformers names in `_no_split_modules`, as accelerate's
    transformer_based_wrap finds them), then one on the model, with accelerate's policies for the same setup
    and its float32 master weights under mixed precision, so that only the grouping differs."""
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    plugin = fsdp_plugin(setup)
    if _mixed(setup):  # accelerate upcasts the trained weights: FSDP2 wants one dtype per group
        for param in model.parameters():
            if param.requires_grad and param.dtype != torch.float32:
                param.data = param.data.to(torch.float32)
    kwargs = {"mesh": mesh, "mp_policy": plugin.mixed_precision_policy or MixedPrecisionPolicy()}
    kwargs["offload_policy"] = plugin.cpu_offload
    layer_classes = set(getattr(model, "_no_split_modules", None) or ())
    layers = [m for m in model.modules() if type(m).__name__ in layer_classes]
    if not layers:
        raise FieldError("fsdp_wrap", f"layers: no decoder layer class ({', '.join(layer_classes) or 'none'}) found")
    for module in layers:
        fully_shard(module, reshard_after_forward=setup.fsdp_reshard_after_forward, **kwargs)
    fully_shard(model, **kwargs)  # the root: reshard_after_forward None, which FSDP2 keeps gathered
    return model


def _rank_tracker(model: torch.nn.Module, optimizer: torch.optim.Optimizer, offload: bool) -> Any:
    """FSDPMemTracker keeping, per phase, the peak of what sits on the GPU and of what sits in CPU RAM."""
    from torch.distributed._tools.fsdp2_mem_tracker import FSDPMemTracker, _FSDPModMemStats
    from torch.utils.weak import WeakIdKeyDictionary

    class ModuleStats(WeakIdKeyDictionary):
        """Per-module statistics, made on first use: accelerate's [final norm, lm_head] group can reach its
        backward through the lm_head (the fused head reads its weight without calling it), whose forward
        hook never ran."""

        def __getitem__(self, key: Any) -> Any:
            if key not in self:
                self[key] = _FSDPModMemStats(type(key).__name__)
            return super().__getitem__(key)

    class RankTracker(FSDPMemTracker):
        def __init__(self) -> None:
            super().__init__(model, optimizer)
            self.memory_tracking = ModuleStats()
            self.gpu_peak = 0
            self.gpu_snap: dict[str, int] = {}
            self.host_peak = 0
            self.phase_gpu: dict[str, int] = {}
            self.phase_snap: dict[str, dict[str, int]] = {}

        def _update_peak_stats(self, peak_state: Any) -> None:
            # Only the running totals (the per-module peaks cost a loop over every module per operation).
            for snap in self._curr_mem_snap.values():
                kinds = {getattr(k, "value", k): v for k, v in snap.items()}
                host = sum(kinds.get(k, 0) for k in OFFLOADED) if offload else 0
                if kinds["Total"] - host > self.gpu_peak:
                    self.gpu_peak = kinds["Total"] - host
                    self.gpu_snap = kinds
                self.host_peak = max(self.host_peak, host)

        def end_phase(self, name: str) -> None:
            if self.gpu_peak >= self.phase_gpu.get(name, 0):
                self.phase_gpu[name] = self.gpu_peak
                self.phase_snap[name] = self.gpu_snap
            if name == "backward":
                self.reset_mod_stats()  # MemTracker refuses a module run twice otherwise (the next micro-batch)
            self.gpu_peak = 0
            self._update_peak_stats(None)

    return RankTracker()


def simulate_parallel_step(
    config: dict[str, Any], arch: Architecture, setup: TrainingSetup, progress: Progress | None = None
) -> RankStep:
    """Per-rank memory of one steady-state FSDP2 step on `setup.num_gpus` ranks (rank 0; they are alike)."""
    validate(setup, arch)
    if not setup.fsdp or setup.num_gpus < 2:
        raise FieldError(
            "fsdp", "the distributed simulation runs FSDP2 over num_gpus >= 2; DDP and ZeRO figures are analytic"
        )
    # Refused before the model is built: a minute of building would end in the same refusal.
    require("accelerate", FSDP2_PURPOSE, FSDP2_USES)
    require("torch", FSDP2_PURPOSE, TORCH_USES)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from torch._subclasses.fake_tensor import FakeTensorMode

    from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT
    from lrexplorer.memory.analytic.fused_head import head_kind
    from lrexplorer.memory.pytorch.counting import nbytes, optimizer_state_tensors
    from lrexplorer.memory.pytorch.measure import init_optimizer_state, training_step
    from lrexplorer.memory.pytorch.realmodel import add_sft_head, build_model, build_optimizer, make_batch
    from lrexplorer.memory.pytorch.simulate import TRITON_FALLBACK_NOTE, cpu_twin, fake_step_patches

    say = progress or (lambda msg, frac: None)
    start = time.perf_counter()
    cpu_setup = cpu_twin(setup, arch)
    with (
        fake_process_group(setup.num_gpus) as mesh,
        fake_step_patches(setup),
        _own_propagation_mode(),
        FakeTensorMode(allow_non_fake_inputs=True),
    ):
        say("building and sharding the model", 0.05)
        model = build_model(config, arch, cpu_setup)
        fused = head_kind(arch, setup) != "logits"
        if fused:
            add_sft_head(model)  # SFTTrainer patches the head when it is built, before accelerate wraps
        model = shard_model(model, cpu_setup, mesh)
        optimizer = build_optimizer(model, cpu_setup)  # the Trainer delays it until the model is wrapped
        if setup.device == "cuda":
            _foreach_as_on_cuda(optimizer)
        fetched = setup.gradient_accumulation_steps if setup.trainer == "sft" else 1
        batches = [make_batch(arch, setup, with_attention_mask=False) for _ in range(fetched)]
        say("allocating the optimizer state", 0.3)
        init_optimizer_state(model, optimizer)
        tracker = _rank_tracker(model, optimizer, setup.fsdp_offload_params)
        tracker.track_inputs(tuple(batches))
        grads: dict[str, int] = {}
        hook = optimizer.register_step_pre_hook(
            lambda *a: grads.update(bytes=nbytes(_local(p.grad) for p in model.parameters() if p.grad is not None))
        )
        say("tracked step", 0.6)
        try:
            with tracker:
                training_step(model, optimizer, batches, cpu_setup, tracker=tracker, fused=fused)
        finally:
            hook.remove()
        weights = nbytes(_local(p) for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        states = nbytes(_local(t) for t in optimizer_state_tensors(optimizer))
    say("done", 1.0)
    extra = CUDA_CONTEXT + CUBLAS_WORKSPACE if setup.device == "cuda" else 0
    phases = {k: v + extra for k, v in tracker.phase_gpu.items()}
    peak_phase = max(phases, key=lambda k: phases[k])
    snap = tracker.phase_snap[peak_phase]
    host = weights + grads.get("bytes", 0) + states if setup.fsdp_offload_params else 0
    notes = [TRITON_FALLBACK_NOTE] if head_kind(arch, setup) == "fused_triton" else []
    return RankStep(
        engine="simulated",
        scheme="fsdp",
        world_size=setup.num_gpus,
        peak_bytes=phases[peak_phase],
        peak_phase=peak_phase,
        phase_peaks=phases,
        weights=0 if setup.fsdp_offload_params else weights,
        gradients=0 if setup.fsdp_offload_params else grads.get("bytes", 0),
        optimizer_states=0 if setup.fsdp_offload_params else states,
        at_peak={k: v for k, v in snap.items() if k != "Total"},
        phase_kinds={p: {k: v for k, v in s.items() if v and k != "Total"} for p, s in tracker.phase_snap.items()},
        host_bytes=max(host, tracker.host_peak),
        n_params=arch.n_params,
        trainable_params=trainable,
        seconds=time.perf_counter() - start,
        notes=notes,
    )


def _foreach_as_on_cuda(optimizer: torch.optim.Optimizer) -> None:
    """Take the update path torch takes on a GPU: left to its default (foreach None), a torch optimizer
    runs its foreach kernels on CUDA tensors and a loop over the tensors on the CPU, with other temporaries."""
    for group in optimizer.param_groups:
        if "foreach" in group and group["foreach"] is None and not group.get("fused"):
            group["foreach"] = True


def _own_propagation_mode() -> Any:
    """Give DTensor's sharding propagation a fake mode of its own.

    To learn an output's global shape, DTensor runs each operation on full-size fake tensors in the
    ambient fake mode; under ours the tracker would count those as allocations (a whole model's worth
    in the gradient clipping and the optimizer step). In a mode of its own it is not counted, as on a
    real GPU, where it allocates nothing."""
    from unittest import mock

    import torch.distributed.tensor._sharding_prop as propagation
    from torch._subclasses.fake_tensor import FakeTensorMode

    own = FakeTensorMode(allow_non_fake_inputs=True)
    return mock.patch.object(propagation, "detect_fake_mode", lambda *args: own)


def _local(t: Any) -> Any:
    """A DTensor's local shard (what this rank stores); other tensors as they are."""
    to_local = getattr(t, "to_local", None)
    return to_local() if to_local is not None else t
