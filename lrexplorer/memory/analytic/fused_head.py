"""TRL's fused LM head, the loss of an SFTTrainer step, replayed on a Ledger op by op.

TRL 1.16's `SFTTrainer.compute_loss` patches the model with `trl.trainer.utils.add_fused_lm_head` and
calls it with `fused_lm_head=True`: the backbone runs, then `ChunkedLogProbFunction`
(`trl/kernels/chunked_logprob.py`) projects the hidden states through the LM head's weight in tiles of
TOKEN_CHUNK tokens x VOCAB_CHUNK vocabulary columns and folds each tile into per-token running
statistics (log-sum-exp, the entropy and the top-1 flag SFTTrainer logs); its backward recomputes every
tile and turns it into the logits' gradient in place. The [tokens, vocab] logits never exist, but:
- the tile buffer is min(tokens, 4096) x 32768 in the compute dtype whatever the vocabulary (a 8k
  vocabulary still gets 32768 columns), allocated in the forward and again in the backward;
- without Triton (the CPU, any non-CUDA device) the fold is torch code on the whole tile: several
  float32 temporaries of the tile's size live at once (about 13 bytes per element in the forward, 29
  in the backward), and every position is scored, labelled or not;
- with Triton (CUDA) the kernels work in place and only positions whose label is not -100 are scored
  ("compact"), so completion-only masks shrink the head. This path is modelled from TRL's code and not
  measured here (no GPU in the session that wrote it);
- the function saves its own copy of `hidden[:, :-1]` (a view for a single row), the backward
  accumulates the gradients of the hidden states and of the weight in float32, then casts them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from lrexplorer.core.compat import in_range, installed_version, range_text, supported_range
from lrexplorer.memory.analytic.ledger import Ledger

if TYPE_CHECKING:
    from lrexplorer.catalogues.architecture import Architecture
    from lrexplorer.memory.analytic.dims import Dims
    from lrexplorer.memory.analytic.linear import WeightGrads
    from lrexplorer.memory.setup import TrainingSetup

TOKEN_CHUNK = 4096  # trl.kernels.chunked_logprob.TOKEN_CHUNK_SIZE
VOCAB_CHUNK = 32768  # trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE
# Families whose causal-LM class returns its lm_head from `get_output_embeddings()`, which the fused
# head multiplies by directly (every family the estimator knows today).
FUSED_HEAD_FAMILIES = ("llama", "mistral", "qwen2", "gemma2", "phi3")
TRITON_NOTE = "TRL's Triton path (CUDA) is modelled from TRL's code and has not been checked against a GPU measurement"


@lru_cache(maxsize=1)
def installed_trl() -> str | None:
    """The installed TRL's version, read from its metadata (TRL itself is not imported)."""
    return installed_version("trl")


def trl_range_text() -> str:
    """The TRL releases whose SFTTrainer loss this module follows: lrexplorer's supported range of TRL
    (pyproject.toml), since realmodel.add_sft_head refuses any other."""
    return range_text(supported_range("trl"))


def unsupported_reason(arch: Architecture, trl_version: str | None = None) -> str | None:
    """Why the fused head cannot be modelled for this model and TRL install (None when it can)."""
    found = trl_version if trl_version is not None else installed_trl()
    if found is None:
        return (
            f"TRL is not installed, so its SFTTrainer loss cannot be modelled (the model covers TRL {trl_range_text()})"
        )
    if not in_range(found, supported_range("trl")):
        return f"TRL {found} is installed; the fused LM head is modelled for TRL {trl_range_text()}"
    if arch.model_type not in FUSED_HEAD_FAMILIES:
        return f"{arch.model_type} has no output embeddings for TRL's fused LM head"
    return None


def head_kind(arch: Architecture, setup: TrainingSetup) -> str:
    """How the step computes its loss: "logits", "fused" (torch fallback) or "fused_triton"."""
    if setup.trainer != "sft" or unsupported_reason(arch) is not None:
        return "logits"
    return "fused_triton" if setup.device == "cuda" else "fused"


def notes(arch: Architecture, setup: TrainingSetup) -> tuple[str, ...]:
    """What a reader of an SFTTrainer estimate must know: a fallback to the plain loss, an unverified path."""
    if setup.trainer != "sft":
        return ()
    reason = unsupported_reason(arch)
    if reason is not None:
        return (f"{reason}: estimated with the model's own loss over the full logits (the plain Trainer's step)",)
    return (TRITON_NOTE,) if setup.device == "cuda" else ()


