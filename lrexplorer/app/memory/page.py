"""The Memory page: will this fine-tune fit, where does the memory go, and which setting buys the most.

The numbers come from `lrexplorer.memory` (the analytic engine, instant); the form is `memory_form`,
the simulated and measured check `memory_check`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from lrexplorer.app.common import widgets
from lrexplorer.app.figures.memory import per_device, phases_figure, sequence_figure, sequence_lengths, sequence_sweep
from lrexplorer.app.memory import form
from lrexplorer.app.memory.advisor import advisor_section, trainer_note
from lrexplorer.app.memory.check import check_section
from lrexplorer.app.memory.ranks import rank_section
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import GIB
from lrexplorer.memory.advice.report import SHORT_LABELS
from lrexplorer.memory.advice.savings import Saving, savings
from lrexplorer.memory.analytic.estimate import Estimate, estimate
from lrexplorer.memory.gpus import Fit, Gpu, catalogue, catalogue_names, detected_gpus
from lrexplorer.memory.setup import TrainingSetup, validate

DEFAULT_TARGETS = ("NVIDIA H100 80GB", "NVIDIA A100 40GB", "NVIDIA L4", "NVIDIA GeForce RTX 4090")
SAVINGS_COLUMNS = {
    "peak GiB": st.column_config.NumberColumn(format="%.2f"),
    "saves GiB": st.column_config.NumberColumn(format="%.2f"),
    "saves %": st.column_config.NumberColumn(format="%.0f%%"),
    "CPU RAM GiB per rank": st.column_config.NumberColumn(format="%.2f"),
    "note": st.column_config.TextColumn(width="large"),
    "cost": st.column_config.TextColumn(width="large"),
}


def render() -> None:
    st.title("Memory")
    st.caption(
        "The memory one training step needs on each GPU (or in the CPU process), component by component, checked against PyTorch's "
        "own count of every tensor. Instant figures come from the analytic engine; *Simulate exactly* runs "
        "the real step without allocating anything, *Measure* runs it for real."
    )
    form.seed_form()
    notes, problems = form.apply_query(st.query_params.to_dict())
    for note in notes:
        st.info(note, icon=":material/history:")
    for problem in problems:
        st.warning(problem, icon=":material/link_off:")

    source = form.model_picker()
    if source is None:
        return
    arch = source.architecture
    form.architecture_caption(arch)
    # The headline figures sit above the form, filled once the form is read: every change shows at once,
    # without scrolling past the inputs.
    top = st.container()
    try:
        setup = form.setup_form(arch, source.config)
        advice = validate(setup, arch)  # the rules' refusals raise; their advice is shown under the figures
        est = estimate(arch, setup)
    except FieldError as exc:
        st.error(f"{exc}", icon=":material/error:")
        return
    with top:
        headline(est)
        for finding in advice:
            (st.info if finding.level == "info" else st.warning)(finding.text, icon=":material/lightbulb:")

    st.divider()
    trainer_note(est)
    rank_section(est)
    gpus = where_it_goes(est, setup, setup.attention(arch))
    advisor_section(arch, setup, gpus)
    st.markdown("#### What each setting saves")
    savings_tables(arch, setup, est)
    sequence_section(arch, setup, gpus)
    check_section(source, setup, est)


def headline(est: Estimate) -> None:
    c = est.components
    m = st.columns(4)
    m[0].metric(
        ("Peak per GPU (rank)" if est.setup.num_gpus > 1 else "Peak per device")
        if est.setup.device == "cuda"
        else "Peak (CPU process)",
        f"{est.peak_bytes / GIB:.2f} GiB",
        help=f"During the {est.peak_phase.replace('_', ' ')}; "
        "the largest of the step's phases, not a sum of the components.",
    )
    m[1].metric("Weights", f"{c['weights'] / GIB:.2f} GiB", help=f"{est.n_params / 1e9:.3f} B parameters")
    m[2].metric(
        "Optimizer states",
        f"{c['optimizer_states'] / GIB:.2f} GiB",
        help=f"{est.trainable_params / 1e6:,.1f} M trainable parameters",
    )
    m[3].metric(
        "Activations",
        f"{c['activations'] / GIB:.2f} GiB",
        help="What autograd keeps for the backward of one micro-batch, logits and loss included.",
    )
    if est.host_bytes:
        st.caption(
            f":material/swap_horiz: CPU offload: each rank keeps {est.host_bytes / GIB:.2f} GiB in the CPU's RAM "
            "(its shards of the weights, gradients and optimizer states), which is why they read near zero here."
        )


def where_it_goes(est: Estimate, setup: TrainingSetup, attention: str) -> list[Gpu]:
    """The phases chart against the target GPUs (or the RAM), the fit gauges and the component table;
    returns the target GPUs (none for a CPU run)."""
    left, right = st.columns([3, 2])
    with left:
        st.markdown("#### Where the memory goes")
        if setup.device == "cuda":
            gpus = target_gpus()
        else:
            gpus = []
            hw = widgets.cached_hardware()
            st.caption(f"CPU run: compared with this machine's RAM ({hw.cpu.available_ram_bytes / GIB:.1f} GiB free).")
        st.plotly_chart(phases_figure(est, gpus), width="stretch", key="mem.phases")
    with right:
        st.markdown("#### Fit per GPU" if setup.device == "cuda" else "#### Fit in RAM")
        if setup.device == "cuda":
            fit_gauges(gpus, est.peak_bytes, setup, attention)
        else:
            ram = widgets.cached_hardware().cpu.available_ram_bytes
            fit_gauges([Gpu("RAM free now", ram, None)], est.peak_bytes, setup, attention)
        table = pd.DataFrame(
            [(SHORT_LABELS.get(k, k), v / GIB) for k, v in est.components.items() if v], columns=["component", "GiB"]
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="mem.components",
            column_config={"GiB": st.column_config.NumberColumn(format="%.3f")},
        )
        st.caption(" · ".join(f"{p.replace('_', ' ')} {v / GIB:.2f} GiB" for p, v in est.phases.items()))
    return gpus


def target_gpus() -> list[Gpu]:
    """The detected GPUs, or (without one) the GPUs the user picks from the catalogue."""
    found = detected_gpus()
    if found:
        st.caption("Detected: " + ", ".join(f"{g.name} ({g.total_bytes / GIB:.1f} GiB)" for g in found))
        extra = st.multiselect("Also compare with", catalogue_names(), key="mem.extra_gpus")
        return found + [g for g in catalogue() if g.name in extra]
    st.info(
        "No NVIDIA GPU detected on this machine: pick the GPUs to check from the catalogue.", icon=":material/memory:"
    )
    st.session_state.setdefault("mem.gpus", list(DEFAULT_TARGETS))
    picked = st.multiselect("Target GPUs", catalogue_names(), key="mem.gpus")
    return [g for g in catalogue() if g.name in picked]


def fit_gauges(gpus: list[Gpu], peak: int, setup: TrainingSetup, attention: str) -> None:
    """One bar per GPU: the share of its memory the peak takes, and the headroom left."""
    if not gpus:
        st.caption("No target GPU chosen.")
    for gpu in gpus:
        fit = Fit(gpu, peak)
        share = peak / gpu.total_bytes
        problems = fit.problems(setup, attention)
        verdict = "does not fit" if not fit.fits else "cannot run it" if problems else "fits"
        head = (
            f"{fit.headroom_bytes / GIB:+.2f} GiB headroom"
            if fit.fits
            else (f"{-fit.headroom_bytes / GIB:.2f} GiB short")
        )
        st.progress(
            min(1.0, share),
            text=f"**{gpu.name}** ({gpu.total_bytes / GIB:.0f} GiB): {verdict}, {100 * share:.0f}% used, {head}",
        )
        for problem in problems:
            st.caption(f":material/warning: {gpu.name}: {problem}")
        if fit.fits and not problems and share > 0.9:
            st.caption(
                f":material/warning: {gpu.name}: over 90% used; the allocator's fragmentation can still "
                "run out of memory."
            )


def savings_rows(items: Sequence[Saving], setup: TrainingSetup) -> pd.DataFrame:
    rows = []
    for s in items:
        peak = s.estimate.peak_bytes / GIB if s.estimate else None
        default = s.trick.key == "attn_implementation" and setup.attn_implementation is None
        rows.append(
            {
                "setting": s.trick.label + (" (transformers' default, not set by you)" if default else ""),
                "peak GiB": peak,
                "saves GiB": s.saved_bytes / GIB if s.estimate else None,
                "saves %": 100 * s.saved_fraction if s.estimate else None,
                "compares": s.compared,
                "note": s.note,
                "cost": s.trick.cost,
            }
        )
    return pd.DataFrame(rows)


def savings_tables(arch: Architecture, setup: TrainingSetup, est: Estimate) -> None:
    """What each chosen setting saves against the all-off baseline, then what each other one would save."""
    report = savings(arch, setup)
    st.caption(
        f"Your setup's settings (chosen, or transformers' defaults), each alone against a baseline: the same tokens "
        f"per update with every setting off (float32 weights, eager attention, AdamW, no checkpointing, no "
        f"accumulation, full fine-tuning, one device): {report.baseline.peak_bytes / GIB:.2f} GiB. The *compares* "
        "column names what changes; a negative saving means the setting needs more memory, and *note* says why."
    )
    chosen = savings_rows([*report.chosen, report.combined], setup)
    st.dataframe(chosen, hide_index=True, width="stretch", column_config=SAVINGS_COLUMNS, key="mem.savings")
    if report.more:
        st.caption(
            f"Not in your setup yet, each on top of it ({est.peak_bytes / GIB:.2f} GiB); sharding compares per GPU "
            "with the GPU count it names:"
        )
        st.dataframe(
            savings_rows(report.more, setup),
            hide_index=True,
            width="stretch",
            column_config=SAVINGS_COLUMNS,
            key="mem.more",
        )
    fsdp_options_table(report.fsdp, setup)


def fsdp_options_table(items: Sequence[Saving], setup: TrainingSetup) -> None:
    """What each FSDP option saves per GPU on the chosen setup (with fsdp on), or why there is no such table."""
    if not items:
        if setup.device == "cuda":
            st.caption(
                "FSDP's options (fsdp_reshard_after_forward, fsdp_offload_params) act only with fsdp on: turn it on "
                "to see what each saves per GPU."
            )
        return
    st.caption(
        f"FSDP's own options on your setup, per GPU (rank) of {setup.num_gpus}: each off against on, the other "
        "as you set it. Offloading moves memory to the CPU's RAM, it does not remove it:"
    )
    rows = savings_rows(items, setup)
    rows["setting"] = [f"{s.trick.label} (yours: {'on' if getattr(setup, s.trick.key) else 'off'})" for s in items]
    rows.insert(4, "CPU RAM GiB per rank", [s.estimate.host_bytes / GIB if s.estimate else None for s in items])
    st.dataframe(rows, hide_index=True, width="stretch", column_config=SAVINGS_COLUMNS, key="mem.fsdp_savings")


def sequence_section(arch: Architecture, setup: TrainingSetup, gpus: list[Gpu]) -> None:
    st.markdown("#### Memory against sequence length")
    lengths = sequence_lengths(setup.max_length)
    series = sequence_sweep(arch, setup, lengths)
    fig = sequence_figure(lengths, series, gpus, setup.max_length, chosen=setup.attention(arch), per=per_device(setup))
    st.plotly_chart(fig, width="stretch", key="mem.sequence")
    st.caption(
        "Eager attention keeps batch × heads × length² scores (a float32 softmax among them), so its memory "
        "grows with the square of the length; SDPA's kernels and flash-attention keep a few numbers per token "
        "and head, so theirs grows linearly, and at long lengths the logits dominate."
    )
