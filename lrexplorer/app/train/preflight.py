"""The Train form's pre-flight panel: what `preflight` says the run will do before Start (its updates and
predicted LR, the memory estimate against the device, the predicted duration, the examples' lengths)."""

from __future__ import annotations

import streamlit as st

from lrexplorer.app.figures.lr_curves import Line, lr_figure
from lrexplorer.app.pages import page_link
from lrexplorer.core.hardware import Hardware
from lrexplorer.core.units import GIB, format_duration
from lrexplorer.frontend.preflight import Preflight
from lrexplorer.runs.folder.step_time import measured_step


def show_plan(pf: Preflight) -> None:
    if pf.plan is None:
        st.info(pf.plan_error or "The run's length is unknown until the dataset is loaded.", icon=":material/info:")
        return
    plan = pf.plan
    cols = st.columns(4)
    cols[0].metric("Updates", f"{plan.total_steps:,}", help="Optimizer updates in the run: the Trainer's max_steps.")
    cols[1].metric("Warmup", f"{plan.warmup_steps:,}", help="Updates of linear warmup from LR 0.")
    cols[2].metric("Per epoch", "—" if plan.updates_per_epoch is None else f"{plan.updates_per_epoch:,}")
    cols[3].metric(
        "Sequences",
        "—" if pf.num_examples is None else f"{pf.num_examples:,}",
        help="What the Trainer batches per epoch, from TRL's own preparation of the train split: "
        + (pf.data.how if pf.data is not None else "unknown")
        + ".",
    )
    if pf.curve is not None and pf.spec is not None:
        fig = lr_figure(
            [Line.from_lr(pf.spec["lr_scheduler_type"], pf.curve.lr)],
            warmup_steps=plan.warmup_steps,
            epoch_boundaries=plan.epoch_boundaries(),
            height=260,
        )
        fig.update_layout(
            title={"text": "Predicted learning rate", "x": 0, "font": {"size": 14}}, showlegend=False, margin={"t": 40}
        )
        st.plotly_chart(fig, width="stretch", key="train.predicted_lr")
        page_link(
            "schedules",
            label=f"Compare schedules over these {plan.total_steps:,} updates",
            icon=":material/show_chart:",
            query_params=schedules_query(pf),
        )


def schedules_query(pf: Preflight) -> dict[str, str]:
    """The Schedules page's link parameters for this run: its schedule, peak LR, updates and warmup."""
    assert pf.spec is not None and pf.plan is not None
    return {
        "schedule": pf.spec["lr_scheduler_type"],
        "lr": f"{pf.spec['learning_rate']:g}",
        "steps": str(pf.plan.total_steps),
        "warmup": str(pf.plan.warmup_steps),
    }


def show_memory(pf: Preflight, hw: Hardware) -> None:
    mem = pf.memory
    if mem is None:
        return
    if mem.peak_bytes is None:
        st.warning(f"Memory estimate unavailable: {mem.unavailable}", icon=":material/memory:")
        show_hardware(hw)
        return
    cols = st.columns(2)
    where = "per GPU" if mem.device == "cuda" else "on the CPU"
    cols[0].metric(
        f"Estimated peak {where}",
        f"{mem.peak_bytes / GIB:.2f} GiB",
        help=f"Memory engine's estimate of the peak of a steady-state training step {where}"
        + (f" ({mem.peak_phase})" if mem.peak_phase else "")
        + ".",
    )
    if mem.capacity_bytes:
        share = mem.peak_bytes / mem.capacity_bytes
        cols[1].metric(
            "Available",
            f"{mem.capacity_bytes / GIB:.1f} GiB",
            delta=f"{share:.0%} of it needed",
            delta_color="inverse" if share > 0.9 else "off",
            delta_arrow="off",
            help=mem.capacity_label,
        )
    for warning in mem.warnings:
        st.warning(f"Memory estimate: {warning}", icon=":material/memory:")
    with st.expander("Memory by component"):
        rows = [{"component": k.replace("_", " "), "MiB": round(v / 2**20, 1)} for k, v in mem.components.items() if v]
        st.dataframe(rows, hide_index=True, width="stretch")
        for note in mem.assumptions:
            st.caption(f"Assumes {note}.")


def show_duration(pf: Preflight) -> None:
    """The run's predicted training time: the updates it will make times the median seconds per update that
    the newest ended run with the same model, batch shape and device took on this machine."""
    if pf.plan is None or pf.spec is None:
        return
    step = measured_step(pf.spec.values)
    if step is None:
        st.caption(
            ":material/timer: No ended run with this model, batch shape and device on this machine yet: the "
            "duration is predicted once one has run (its seconds per update are measured)."
        )
        return
    total = step.seconds * pf.plan.total_steps
    st.metric(
        "Predicted training time",
        format_duration(total),
        help=f"{pf.plan.total_steps:,} updates × {step.seconds:.3f} s per update, the median of {step.updates} "
        f"updates of run {step.run_id} (same model, batch shape and device). Evaluation, loading and saving "
        "come on top.",
    )


def show_lengths(pf: Preflight) -> None:
    """Histogram of the training rows' token counts with the run's tokenizer (what the estimate pads to)."""
    lengths, max_length = pf.lengths, pf.spec["max_length"] if pf.spec is not None else None
    if isinstance(lengths, str) or lengths is None:
        st.caption(f"Example lengths unknown: {lengths}; the estimate assumes rows of max_length.")
        return
    import plotly.graph_objects as go

    fig = go.Figure(go.Histogram(x=list(lengths.tokens), name="examples", marker_color="#4c78a8"))
    if max_length is not None and max_length <= lengths.longest * 1.5:
        fig.add_vline(x=max_length, line_dash="dash", annotation_text="max_length")
    fig.update_layout(
        title={"text": "Example lengths (tokens)", "x": 0, "font": {"size": 14}},
        height=220,
        margin={"t": 40, "b": 30},
        xaxis_title="tokens per example",
        yaxis_title="examples",
        bargap=0.05,
    )
    st.plotly_chart(fig, width="stretch", key="train.lengths", config={"displayModeBar": False})
    if pf.spec is not None and pf.spec.values.get("packing"):
        st.caption(
            "Counted with the run's tokenizer. Packing fills every row to max_length, so the estimate uses that."
        )
        return
    cut = f", cut to max_length ({max_length:,})" if max_length is not None and lengths.longest > max_length else ""
    st.caption(f"Counted with the run's tokenizer. The memory estimate pads each batch to {lengths.describe()}{cut}.")


def show_hardware(hw: Hardware) -> None:
    if hw.gpus:
        for gpu in hw.gpus:
            st.caption(f"GPU {gpu.index}: {gpu.name}, {gpu.free_gib:.1f} of {gpu.total_gib:.1f} GiB free")
    else:
        st.caption(
            f"No NVIDIA GPU: the run trains on the CPU ({hw.cpu.model}, "
            f"{hw.cpu.available_ram_bytes / GIB:.1f} GiB RAM free)."
        )
