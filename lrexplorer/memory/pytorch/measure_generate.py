"""The memory of a real `model.generate` call, counted op by op: the truth the generation estimate is held to.

torch's MemTracker refuses a module called once per token, so `LiveStorages` (a TorchDispatchMode) keeps
a weak reference to every storage an aten op returns (and, for in-place and `out=` ops, to each argument's,
which `resize_` may grow), drops the ones that died, and after each op sums the bytes of the rest: the peak
is the largest sum between two ops, as MemTracker counts a step. The weights, buffers and the caller's
input_ids and attention_mask existed before the call: they are ignored by the mode (views of a weight would
count it again) and added apart. A forward pre-hook numbers the model's calls, so the peak is attributed to
the prefill (call 0) or to decode step k. On a CUDA GPU the allocator's `max_memory_allocated` is read.

The call is greedy, `min_new_tokens` as the setup says (with min_new_tokens = max_new_tokens every token is
generated whatever the model says), no padding. Generation cannot run under FakeTensorMode (its stopping
criteria read tensor values), so this measures small models built from configs, with real tensors.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.generation import GenerationSetup, validate_generation
from lrexplorer.memory.pytorch.counting import nbytes
from lrexplorer.memory.results import GenerateCall


class LiveStorages(TorchDispatchMode):
    """Bytes of the storages alive between aten ops, their peak, and the op and model call it was reached in."""

    def __init__(self, ignore: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}
        self.ignore = {t.untyped_storage()._cdata for t in ignore}
        self.current = 0
        self.peak = 0
        self.peak_op = ""
        self.peak_call = -1
        self.call = -1  # the model's forward calls so far (a hook counts them): 0 is the prefill
        self.call_peaks: dict[int, int] = {}

    def _add(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage._cdata
        if key in self.ignore:
            return
        old = self.live.get(key)
        size = storage.nbytes()
        if old is not None and not old[0].expired():
            if old[1] != size:  # resized in place
                self.current += size - old[1]
                self.live[key] = (old[0], size)
            return
        if old is not None:  # the address of a storage that died, reused
            self.current -= old[1]
        self.live[key] = (StorageWeakRef(storage), size)
        self.current += size

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.current -= self.live.pop(key)[1]
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self._add(t)
        name = func.overloadpacket.__name__
        if name.endswith("_") or "out" in kwargs:
            for t in tree_flatten((args, kwargs))[0]:
                if isinstance(t, torch.Tensor):
                    self._add(t)
        self.call_peaks[self.call] = max(self.call_peaks.get(self.call, 0), self.current)
        if self.current > self.peak:
            self.peak, self.peak_op, self.peak_call = self.current, name, self.call
        return out


def build_generation_model(config: dict[str, Any], setup: GenerationSetup, attn: str) -> Any:
    """The model built from its config (random weights) in the setup's dtype, in eval mode."""
    from transformers import AutoConfig, AutoModelForCausalLM

    skip = ("architectures", "torch_dtype", "dtype", "transformers_version")
    cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k not in skip})
    model = AutoModelForCausalLM.from_config(cfg, dtype=getattr(torch, setup.dtype), attn_implementation=attn)
    return model.eval()


def measure_generate(config: dict[str, Any], arch: Architecture, setup: GenerationSetup, seed: int = 0) -> GenerateCall:
    """Peak of one real generate call on `setup.device` (the CPU, or the first CUDA GPU)."""
    validate_generation(setup, arch)
    if setup.load_in_4bit:
        raise FieldError("load_in_4bit", "is not measured: bitsandbytes' matmul hides its temporaries from an op count")
    cuda = setup.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise FieldError("device", "no CUDA GPU is available to measure on; use device cpu")
    start = time.perf_counter()
    torch.manual_seed(seed)
    device = torch.device("cuda" if cuda else "cpu")
    with device:
        model = build_generation_model(config, setup, setup.attention(arch))
    generator = torch.Generator().manual_seed(seed)
    b, P, N = setup.batch_size, setup.prompt_length, setup.max_new_tokens
    ids = torch.randint(3, arch.vocab_size, (b, P), generator=generator).to(device)
    mask = torch.ones_like(ids)
    held = [*model.parameters(), *model.buffers()]
    weights, prompt = nbytes(held), nbytes([ids, mask])
    kwargs = {"do_sample": False, "max_new_tokens": N, "min_new_tokens": setup.min_new_tokens, "pad_token_id": 0}
    counter = LiveStorages(ignore=[ids, mask, *held])

    def count_call(*_: Any) -> None:
        counter.call += 1

    hook = model.register_forward_pre_hook(count_call)
    try:
        with torch.no_grad():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
                above = torch.cuda.max_memory_allocated() - base
                phases: dict[str, int] = {}
            else:
                with counter:
                    out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
                above = counter.peak
                decode = [v for k, v in counter.call_peaks.items() if k >= 1]
                phases = {"prefill": counter.call_peaks.get(0, 0), **({"decode": max(decode)} if decode else {})}
    finally:
        hook.remove()
    if tuple(out.shape) != (b, P + N):
        raise RuntimeError(f"generate returned {tuple(out.shape)}, not {(b, P + N)}: it stopped early")
    base_bytes = weights + prompt
    return GenerateCall(
        engine="measured",
        device=setup.device,
        peak_bytes=base_bytes + above,
        weights=weights,
        prompt_bytes=prompt,
        phase_peaks={k: base_bytes + v for k, v in phases.items()},
        peak_phase="" if cuda else ("prefill" if counter.peak_call == 0 else f"decode step {counter.peak_call}"),
        peak_op="" if cuda else counter.peak_op,
        seconds=time.perf_counter() - start,
    )
