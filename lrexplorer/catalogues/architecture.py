"""A decoder-only transformer's shape, read from a transformers `config.json` without importing torch.

The memory estimate needs only dimensions. Reading them ourselves (rather than through
`transformers.AutoConfig`, which imports torch) keeps the estimate instant; the defaults below are
those of the transformers config classes, so a sparse `config.json` means what transformers makes
of it (tests build every family on the meta device and compare parameter counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lrexplorer.core.fields import FieldError

# Per model_type: the config-class defaults that matter here, and how the family differs from Llama.
#   qkv_bias: q/k/v projections carry a bias regardless of `attention_bias` (Qwen2 hard-codes it).
#   norms: RMSNorms per decoder layer. fused: Phi-3 packs q/k/v and gate/up into single Linears.
#   gemma_norm: the norm computes in float32 and casts once at the end (Gemma), unlike Llama's.
FAMILIES: dict[str, dict[str, Any]] = {
    "llama": {
        "defaults": {
            "vocab_size": 32000,
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "tie_word_embeddings": False,
            "attention_bias": False,
            "mlp_bias": False,
            "hidden_act": "silu",
        },
        "norms": 2,
    },
    "mistral": {
        "defaults": {
            "vocab_size": 32000,
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
            "sliding_window": 4096,
        },
        "norms": 2,
        "no_bias": True,
    },
    "qwen2": {
        "defaults": {
            "vocab_size": 151936,
            "hidden_size": 4096,
            "intermediate_size": 22016,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
            # read only with use_sliding_window (default False), from layer max_window_layers on
            "sliding_window": 4096,
            "max_window_layers": 28,
        },
        "norms": 2,
        "qkv_bias": True,
        "no_bias": True,
    },
    "gemma2": {
        "defaults": {
            "vocab_size": 256000,
            "hidden_size": 2304,
            "intermediate_size": 9216,
            "num_hidden_layers": 26,
            "num_attention_heads": 8,
            "num_key_value_heads": 4,
            "head_dim": 256,
            "tie_word_embeddings": True,
            "attention_bias": False,
            "hidden_activation": "gelu_pytorch_tanh",
            "final_logit_softcapping": 30.0,
            "attn_logit_softcapping": 50.0,
            "sliding_window": 4096,  # every other layer, starting with the first
        },
        "norms": 4,
        "gemma_norm": True,
        "embed_scale": True,
        "sdpa": False,
    },
    "phi3": {
        "defaults": {
            "vocab_size": 32064,
            "hidden_size": 3072,
            "intermediate_size": 8192,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "tie_word_embeddings": False,
            "hidden_act": "silu",
        },
        "norms": 2,
        "fused": True,
        "no_bias": True,
        "rope_cat": True,
    },
}
SUPPORTED_MODEL_TYPES = tuple(FAMILIES)

# Keys that mark a mixture-of-experts config in transformers (Mixtral, Qwen2-MoE, DeepSeek, OLMoE, ...).
_MOE_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size", "num_experts_per_tok")


@dataclass(frozen=True)
class Linear:
    """One nn.Linear of a decoder layer: its module name (what LoRA `target_modules` matches) and shape."""

    name: str
    d_in: int
    d_out: int
    bias: bool


@dataclass(frozen=True)
class Architecture:
    """Everything about a model the memory estimate uses; built by `from_config`."""

    model_type: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool
    linears: tuple[Linear, ...]  # one decoder layer's Linears, in forward order
    norms_per_layer: int
    gemma_norm: bool = False
    embed_scale: bool = False
    fused: bool = False
    final_logit_softcap: float | None = None
    attn_logit_softcap: float | None = None
    supports_sdpa: bool = True
    rope_cat: bool = False  # the rotary embedding ends in a torch.cat (Phi-3's partial-rotary code path)
    name: str = ""
    # Per decoder layer, "full_attention" or "sliding_attention" (attending to the last sliding_window
    # tokens), as the transformers config class and its default cache read them (see `layer_types`).
    layer_types: tuple[str, ...] = ()
    sliding_window: int | None = None

    # ------------------------------------------------------------------ parameter counts
    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        """Parameters of the output projection that are not shared with the embedding."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    @property
    def layer_linear_params(self) -> int:
        return sum(lin.d_in * lin.d_out + (lin.d_out if lin.bias else 0) for lin in self.linears)

    @property
    def layer_params(self) -> int:
        return self.layer_linear_params + self.norms_per_layer * self.hidden_size

    @property
    def n_params(self) -> int:
        """All parameters, counted once each (a tied embedding counts once), as `model.parameters()` yields."""
        return self.embedding_params + self.lm_head_params + self.num_layers * self.layer_params + self.hidden_size

    @property
    def default_attn_implementation(self) -> str:
        """What transformers picks when none is asked for: sdpa where the model supports it, else eager."""
        return "sdpa" if self.supports_sdpa else "eager"

    def linear_names(self) -> tuple[str, ...]:
        return tuple(lin.name for lin in self.linears)


def _get(config: dict[str, Any], defaults: dict[str, Any], key: str) -> Any:
    value = config.get(key)
    return defaults.get(key) if value is None else value


