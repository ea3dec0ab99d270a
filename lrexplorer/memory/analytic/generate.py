"""The memory of one `model.generate` call (greedy, transformers' default DynamicCache), per device.

Peak = weights + the caller's prompt (input_ids and attention_mask) + the largest of:
- the prefill: the forward over the whole prompt, replayed op by op (`generate_prefill.py`), then its head
  (the last position's logits, their float32 copy, the logits processors);
- a decode step t (one token per sequence): every layer's cache grows by `torch.cat` (a new storage each
  step; a full-attention layer holds P + t tokens, a sliding-window layer min(P + t, window): after the
  prefill it still holds the whole prompt, as a view keeps the storage), with the previous step's scores
  and the growing ids and mask alive; the steps that can peak are the first and the last.
min_new_tokens (with an EOS token) adds two processors, each copying the scores (`clone`, then `torch.where`
while fewer than min_new_tokens are generated). On CUDA the CUDA context and cuBLAS workspace are added.
Checked against real calls counted op by op (`memory/pytorch/measure_generate.py`, bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.memory.analytic.estimate import CUBLAS_WORKSPACE, CUDA_CONTEXT
from lrexplorer.memory.analytic.generate_prefill import CATEGORIES, GenDims, replay_prefill
from lrexplorer.memory.analytic.tensors import nf4_bytes
from lrexplorer.memory.generation import GenerationSetup, validate_generation
from lrexplorer.memory.setup import DTYPE_BYTES

CUDA_NOTE = (
    "CUDA: modelled on the CPU kernels that were measured; CUDA's attention kernels keep their own workspaces "
    "and the caching allocator reserves more than it hands out (the safety margin covers it)"
)
QUANTISED_NOTE = "4-bit layers: bitsandbytes' dequantised-weight transient is modelled from its source, not measured"
FLASH_NOTE = "flash-attention kernels: modelled as SDPA without a mask or repeated keys, not measured"


@dataclass(frozen=True)
class GenerationEstimate:
    model: str
    device: str
    n_params: int
    components: dict[str, int]  # at the peak: weights, kv_cache, activations, logits, inputs (+ CUDA's)
    phases: dict[str, int]  # prefill, decode
    peak_bytes: int
    peak_phase: str
    kv_cache_bytes: int  # what the cache holds at the end of the call
    kv_cache_per_token: int  # bytes one more token of one sequence adds to the cache (full-attention layers)
    setup: GenerationSetup = field(repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        s = self.setup
        return {
            "task": "generate",
            "engine": "analytic",
            "model": self.model,
            "device": self.device,
            "n_params": self.n_params,
            "batch_size": s.batch_size,
            "prompt_length": s.prompt_length,
            "max_new_tokens": s.max_new_tokens,
            "min_new_tokens": s.min_new_tokens,
            "dtype": s.dtype,
            "notes": list(self.notes),
            "components": dict(self.components),
            "phases": dict(self.phases),
            "peak_phase": self.peak_phase,
            "peak_bytes": self.peak_bytes,
            "kv_cache_bytes": self.kv_cache_bytes,
            "kv_cache_per_token_bytes": self.kv_cache_per_token,
        }


def gen_dims(arch: Architecture, setup: GenerationSetup, device_attn: str) -> GenDims:
    windows = tuple(arch.sliding_window if t == "sliding_attention" else None for t in arch.layer_types)
    return GenDims(
        b=setup.batch_size,
        P=setup.prompt_length,
        N=setup.max_new_tokens,
        layers=arch.num_layers,
        h=arch.hidden_size,
        i=arch.intermediate_size,
        H=arch.num_heads,
        kv=arch.num_kv_heads,
        d=arch.head_dim,
        V=arch.vocab_size,
        e=DTYPE_BYTES[setup.dtype],
        attn=device_attn,
        windows=windows or (None,) * arch.num_layers,
        quantised=setup.load_in_4bit,
        linears=tuple((lin.name, lin.d_in, lin.d_out) for lin in arch.linears),
    )


def weight_bytes(arch: Architecture, setup: GenerationSetup) -> int:
    """Parameters in the dtype (decoder Linears in NF4 when 4-bit) + the rotary buffers (two float32 vectors)."""
    e = DTYPE_BYTES[setup.dtype]
    rotary = 2 * (arch.head_dim // 2) * 4  # inv_freq and original_inv_freq
    if not setup.load_in_4bit:
        return arch.n_params * e + rotary
    linear = arch.num_layers * arch.layer_linear_params
    quantised = arch.num_layers * sum(
        nf4_bytes(lin.d_in * lin.d_out, setup.bnb_4bit_use_double_quant) + (lin.d_out * e if lin.bias else 0)
        for lin in arch.linears
    )
    return quantised + (arch.n_params - linear) * e + rotary


def _head(g: GenDims, first: bool, processors: bool, active: bool) -> int:
    """(logits and scores, inputs) at the worst moment after a forward: the logits [b, V] in the dtype, their
    float32 copy, the processors' clone (and `where` while active) with their arange and isin over the
    vocabulary; from the second step on the previous step's scores are still bound."""
    b, V = g.b, g.V
    if not processors:  # the scores are next_token_logits itself
        return b * V * g.e + (4 if first else 8) * b * V
    copies = (16 if active else 12) + (0 if first else 4)
    return b * V * g.e + copies * b * V + 9 * V


def _attn_extra(g: GenDims, after: int) -> int:
    """Eager attention's tensors for one decode step of a layer whose cache returns `after` tokens."""
    if g.attn != "eager":
        return 0
    b, H, kv, d, e = g.b, g.H, g.kv, g.d, g.e
    Sd = b * H * after  # one query's scores
    scores = 2 * Sd * e if e == 4 else max(2 * Sd * e, Sd * (e + 8))
    copy = b * H * after * d * e
    if H > kv > 1:
        return 2 * copy + scores
    if kv < H:
        return max(copy + Sd * e, scores)
    return scores


