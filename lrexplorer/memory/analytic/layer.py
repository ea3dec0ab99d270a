"""Replay of one decoder layer's forward and backward on a Ledger, op by op, as the transformers
code runs it (Llama, Mistral, Qwen2, Phi-3, Gemma-2).

The forward leaves behind exactly what autograd saves; the backward frees it again while it creates
the gradients. Both record the peak. Tensors of one number per token are ignored unless saved.
"""

from __future__ import annotations

from lrexplorer.memory.analytic.attention import attention_backward, attention_forward
from lrexplorer.memory.analytic.dims import Dims
from lrexplorer.memory.analytic.ledger import Ledger
from lrexplorer.memory.analytic.linear import LinearRecord, WeightGrads, input_grad, linear_backward, linear_forward


class LayerReplay:
    def __init__(self, D: Dims, grads: WeightGrads, input_grad: bool = True) -> None:
        self.D = D
        self.grads = grads
        self.trainable = not D.lora
        # Under LoRA the first layer's input (a frozen embedding's output) needs no gradient, so the
        # ops before its first adapter are not recorded and its input gradient is never computed.
        self.input_grad = input_grad
        self.recs: dict[str, LinearRecord] = {}
        self.e: dict[str, int] = {}  # output dtype bytes of each norm
        self.e_rope = D.el
        self.e_o = D.el

    # ------------------------------------------------------------------ linears
    def lin_f(self, L: Ledger, x: str, e_in: int, name: str, d_in: int, d_out: int) -> str:
        out, rec = linear_forward(L, self.D, x, e_in, name, d_in, d_out, name, self.trainable)
        self.recs[name] = rec
        return out

    def lin_b(self, L: Ledger, g: str, name: str, need_input_grad: bool = True) -> str | None:
        return linear_backward(L, self.D, g, self.recs[name], self.grads, need_input_grad)

    # ------------------------------------------------------------------ RMSNorm
    def norm_forward(self, L: Ledger, x: str, e_in: int, t: str, recorded: bool = True) -> str:
        """RMSNorm. Saves x (as float32) and rsqrt; x * rsqrt only when the weight is trained (its
        gradient needs it). Not `recorded` (no input or weight needs a gradient): saves nothing."""
        out = self._norm_forward(L, x, e_in, t)
        keep_xr = self.trainable and recorded
        if not keep_xr:
            L.free(t + (".xr" if self.D.arch.gemma_norm or e_in == 4 else ".xre"))
        if not recorded:
            L.free(t + ".x32", t + ".r")
        self.saved_xr = getattr(self, "saved_xr", {})
        self.saved_xr[t] = keep_xr
        return out

    def _norm_forward(self, L: Ledger, x: str, e_in: int, t: str) -> str:
        D = self.D
        X4 = D.T * D.h * 4
        if e_in == 4:
            L.alias(t + ".x32", x)  # x.to(float32) is x itself: saved
        else:
            L.new(t + ".x32", X4)
        L.new(t + ".p", X4)  # x.pow(2), freed once averaged
        L.free(t + ".p")
        L.new(t + ".r", 4 * D.T)  # rsqrt(mean + eps), saved
        L.new(t + ".xr", X4)
        if D.arch.gemma_norm:  # Gemma: (x * r) * (1 + w) in float32, cast once at the end
            L.new(t + ".o32", X4)
            self.e[t] = e_in
            if e_in != 4:
                out = L.new(t + ".out", D.T * D.h * e_in)
                L.free(t + ".o32")
                return out
            return t + ".o32"
        if e_in != 4:  # Llama: x * r cast back to the input dtype (saved), then times the weight
            L.new(t + ".xre", D.T * D.h * e_in)
            L.free(t + ".xr")
        self.e[t] = max(D.ew, e_in)
        return L.new(t + ".out", D.T * D.h * self.e[t])

    def norm_backward(self, L: Ledger, g: str, e_in: int, t: str) -> str:
        D = self.D
        X4, Xo = D.T * D.h * 4, D.T * D.h * self.e[t]
        if D.arch.gemma_norm:
            g32 = L.new(t + ".g32", X4) if e_in != 4 else g
            if self.saved_xr[t]:
                L.new(t + ".gw", X4)  # g * xr, summed into the weight's gradient
                L.free(t + ".gw", t + ".xr")
            gxr = L.new(t + ".gxr", X4)
            L.free(g32 if g32 != g else None)
        else:
            if self.saved_xr[t]:
                L.new(t + ".gw", Xo)
                L.free(t + ".gw", t + (".xre" if e_in != 4 else ".xr"))
            gxr = L.new(t + ".gxr", Xo)
            if e_in != 4:
                g32 = L.new(t + ".gxr32", X4)
                L.free(gxr)
                gxr = g32
        ga = L.new(t + ".ga", X4)  # g * r
        L.new(t + ".gr", X4)  # g * x, summed for r's gradient
        L.free(t + ".gr", gxr, t + ".r")
        for k in ("gp", "t1", "t2"):  # mean and pow backward: expand / h, then 2 * x * g
            L.new(t + "." + k, X4)
        gb = L.new(t + ".t3", X4)
        L.free(t + ".gp", t + ".t1", t + ".t2")
        gx = L.new(t + ".gx32", X4)
        L.free(ga, gb, t + ".x32")
        if e_in != 4:
            out = L.new(t + ".gx", D.T * D.h * e_in)
            L.free(gx)
            return out
        return gx

    # ------------------------------------------------------------------ MLP
    def mlp_forward(self, L: Ledger, x: str, e_x: int) -> str:
        D = self.D
        I = D.T * D.i * D.el
        if D.arch.fused:  # Phi-3: gate and up are halves of one output
            gu = self.lin_f(L, x, e_x, "gate_up_proj", D.h, 2 * D.i)
            L.alias("gate", gu), L.alias("up", gu)
            L.free(gu)
        else:
            for name, proj in (("gate", "gate_proj"), ("up", "up_proj")):
                out = self.lin_f(L, x, e_x, proj, D.h, D.i)
                L.alias(name, out)
                L.free(out)
        L.free(x)
        L.new("act", I)  # silu / gelu(gate): saves gate
        L.new("prod", I)  # act * up: saves both
        out = self.lin_f(L, "prod", D.el, "down_proj", D.i, D.h)
        L.free("prod")
        return out

    def mlp_backward(self, L: Ledger, g: str) -> str:
        D = self.D
        I = D.T * D.i * D.el
        gp = self.lin_b(L, g, "down_proj")
        g_act = L.new("g.act", I)
        g_up = L.new("g.up", I)
        L.free(gp, "act", "up")  # the product's backward frees what it saved
        g_gate = L.new("g.gate", I)  # activation backward
        L.free(g_act, "gate")
        if D.arch.fused:
            ggu = L.new("g.gu", 2 * I)
            L.free(g_up, g_gate)
            gx = input_grad(self.lin_b(L, ggu, "gate_up_proj"))
            L.free(ggu)
            return gx
        gx_up = self.lin_b(L, g_up, "up_proj")
        L.free(g_up)
        gx_gate = self.lin_b(L, g_gate, "gate_proj")
        L.free(g_gate)
        total = L.new("g.mlp_in", D.T * D.h * self.e["n2"])
        L.free(gx_up, gx_gate)
        return total

    # ------------------------------------------------------------------ the layer
    def forward(self, L: Ledger, x: str) -> str:
        """`x` (the layer input, e=D.eh) stays owned by the caller. Returns the output's name."""
        D = self.D
        eh = D.eh
        n1 = self.norm_forward(L, x, eh, "n1", recorded=self.input_grad)
        a = attention_forward(self, L, n1, self.e["n1"])
        if D.arch.norms_per_layer == 4:  # Gemma-2 normalises the block output before the residual add
            a2 = self.norm_forward(L, a, D.el, "na")
            L.free(a)
            a = a2
        h1 = L.new("h1", D.T * D.h * eh)
        L.free(a)
        n2 = self.norm_forward(L, h1, eh, "n2")
        m = self.mlp_forward(L, n2, self.e["n2"])
        if D.arch.norms_per_layer == 4:
            m2 = self.norm_forward(L, m, D.el, "nm")
            L.free(m)
            m = m2
        out = L.new("h2", D.T * D.h * eh)
        L.free(m, h1)
        return out

    def backward(self, L: Ledger, g: str) -> str:
        """`g`: gradient of the layer output (eh bytes), freed here. Returns the input's gradient."""
        D = self.D
        eh, el = D.eh, D.el
        gm = self._branch_grad(L, g, "gm", "nm")
        gn2 = self.mlp_backward(L, gm)
        if gm != g:
            L.free(gm)
        gh1n = self.norm_backward(L, gn2, eh, "n2")
        L.free(gn2)
        gh1 = L.new("gh1", D.T * D.h * eh)  # residual branch + norm branch
        L.free(gh1n, g)
        ga = self._branch_grad(L, gh1, "ga", "na")
        gn1 = attention_backward(self, L, ga)
        if ga != gh1:
            L.free(ga)
        if gn1 is None:  # the first layer under LoRA: no gradient for its input
            L.free(gh1)
            return L.new("gx", 0)
        gxn = self.norm_backward(L, gn1, eh, "n1")
        L.free(gn1)
        gx = L.new("gx", D.T * D.h * eh)
        L.free(gxn, gh1)
        del el
        return gx

    def _branch_grad(self, L: Ledger, g: str, name: str, post_norm: str) -> str:
        """Gradient reaching a block's output from the residual add (cast to el if the stream is wider)."""
        D = self.D
        if D.arch.norms_per_layer == 4:
            gc = g
            if D.eh != D.el:
                gc = L.new(name + ".c", D.T * D.h * D.el)
            out = self.norm_backward(L, gc, D.el, post_norm)
            if gc != g:
                L.free(gc)
            return out
        if D.eh != D.el:
            return L.new(name + ".c", D.T * D.h * D.el)
        return g
