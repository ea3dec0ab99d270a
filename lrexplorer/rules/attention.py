"""Rules of attention, and the attention a run resolves to (`auto` decided once, here, for the worker and the
exports): the newest flash kernel that can run, else sdpa. `attention_note` describes that choice for the
pre-flight; it is a report of what will run, not a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrexplorer.core.facts import Facts
from lrexplorer.core.groups import MEMORY
from lrexplorer.core.kernels import FLASH, KERNELS, best_flash, is_flash, kernel_problem, sdpa_backend
from lrexplorer.rules.rule import BOTH, Subject, advice, half, refusal


@refusal("attn_implementation", tools=BOTH)
def flash_kernel_runs_here(s: Subject) -> str | None:
    """A flash kernel without its package, a GPU it runs on, or 16-bit precision."""
    name = s.values["attn_implementation"]
    if not is_flash(name):
        return None
    # A run checks this machine's packages and GPU; an estimate assumes the package and its GPU is checked apart.
    installed = s.facts.installed_kernels if s.facts is not None else frozenset(FLASH)
    capability = None if s.on_cpu else s.capability or KERNELS[name].min_capability
    problem = kernel_problem(name, installed, capability, half(s.values), s.where)
    return f"{problem}; use sdpa or auto" if problem else None


@refusal("attn_implementation", tools=(MEMORY,), needs=("arch",))
def sdpa_supported_by_model(s: Subject) -> str | None:
    """sdpa for a model whose attention needs eager or flash attention."""
    assert s.arch is not None
    name = s.values["attn_implementation"] or s.arch.default_attn_implementation
    if name == "sdpa" and not s.arch.supports_sdpa:
        return (
            f"{s.arch.model_type} does not support sdpa (its attention soft-capping needs eager or flash_attention_2)"
        )
    return None


@advice("info", "attn_implementation")
def eager_keeps_the_scores(s: Subject) -> str | None:
    """eager attention asked for."""
    if s.values["attn_implementation"] == "eager":
        return (
            "eager attention keeps the full attention matrix (batch x heads x length²) for the backward pass; "
            "sdpa computes the same result with far less memory."
        )
    return None


def _capability(values: Mapping[str, Any], facts: Facts) -> tuple[int, int] | None:
    return None if facts.on_cpu(values["use_cpu"]) else facts.first_capability


def resolve_attention(values: Mapping[str, Any], facts: Facts) -> str:
    """The attention implementation to load the model with (`auto` decided here, once): the newest flash
    kernel that can run, else sdpa."""
    wanted = values["attn_implementation"]
    if wanted != "auto":
        return str(wanted)
    return best_flash(facts.installed_kernels, _capability(values, facts), half(values)) or "sdpa"


def attention_note(values: Mapping[str, Any], facts: Facts) -> str:
    """What the run's attention will be, the SDPA backend when it is sdpa, and the kernels that cannot run."""
    cap, is_half = _capability(values, facts), half(values)
    chosen = resolve_attention(values, facts)
    text = f"Attention: {chosen}" + (" (auto)" if values["attn_implementation"] == "auto" else "")
    if chosen == "sdpa":
        padded = not values.get("padding_free") and not values.get("packing")
        text += f", SDPA backend {sdpa_backend(cap, is_half, padded)}"
    where = "this machine trains on the CPU" if cap is None else f"the GPU has compute capability {cap[0]}.{cap[1]}"
    blocked = [kernel_problem(n, facts.installed_kernels, cap, is_half, where) for n in FLASH]
    unavailable = [b for b in blocked if b]
    if unavailable:
        text += ". Not available here: " + "; ".join(unavailable)
    return text + "."
