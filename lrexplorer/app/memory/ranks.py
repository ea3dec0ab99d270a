"""The Memory page's per-GPU view of a multi-GPU run: what each rank holds under DDP, ZeRO or FSDP2.

Figures come from the analytic engine (`lrexplorer.memory.analytic.estimate`); this module only lays them out.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lrexplorer.core.units import GIB
from lrexplorer.memory.advice.report import parallel_label
from lrexplorer.memory.analytic.estimate import Estimate

# Which FSDP2 groups the figure assumes (the fsdp_wrap field), said beside the per-rank table.
WRAPS = {
    "accelerate": "FSDP2 groups as accelerate's fsdp2_prepare_model makes them (the Trainer, accelerate launch): "
    "the embedding, each decoder layer, the [final norm, lm_head] tail kept gathered through the step, and the "
    "root. A script that calls fully_shard on each decoder layer and then on the model (torchtune does too) keeps "
    "the embedding and lm_head gathered in the root instead: set fsdp_wrap to layers for its figure.",
    "layers": "FSDP2 groups as a plain script makes them: fully_shard on each decoder layer, then on the model, "
    "whose root group holds the embedding, the final norm and lm_head, gathered from the start of the forward to "
    "the end of the backward (with their 16-bit gradients). accelerate's groups (the Trainer): fsdp_wrap "
    "accelerate.",
}

# The per-rank rows, in the order a reader adds them up.
RANK_ROWS = (
    ("weights", "weights (this rank's shard, or the full replica)"),
    ("gradients", "gradients"),
    ("optimizer_states", "optimizer states"),
    ("communication_buffers", "communication buffers / gathered layers"),
    ("activations", "activations (never sharded: each rank runs its own micro-batch)"),
)


def rank_rows(est: Estimate) -> pd.DataFrame:
    """One row per component a rank holds on its GPU, and its CPU RAM when FSDP offloads."""
    rows = [(label, est.components.get(key, 0) / GIB) for key, label in RANK_ROWS]
    if est.host_bytes:
        rows.append(("CPU RAM this rank needs (offloaded shards, gradients, optimizer)", est.host_bytes / GIB))
    return pd.DataFrame(rows, columns=["per GPU (rank)", "GiB"])


def rank_section(est: Estimate) -> None:
    """The per-rank table, shown when the run spreads over several GPUs."""
    setup = est.setup
    if setup.num_gpus < 2:
        return
    st.markdown(f"#### Per GPU (rank): {setup.num_gpus} GPUs")
    st.caption(
        f"Figures {parallel_label(setup)}. Sharded state shrinks as GPUs are added; a DDP replica and the "
        "activations do not."
    )
    if setup.fsdp:
        st.caption(WRAPS[setup.fsdp_wrap])
    st.dataframe(
        rank_rows(est),
        hide_index=True,
        width="stretch",
        key="mem.ranks",
        column_config={"GiB": st.column_config.NumberColumn(format="%.3f")},
    )
