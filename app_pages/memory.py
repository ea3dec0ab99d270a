"""Memory page: will this fine-tune fit, where does the memory go, and which setting buys the most.

Layout only; the numbers come from `lrexplorer.memory` (analytic engine, instant), the simulated
and measured steps run in a worker process (`lrexplorer.memory.worker`), widgets from
`lrexplorer.memory_view`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lrexplorer import memory_view as mv
from lrexplorer import ui
from lrexplorer.fields import FieldError
from lrexplorer.memory.charts import phases_figure, sequence_figure, sequence_sweep
from lrexplorer.memory.estimate import estimate
from lrexplorer.memory.report import SHORT_LABELS
from lrexplorer.memory.savings import savings
from lrexplorer.units import GIB

CPU_MEASURE_FLOPS = 3e12  # ~a minute of a real CPU step on a laptop; beyond that "Measure" is a GPU job

st.title("Memory")
st.caption(
    "The memory one training step needs per device, component by component, checked against PyTorch's "
    "own count of every tensor. Instant figures come from the analytic engine; *Simulate exactly* runs "
    "the real step without allocating anything, *Measure* runs it for real."
)
ui.seed_state(mv.DEFAULTS)
for problem in mv.apply_query(st.query_params.to_dict()):
    st.warning(problem, icon=":material/link_off:")

source = mv.model_picker()
if source is None:
    st.stop()
arch = source.architecture
mv.architecture_caption(arch)
setup = mv.setup_form(arch, source.config)
try:
    est = estimate(arch, setup)
except FieldError as exc:
    st.error(f"{exc}", icon=":material/error:")
    st.stop()
attention = setup.attention(arch)

st.divider()
c = est.components
m = st.columns(4)
m[0].metric(
    "Peak per device",
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

left, right = st.columns([3, 2])
with left:
    st.markdown("#### Where the memory goes")
    if setup.device == "cuda":
        gpus = mv.target_gpus()
    else:
        gpus = []
        hw = ui.cached_hardware()
        st.caption(f"CPU run: compared with this machine's RAM ({hw.cpu.available_ram_bytes / GIB:.1f} GiB free).")
    st.plotly_chart(phases_figure(est, gpus), width="stretch", key="mem.phases")
with right:
    st.markdown("#### Fit per GPU" if setup.device == "cuda" else "#### Fit in RAM")
    if setup.device == "cuda":
        mv.fit_gauges(gpus, est.peak_bytes, setup, attention)
    else:
        from lrexplorer.memory.gpus import Gpu

        ram = ui.cached_hardware().cpu.available_ram_bytes
        mv.fit_gauges([Gpu("RAM free now", ram, None)], est.peak_bytes, setup, attention)
    table = pd.DataFrame([(SHORT_LABELS.get(k, k), v / GIB) for k, v in c.items() if v], columns=["component", "GiB"])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="mem.components",
        column_config={"GiB": st.column_config.NumberColumn(format="%.3f")},
    )
    st.caption(" · ".join(f"{p.replace('_', ' ')} {v / GIB:.2f} GiB" for p, v in est.phases.items()))

st.markdown("#### What each setting saves")
report = savings(arch, setup)


def savings_rows(items, against: int) -> pd.DataFrame:
    rows = []
    for s in items:
        peak = s.estimate.peak_bytes / GIB if s.estimate else None
        rows.append(
            {
                "setting": s.trick.label + (f" ({s.note})" if s.note else ""),
                "peak GiB": peak,
                "saves GiB": s.saved_bytes / GIB if s.estimate else None,
                "saves %": 100 * s.saved_fraction if s.estimate else None,
                "cost": s.trick.cost,
            }
        )
    return pd.DataFrame(rows)


cols = {
    "peak GiB": st.column_config.NumberColumn(format="%.2f"),
    "saves GiB": st.column_config.NumberColumn(format="%.2f"),
    "saves %": st.column_config.NumberColumn(format="%.0f%%"),
}
st.caption(
    f"Baseline: the same tokens per update with every setting off (float32 weights, eager attention, AdamW, "
    f"no checkpointing, no accumulation, full fine-tuning, one GPU): {report.baseline.peak_bytes / GIB:.2f} GiB."
)
chosen = savings_rows([*report.chosen, report.combined], report.baseline.peak_bytes)
st.dataframe(chosen, hide_index=True, width="stretch", column_config=cols, key="mem.savings")
if report.more:
    st.caption(f"Not chosen yet, each on top of your setup ({est.peak_bytes / GIB:.2f} GiB):")
    st.dataframe(
        savings_rows(report.more, est.peak_bytes), hide_index=True, width="stretch", column_config=cols, key="mem.more"
    )

st.markdown("#### Memory against sequence length")
top = max(setup.max_length, 8192)
lengths = [2**k for k in range(8, 18) if 2**k <= max(top, 256)]
series = sequence_sweep(arch, setup, lengths)
st.plotly_chart(sequence_figure(lengths, series, gpus, setup.max_length), width="stretch", key="mem.sequence")
st.caption(
    "Eager attention keeps batch × heads × length² scores (a float32 softmax among them), so its memory "
    "grows with the square of the length; SDPA's kernels and flash-attention keep a few numbers per token "
    "and head, so theirs grows linearly, and at long lengths the logits dominate."
)

st.markdown("#### Check it against PyTorch")
a, b = st.columns(2)
flops = 6 * est.n_params * setup.per_device_train_batch_size * setup.max_length
can_measure_cpu = setup.device == "cpu" and flops <= CPU_MEASURE_FLOPS and not setup.load_in_4bit
gpu_here = bool(mv.detected_gpus())
why_not = None
if setup.device == "cuda" and not gpu_here:
    why_not = "no CUDA GPU on this machine (choose device cpu for a small model)"
elif setup.device == "cpu" and not can_measure_cpu:
    why_not = "too large a step for the CPU here (about a minute of compute at most); simulate instead"
simulate = a.button(
    "Simulate exactly",
    icon=":material/memory:",
    key="mem.simulate",
    help="The real transformers step (model, optimizer, backward) under FakeTensorMode: every tensor "
    "counted by PyTorch's MemTracker, nothing allocated. Seconds to a minute.",
)
measure = b.button(
    "Measure",
    icon=":material/speed:",
    key="mem.measure",
    disabled=why_not is not None,
    help=why_not or "Two real training steps in a worker process; the second one is measured.",
)
if why_not:
    b.caption(f"Measure is off: {why_not}.")
if simulate or measure:
    outcome = mv.run_worker(
        "simulate" if simulate else "measure",
        source.label
        if source.kind == "preset"
        else (st.session_state.get("mem.path") or st.session_state.get("mem.hub")),
        setup,
    )
    st.session_state["mem.check"] = (outcome, est.phases, est.peak_bytes, "simulated" if simulate else "measured")
check = st.session_state.get("mem.check")
if check:
    outcome, phases, peak, label = check
    if isinstance(outcome, str):
        st.error(f"The {label} step failed: {outcome}", icon=":material/error:")
    else:
        overhead = c["cuda_context"] + c["cuda_workspace"] if label == "measured" else 0
        rows = [
            {
                "phase": p.replace("_", " "),
                f"{label} GiB": outcome["phase_peaks"].get(p, 0) / GIB,
                "estimated GiB": (phases[p] - overhead) / GIB,
            }
            for p in phases
        ]
        truth = outcome["peak_bytes"]
        rows.append({"phase": "PEAK", f"{label} GiB": truth / GIB, "estimated GiB": (peak - overhead) / GIB})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="mem.check_table")
        st.caption(
            f"Estimate {100 * ((peak - overhead) - truth) / truth:+.1f}% against the {label} step "
            f"({outcome['seconds']:.0f} s)."
            + (" The CUDA context is left out: PyTorch's allocator does not see it." if overhead else "")
        )