@dataclass
class FusedRecord:
    """What the fused head's forward left for its backward."""

    hidden: str  # the saved [scored, hidden] input of ChunkedLogProbFunction
    e_hidden: int  # its dtype bytes
    cast: bool  # hidden_states.float() under cast_lm_head_to_fp32 copied the hidden states
    saved: tuple[str, ...]  # targets, log_z, entropy


def _fold_forward(L: Ledger, A: int, ec: int, softcap: bool) -> None:
    """`_forward_tile` on a tile of A elements: every whole-tile temporary in the order it lives."""
    f = L.alias("ft.f", "fh.tile") if ec == 4 else L.new("ft.f", 4 * A)  # tile.float()
    cur = L.new("ft.z1", 4 * A)  # z * logit_scale (a new tensor even for a scale of 1.0)
    if softcap:  # softcap * tanh(z / softcap)
        L.new("ft.a", 4 * A)
        L.new("ft.b", 4 * A)
        L.free("ft.a")
        L.new("ft.c", 4 * A)
        L.free("ft.b", cur)
        cur = "ft.c"
    L.new("ft.z", 4 * A)  # * (1 / temperature)
    L.free(cur, f)
    L.new("ft.before", A)  # positions before the target (bool): is_top1's tie rule, kept to the end
    L.new("ft.not", A)
    L.new("ft.masked", 4 * A)  # z.masked_fill(~before, -inf), reduced by amax
    L.free("ft.not", "ft.masked")
    L.new("ft.zm", 4 * A)  # z - running max
    L.new("ft.e", 4 * A)  # exp
    L.free("ft.zm")
    L.new("ft.ez", 4 * A)  # e * z, summed for the entropy
    L.free("ft.ez", "ft.z", "ft.before", "ft.e")


def _fold_backward(L: Ledger, A: int, ec: int, softcap: bool) -> None:
    """`_backward_tile`: the tile becomes the logits' gradient (log-prob gradient only: SFTTrainer logs
    the entropy detached, so no entropy gradient reaches it)."""
    f = L.alias("bt.f", "fh.tile") if ec == 4 else L.new("bt.f", 4 * A)
    L.new("bt.y", 4 * A)  # tile.float() * logit_scale
    L.free(f)
    kept = ["bt.y"]
    if softcap:
        L.new("bt.ys", 4 * A)
        L.new("bt.t", 4 * A)  # tanh(y / softcap), kept for the chain rule
        L.free("bt.ys")
        L.new("bt.st", 4 * A)
        L.new("bt.z", 4 * A)
        L.free("bt.st")
        kept.append("bt.t")
    else:
        L.new("bt.z", 4 * A)
    for name in ("bt.logp", "bt.p", "bt.g0"):  # log_p, exp(log_p), zeros_like
        L.new(name, 4 * A)
    L.new("bt.is", A)  # is_target (bool)
    L.new("bt.isf", 4 * A)  # is_target.float()
    L.new("bt.d", 4 * A)  # - p
    L.free("bt.isf")
    L.new("bt.m", 4 * A)  # grad_logprobs * (...), added in place
    L.free("bt.d", "bt.m")
    g = L.new("bt.g1", 4 * A)  # grad * (1 / temperature)
    L.free("bt.g0")
    if softcap:
        L.new("bt.tt", 4 * A)
        L.new("bt.1tt", 4 * A)
        L.free("bt.tt")
        L.new("bt.g2", 4 * A)
        L.free("bt.1tt", g)
        g = "bt.g2"
    L.new("bt.gs", 4 * A)  # grad * logit_scale, copied into the tile
    L.free("bt.gs", g, "bt.z", "bt.logp", "bt.p", "bt.is", *kept)


def _compute_bytes(D: Dims) -> int:
    """The tiles' dtype: autocast's when it is on, else the hidden states' (float32 when cast)."""
    return 4 if D.head_fp32 else D.el


