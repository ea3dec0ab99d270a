"""Chat generation with a saved model: the streamed reply is transformers' own greedy continuation of the
chat-templated conversation, and sampling controls are GenerationConfig's, refused in its words."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.runs import save_tiny_hub_model

from lrexplorer.frontend.chat import generation_config, load, model_folders, prompt_inputs, reply, stream_reply


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return load(save_tiny_hub_model(tmp_path_factory.mktemp("model")))


def test_streamed_reply_is_the_greedy_continuation(loaded) -> None:
    messages = [
        {"role": "user", "content": "How much is 40 + 2?"},
        {"role": "assistant", "content": "42"},
        {"role": "user", "content": "And 1 + 1?"},
    ]
    pieces = list(stream_reply(loaded, messages, max_new_tokens=12))
    tok = loaded.tokenizer
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        out = loaded.model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)
    expected = tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "".join(pieces) == expected
    assert torch.equal(prompt_inputs(loaded, messages)["input_ids"], ids["input_ids"])


def test_sampling_is_seeded_and_bounded(loaded) -> None:
    messages = [{"role": "user", "content": "Hello"}]
    torch.manual_seed(3)
    first = reply(loaded, messages, do_sample=True, temperature=1.5, top_k=20, top_p=0.9, max_new_tokens=10)
    torch.manual_seed(3)
    assert reply(loaded, messages, do_sample=True, temperature=1.5, top_k=20, top_p=0.9, max_new_tokens=10) == first
    assert generation_config(loaded, max_new_tokens=10_000).max_new_tokens == 256


def test_refused_values_name_the_field(loaded) -> None:
    # Refused inside generate's thread (by transformers' temperature warper): raised to the reader.
    with pytest.raises(ValueError, match="temperature"):
        reply(loaded, [{"role": "user", "content": "Hi"}], do_sample=True, temperature=-1.0)


def test_model_folders_list_final_then_newest_checkpoint(tmp_path: Path) -> None:
    for name in ("checkpoint-3", "checkpoint-6"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "trainer_state.json").write_text("{}")
    assert [p.name for p in model_folders(tmp_path)] == ["checkpoint-6", "checkpoint-3"]
    (tmp_path / "final_model").mkdir()
    (tmp_path / "final_model" / "config.json").write_text("{}")
    assert [p.name for p in model_folders(tmp_path)] == ["final_model", "checkpoint-6", "checkpoint-3"]


def test_a_prompt_longer_than_the_model_reads_is_cut_to_its_end_and_said(loaded) -> None:
    from lrexplorer.frontend.chat import context_length

    limit = context_length(loaded)
    assert limit == loaded.model.config.max_position_embeddings
    question = "What is the capital of France?"
    messages = [
        {"role": "user", "content": "an old question " * 50},
        {"role": "assistant", "content": "an old answer " * 50},
        {"role": "user", "content": "x" * 200_000 + " " + question},
    ]
    notes: list[str] = []
    inputs = prompt_inputs(loaded, messages, new_tokens=16, notes=notes)
    assert inputs["input_ids"].shape[-1] <= limit - 16
    kept = loaded.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=True)
    assert question in kept  # the end of the last message, where the question is, is kept
    assert len(notes) == 1 and "2 oldest messages" in notes[0] and "characters of the last message" in notes[0]
    assert f"{limit:,} tokens" in notes[0]
    text = reply(loaded, messages, notes=[], max_new_tokens=16)  # and the model answers it
    assert isinstance(text, str)


def test_a_prompt_that_fits_is_not_cut(loaded) -> None:
    notes: list[str] = []
    messages = [{"role": "user", "content": "Hello"}]
    assert torch.equal(
        prompt_inputs(loaded, messages, new_tokens=16, notes=notes)["input_ids"],
        prompt_inputs(loaded, messages)["input_ids"],
    )
    assert notes == []


def test_replies_are_cut_after_the_time_limit(loaded, monkeypatch) -> None:
    from lrexplorer.frontend import chat

    seen = {}
    real = loaded.model.generate

    def generate(*args, **kwargs):
        seen["max_time"] = kwargs["generation_config"].max_time
        return real(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "generate", generate)
    reply(loaded, [{"role": "user", "content": "Hi"}], max_new_tokens=4)
    assert seen["max_time"] == chat.TIME_LIMIT_S
