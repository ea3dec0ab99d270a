"""Replay of a decoder layer's self-attention block (projections, rotary embedding, attention core).

Eager attention materialises batch x heads x seq^2 scores (and a float32 softmax, saved), which is
why its memory grows with the square of the sequence; SDPA's flash/efficient kernels and
flash_attention_2 save only q, k, v, the output and a float32 logsumexp per head and token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrexplorer.memory.analytic.ledger import Ledger
from lrexplorer.memory.analytic.linear import input_grad

if TYPE_CHECKING:
    from lrexplorer.memory.analytic.dims import Dims
    from lrexplorer.memory.analytic.layer import LayerReplay


def rope_forward(R: LayerReplay, L: Ledger, x: str, n: int, e: int, t: str) -> str:
    size = R.D.T * n * R.D.d * e
    L.new(t + ".cos", size)  # x * cos
    L.new(t + ".neg", size // 2)  # rotate_half: -x2, then cat
    L.new(t + ".cat", size)
    L.free(t + ".neg")
    L.new(t + ".sin", size)
    L.free(t + ".cat")
    out = L.new(t + ".e", size)
    L.free(t + ".cos", t + ".sin", x)  # the projection output is not saved (cos/sin carry no grad)
    if R.D.arch.rope_cat:  # Phi-3 concatenates the rotated part with the (empty) pass-through part
        L.free(out)
        L.new(t + ".e", size)
    return out


def rope_backward(R: LayerReplay, L: Ledger, g: str, n: int, e: int, e_x: int, t: str) -> str:
    size = R.D.T * n * R.D.d * e
    L.new(t + ".gc", size)
    L.new(t + ".gs", size)
    L.new(t + ".gneg", size // 2)
    L.new(t + ".sb1", size)  # slice_backward pads each half back to full size
    L.new(t + ".sb2", size)
    L.free(t + ".gneg", t + ".gs")
    L.new(t + ".grot", size)
    L.free(t + ".sb1", t + ".sb2")
    gx = L.new(t + ".gx", size)
    L.free(t + ".gc", t + ".grot", g)
    if e_x != e:
        g2 = L.new(t + ".gx2", R.D.T * n * R.D.d * e_x)
        L.free(gx)
        gx = g2
    return gx


def _save(L: Ledger, name: str, e_src: int, e_to: int, numel: int, cast: bool) -> None:
    """Save `name` for backward; under autocast a wider tensor is cast first and the copy is saved."""
    if cast and e_src != e_to:
        c = L.new(name + ".c", numel * e_to)
        L.alias(name + ".saved", c)
        L.free(c)
    else:
        L.alias(name + ".saved", name)
    L.free(name)


def attention_forward(R: LayerReplay, L: Ledger, x: str, e_x: int) -> str:
    D = R.D
    h, q_out, kv_out, el = D.h, D.H * D.d, D.kv * D.d, D.el
    if D.arch.fused:  # Phi-3: one qkv_proj; q, k, v are views of its output
        qkv = R.lin_f(L, x, e_x, "qkv_proj", h, q_out + 2 * kv_out)
        q, k, v = L.alias("q", qkv), L.alias("k", qkv), L.alias("v", qkv)
        L.free(qkv)
    else:
        q, k, v = "q", "k", "v"
        for name, proj, size in ((q, "q_proj", q_out), (k, "k_proj", kv_out), (v, "v_proj", kv_out)):
            out = R.lin_f(L, x, e_x, proj, h, size)
            L.alias(name, out)
            L.free(out)
    L.free(x)
    er = max(el, D.eh)  # cos/sin are in the residual stream's dtype, so q * cos promotes to it
    R.e_rope = er
    qe = rope_forward(R, L, q, D.H, er, "rq")
    ke = rope_forward(R, L, k, D.kv, er, "rk")
    if D.attn == "eager":
        o_in, e_o = _eager_forward(R, L, qe, ke, v, er)
    else:
        if _repeats_kv(D):
            ke = L.new("k.rep", D.T * q_out * er)
            L.free("rk.e")
            v = L.new("v.rep", D.T * q_out * el)
            L.free("v")
        kv_saved = q_out if _repeats_kv(D) else kv_out
        _save(L, qe, er, el, D.T * q_out, True)
        _save(L, ke, er, el, D.T * kv_saved, True)
        _save(L, v, el, el, D.T * kv_saved, False)
        if _masked_sdpa(D):  # SDPA turns the boolean mask into an additive one in the query's dtype, and saves it
            L.new("attn.mask", D.s * D.s * el)
        o_in = L.new("attn.out", D.T * q_out * el)
        L.alias("attn.out.saved", o_in)
        L.new("attn.lse", 4 * D.b * D.H * D.s)
        e_o = el  # the kernel writes (batch, seq, heads, dim): the reshape for o_proj is a view
        if D.device == "cpu" and D.arch.rope_cat:
            # except that the CPU kernel follows the query's layout, which torch.cat made (batch,
            # heads, seq, dim): transpose(1, 2).contiguous() then copies the output for o_proj.
            L.free(o_in)
            o_in = L.new("attn.out.copy", D.T * q_out * el)
    R.e_o = e_o
    out = R.lin_f(L, o_in, e_o, "o_proj", q_out, h)
    L.free(o_in)
    return out


def _masked_sdpa(D: Dims) -> bool:
    """SDPA gets a mask only for a packed row (its block-diagonal one); flash_attention_2 takes the
    documents' boundaries instead, and full rows rely on `is_causal`."""
    return D.attn == "sdpa" and D.packed


