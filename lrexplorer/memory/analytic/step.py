"""Replay of one micro-batch: embedding, the decoder layers, final norm, lm_head and loss, then backward.

Every decoder layer does the same thing, so one layer is replayed on its own Ledger and the stack
is composed in closed form: each layer's forward adds the same bytes and each layer's backward
changes them by the same amount, so the extremes sit at the first or the last layer. An estimate
is then a few hundred ledger operations whatever the depth.

Per-layer accounting: a layer's forward turns its input x into its output and leaves what it saved
(x itself when it saves it); its backward turns the gradient of its output into the gradient of x
plus weight gradients, freeing what it saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from lrexplorer.memory.analytic.dims import Dims
from lrexplorer.memory.analytic.fused_head import head_backward, head_forward
from lrexplorer.memory.analytic.layer import LayerReplay
from lrexplorer.memory.analytic.ledger import Ledger
from lrexplorer.memory.analytic.linear import LinearRecord, WeightGrads, input_grad, linear_backward, linear_forward


@dataclass(frozen=True)
class MicroBatch:
    """Bytes above the step's base (weights + optimizer state [+ gradients]) for one micro-batch."""

    forward_peak: int
    backward_peak: int
    saved: int  # what autograd holds at the end of the forward: activations, logits and loss included
    loss_extra: int  # logits buffers alive beyond `saved` at the worst moment of the forward's loss
    grads_kept: int  # weight gradients created (zero when accumulating into existing .grad)
    # Where the peaks sit (FSDP gathers different weights in each part): the decoder stack's forward,
    # the head's forward (final norm, lm_head, loss); the head's backward, the stack's, the embedding's.
    stack_forward_peak: int = 0
    head_forward_peak: int = 0
    head_backward_peak: int = 0
    stack_backward_peak: int = 0
    embedding_backward_peak: int = 0
    layer_backward_net: int = 0  # what each decoder layer's backward changes the live bytes by


def _layer_forward(D: Dims, grads: WeightGrads, first: bool = False) -> tuple[LayerReplay, Ledger, int, int]:
    """(replay, ledger after the forward, peak above the start, net change) for one layer."""
    L = Ledger()
    L.new("x", D.T * D.h * D.eh)
    start = L.live
    R = LayerReplay(D, grads, input_grad=not (first and D.lora))
    R.forward(L, "x")
    if D.checkpointing:
        # Non-reentrant checkpointing runs the layer without saving; it keeps its input for the
        # recomputation. The peak with saving is a slight over-estimate of the forward's own peak.
        return R, L, L.peak - start, D.T * D.h * D.eh
    L.free("x")  # the caller rebinds its variable; the input survives only if the layer saved it
    return R, L, L.peak - start, L.live - start


def _layer_backward(D: Dims, accumulate: bool, first: bool = False) -> tuple[int, int, int]:
    """(peak above the start, net change, weight-gradient bytes kept) of one layer's backward."""
    grads = WeightGrads(accumulate)
    if D.checkpointing:
        L = Ledger()
        L.new("gout", D.T * D.h * D.eh)
        L.new("x", D.T * D.h * D.eh)  # held by the checkpoint
        start = L.live
        R = LayerReplay(D, grads, input_grad=not (first and D.lora))
        R.forward(L, "x")  # the recomputation, this time saving for backward
        L.free("h2")  # its output is dropped
    else:
        R, L, _, _ = _layer_forward(D, grads, first)
        L.free("h2")  # the next layer's input: freed by that layer, not this one
        L.new("gout", D.T * D.h * D.eh)
        start = L.live
        L.peak = start
    gx = R.backward(L, "gout")
    if D.checkpointing:
        L.free("x")
    del gx
    return L.peak - start, L.live - start, grads.kept


