"""Chat with a finished run's model (its final model or any checkpoint), and the same prompt sent to two
models side by side. Generation is `lrexplorer.frontend.chat`; this module only lays out the conversation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.frontend.chat import (
    MAX_NEW_TOKENS,
    SAMPLING_DEFAULTS,
    TIME_LIMIT_S,
    LoadedModel,
    Message,
    load,
    model_folders,
    stream_reply,
)
from lrexplorer.runs.folder import index, store
from lrexplorer.runs.folder.summary import sample_prompt

_GENERATE_LOCK = threading.Lock()  # one generation at a time: two would only halve each other's CPU
EMPTY_REPLY = "(only whitespace or the end token: train longer and try again)"
EXPECTATIONS = (
    "What to expect: the built-in model has about 3 million parameters and starts from random weights, so a "
    "minute of training teaches it the *shape* of the answers (the chat format, the length, words of the "
    'dataset), not facts or arithmetic: it will answer "How much is 40 + 2?" with confident nonsense. Watch '
    "the format improve from checkpoint to checkpoint; for real answers, fine-tune a pretrained model."
)


@st.cache_resource(max_entries=4, show_spinner="Loading the model…")
def loaded_model(path: str, mtime_ns: int) -> LoadedModel:
    # mtime_ns is part of the cache key only: a model saved again (a resumed run) is reloaded.
    return load(Path(path))


def _load(folder: Path) -> LoadedModel:
    saved = store.model_file(folder)
    if saved is None:
        raise FileNotFoundError(f"{folder} holds no saved model (no config.json or adapter_config.json)")
    return loaded_model(str(folder), saved.stat().st_mtime_ns)


def folder_label(folder: Path) -> str:
    run = folder.parent.name
    if folder.name == store.FINAL:
        return f"{run} · final model"
    return f"{run} · {folder.name.replace('-', ' ')} (after update {folder.name.split('-', 1)[1]})"


def sampling_controls() -> dict[str, Any]:
    """GenerationConfig's sampling arguments, under their own names; greedy decoding unless do_sample."""
    with st.expander("Sampling (transformers GenerationConfig)", icon=":material/tune:"):
        cols = st.columns(3)
        values: dict[str, Any] = {
            "max_new_tokens": cols[0].number_input(
                "max_new_tokens", 1, MAX_NEW_TOKENS, SAMPLING_DEFAULTS["max_new_tokens"], 8, key="chat.max_new_tokens"
            ),
            "do_sample": cols[1].toggle(
                "do_sample", False, key="chat.do_sample", help="Off: greedy, always the most likely next token."
            ),
            "repetition_penalty": cols[2].number_input(
                "repetition_penalty", 1.0, 2.0, 1.0, 0.05, key="chat.repetition_penalty", help="1.0: no penalty."
            ),
        }
        off = not values["do_sample"]
        values["temperature"] = cols[0].number_input(
            "temperature", 0.05, 2.0, 1.0, 0.1, key="chat.temperature", disabled=off, help="Only with do_sample."
        )
        values["top_p"] = cols[1].number_input("top_p", 0.05, 1.0, 1.0, 0.05, key="chat.top_p", disabled=off)
        values["top_k"] = cols[2].number_input("top_k", 0, 1000, 50, 10, key="chat.top_k", disabled=off)
        values["seed"] = cols[0].number_input(
            "seed", 0, 2**31 - 1, 0, 1, key="chat.seed", disabled=off, help="The same seed gives the same sample."
        )
    return values


def _stream(folder: Path, messages: list[Message], sampling: dict[str, Any], notes: list[str]) -> Iterator[str]:
    """The reply as it comes; a model that cannot load or generate ends the stream with a message. One reply
    is generated at a time; a session waits for another's (each is cut to TIME_LIMIT_S seconds), never longer."""
    settings = dict(sampling)
    seed = settings.pop("seed", None)
    if not roles.can_act():  # checked here too: a forged message from a view-only session generates nothing
        notes.append(f"Chatting with a model: not in a view-only session. {roles.VIEW_ONLY}")
        return
    try:
        model = _load(folder)
        if not _GENERATE_LOCK.acquire(timeout=TIME_LIMIT_S + 10):
            notes.append("Another session's reply is being generated on this server: ask again in a moment.")
            return
        try:
            if settings.get("do_sample") and seed is not None:
                import torch

                torch.manual_seed(int(seed))
            yield from stream_reply(model, messages, notes=notes, **settings)
        finally:
            _GENERATE_LOCK.release()
    except Exception as exc:  # noqa: BLE001 - reported in the conversation, not raised
        st.error(f"Generation failed: {type(exc).__name__}: {exc}", icon=":material/error:")


