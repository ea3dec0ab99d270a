"""Model architectures for the memory explorer, checked against what transformers instantiates.

Every parameter count here is compared with a real transformers model built from the same config on
the meta device (no memory, no download); nothing is compared with numbers our code produced.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from lrexplorer.catalogues.architecture import SUPPORTED_MODEL_TYPES, from_config
from lrexplorer.catalogues.presets import find_preset, load_presets, preset_names
from lrexplorer.core.fields import FieldError
from lrexplorer.memory.model_source import resolve_model

# Open models people often fine-tune, six families from 135M to 70B parameters: a user types these short
# names, so each must resolve to a bundled preset.
WIDELY_TUNED = (
    "SmolLM2-135M",
    "SmolLM2-360M",
    "SmolLM2-1.7B",
    "Qwen2.5-0.5B",
    "Qwen2.5-1.5B",
    "Qwen2.5-7B",
    "Llama-3.2-1B",
    "Llama-3.2-3B",
    "Llama-3.1-8B",
    "Llama-3.1-70B",
    "Mistral-7B",
    "Gemma-2-2B",
    "Gemma-2-9B",
    "Phi-3-mini",
)


def meta_model(config: dict) -> torch.nn.Module:
    cfg = AutoConfig.for_model(**{k: v for k, v in config.items() if k not in ("architectures", "torch_dtype")})
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(cfg)


def real_counts(model: torch.nn.Module) -> tuple[int, int, int]:
    """(all parameters, those in decoder-layer Linears, the vocabulary matrices) as transformers has them."""
    total = sum(p.numel() for p in model.parameters())
    linear = sum(
        m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and ".layers." in n
    )
    return total, linear, model.get_input_embeddings().weight.numel()


def test_widely_tuned_models_are_all_bundled() -> None:
    for name in WIDELY_TUNED:
        assert find_preset(name) is not None, name


@pytest.mark.parametrize("name", preset_names())
def test_preset_parameter_count_equals_transformers(name: str) -> None:
    preset = load_presets()[name]
    arch = from_config(preset.config, name)
    total, linear, embedding = real_counts(meta_model(preset.config))
    assert arch.n_params == total
    assert arch.num_layers * arch.layer_linear_params == linear
    assert arch.embedding_params == embedding


# The smallest config each family accepts: everything else comes from the config class' defaults,
# which our reader must reproduce.
SPARSE = {
    "llama": {
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 300,
    },
    "mistral": {
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 300,
        "num_key_value_heads": 2,
    },  # its default of 8 KV heads would not divide 4 heads
    "qwen2": {
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 300,
        "num_key_value_heads": 2,
    },
    "gemma2": {
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 300,
        "head_dim": 16,
        "num_key_value_heads": 2,
    },
    "phi3": {
        "hidden_size": 64,
        "intermediate_size": 96,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 300,
        "pad_token_id": 0,
    },
}


@pytest.mark.parametrize("model_type", SUPPORTED_MODEL_TYPES)
def test_sparse_config_means_what_transformers_makes_of_it(model_type: str) -> None:
    config = {"model_type": model_type, **SPARSE[model_type]}
    assert from_config(config).n_params == real_counts(meta_model(config))[0]


@pytest.mark.parametrize("model_type", SUPPORTED_MODEL_TYPES)
def test_family_defaults_equal_the_config_class_defaults(model_type: str) -> None:
    # Only the model type: every dimension is the config class' default.
    config = {"model_type": model_type}
    if model_type == "phi3":
        config["pad_token_id"] = 0  # its default pad id is outside a tiny vocabulary check; irrelevant here
    cfg = AutoConfig.for_model(**config)
    arch = from_config(config)
    assert (arch.vocab_size, arch.hidden_size, arch.intermediate_size, arch.num_layers, arch.num_heads) == (
        cfg.vocab_size,
        cfg.hidden_size,
        cfg.intermediate_size,
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
    )
    assert arch.num_kv_heads == (cfg.num_key_value_heads or cfg.num_attention_heads)
    assert arch.tie_word_embeddings == bool(cfg.tie_word_embeddings)


@pytest.mark.parametrize(
    "model_type, words",
    [
        ("mixtral", "mixture-of-experts"),
        ("qwen2_moe", "mixture-of-experts"),
        ("t5", "encoder-decoder"),
        ("gpt2", "not supported yet"),
    ],
)
def test_unmodelled_architectures_are_refused_by_name(model_type: str, words: str) -> None:
    config = AutoConfig.for_model(model_type).to_dict()
    with pytest.raises(FieldError, match=words) as info:
        from_config(config)
    assert info.value.field == "model"


def test_resolve_by_name_alias_and_hub_id() -> None:
    assert resolve_model("smollm2-135m").label == "SmolLM2-135M"
    assert resolve_model("Mistral-7B").label == "Mistral-7B-v0.3"
    assert resolve_model("meta-llama/Llama-3.1-8B").kind == "preset"  # a bundled Hub id needs no network


def test_local_config_file_and_folder(tmp_path) -> None:
    preset = find_preset("Qwen2.5-0.5B")
    (tmp_path / "config.json").write_text(json.dumps(preset.config))
    for spec in (str(tmp_path / "config.json"), str(tmp_path)):
        source = resolve_model(spec)
        assert source.kind == "path"
        assert source.architecture.n_params == real_counts(meta_model(preset.config))[0]


@pytest.mark.parametrize(
    "content, words",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"model_type": "llama", "hidden_size": "big"}), "'hidden_size' must be a positive integer"),
        (
            json.dumps({"model_type": "llama", "num_attention_heads": 32, "num_key_value_heads": 5}),
            "num_key_value_heads",
        ),
        (json.dumps({"hidden_size": 64}), "model_type"),
    ],
)
def test_bad_local_configs_name_what_is_wrong(tmp_path, content: str, words: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(FieldError, match=words):
        resolve_model(str(path))


def test_missing_path_and_unknown_name() -> None:
    with pytest.raises(FieldError, match="no config file"):
        resolve_model("./does/not/exist.json")
    with pytest.raises(FieldError, match=r"unknown model 'llama-9000'.*SmolLM2-135M"):
        resolve_model("llama-9000")


def test_hub_id_offline_says_so(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FieldError, match=r"cannot be reached.*offline.*preset") as info:
        resolve_model("someone/some-model-that-is-not-bundled")
    assert info.value.field == "model"