def replay_micro_batch(D: Dims, accumulate: bool) -> MicroBatch:
    """One micro-batch's forward and backward; `accumulate`: gradients already exist (added in place)."""
    arch = D.arch
    T, h, V = D.T, D.h, D.V
    grads = WeightGrads(accumulate)
    L = Ledger()
    # ---------------------------------------------------------------- embedding, rotary, mask
    emb = L.new("emb", T * h * D.ew)
    if arch.embed_scale:  # Gemma multiplies the embeddings by sqrt(hidden)
        L.new("emb.s", T * h * D.ew)
        L.free(emb)
        emb = "emb.s"
    L.new("cos", D.s * D.d * D.eh)  # shared by every layer's rotary embedding, saved
    L.new("sin", D.s * D.d * D.eh)
    if D.attn == "eager":  # the 4-D additive causal mask lives through the decoder stack
        L.new("mask", D.b * D.s * D.s * D.eh)
    elif D.attn == "sdpa" and D.packed:  # a boolean block-diagonal mask keeps packed documents apart
        L.bump(3 * D.s * D.s)  # built from a few boolean comparisons of its size
        L.new("mask", D.s * D.s)
    # ---------------------------------------------------------------- decoder stack, closed form
    # Under LoRA the first layer differs (its input needs no gradient): replay it on its own.
    _, _, f_peak, f_net = _layer_forward(D, WeightGrads(accumulate))
    _, _, f_peak0, f_net0 = _layer_forward(D, WeightGrads(accumulate), first=True) if D.lora else (0, 0, f_peak, f_net)
    L.bump(max(f_peak0, f_net0 + max(0, (D.layers - 2) * f_net) + f_peak))
    L.forget(emb)  # the first layer's input: whether it survives is inside the net change
    L.live += f_net0 + (D.layers - 1) * f_net
    L.adopt("xL", T * h * D.eh)
    if L.has("mask") and not D.checkpointing:
        L.free("mask")  # with checkpointing the recomputation needs it until the stack's backward
    stack_peak = L.peak
    # ---------------------------------------------------------------- final norm, lm_head, loss
    L.peak = L.live
    head = LayerReplay(D, grads)
    nf = head.norm_forward(L, "xL", D.eh, "nf")
    L.free("xL")
    if D.head == "logits":
        rec = _logits_forward(L, D, nf, head.e["nf"])
    else:
        fused = head_forward(L, D, nf, head.e["nf"])
        L.free(nf)  # the backbone's output dies with the patched forward; the function saved its own
    saved = L.live
    loss_extra = L.peak - L.live
    forward_peak = max(stack_peak, L.peak)
    head_forward_peak = L.peak
    # ---------------------------------------------------------------- backward: loss and head
    L.peak = L.live
    # A tied lm_head/embedding weight is used twice, so autograd holds the lm_head's gradient in the
    # weight's input buffer until the embedding's arrives (the whole backward), then sums them.
    tied = arch.tie_word_embeddings and not D.lora
    head_grads = WeightGrads(False) if tied else grads
    if D.head == "logits":
        gn = _logits_backward(L, D, rec, head_grads)
    else:
        gn = head_backward(L, D, fused, head.e["nf"], head_grads)
    gx = head.norm_backward(L, gn, D.eh, "nf")
    L.free(gn)
    head_backward_peak = L.peak
    # ---------------------------------------------------------------- decoder stack backward
    b_peak, b_net, b_kept = _layer_backward(D, accumulate)
    stack_backward_peak = L.live + max(0, (D.layers - 1) * b_net) + b_peak
    L.bump(stack_backward_peak - L.live)
    L.forget(gx)  # consumed by the last layer: inside b_net
    L.live += D.layers * b_net
    g0 = L.adopt("g.x0", T * h * D.eh)
    if L.has("mask"):
        L.free("mask")
    grads_kept = grads.kept + D.layers * b_kept
    backward_peak, L.peak = L.peak, L.live
    # ---------------------------------------------------------------- embedding backward
    if not D.lora:
        if arch.embed_scale:
            L.new("g.emb.s", T * h * D.ew)
        grad = L.new("g.embed", V * h * D.ew)  # embedding_dense_backward: a dense vocab x hidden gradient
        if tied:  # summed out of place with the lm_head's gradient waiting in the buffer
            grad = L.new("g.embed.sum", V * h * D.ew)
            L.free("g.embed", "lm_head.gW")
        if accumulate:
            L.free(grad)  # AccumulateGrad adds it into the existing .grad in place
        else:
            grads_kept += V * h * D.ew  # it becomes .grad
    L.free(g0)
    return MicroBatch(
        forward_peak=forward_peak,
        backward_peak=max(backward_peak, L.peak),
        saved=saved,
        loss_extra=loss_extra,
        grads_kept=grads_kept,
        stack_forward_peak=stack_peak,
        head_forward_peak=head_forward_peak,
        head_backward_peak=head_backward_peak,
        stack_backward_peak=stack_backward_peak,
        embedding_backward_peak=L.peak,
        layer_backward_net=b_net,
    )


def _logits_forward(L: Ledger, D: Dims, nf: str, e_nf: int) -> LinearRecord:
    """The model's own head and loss: lm_head over every position, then cross-entropy on the full logits."""
    arch, T, h, V, el = D.arch, D.T, D.h, D.V, D.el
    logits, rec = linear_forward(L, D, nf, e_nf, "lm_head", h, V, "lm_head", trainable=not D.lora)
    if arch.final_logit_softcap:  # Gemma-2: logits / cap, tanh (saved), * cap
        L.new("l.div", T * V * el)
        L.free(logits)
        L.new("l.tanh", T * V * el)
        L.free("l.div")
        logits = L.new("l.cap", T * V * el)
    lf = L.new("logits.f32", T * V * 4) if el != 4 else L.alias("logits.f32", logits)  # the loss upcasts
    L.new("lsm", T * V * 4)  # log_softmax output, saved for the NLL backward
    L.new("labels", 2 * 8 * T)  # padded and shifted labels
    L.free(lf, "labels")
    # The model's forward holds the backbone's output (a frozen lm_head saves nothing) until it returns.
    L.free(nf)
    L.free(logits)  # the Trainer keeps only the loss
    return rec


def _logits_backward(L: Ledger, D: Dims, rec: LinearRecord, head_grads: WeightGrads) -> str:
    """Cross-entropy and lm_head backward; returns the gradient of the final norm's output."""
    arch, T, V, el = D.arch, D.T, D.V, D.el
    L.new("g.nll", T * V * 4)
    g = L.new("g.lsm", T * V * 4)
    L.free("g.nll", "lsm")
    if el != 4:
        g2 = L.new("g.logits", T * V * el)
        L.free(g)
        g = g2
    if arch.final_logit_softcap:
        L.new("g.cap", T * V * el)
        L.new("g.tanh", T * V * el)
        L.free(g, "g.cap", "l.tanh")
        g = L.new("g.div", T * V * el)
        L.free("g.tanh")
    gn = input_grad(linear_backward(L, D, g, rec, head_grads))
    L.free(g)
    return gn