def _repeats_kv(D: Dims) -> bool:
    """SDPA with a mask cannot take grouped keys and values: transformers repeats them to every query head."""
    return _masked_sdpa(D) and D.kv < D.H


def _eager_forward(R: LayerReplay, L: Ledger, qe: str, ke: str, v: str, er: int) -> tuple[str, int]:
    D = R.D
    el, S, qd = D.el, D.b * D.H * D.s * D.s, D.T * D.H * D.d
    if D.kv < D.H:  # repeat_kv copies keys and values to all heads
        kr = L.new("k.rep", qd * er)
        L.free(ke)
        vr = L.new("v.rep", qd * el)
    else:  # matmul cannot view the transposed values as (batch*heads, seq, dim): it copies them
        kr, vr = ke, L.new("v.rep", qd * el)
    L.free(v)
    es = el if D.autocast else er  # the matmul's output dtype
    _save(L, qe, er, el, qd, D.autocast)
    _save(L, kr, er, el, qd, D.autocast)
    L.new("sc", S * es)
    L.new("sc2", S * es)  # * scaling
    L.free("sc")
    last = "sc2"
    if D.arch.attn_logit_softcap:  # Gemma-2: / cap, tanh (saved), * cap
        L.new("sc3", S * es)
        L.free(last)
        L.new("th", S * es)
        L.free("sc3")
        last = L.new("sc4", S * es)
    L.new("masked", S * max(es, D.eh))  # + the additive mask, which is in the residual dtype
    L.free(last)
    L.new("p32", S * 4)  # softmax(dtype=float32): its output is saved
    L.free("masked")
    if er != 4:
        L.new("p", S * er)  # .to(query.dtype)
    else:
        L.alias("p", "p32")
    _save(L, "p", er, el, S, D.autocast)
    _save(L, vr, el, el, qd, False)
    out = L.new("attn.bhsd", qd * es)
    o_in = L.new("attn.out", qd * es)  # transpose(1, 2).contiguous()
    L.free(out)
    return o_in, es