def _decode_step(g: GenDims, t: int, processors: bool, active: bool) -> tuple[int, dict[str, int]]:
    """Peak of decode step t (its forward, then its head) above weights and prompt, split by category."""
    b, P, kt = g.b, g.P, g.kv_token
    after = [P + t if w is None else min(P + t, w) for w in g.windows]
    before = [P + t - 1 if w is None else (P if t == 1 else min(P + t - 1, w)) for w in g.windows]
    prev = (8 if processors else 4) * b * g.V  # the previous step's next_token_logits and scores
    inputs = 16 * b * (P + t) + 8 * b * P  # ids and mask grown by cat, position_ids kept in the kwargs
    token = b * g.e * (3 * g.h + g.H * g.d + 2 * g.kv * g.d) + 2 * b * g.d * g.e  # one token's activations
    if g.attn == "eager":  # [b, 1, 1, kv_len] additive masks, one per layer type present
        kinds = {w is None: a for w, a in zip(g.windows, after, strict=True)}
        mask = sum(b * a * g.e for a in kinds.values())
    else:
        mask = 0
    dq = [d_in * d_out * g.e + b * d_out * g.e for _, d_in, d_out in g.linears] if g.quantised else [0]
    best, split = 0, {}
    for layer, w in enumerate(g.windows):
        grown, old = 2 * sum(after[:layer]) * kt, 2 * sum(before[layer + 1 :]) * kt
        cache_now = grown + 2 * after[layer] * kt + old
        candidates = (
            (cache_now + (1 if w is None else 2) * before[layer] * kt, 0),  # the cat: old tensors still alive
            (cache_now, _attn_extra(g, after[layer])),
            (cache_now, max(dq)),  # a 4-bit Linear's dequantised weight
        )
        for cache, extra in candidates:
            if cache + extra > best:
                best, split = cache + extra, {"kv_cache": cache, "activations": extra}
    split = {"kv_cache": split["kv_cache"], "activations": split["activations"] + token + mask}
    fwd = {**split, "logits": prev, "inputs": inputs}
    logits = _head(g, False, processors, active)
    # the head: the ids of P + t beside their cat to P + t + 1, the mask, position_ids in the kwargs
    head = {
        "kv_cache": 2 * sum(after) * kt,
        "activations": 0,
        "logits": logits,
        "inputs": 8 * b * (P + t + 1) + 8 * b * (P + t) + 8 * b * P,
    }
    return _larger(fwd, head)


def _larger(a: dict[str, int], b: dict[str, int]) -> tuple[int, dict[str, int]]:
    return max((sum(a.values()), a), (sum(b.values()), b), key=lambda x: x[0])


def estimate_generation(arch: Architecture, setup: GenerationSetup, positions: int | None = None) -> GenerationEstimate:
    """Per-device memory of one generate call (raises FieldError on a setup the estimate does not model)."""
    validate_generation(setup, arch, positions)
    attn = setup.attention(arch)
    kernel = "flash" if attn.startswith("flash") else attn
    if kernel == "sdpa" and setup.device == "cuda" and setup.dtype == "float32" and arch.num_kv_heads < arch.num_heads:
        kernel = "eager"  # float32 with grouped heads: PyTorch's math kernel keeps the scores, as eager does
    g = gen_dims(arch, setup, kernel)
    weights = weight_bytes(arch, setup)
    prompt = 16 * g.b * g.P
    _, fwd_split, cache = replay_prefill(g)
    m = setup.min_new_tokens or 0
    processors = setup.processors
    logits = _head(g, True, processors, m > 0)
    head = {"kv_cache": cache, "activations": 0, "logits": logits, "inputs": 8 * g.b * (g.P + 1) + 8 * g.b * g.P}
    prefill = _larger(fwd_split, head)
    steps = sorted({1, g.N - 1, m - 1, m} & set(range(1, g.N)))
    decode = max((_decode_step(g, t, processors, t < m) for t in steps), key=lambda x: x[0], default=(0, {}))
    phase, (above, split) = max((("prefill", prefill), ("decode", decode)), key=lambda x: x[1][0])
    cuda = CUDA_CONTEXT + CUBLAS_WORKSPACE if setup.device == "cuda" else 0
    components = {"weights": weights, **{k: split.get(k, 0) for k in CATEGORIES}}
    components["inputs"] += prompt
    if cuda:
        components.update(cuda_context=CUDA_CONTEXT, cuda_workspace=CUBLAS_WORKSPACE)
    final = [g.P + g.N - 1 if w is None else min(g.P + g.N - 1, w) for w in g.windows] if g.N > 1 else [g.P] * g.layers
    notes = [CUDA_NOTE] if setup.device == "cuda" else []
    notes += [QUANTISED_NOTE] if setup.load_in_4bit else []
    notes += [FLASH_NOTE] if kernel == "flash" else []
    full_layers = sum(1 for w in g.windows if w is None)
    base = weights + prompt + cuda
    return GenerationEstimate(
        model=arch.name,
        device=setup.device,
        n_params=arch.n_params,
        components=components,
        phases={"prefill": base + prefill[0], **({"decode": base + decode[0]} if steps else {})},
        peak_bytes=base + above,
        peak_phase=phase,
        kv_cache_bytes=2 * sum(final) * g.kv_token,
        kv_cache_per_token=2 * full_layers * arch.num_kv_heads * arch.head_dim * g.e,
        setup=setup,
        notes=tuple(notes),
    )
