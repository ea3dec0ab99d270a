"""The simulated engine: one real training step under FakeTensorMode, counted by torch's MemTracker.

The real transformers model, the Trainer's real optimizer and the real backward run, but every
tensor is fake (shape, dtype and device only), so an 8B model steps on a laptop without allocating
its memory; MemTracker counts each storage as if it existed. The CUDA context and cuBLAS workspace,
which no tensor represents, are added from the analytic engine's constants for device cuda.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.kernels import is_flash
from lrexplorer.memory.results import Progress, StepMemory
from lrexplorer.memory.setup import TrainingSetup, as_trained, validate

TRITON_FALLBACK_NOTE = (
    "the fused LM head ran TRL's torch fallback (the CPU's path); on a CUDA GPU its Triton kernels "
    "work in place and score only labelled positions, so the real step needs less"
)


def simulate_step(
    config: dict[str, Any], arch: Architecture, setup: TrainingSetup, progress: Progress | None = None
) -> StepMemory:
    """Peak and components of one steady-state step, simulated on the CPU (no memory allocated).

    The kernels that run are the CPU's (the CPU's SDPA flash kernel stands in for CUDA's memory-
    efficient ones: both save q, k, v, the output and a logsumexp). For device cuda the CUDA
    context and workspace are added to every phase.
    """
    validate(setup, arch)
    setup = as_trained(setup)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from torch._subclasses.fake_tensor import FakeTensorMode

    from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT
    from lrexplorer.memory.analytic.fused_head import head_kind
    from lrexplorer.memory.pytorch.measure import run_tracked_step

    with fake_step_patches(setup), FakeTensorMode(allow_non_fake_inputs=True):
        result = run_tracked_step(config, arch, cpu_twin(setup, arch), engine="simulated", progress=progress)
    result.device = setup.device
    if head_kind(arch, setup) == "fused_triton":
        result.notes.append(TRITON_FALLBACK_NOTE)
    if setup.device == "cuda":
        extra = CUDA_CONTEXT + CUBLAS_WORKSPACE
        result.phase_peaks = {k: v + extra for k, v in result.phase_peaks.items()}
        result.peak_bytes += extra
    return result


def cpu_twin(setup: TrainingSetup, arch: Architecture) -> TrainingSetup:
    """The setup the CPU runs in place of `setup`: the same bytes, with kernels the CPU has."""
    twin = setup.with_(device="cpu")
    if is_flash(setup.attention(arch)):
        # flash-attn kernels exist only on CUDA; SDPA's flash kernel saves the same tensors.
        twin = twin.with_(attn_implementation="sdpa")
    if setup.fp16:
        twin = twin.with_(fp16=False, bf16=True)  # same bytes; CPU autocast has no fp16 grad scaler
    return twin


@contextlib.contextmanager
def fake_step_patches(setup: TrainingSetup) -> Iterator[None]:
    """What a step on fake tensors needs patched (entered before FakeTensorMode).

    A fake tensor has no values, so transformers cannot read from the position ids whether a row
    holds packed sequences: say so (one document per row, or several under padding_free/packing),
    so that it builds the masks the real run builds.
    PEFT moves each new adapter (and its wrapped layer) to the base layer's device and dtype with
    Module.to, which cannot swap fake parameters. Everything is on the CPU already, so skipping the
    moves leaves the adapters in float32: where PEFT's default (autocast_adapter_dtype) puts them.
    """
    from unittest import mock

    import transformers.masking_utils as masking
    from peft.tuners.tuners_utils import BaseTunerLayer

    with (
        mock.patch.object(masking, "find_packed_sequence_indices", lambda ids: _packed(ids, setup)),
        mock.patch.object(BaseTunerLayer, "_move_adapter_to_device_of_base_layer", lambda *a, **k: None),
        _no_module_moves(setup),
        _real_bnb_quantisation_maps(setup),
    ):
        yield


def _packed(position_ids: Any, setup: TrainingSetup) -> Any:
    """`find_packed_sequence_indices` for a fake batch: None for one document per row, else a sequence
    index of the right shape (its values do not matter to a fake step)."""
    import torch

    return torch.zeros_like(position_ids) if setup.one_row else None


def _real_bnb_quantisation_maps(setup: TrainingSetup) -> Any:
    """bitsandbytes builds its 256-entry quantisation maps with Python lists read from tensors, which
    a fake tensor cannot give; build those two small tables for real (they are a fixed constant)."""
    import contextlib

    if "8bit" not in setup.optim:
        return contextlib.nullcontext()
    from unittest import mock

    import bitsandbytes.functional as bnbf
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    original = bnbf.create_dynamic_map

    def real_map(*args: Any, **kwargs: Any) -> Any:
        with unset_fake_temporarily():
            return original(*args, **kwargs)

    return mock.patch.object(bnbf, "create_dynamic_map", real_map)


def _no_module_moves(setup: TrainingSetup) -> Any:
    import contextlib

    if not setup.lora:
        return contextlib.nullcontext()
    from unittest import mock

    import torch

    return mock.patch.object(torch.nn.Module, "to", lambda self, *args, **kwargs: self)