def plain(text: str) -> None:
    """A message as the model wrote it: plain text, never Markdown (a reply starting with `-`, `+` or `*`
    tokens is text the model produced, not a list to format)."""
    st.text(text, width="stretch")


def _answer(folder: Path, messages: list[Message], sampling: dict[str, Any]) -> str:
    """Stream the reply into one plain-text element as it comes; returns the whole reply."""
    box = st.empty()
    text = ""
    notes: list[str] = []
    for piece in _stream(folder, messages, sampling, notes):
        text += piece
        with box:
            plain(text)
    if not text.strip():
        box.caption(EMPTY_REPLY)
    for note in notes:
        st.caption(note)
    return text


def chat_panel(run_dir: Path, config: dict[str, Any]) -> None:
    """The conversation with one of the run's models; each model keeps its own conversation."""
    folders = model_folders(run_dir)
    if not folders:
        return
    st.markdown("##### Chat with the model")
    if str(config.get("model", "")).startswith("builtin:"):
        st.caption(EXPECTATIONS)
    folder = st.selectbox("Model", folders, format_func=folder_label, key="chat.folder")
    sampling = sampling_controls()
    key = f"chat.history.{folder}"
    history: list[Message] = st.session_state.setdefault(key, [])
    for message in history:
        with st.chat_message(message["role"]):
            if message["content"].strip():
                plain(message["content"])
            else:
                st.caption(EMPTY_REPLY)
    hint = sample_prompt(config)
    # In a container, the input sits here in the page instead of pinned to the window's bottom: a pinned
    # input makes the page open scrolled to its end, with the charts above cut off at the window's top.
    with st.container():
        prompt = st.chat_input(
            f"Ask the model, e.g. {hint}" if hint else "Ask the model",
            key="chat.input",
            disabled=not roles.can_act(),  # a reply costs this machine's CPU: the teacher's link chats
        )
    if prompt:
        history.append({"role": "user", "content": prompt})
        with st.chat_message("user"):
            plain(prompt)
        with st.chat_message("assistant"):
            history.append({"role": "assistant", "content": _answer(folder, history, sampling)})
    if history and st.button("Clear the conversation", key="chat.clear", icon=":material/delete_sweep:"):
        st.session_state[key] = []
        st.rerun()
    compare_panel(folders, config, sampling)


def other_runs_models(exclude: list[Path]) -> list[Path]:
    """The final models of the other runs in the runs directory, newest run first."""
    out = []
    for status in index.list_runs(store.runs_dir()):
        final = store.final_model(Path(status["path"]))
        if final is not None and final not in exclude:
            out.append(final)
    return out


def compare_panel(folders: list[Path], config: dict[str, Any], sampling: dict[str, Any]) -> None:
    """One prompt, two models (checkpoints of this run or other runs' final models), the same sampling."""
    with st.expander("Compare two models on the same prompt", icon=":material/compare:"):
        options = folders + other_runs_models(folders)
        if len(options) < 2:
            st.caption("Only one model to compare: save checkpoints (save_steps) or train another run.")
            return
        left, right = st.columns(2)
        a = left.selectbox("Left", options, index=0, format_func=folder_label, key="chat.compare_a")
        b = right.selectbox("Right", options, index=1, format_func=folder_label, key="chat.compare_b")
        prompt = st.text_input("Prompt", value=sample_prompt(config), key="chat.compare_prompt")
        compare = st.button(
            "Compare", key="chat.compare", icon=":material/compare_arrows:", disabled=not roles.can_act()
        )
        if compare and prompt.strip() and not roles.refuse_if_viewer("Chatting with a model"):
            messages: list[Message] = [{"role": "user", "content": prompt}]
            for column, folder in zip(st.columns(2), (a, b), strict=True):
                with column, st.chat_message("assistant"):
                    st.caption(folder_label(folder))
                    _answer(folder, messages, sampling)
