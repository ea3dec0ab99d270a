"""The Guide's memory-against-sequence-length plot, in the checkpointing and flash-attention lessons."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lrexplorer.app.figures import guide as figures
from lrexplorer.app.guide.nav import page_link
from lrexplorer.app.guide.state import GUIDE, MEMORY_SHOW
from lrexplorer.guide.links import memory_link
from lrexplorer.guide.memory_curves import MemoryCurves, memory_against_sequence, model_names


@st.cache_data(show_spinner=False)
def cached_curves(model: str, batch: int) -> MemoryCurves:
    return memory_against_sequence(model, batch)


def memory_plot(topic: str) -> None:
    """The same figure in both lessons; each lesson keeps its own choices."""
    key = f"mem.{topic}"
    c1, c2, c3 = st.columns([3, 2, 2])
    model = c1.selectbox("Model preset", model_names(), **GUIDE.bind(f"{key}.model"))
    batch = c2.number_input("per_device_train_batch_size", 1, 64, **GUIDE.bind(f"{key}.batch"))
    what = c3.radio(
        "Show",
        list(MEMORY_SHOW),
        **GUIDE.bind(f"{key}.what"),
        help="Peak: everything one GPU holds at the worst moment of a step. Activations: what the "
        "forward pass saves for the backward pass, the part these two tricks shrink.",
    )
    curves = cached_curves(model, int(batch))
    series = curves.peak_gib if what == "peak memory" else curves.activations_gib
    title = "GiB per GPU (log scale)" if what == "peak memory" else "saved activations, GiB (log scale)"
    st.plotly_chart(figures.memory_figure(curves.lengths, series, title), width="stretch", key=f"guide.{key}.chart")
    longest = curves.lengths[-1]
    eager, flash = curves.activations_gib["eager attention"][-1], curves.activations_gib["flash attention"][-1]
    ckpt = curves.activations_gib["flash + checkpointing"][-1]
    st.caption(
        f"{curves.setup_note}. At {longest:,} tokens the saved activations are {eager:,.1f} GiB with eager "
        f"attention, {flash:,.1f} GiB with flash attention and {ckpt:,.1f} GiB with flash attention and "
        "checkpointing. Solid lines store every activation; dashed lines use checkpointing."
    )
    page_link(memory_link(topic), icon=":material/memory:")


EXTRAS: dict[tuple[str, str], Callable[[], None]] = {
    ("checkpointing", "trade"): lambda: memory_plot("checkpointing"),
    ("flash-attention", "flash"): lambda: memory_plot("flash-attention"),
}
