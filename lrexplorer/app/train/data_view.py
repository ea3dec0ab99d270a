"""The Train page's data view: what the Trainer will train on, from TRL's own preparation of the form's data.

The totals (rows, sequences, tokens, tokens in the loss, rows cut and tokens lost) and a few sequences drawn
token by token: trained tokens plain, masked ones grey, the first token of each sequence (which nothing
predicts) marked, what max_length cuts struck through, and a bar between the examples packing joins. The
engine is `runs/training/data_view.py`; the same view is `lrexplorer data`.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from lrexplorer.frontend.preflight import Preflight
from lrexplorer.runs.sequences import PAGE_DATA_BYTES, data_bytes
from lrexplorer.runs.training.data_view import MAX_EXAMPLES, DataView, Example, data_view
from lrexplorer.runs.training.prepare import PREPARE_FIELDS, data_signature, is_local

STYLES = {
    "trained": "color:#1b5e20;background:#e8f5e9;",
    "masked": "color:#8a8a8a;",
    "first": "color:#6d4c00;background:#fff3c4;",
    "cut": "color:#b71c1c;text-decoration:line-through;background:#fdecea;",
}
LEGEND = (
    ("trained", "trained (in the loss)"),
    ("masked", "masked (label -100)"),
    ("first", "first of a sequence (nothing predicts it)"),
    ("cut", "beyond max_length (never seen)"),
)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_view(key: tuple[Any, ...], signature: Any, examples: int) -> DataView:
    # `signature` (the data file's mtime and size) is part of the cache key only.
    values = dict(zip(("dataset_streaming", *PREPARE_FIELDS), key))
    return data_view(values, examples)


def data_section(pf: Preflight) -> None:
    """The section, for a spec that validates; says why when the data cannot be prepared here."""
    if pf.spec is None:
        return
    values = pf.spec.values
    st.markdown(
        "**What the Trainer trains on**",
        help="TRL's own preparation of the train split (SFTTrainer._prepare_dataset): the chat template, the "
        "loss masks, the cut at max_length, packing. `lrexplorer data` prints the same view.",
    )
    why = unavailable(values)
    if why:
        st.caption(f":material/dataset: {why}; `lrexplorer data` with the same flags prepares it.")
        return
    examples = st.session_state.get("train.data_examples", 3)
    key = (values["dataset_streaming"], *(_key(values[n]) for n in PREPARE_FIELDS))
    try:
        with st.spinner("Preparing the data as TRL does…"):
            view = cached_view(key, data_signature(values), int(examples))
    except Exception as exc:  # noqa: BLE001 - advice: the form's own errors already name the field
        st.caption(f":material/dataset: The data cannot be prepared: {exc}")
        return
    totals(view)
    st.number_input("Examples shown", 1, MAX_EXAMPLES, key="train.data_examples", value=3)
    legend()
    for example in view.examples:
        st.html(example_html(example))


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def unavailable(values: dict[str, Any]) -> str | None:
    if values["dataset_streaming"]:
        return "A streamed dataset is read only when the run starts"
    if not is_local(values):
        return "This page reads only built-in and local datasets (it downloads nothing on every change)"
    size = data_bytes(values, PAGE_DATA_BYTES)
    if size is not None and size > PAGE_DATA_BYTES:
        return f"The dataset is over {PAGE_DATA_BYTES // 2**20} MiB, more than this page prepares on every change"
    return None


def totals(view: DataView) -> None:
    top, bottom = st.columns(3), st.columns(3)
    top[0].metric("Rows", f"{view.rows:,}", help="Rows of the train split as loaded.")
    top[1].metric(
        "Sequences",
        f"{view.sequences:,}",
        help="What the Trainer batches: "
        + (f"the rows packed into sequences of at most {view.max_length:,} tokens" if view.packing else "one per row")
        + (f"; {view.dropped_rows:,} rows dropped (no trained token left after the cut)" if view.dropped_rows else "")
        + ".",
    )
    top[2].metric("Tokens", f"{view.tokens:,}", help="Tokens in the sequences (no padding counted).")
    bottom[0].metric(
        "Tokens in the loss",
        f"{view.loss_tokens:,}",
        help="Labels the loss scores over one epoch: not masked, and not the first token of a sequence"
        + (" (each packed example counts as a sequence: positions restart there)" if view.padding_free else "")
        + ".",
    )
    bottom[1].metric("Rows cut", f"{view.truncated_rows:,}", help="Rows longer than max_length: their end is dropped.")
    bottom[2].metric("Tokens lost", f"{view.tokens_lost:,}", help="Tokens the cut at max_length drops.")
    notes = []
    if view.dropped_rows:
        notes.append(f"{view.dropped_rows:,} rows dropped: the cut left them without a trained token")
    if view.packing:
        batches = "padding-free batches (one row, positions restart at each example)"
        notes.append(f"packing ({view.packing_strategy}), {batches if view.padding_free else 'padded batches'}")
    elif view.padding_free:
        notes.append("padding-free batches")
    if notes:
        text = "; ".join(notes)
        st.caption(text[0].upper() + text[1:] + ".")


def legend() -> None:
    chips = " ".join(f'<span style="{STYLES[kind]}padding:0 4px;">{text}</span>' for kind, text in LEGEND)
    st.html(f'<div style="font-size:0.8rem">{chips} <b style="color:#1f77b4">│</b> next packed example</div>')


def example_html(example: Example) -> str:
    """One example as HTML: a span per run of tokens of one kind; the text escaped (it is the user's data)."""
    parts = []
    for kind, joined, text in example.spans():
        shown = html.escape(text).replace("\n", "⏎<br>")
        parts.append(
            ('<b style="color:#1f77b4">│</b>' if joined else "") + f'<span style="{STYLES[kind]}">{shown}</span>'
        )
    note = " — dropped: no trained token" if example.dropped else ""
    more = f'<span style="color:#888"> … {example.hidden:,} more tokens</span>' if example.hidden else ""
    return (
        f'<div style="font-size:0.78rem;color:#555;margin-top:6px">{html.escape(example.title)}{note}</div>'
        '<div style="font-family:monospace;font-size:0.8rem;line-height:1.5;white-space:pre-wrap;'
        f'border:1px solid #e0e0e0;border-radius:4px;padding:6px">{"".join(parts)}{more}</div>'
    )
