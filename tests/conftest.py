"""Shared fixtures: a tiny real Llama model (built from a config, no download) and a token dataset."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
sys.path.insert(0, os.path.dirname(__file__))  # test helpers such as real_schedulers


@pytest.fixture(scope="session")
def tiny_llama():
    """A factory for a ~10k-parameter LlamaForCausalLM: fast enough to train for dozens of steps in a test."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    def make():
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=32,
        )
        return LlamaForCausalLM(config)

    return make


def token_dataset(n: int, length: int = 8, vocab: int = 64) -> list[dict]:
    """n causal-LM examples of random token ids, labels equal to inputs."""
    import torch

    g = torch.Generator().manual_seed(n)
    rows = []
    for _ in range(n):
        ids = torch.randint(0, vocab, (length,), generator=g)
        rows.append({"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones(length, dtype=torch.long)})
    return rows