def attention_backward(R: LayerReplay, L: Ledger, g: str) -> str | None:
    """`g`: gradient of the block output (el bytes). Returns the gradient of the block input."""
    D = R.D
    el, q_out, kv_out, er = D.el, D.H * D.d, D.kv * D.d, R.e_rope
    go = input_grad(R.lin_b(L, g, "o_proj"))
    if D.attn == "eager":
        gq, gk, gv = _eager_backward(R, L, go, er)
    else:
        rep = _repeats_kv(D)
        kv_saved = q_out if rep else kv_out
        gq = L.new("gq", D.T * q_out * el)
        gk = L.new("gk", D.T * kv_saved * el)
        gv = L.new("gv", D.T * kv_saved * el)
        k_saved, v_saved = ("k.rep.saved", "v.rep.saved") if rep else ("rk.e.saved", "v.saved")
        L.free(go, "rq.e.saved", k_saved, v_saved, "attn.out.saved", "attn.lse")
        if _masked_sdpa(D):
            L.free("attn.mask")
        if er != el:  # the autocast casts of q and k
            gq2, gk2 = L.new("gq2", D.T * q_out * er), L.new("gk2", D.T * kv_saved * er)
            L.free(gq, gk)
            gq, gk = gq2, gk2
        if rep:  # repeat_kv's backward sums the copies of each key/value head
            gk2, gv2 = L.new("gk.sum", D.T * kv_out * er), L.new("gv.sum", D.T * kv_out * el)
            L.free(gk, gv)
            gk, gv = gk2, gv2
    gk = rope_backward(R, L, gk, D.kv, er, el, "rkb")
    gq = rope_backward(R, L, gq, D.H, er, el, "rqb")
    if D.arch.fused:
        gqkv = L.new("gqkv", D.T * (q_out + 2 * kv_out) * el)  # the views' gradients are stacked
        L.free(gq, gk, gv)
        gx = R.lin_b(L, gqkv, "qkv_proj", R.input_grad)
        L.free(gqkv)
        return gx
    total = None
    for grad, name in ((gv, "v_proj"), (gk, "k_proj"), (gq, "q_proj")):
        gx = R.lin_b(L, grad, name, R.input_grad)
        L.free(grad)
        if gx is None:
            continue
        if total is None:
            total = gx
        else:  # autograd sums the branch gradients out of place
            s = L.new("gx." + name, D.T * D.h * R.e["n1"])
            L.free(total, gx)
            total = s
    return total


def _eager_backward(R: LayerReplay, L: Ledger, go: str, er: int) -> tuple[str, str, str]:
    D = R.D
    S, qd, es = D.b * D.H * D.s * D.s, D.T * D.H * D.d, R.e_o
    gbhsd = L.new("g.bhsd", qd * es)  # transpose/contiguous backward
    L.free(go)
    gp = L.new("gp", S * es)  # grad of the probabilities: g @ v^T
    gvr = L.new("gv.rep", qd * es)
    L.free(gbhsd, "p.saved", "v.rep.saved")
    if er != 4 or D.autocast:
        g32 = L.new("gp32", S * 4)
        L.free(gp)
        gp = g32
    gs = L.new("gsm", S * max(es, D.eh))  # softmax backward, in the masked scores' dtype
    L.free(gp, "p32")
    if D.arch.attn_logit_softcap:
        for k in ("gsc4", "gth"):
            L.new(k, S * es)
        L.free(gs, "gsc4", "th")
        gs = L.new("gsc3", S * es)
        L.free("gth")
    gsc = L.new("gsc", S * es)  # * scaling
    L.free(gs)
    gq = L.new("gq", qd * es)
    gkr = L.new("gk.rep", qd * es)
    L.free(gsc, "rq.e.saved", "k.rep.saved" if L.has("k.rep.saved") else "rk.e.saved")
    if D.kv < D.H:  # repeat_kv backward sums the copies
        gk = L.new("gk", D.T * D.kv * D.d * es)
        gv = L.new("gv", D.T * D.kv * D.d * es)
        L.free(gkr, gvr)
    else:
        gk, gv = gkr, gvr
    if es != er:
        gq2, gk2 = L.new("gq2", qd * er), L.new("gk2", D.T * D.kv * D.d * er)
        L.free(gq, gk)
        gq, gk = gq2, gk2
    return gq, gk, gv
