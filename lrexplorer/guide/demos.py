"""The Guide's demonstrations, computed with the real torch (and transformers) code rather than a
copy of their formulas. torch is imported inside each function, so importing this module is free.

Results are plain dataclasses of floats and lists: the page caches them with st.cache_data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VOCAB = 32  # the tiny language model's vocabulary
HIDDEN = 16


@dataclass(frozen=True)
class AccumulationResult:
    n_micro: int
    micro_batch: int
    tokens_per_micro: list[int]  # tokens that count in each micro-batch's loss (padding excluded)
    big_norm: float  # norm of the gradient of one large batch
    trainer_diff: float  # max |accumulated - large batch|, losses divided by the whole batch's token count
    naive_diff: float  # the same, each micro-batch's mean loss divided by n instead
    undivided_ratio: float  # norm of the plain sum of micro-batch gradients / big_norm (forgetting the 1/n)
    dtype: str


def _tiny_lm(seed: int) -> Any:
    """An embedding and a linear head: a language model small enough to run in milliseconds."""
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(VOCAB, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, VOCAB))


def _batch(n_micro: int, micro_batch: int, seq_len: int, seed: int) -> tuple[Any, Any]:
    """Token ids and labels; each sequence has its own length, the rest is padding labelled -100."""
    import torch

    g = torch.Generator().manual_seed(seed + 1)
    rows = n_micro * micro_batch
    ids = torch.randint(0, VOCAB, (rows, seq_len), generator=g)
    labels = ids.roll(-1, dims=1)  # predict the next token
    lengths = torch.randint(2, seq_len + 1, (rows,), generator=g)
    pad = torch.arange(seq_len)[None, :] >= (lengths[:, None] - 1)
    labels[pad] = -100  # ignored by cross_entropy, as the Trainer's collators do with padding
    return ids, labels


def _grads(model: Any) -> Any:
    import torch

    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def accumulation_demo(
    n_micro: int = 4, micro_batch: int = 2, seq_len: int = 12, seed: int = 0, dtype: str = "float32"
) -> AccumulationResult:
    """Gradient of one batch of n*b sequences against n accumulated micro-batches of b.

    Two ways of scaling the micro-batch losses: (1) the Trainer's, the summed token losses divided
    by the token count of the whole accumulated batch (`num_items_in_batch`), which equals the large
    batch up to float rounding; (2) the textbook average of per-micro-batch means, exact only when
    every micro-batch holds the same number of tokens.
    """
    import torch
    import torch.nn.functional as F

    torch_dtype = getattr(torch, dtype)
    model = _tiny_lm(seed).to(torch_dtype)
    ids, labels = _batch(n_micro, micro_batch, seq_len, seed)

    def token_losses(rows: slice) -> Any:
        logits = model(ids[rows])
        return F.cross_entropy(logits.reshape(-1, VOCAB), labels[rows].reshape(-1), ignore_index=-100, reduction="sum")

    total_tokens = int((labels != -100).sum())
    model.zero_grad()
    (token_losses(slice(None)) / total_tokens).backward()
    big = _grads(model).clone()

    micro = [slice(i * micro_batch, (i + 1) * micro_batch) for i in range(n_micro)]
    tokens = [int((labels[s] != -100).sum()) for s in micro]
    model.zero_grad()
    for s in micro:  # backward() adds into .grad: that is the accumulation
        (token_losses(s) / total_tokens).backward()
    trainer = _grads(model).clone()

    model.zero_grad()
    for s, count in zip(micro, tokens):
        (token_losses(s) / count / n_micro).backward()
    naive = _grads(model).clone()

    model.zero_grad()
    for s, count in zip(micro, tokens):
        (token_losses(s) / count).backward()
    undivided = _grads(model).clone()

    big_norm = float(big.norm())
    return AccumulationResult(
        n_micro=n_micro,
        micro_batch=micro_batch,
        tokens_per_micro=tokens,
        big_norm=big_norm,
        trainer_diff=float((trainer - big).abs().max()),
        naive_diff=float((naive - big).abs().max()),
        undivided_ratio=float(undivided.norm()) / big_norm,
        dtype=dtype,
    )


@dataclass(frozen=True)
class ClipResult:
    before: list[float]
    after: list[float]
    norm_before: float  # what clip_grad_norm_ returns and the Trainer logs as grad_norm
    norm_after: float
    clipped: bool


def clip_demo(gradient: list[float], max_norm: float) -> ClipResult:
    """torch.nn.utils.clip_grad_norm_ on one parameter per component, as the Trainer calls it.

    One parameter per component shows that the norm is global: the components of different
    parameters are scaled together, by the same factor.
    """
    import torch

    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in gradient]
    for p, g in zip(params, gradient):
        p.grad = torch.tensor([float(g)], dtype=torch.float64)
    norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    after = [float(p.grad.item()) for p in params if p.grad is not None]
    norm_after = float(torch.linalg.vector_norm(torch.tensor(after)))
    return ClipResult(
        before=[float(g) for g in gradient],
        after=after,
        norm_before=norm,
        norm_after=norm_after,
        clipped=any(abs(a - float(b)) > 0 for a, b in zip(after, gradient)),
    )


@dataclass(frozen=True)
class DecayEffect:
    gradient: float  # size of the loss gradient, whose sign alternates (noise around a minimum)
    adam_l2: float  # how far the decay pulled the weight towards zero with torch Adam(weight_decay=...)
    adamw: float  # the same with torch AdamW


def decay_demo(
    weight_decay: float,
    gradients: tuple[float, ...] = (1e-3, 1e-1, 1.0, 10.0),
    lr: float = 1e-3,
    steps: int = 200,
    start: float = 1.0,
) -> list[DecayEffect]:
    """One weight of 1.0 stepped by torch Adam (decay as an L2 gradient) and AdamW, with and without decay.

    The loss gradient alternates between +g and -g, as near a minimum, so without decay the weight
    stays where it is. The decay's pull is the difference of the two runs: Adam divides the L2 term
    by the gradient's running size, so its pull fades as g grows; AdamW's is lr * weight_decay * w
    per update whatever g is.
    """
    import torch

    def run(cls: type, decay: float, g: float) -> float:
        w = torch.nn.Parameter(torch.tensor([start], dtype=torch.float64))
        opt = cls([w], lr=lr, weight_decay=decay)
        for i in range(steps):
            w.grad = torch.tensor([g if i % 2 == 0 else -g], dtype=torch.float64)
            opt.step()
        return float(w.item())

    def pull(cls: type, g: float) -> float:
        return run(cls, 0.0, g) - run(cls, weight_decay, g)

    return [
        DecayEffect(gradient=g, adam_l2=pull(torch.optim.Adam, g), adamw=pull(torch.optim.AdamW, g)) for g in gradients
    ]


@dataclass(frozen=True)
class DecayGroups:
    model: str
    decayed: list[str]
    not_decayed: list[str]


def decay_parameter_groups() -> DecayGroups:
    """Which parameters of a small Llama the Trainer decays, by transformers' own rule.

    The model is built on the meta device: only names and shapes exist, so it costs no memory.
    `get_decay_parameter_names` does not use the Trainer instance, hence the unbound call.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Trainer

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        attention_bias=True,
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    decayed = set(Trainer.get_decay_parameter_names(None, model))  # type: ignore[arg-type]  # uses no state
    names = [n for n, _ in model.named_parameters()]
    return DecayGroups(
        model="LlamaForCausalLM, 2 layers, attention_bias=True",
        decayed=[n for n in names if n in decayed],
        not_decayed=[n for n in names if n not in decayed],
    )
