"""Sliding-window layers read from a config.json as transformers' config classes and default cache read them.

Truth: `transformers.cache_utils.get_layer_types_and_kwargs` on the config class transformers builds from the
same dict (what `DynamicCache` makes one layer of the cache from), never our own reading.
"""

from __future__ import annotations

import warnings

import pytest
from transformers import AutoConfig
from transformers.cache_utils import get_layer_types_and_kwargs

from lrexplorer.catalogues.architecture import from_config
from lrexplorer.catalogues.presets import load_presets
from lrexplorer.core.fields import FieldError

SMALL = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "eos_token_id": 1,
    "pad_token_id": 0,
}
CONFIGS = {
    "mistral without the key (MistralConfig's 4096)": {"model_type": "mistral"},
    "mistral null": {"model_type": "mistral", "sliding_window": None},
    "mistral 64": {"model_type": "mistral", "sliding_window": 64},
    "qwen2 sliding_window without use_sliding_window": {"model_type": "qwen2", "sliding_window": 32},
    "qwen2 use_sliding_window from layer 1": {
        "model_type": "qwen2",
        "use_sliding_window": True,
        "max_window_layers": 1,
        "sliding_window": 32,
    },
    "qwen2 use_sliding_window, max_window_layers past the layers": {"model_type": "qwen2", "use_sliding_window": True},
    "gemma2 alternating": {"model_type": "gemma2", "head_dim": 16},
    "phi3 64": {"model_type": "phi3", "sliding_window": 64},
    "llama explicit layer_types": {
        "model_type": "llama",
        "layer_types": ["full_attention", "sliding_attention"] * 2,
        "sliding_window": 8,
    },
}


def transformers_layers(config: dict) -> tuple[list[str], set[int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k != "architectures"})
    types, kwargs = get_layer_types_and_kwargs(cfg)
    return list(types), {k["sliding_window"] for k in kwargs if k.get("sliding_window") is not None}


@pytest.mark.parametrize("name", sorted(load_presets()))
def test_every_preset_reads_its_layers_as_the_cache_does(name: str) -> None:
    config = load_presets()[name].config
    types, windows = transformers_layers(config)
    arch = from_config(config)
    assert list(arch.layer_types) == types
    assert ({arch.sliding_window} if arch.sliding_window is not None else set()) == windows


def test_qwen25_published_window_is_not_used_and_mistral_default_is() -> None:
    qwen = load_presets()["Qwen2.5-0.5B"].config
    assert qwen["sliding_window"] == 32768 and from_config(qwen).sliding_window is None
    assert from_config({"model_type": "mistral", **SMALL}).sliding_window == 4096


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_configs_read_their_layers_as_the_cache_does(name: str) -> None:
    config = {**SMALL, **CONFIGS[name]}
    types, windows = transformers_layers(config)
    arch = from_config(config)
    assert list(arch.layer_types) == types, name
    assert ({arch.sliding_window} if arch.sliding_window is not None else set()) == windows, name


@pytest.mark.parametrize("bad", [{"sliding_window": 0}, {"sliding_window": "4k"}, {"layer_types": ["full_attention"]}])
def test_bad_window_or_layer_types_name_the_model(bad: dict) -> None:
    with pytest.raises(FieldError) as err:
        from_config({"model_type": "mistral", **SMALL, **bad})
    assert err.value.field == "model"