def _positive_int(config: dict[str, Any], defaults: dict[str, Any], key: str) -> int:
    value = _get(config, defaults, key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        shown = "missing" if value is None else repr(value)
        raise FieldError("model", f"config field {key!r} must be a positive integer, got {shown}")
    return value


def unsupported_reason(config: dict[str, Any]) -> str | None:
    """Why the estimator cannot model this config (None when it can)."""
    model_type = config.get("model_type")
    if config.get("is_encoder_decoder"):
        return f"encoder-decoder models ({model_type or 'this config'}) are not supported yet"
    if any(config.get(k) for k in _MOE_KEYS):
        return f"mixture-of-experts models ({model_type or 'this config'}) are not supported yet"
    if not model_type:
        return "the config has no 'model_type' field, so the architecture is unknown"
    if model_type not in FAMILIES:
        return f"model type {model_type!r} is not supported yet (supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
    return None


FULL, SLIDING = "full_attention", "sliding_attention"


def layer_types(config: dict[str, Any], num_layers: int) -> tuple[tuple[str, ...], int | None]:
    """(type of each decoder layer, the sliding window) as the transformers config classes set them and
    `cache_utils.get_layer_types_and_kwargs` reads them: an explicit `layer_types` wins; otherwise Mistral
    (and Phi-3, Llama, when the config sets one) slides every layer over `sliding_window` (Mistral's default
    4096; null: none), Qwen2 only with `use_sliding_window`, from layer `max_window_layers` on (so Qwen2.5's
    published sliding_window 32768 is not used), Gemma-2 every other layer from the first."""
    model_type = config["model_type"]
    d = FAMILIES[model_type]["defaults"]
    window = config["sliding_window"] if "sliding_window" in config else d.get("sliding_window")
    if model_type == "qwen2" and not config.get("use_sliding_window", False):
        window = None
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window <= 0):
        raise FieldError("model", f"config field 'sliding_window' must be a positive integer or null, got {window!r}")
    explicit = config.get("layer_types")
    if explicit is not None:
        if (
            not isinstance(explicit, list)
            or len(explicit) != num_layers
            or not all(isinstance(t, str) for t in explicit)
        ):
            raise FieldError("model", f"config field 'layer_types' must list one type per layer ({num_layers})")
        types = tuple(explicit)
    elif model_type == "gemma2":
        types = tuple(SLIDING if i % 2 == 0 else FULL for i in range(num_layers))
    elif model_type == "qwen2":
        first = _get(config, d, "max_window_layers")
        types = tuple(SLIDING if window is not None and i >= first else FULL for i in range(num_layers))
    else:
        types = (SLIDING if window is not None else FULL,) * num_layers
    return types, window if SLIDING in types else None


def from_config(config: dict[str, Any], name: str = "") -> Architecture:
    """The architecture a transformers config dict describes; FieldError if it is not modelled."""
    if not isinstance(config, dict):
        raise FieldError("model", "a model config must be a JSON object")
    reason = unsupported_reason(config)
    if reason:
        raise FieldError("model", reason)
    family = FAMILIES[config["model_type"]]
    d = family["defaults"]
    h = _positive_int(config, d, "hidden_size")
    heads = _positive_int(config, d, "num_attention_heads")
    kv = config.get("num_key_value_heads") or d.get("num_key_value_heads") or heads
    if not isinstance(kv, int) or kv <= 0 or heads % kv:
        raise FieldError(
            "model", f"config field 'num_key_value_heads' must divide num_attention_heads ({heads}), got {kv!r}"
        )
    head_dim = config.get("head_dim") or d.get("head_dim") or h // heads
    if not isinstance(head_dim, int) or head_dim <= 0:
        raise FieldError("model", f"config field 'head_dim' must be a positive integer, got {head_dim!r}")
    inter = _positive_int(config, d, "intermediate_size")
    no_bias = family.get("no_bias", False)
    attn_bias = False if no_bias else bool(_get(config, d, "attention_bias"))
    qkv_bias = family.get("qkv_bias", False) or attn_bias
    mlp_bias = False if no_bias else bool(_get(config, d, "mlp_bias"))
    q, kvd = heads * head_dim, kv * head_dim
    linears: tuple[Linear, ...]
    if family.get("fused"):
        linears = (
            Linear("qkv_proj", h, q + 2 * kvd, qkv_bias),
            Linear("o_proj", q, h, attn_bias),
            Linear("gate_up_proj", h, 2 * inter, mlp_bias),
            Linear("down_proj", inter, h, mlp_bias),
        )
    else:
        linears = (
            Linear("q_proj", h, q, qkv_bias),
            Linear("k_proj", h, kvd, qkv_bias),
            Linear("v_proj", h, kvd, qkv_bias),
            Linear("o_proj", q, h, attn_bias),
            Linear("gate_proj", h, inter, mlp_bias),
            Linear("up_proj", h, inter, mlp_bias),
            Linear("down_proj", inter, h, mlp_bias),
        )
    tie = _get(config, d, "tie_word_embeddings")
    num_layers = _positive_int(config, d, "num_hidden_layers")
    types, window = layer_types(config, num_layers)
    return Architecture(
        model_type=config["model_type"],
        vocab_size=_positive_int(config, d, "vocab_size"),
        hidden_size=h,
        intermediate_size=inter,
        num_layers=num_layers,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        tie_word_embeddings=bool(tie),
        linears=linears,
        norms_per_layer=family["norms"],
        gemma_norm=family.get("gemma_norm", False),
        embed_scale=family.get("embed_scale", False),
        fused=family.get("fused", False),
        # An explicit null switches soft-capping off, so only a missing key takes the default.
        final_logit_softcap=config.get("final_logit_softcapping", d.get("final_logit_softcapping")),
        attn_logit_softcap=config.get("attn_logit_softcapping", d.get("attn_logit_softcapping")),
        supports_sdpa=family.get("sdpa", True),
        rope_cat=family.get("rope_cat", False),
        name=name,
        layer_types=types,
        sliding_window=window,
    )
