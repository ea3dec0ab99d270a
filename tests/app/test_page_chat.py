"""The finished run's chat through AppTest: a conversation with the final model or a checkpoint, streamed
through the chat template, and one prompt answered by two models side by side. The run folder is written
by hand (no training): the models are tiny Llamas saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.run_folders import make_run
from helpers.runs import save_tiny_hub_model
from test_page_train import run, train_page

from lrexplorer.frontend.chat import load


@pytest.fixture
def finished_run(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LRX_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run_dir = make_run(tmp_path / "runs", "chat1")
    save_tiny_hub_model(run_dir / "final_model")
    checkpoint = save_tiny_hub_model(run_dir / "checkpoint-3")
    (checkpoint / "trainer_state.json").write_text("{}")
    torch.manual_seed(1)  # another model in the checkpoint, so the two sides can differ
    model = load(checkpoint).model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    model.save_pretrained(str(checkpoint))
    return run_dir


def greedy(folder: Path, messages: list[dict], n: int) -> str:
    loaded = load(folder)
    tok = loaded.tokenizer
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        out = loaded.model.generate(**ids, max_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


def texts(container) -> str:
    """The plain-text elements of a container: how the chat shows every message."""
    return " ".join(m.value for m in container.text)


def test_chat_with_the_final_model_and_a_checkpoint(finished_run: Path) -> None:
    at = train_page("chat1")
    assert any("3 million parameters" in c.value for c in at.caption), "the page says what to expect"
    assert str(at.selectbox(key="chat.folder").options[0]).endswith("final model")
    at.number_input(key="chat.max_new_tokens").set_value(6)
    at.chat_input(key="chat.input").set_value("How much is 40 + 2?")
    run(at)
    roles = [m.name for m in at.chat_message]
    assert roles == ["user", "assistant"]
    expected = greedy(finished_run / "final_model", [{"role": "user", "content": "How much is 40 + 2?"}], 6)
    history = at.session_state[f"chat.history.{finished_run / 'final_model'}"]
    assert history[-1] == {"role": "assistant", "content": expected}
    # A second turn goes with the whole conversation, through the chat template.
    at.chat_input(key="chat.input").set_value("And 1 + 1?")
    run(at)
    history = at.session_state[f"chat.history.{finished_run / 'final_model'}"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[-1]["content"] == greedy(finished_run / "final_model", history[:-1], 6)
    # The checkpoint has a conversation of its own.
    at.selectbox(key="chat.folder").set_value(finished_run / "checkpoint-3")
    run(at)
    assert not at.chat_message


def test_compare_two_models_on_one_prompt(finished_run: Path) -> None:
    at = train_page("chat1")
    at.number_input(key="chat.max_new_tokens").set_value(8)
    at.text_input(key="chat.compare_prompt").set_value("Who founded Zorvania?")
    at.button(key="chat.compare").click()
    run(at)
    answers = [m for m in at.chat_message if m.name == "assistant"]
    assert len(answers) == 2
    messages = [{"role": "user", "content": "Who founded Zorvania?"}]
    for answer, folder, label in zip(answers, ("final_model", "checkpoint-3"), ("final model", "checkpoint 3")):
        assert label in answer.caption[0].value
        expected = greedy(finished_run / folder, messages, 8).strip()
        assert expected and expected in texts(answer)
    assert texts(answers[0]) != texts(answers[1])


MARKDOWN_LOOKING = "- 17\n+ 72\n* = = = =\n# **not bold**"


def test_replies_are_plain_text_never_markdown(finished_run: Path, monkeypatch) -> None:
    """A reply made of `-`, `+`, `*` and `#` tokens (as a barely trained model writes) is shown as the text it
    is, in the chat and in "Compare two models": no bullets, headings or bold."""
    from lrexplorer.app.common import run_chat

    monkeypatch.setattr(
        run_chat, "stream_reply", lambda model, messages, **kw: iter(["- 17\n+ 72", "\n* = = = =", "\n# **not bold**"])
    )
    at = train_page("chat1")
    at.chat_input(key="chat.input").set_value("How much is 17 + 72?")
    run(at)
    user, assistant = at.chat_message
    assert [t.value for t in user.text] == ["How much is 17 + 72?"] and not user.markdown
    assert [t.value for t in assistant.text] == [MARKDOWN_LOOKING] and not assistant.markdown
    at.button(key="chat.compare").click()
    run(at)
    answers = [m for m in at.chat_message if m.name == "assistant"][-2:]
    for answer in answers:
        assert [t.value for t in answer.text] == [MARKDOWN_LOOKING] and not answer.markdown
