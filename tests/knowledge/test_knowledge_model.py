"""The shipped base model of the knowledge lab: loadable the Hub way, small, and able to read.

The weights are what `python -m lrexplorer.knowledge.pretrain` wrote (float16 safetensors). Re-running
the pre-training takes minutes, too long for the suite, so the test states what the weights must do
instead: answer reading exercises about people it never saw (drawn with a seed the pre-training did not
use) well above chance.
"""

from __future__ import annotations

import json

import pytest

from lrexplorer.knowledge import assets
from lrexplorer.knowledge.corpus import PretrainCorpus
from lrexplorer.knowledge.pretrain import MODEL_CONFIG, check

READING_BAR = 0.65  # chance is 0.25 (four candidates); the shipped weights (all 500 steps) measured 0.795 on these 200
CHECK_SEED = 12345  # not the pre-training seed: fresh people, fresh wordings


@pytest.fixture(scope="module")
def shipped():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(assets.MODEL_DIR))
    model = AutoModelForCausalLM.from_pretrained(str(assets.MODEL_DIR))
    return model, tokenizer


def test_weights_ship_in_float16_safetensors_with_the_script_config(shipped):
    from safetensors import safe_open

    model, tokenizer = shipped
    with safe_open(str(assets.MODEL_DIR / "model.safetensors"), framework="pt") as f:
        dtypes = {str(f.get_slice(k).get_dtype()) for k in f.keys()}  # noqa: SIM118
    assert dtypes == {"F16"}
    for key, value in MODEL_CONFIG.items():
        assert getattr(model.config, key) == value, key
    assert model.config.vocab_size == len(tokenizer) and tokenizer.eos_token == "<|end|>"
    assert 1_000_000 < sum(p.numel() for p in model.parameters()) < 10_000_000


def test_reads_the_answer_from_the_context(shipped):
    model, tokenizer = shipped
    corpus = PretrainCorpus(CHECK_SEED)
    accuracy = check(model.float(), tokenizer, corpus, n=200)["reading"]
    assert accuracy >= READING_BAR


def test_pretraining_record_names_the_run():
    record = json.loads((assets.MODEL_DIR / "pretraining.json").read_text(encoding="utf-8"))
    assert {"seed", "steps", "saved_at_step", "bf16"} <= set(record)
    assert 0 < record["saved_at_step"] <= record["steps"]
