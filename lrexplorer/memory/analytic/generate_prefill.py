"""The prefill of `model.generate` (the forward over the whole prompt) replayed op by op on a Ledger.

The op order is transformers 5.25's (Llama, Mistral, Qwen2 decoder layers; `generation/utils.py`;
`cache_utils.DynamicCache`) on PyTorch's kernels, read from op-by-op traces of real calls: every tensor
an op returns is allocated, and freed when its last reference dies. What it keeps in mind:
- `position_ids` are built from the attention mask and kept in the generation kwargs for the whole
  call, plus a contiguous clone for the forward;
- masks: SDPA needs none for full attention without padding (`is_causal`); a sliding-window layer with a
  prompt longer than its window gets a boolean [1, 1, P, P] mask, which SDPA turns into an additive
  [b, 1, P, P] one and which makes grouped keys and values be repeated (copies). Eager attention gets an
  additive [b, 1, P, P] mask per layer type, and keeps its [b, H, P, P] attention weights until the
  decoder layer returns (softmax in float32: a float32 copy first for 16-bit weights);
- RMSNorm works in float32 (a copy for 16-bit weights); the MLP peaks at act(gate) * up;
- the cache's first update is `cat([empty, k])`: a copy, after which the projection dies;
- only the last position's logits are computed (`logits_to_keep=1`);
- a 4-bit (bitsandbytes) Linear dequantises its weight inside its matmul: a transient of the weight's
  size in the compute dtype beside the output (modelled from bitsandbytes' source, not measured).
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.memory.analytic.ledger import Ledger

# Categories of what a generate call holds above the weights (the keys of its components).
CATEGORIES = ("kv_cache", "activations", "logits", "inputs")


@dataclass(frozen=True)
class GenDims:
    """The sizes one generate call works with (bytes per element `e` of the model's dtype)."""

    b: int
    P: int
    N: int
    layers: int
    h: int
    i: int
    H: int
    kv: int
    d: int
    V: int
    e: int
    attn: str  # "sdpa", "eager" or "flash" (a flash-attention kernel: no mask, no copies)
    windows: tuple[int | None, ...]  # per layer: its sliding window, None for full attention
    quantised: bool = False  # 4-bit decoder Linears (bitsandbytes)
    linears: tuple[tuple[str, int, int], ...] = ()  # (name, d_in, d_out) of one decoder layer

    @property
    def kv_token(self) -> int:
        """Bytes of one token's keys (or values) in one layer's cache, for the whole batch."""
        return self.b * self.kv * self.d * self.e


class CategoryLedger(Ledger):
    """A Ledger that also keeps, at its peak, how the live bytes split by category (`at_peak`); a name's
    category is its prefix before the first dot, transients (`bump`) count as activations."""

    __slots__ = ("_by", "at_peak")

    def __init__(self) -> None:
        super().__init__()
        self._by = dict.fromkeys(CATEGORIES, 0)
        self.at_peak = dict(self._by)

    def new(self, name: str, nbytes: int) -> str:
        self._by[name.split(".", maxsplit=1)[0]] += nbytes
        before = self.peak
        super().new(name, nbytes)
        if self.peak > before:
            self.at_peak = dict(self._by)
        return name

    def free(self, *names: str | None) -> None:
        for name in names:
            if name is not None and self._refs.get(self._base[name]) == 1:
                self._by[self._base[name].split(".")[0]] -= self._size[self._base[name]]
            super().free(name)

    def bump(self, nbytes: int) -> None:
        if self.live + nbytes > self.peak:
            self.at_peak = {**self._by, "activations": self._by["activations"] + nbytes}
        super().bump(nbytes)


def _norm(L: Ledger, x: str, T: int, h: int, e: int, t: str) -> str:
    """RMSNorm of x ([T, h]): float32 work (a copy first for 16-bit weights), the output in the dtype."""
    X4 = 4 * T * h
    x32 = L.alias(t + ".x32", x) if e == 4 else L.new(t + ".x32", X4)
    L.new(t + ".pow", X4)
    L.new(t + ".mean", 4 * T)
    L.free(t + ".pow")
    L.new(t + ".add", 4 * T)
    L.new(t + ".r", 4 * T)
    L.free(t + ".add")
    L.new(t + ".xr", X4)
    L.free(x32, t + ".r")
    if e != 4:
        L.new(t + ".cast", T * h * e)
    out = L.new(t + ".out", T * h * e)
    L.free(t + ".mean", t + ".xr")
    if e != 4:
        L.free(t + ".cast")
    return out


def _rotate(L: Ledger, size: int, t: str) -> str:
    """(x * cos) + (rotate_half(x) * sin): returns the rotated tensor's name."""
    L.new(t + ".a", size)
    L.new(t + ".neg", size // 2)
    L.new(t + ".cat", size)
    L.free(t + ".neg")
    L.new(t + ".b", size)
    L.free(t + ".cat")
    out = L.new(t + ".emb", size)
    L.free(t + ".a", t + ".b")
    return out


def _linear(L: Ledger, g: GenDims, name: str, out: str, size: int) -> str:
    """A decoder Linear's output; a 4-bit one first holds its dequantised weight beside the output."""
    if g.quantised:
        d_in, d_out = next((i, o) for n, i, o in g.linears if n == name)
        L.bump(d_in * d_out * g.e + size)
    return L.new(out, size)


def _masks(L: Ledger, g: GenDims) -> dict[bool, str | None]:
    """The attention masks of the forward, by 'sliding layer?': created before the layers, kept to the end."""
    b, P, e = g.b, g.P, g.e
    sliding = [w for w in g.windows if w is not None]
    out: dict[bool, str | None] = {False: None, True: None}
    if g.attn == "eager":  # an additive [b, 1, P, P] mask in the dtype per layer type present
        for kind in (False, True):
            if (kind and sliding) or (not kind and len(sliding) < len(g.windows)):
                L.bump(P * P)
                out[kind] = L.new(f"activations.mask{int(kind)}", b * P * P * e)
    elif g.attn == "sdpa" and sliding and min(sliding) < P:  # boolean [1, 1, P, P]: is_causal cannot do it
        L.bump(3 * P * P)
        out[True] = L.new("activations.mask1", P * P)
    return out


def replay_prefill(g: GenDims) -> tuple[int, dict[str, int], int]:
    """(peak of the prefill forward above the weights and the caller's prompt, its split by category at the
    peak, the cache it leaves)."""
    b, P, e, h, i, H, kv, d = g.b, g.P, g.e, g.h, g.i, g.H, g.kv, g.d
    T = b * P
    Q, K = T * H * d * e, T * kv * d * e
    S = b * H * P * P  # elements of one layer's scores
    rep = H // kv
    L = CategoryLedger()
    L.new("inputs.pos_kwargs", 8 * T)  # position_ids kept in the generation kwargs
    L.new("inputs.pos", 8 * T)  # the contiguous clone the forward gets
    L.new("inputs.scalars", 16)  # pad and eos token tensors
    L.new("inputs.unfinished", 8 * b)
    emb = L.new("activations.emb", T * h * e)
    masks = _masks(L, g)
    # rotary: float32 frequencies, cat, cos and sin (cast to the dtype)
    L.new("activations.freqs", T * (d // 2) * 4)
    L.new("activations.remb", T * d * 4)
    L.new("activations.cos32", T * d * 4)
    L.new("activations.sin32", T * d * 4)
    L.bump(T * d * 4)  # sin() before its scaling
    if e != 4:
        L.new("activations.cos", T * d * e)
        L.new("activations.sin", T * d * e)
    else:
        L.alias("activations.cos", "activations.cos32")
        L.alias("activations.sin", "activations.sin32")
    L.free("activations.cos32", "activations.sin32", "activations.freqs", "activations.remb")
    x = emb
    for layer, window in enumerate(g.windows):
        t = f"activations.l{layer}"
        sliding = window is not None
        mask = masks[sliding] if (g.attn == "eager" or (sliding and window is not None and window < P)) else None
        n1 = _norm(L, x, T, h, e, t + ".n1")
        _linear(L, g, "q_proj", t + ".q", Q)
        _linear(L, g, "k_proj", t + ".k", K)
        _linear(L, g, "v_proj", t + ".v", K)
        qe = _rotate(L, Q, t + ".qr")
        ke = _rotate(L, K, t + ".kr")
        L.free(t + ".q", t + ".k")
        L.new(f"kv_cache.k{layer}", K)  # cat([empty, k]): a copy
        L.new(f"kv_cache.v{layer}", K)
        L.free(ke, t + ".v")
        kept = _attention(L, g, t, mask, Q, S, rep)
        _linear(L, g, "o_proj", t + ".oproj", T * h * e)
        L.free(qe, t + ".o", n1)
        h1 = L.new(t + ".h1", T * h * e)
        L.free(t + ".oproj")
        n2 = _norm(L, h1, T, h, e, t + ".n2")
        _linear(L, g, "gate_proj", t + ".gate", T * i * e)
        L.new(t + ".act", T * i * e)
        L.free(t + ".gate")
        _linear(L, g, "up_proj", t + ".up", T * i * e)
        L.new(t + ".prod", T * i * e)
        L.free(t + ".act", t + ".up")
        _linear(L, g, "down_proj", t + ".down", T * h * e)
        L.free(t + ".prod")
        out = L.new(t + ".out", T * h * e)
        L.free(t + ".down", n2, h1, kept)
        if x != emb:
            L.free(x)
        x = out
    final = _norm(L, x, T, h, e, "activations.final")
    if x != emb:
        L.free(x)
    L.free(emb, "activations.cos", "activations.sin", masks[False], masks[True])
    L.new("logits.last", b * g.V * e)  # lm_head on the last position only
    L.free(final)
    cache = sum(size for name, size in L._size.items() if name.startswith("kv_cache."))
    return L.peak, L.at_peak, cache


def _attention(L: Ledger, g: GenDims, t: str, mask: str | None, Q: int, S: int, rep: int) -> str | None:
    """One layer's attention over the prompt; leaves `t.o` ([b, P, H*d]) and returns what the layer keeps
    until it returns (eager's attention weights)."""
    b, P, e = g.b, g.P, g.e
    if g.attn != "eager":
        copies = g.attn == "sdpa" and rep > 1 and mask is not None  # repeat_kv: no enable_gqa with a mask
        if copies:
            L.new(t + ".kr", Q)
            L.new(t + ".vr", Q)
        if mask is not None:  # torch makes the boolean mask additive, expanded to the batch
            L.new(t + ".fmask", b * P * P * e)
        L.new(t + ".o", Q)
        L.bump(4 * b * g.H * P)  # logsumexp (float32)
        L.free(t + ".fmask" if mask is not None else None, *((t + ".kr", t + ".vr") if copies else ()))
        return None
    copies = rep > 1 and g.kv > 1  # repeat_kv copies; with one KV head its reshape is a view
    single = rep > 1 and g.kv == 1  # ... and bmm copies its expanded operand instead, one at a time
    if copies:
        L.new(t + ".kr", Q)
        L.new(t + ".vr", Q)
    L.new(t + ".qc", Q)  # the query made contiguous for bmm
    if single:
        L.new(t + ".kc", Q)
    L.new(t + ".s1", S * e)
    L.free(t + ".qc", t + ".kc" if single else None)
    L.new(t + ".s2", S * e)  # * scaling
    L.free(t + ".s1")
    L.new(t + ".s3", S * e)  # + mask
    L.free(t + ".s2")
    if e != 4:  # softmax in float32: a float32 copy, the softmax, the cast back
        L.new(t + ".s32", S * 4)
        L.new(t + ".p32", S * 4)
        L.free(t + ".s32")
        L.new(t + ".p", S * e)
        L.free(t + ".s3", t + ".p32")
    else:
        L.new(t + ".p", S * 4)
        L.free(t + ".s3")
    if single:
        L.new(t + ".vc", Q)
    L.new(t + ".bmm", Q)
    L.free(t + ".vc" if single else None)
    L.new(t + ".o", Q)  # transpose(1, 2).contiguous()
    L.free(t + ".bmm", *((t + ".kr", t + ".vr") if copies else ()))
    return t + ".p"