def head_forward(L: Ledger, D: Dims, nf: str, e_nf: int) -> FusedRecord:
    """The fused head's forward from the final norm's output `nf` (owned by the caller)."""
    b, s, h, V = D.b, D.s, D.h, D.V
    rows = b * (s - 1)  # hidden[:, :-1]: every position with a next token
    triton = D.head == "fused_triton"
    N = D.scored
    ec = _compute_bytes(D)
    softcap = D.arch.final_logit_softcap is not None
    L.new("fh.mask", rows)  # labels != -100 (bool), returned as label_mask
    x, e_x = nf, e_nf
    cast = D.head_fp32 and e_nf != 4
    if cast:  # hidden_states.float() of the [:, :-1] view: a contiguous copy
        x, e_x = L.new("fh.x32", rows * h * 4), 4
    if triton:
        hidden = L.new("fh.hidden", N * h * e_x)  # hidden_states[mask]: the labelled rows only
    elif b > 1 and not cast:
        hidden = L.new("fh.hidden", N * h * e_x)  # reshape(-1, h) of a strided view copies
    else:
        hidden = L.alias("fh.hidden", x)  # one row (or the cast copy): a view
    targets = L.new("fh.targets", 8 * N)  # the labels (clamped, or the labelled ones), int64
    # ChunkedLogProbFunction.forward
    L.new("fh.stats", 7 * 4 * N)  # running max, sums, target logit ... one float32 each per token
    n, c = min(N, TOKEN_CHUNK), min(V, VOCAB_CHUNK)
    L.new("fh.mm", n * VOCAB_CHUNK * ec)
    L.alias("fh.tile", "fh.mm")
    hc = L.new("fh.hc", n * h * ec) if e_x != ec else None  # hidden[chunk].to(compute dtype)
    if D.ew != ec:
        L.new("fh.wc", c * h * ec)  # weight[chunk].to(compute dtype), dropped after the matmul
        L.free("fh.wc")
    if not triton:
        _fold_forward(L, n * c, ec, softcap)
    if hc is not None and N > TOKEN_CHUNK:  # the next chunk is cast while the previous one is bound
        L.bump(min(N - TOKEN_CHUNK, TOKEN_CHUNK) * h * ec)
    saved = (targets, L.new("fh.logz", 4 * N), L.new("fh.entropy", 4 * N))
    L.new("fh.out", 5 * N)  # log-probs and is_top1 (the entropy is the saved one)
    L.free("fh.tile", "fh.mm", "fh.stats", hc)
    # The per-token outputs are scattered or masked back to [batch, seq - 1], the loss reduced; they
    # die with compute_loss.
    L.new("fh.rows", 13 * rows)
    L.free("fh.out", "fh.rows", "fh.mask")
    if cast:
        L.free(x)  # saved only as the function's input (a view of it) where it was not gathered
    return FusedRecord(hidden, e_x, cast, saved)


def head_backward(L: Ledger, D: Dims, rec: FusedRecord, e_nf: int, grads: WeightGrads) -> str:
    """ChunkedLogProbFunction's backward and the views back to the norm; returns the norm output's gradient."""
    h, V, N = D.h, D.V, D.scored
    triton = D.head == "fused_triton"
    ec = _compute_bytes(D)
    softcap = D.arch.final_logit_softcap is not None
    trains_head = not D.lora
    gh = L.new("fh.gh32", N * h * 4)  # accumulated in float32 whatever the dtype
    gw = L.new("fh.gw32", V * h * 4) if trains_head else None
    n, c = min(N, TOKEN_CHUNK), min(V, VOCAB_CHUNK)
    L.new("fh.mm", n * VOCAB_CHUNK * ec)
    L.alias("fh.tile", "fh.mm")
    hc = L.new("fh.hc", n * h * ec) if rec.e_hidden != ec else None
    wc = L.new("fh.wc", c * h * ec) if D.ew != ec else None  # bound until the next chunk's
    if not triton:
        _fold_backward(L, n * c, ec, softcap)
        if ec != 4:  # _addmm_fp32 on the CPU: acc.addmm_(a.float(), b.float())
            L.bump(4 * n * c + 4 * c * h)
            if trains_head:
                L.bump(4 * n * c + 4 * n * h)
    if wc is not None and V > VOCAB_CHUNK:
        L.bump(min(V - VOCAB_CHUNK, VOCAB_CHUNK) * h * ec)
    # return: the accumulators cast back to the inputs' dtypes while every local is still bound
    if rec.e_hidden != 4:
        g_hidden = L.new("fh.gh", N * h * rec.e_hidden)
    else:
        g_hidden = L.alias("fh.gh", gh)
    if gw is not None:
        if D.ew != 4:
            grads.add(L, "lm_head.gW", V * h * D.ew)
            L.free(gw)
        else:  # .to(float32) is the accumulator itself: it becomes the gradient
            L.free(gw)
            grads.add(L, "lm_head.gW", V * h * 4)
    L.free(gh, "fh.tile", "fh.mm", hc, wc, rec.hidden, *rec.saved)
    rows = D.b * (D.s - 1)
    g = g_hidden
    if triton:  # index backward: zeros of hidden_states' shape with the rows put back
        g = L.new("fh.gidx", rows * h * rec.e_hidden)
        L.free(g_hidden)
    if rec.cast:  # .float() backward casts back to the norm's dtype
        g2 = L.new("fh.gcast", rows * h * e_nf)
        L.free(g)
        g = g2
    gn = L.new("fh.gn", D.T * h * e_nf)  # slice backward: zeros of [batch, seq, hidden], gradient copied in
    L.free(g)
    return gn
