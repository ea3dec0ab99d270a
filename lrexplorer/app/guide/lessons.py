"""Interactive parts of the Guide's concept lessons: the paraphrase runs, the schedule curves, and the
torch demonstrations of accumulation, weight decay and clipping.

torch is imported only inside `demos`, which these cached wrappers call when the lesson is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.schedule_view import stacked_formula
from lrexplorer.app.figures import guide as figures
from lrexplorer.app.guide.nav import page_link
from lrexplorer.app.guide.state import GUIDE, WEIGHT_DECAYS
from lrexplorer.guide import demos, paraphrases
from lrexplorer.guide.content import NOTES_FORMS
from lrexplorer.guide.links import (
    TRAIN_PAGE,
    Link,
    SchedulePreset,
    default_preset,
    grad_norm_link,
    knowledge_link,
    memory_link,
    notes_comparison_link,
    schedule_link,
    weight_decay_link,
)
from lrexplorer.schedules import CATALOGUE, NOTES_SCHEDULES

# Summing in another order moves a float32 gradient of this size by ~1e-8; a wrong loss scaling moves it by
# ~1e-2. Below 1e-6 is therefore rounding, and anything above it is a real difference.
ACCUMULATION_LIMIT = 1e-6


@st.cache_data(show_spinner="Running the demonstration with torch…")
def cached_accumulation(n_micro: int, micro_batch: int, dtype: str) -> demos.AccumulationResult:
    return demos.accumulation_demo(n_micro=n_micro, micro_batch=micro_batch, dtype=dtype)


@st.cache_data(show_spinner=False)
def cached_clip(gradient: tuple[float, ...], max_norm: float) -> demos.ClipResult:
    return demos.clip_demo(list(gradient), max_norm)


@st.cache_data(show_spinner="Stepping torch Adam and AdamW…")
def cached_decay(weight_decay: float) -> list[demos.DecayEffect]:
    return demos.decay_demo(weight_decay)


@st.cache_data(show_spinner="Asking transformers' Trainer (loads transformers, a few seconds)…")
def cached_decay_groups() -> demos.DecayGroups:
    return demos.decay_parameter_groups()


# -- knowledge injection -----------------------------------------------------------------------------
def data_root() -> str:
    """Where the k-phrasing folders go: guide-data/ in the runs directory, shown relative when possible."""
    from lrexplorer.runs.folder.store import runs_dir

    root = runs_dir() / "guide-data"
    try:
        return str(root.relative_to(Path.cwd()))
    except ValueError:
        return str(root)


def paraphrase_runs() -> None:
    k = st.slider(
        "Training phrasings per fact",
        1,
        paraphrases.MAX_PHRASINGS,
        **GUIDE.bind("phrasings"),
        help="The built-in facts dataset trains on 5 phrasings; fewer phrasings are written to a folder.",
    )
    root = data_root()
    chosen, full = paraphrases.experiment(k, root), paraphrases.experiment(paraphrases.MAX_PHRASINGS, root)
    rows = [chosen] if k == full.phrasings else [full, chosen]
    st.dataframe(
        [
            {
                "phrasings": e.phrasings,
                "training examples": e.examples,
                "updates per epoch": e.updates_per_epoch,
                "epochs in 150 updates": round(e.epochs, 1),
                "dataset": e.dataset,
            }
            for e in rows
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "Every run makes the same 150 optimizer updates, so fewer phrasings means more passes over the "
        "same sentences. The held-out sixth phrasing is the evaluation set in every case."
    )
    if chosen.needs_file:
        folder = Path(chosen.dataset)
        st.caption(
            f"The {k}-phrasing dataset is written to {folder}/ (train.jsonl, {chosen.examples} examples, and "
            "test.jsonl) for the runs below; from the command line:"
        )
        st.code(f"python -m lrexplorer.guide.paraphrases --phrasings {k} --out {folder}", language="bash")
    st.code("\n\n".join(e.command.replace(" --", " \\\n    --") for e in rows), language="bash")
    train_links(rows)
    st.markdown(
        "**What to look for.** In the training loss: a step down after each dotted epoch line, when the model "
        "meets sentences it has seen (memorisation). Between the runs: fewer phrasings drive the training loss "
        "lower but leave the held-out loss higher, at the same number of updates."
    )
    show_finished_runs(rows)
    page_link(knowledge_link(), icon=":material/lightbulb:")


def train_links(experiments: list[paraphrases.Experiment]) -> None:
    """Links to the Train page with its form set to each experiment (the Train page reads its settings from
    the address). A phrasing count other than the built-in's trains on a folder of its own, written here
    when missing (a few kB), so the run the link sets up finds its data."""
    from lrexplorer.app.common.run_state import config_query

    cols = st.columns(len(experiments))
    for col, e in zip(cols, experiments):
        if e.needs_file and roles.can_act() and not (Path(e.dataset) / "train.jsonl").is_file():
            paraphrases.write_dataset(e.phrasings, Path(e.dataset))
        label = f"Set up {e.phrasings} phrasing{'s' if e.phrasings > 1 else ''} on the Train page"
        with col:
            page_link(Link(TRAIN_PAGE, label, config_query(e.settings)), icon=":material/model_training:")


def show_finished_runs(experiments: list[paraphrases.Experiment]) -> None:
    """The newest run of each experiment in the runs folder, from the CLI or the Train page alike
    (a run is a folder: read its config.yaml and metrics.jsonl)."""
    from lrexplorer.runs.folder.store import read_metrics, runs_dir

    root = runs_dir()
    found = paraphrases.newest_runs(experiments, root)
    if not found:
        st.caption(f"Run the commands above; their loss curves then appear here (read from {root}/).")
        return
    metrics = {label: read_metrics(path) for label, (path, _) in found.items()}
    per_epoch = {label: e.updates_per_epoch for label, (_, e) in found.items()}
    st.plotly_chart(figures.loss_figure(metrics, per_epoch), width="stretch", key="guide.runs_chart")
    st.caption("Newest run of each: " + ", ".join(f"{label} ({path.name})" for label, (path, _) in found.items()) + ".")
    cols = st.columns(len(found))
    for col, (label, (path, _)) in zip(cols, found.items()):
        with col:  # the Train page shows a finished run at ?run=ID (its folder name in the runs directory)
            page_link(Link(TRAIN_PAGE, f"Open the {label} run", {"run": path.name}), icon=":material/monitoring:")


# -- schedulers ------------------------------------------------------------------------------------------
def schedulers() -> None:
    c1, c2 = st.columns(2)
    lr = c1.number_input(
        "learning_rate",
        min_value=1e-7,
        max_value=1.0,
        step=1e-5,
        format="%g",
        help="The peak LR every curve below scales.",
        **GUIDE.bind("sched.lr"),
    )
    steps = c2.number_input(
        "max_steps (optimizer updates)", min_value=10, max_value=100_000, step=100, **GUIDE.bind("sched.steps")
    )
    for name in NOTES_SCHEDULES:
        schedule_block(name, float(lr), int(steps))
    page_link(notes_comparison_link(SchedulePreset(float(lr), int(steps), 0.0)), icon=":material/stacked_line_chart:")


def schedule_block(name: str, lr: float, steps: int) -> None:
    schedule = CATALOGUE[name]
    notes_formula, remark = NOTES_FORMS[name]
    with st.container(border=True):
        st.markdown(f"#### {schedule.notes_title} · `{name}`")
        # The catalogue's formula is what the curve computes; long ones are stacked and shrunk to fit.
        size = r"\small " if len(schedule.latex) > 80 else ""
        st.latex(size + stacked_formula(schedule.latex))
        if notes_formula:  # the notes' own notation, for reading the two side by side
            st.latex(r"\small \text{in the notes:}\quad " + notes_formula)
        text, plot = st.columns([5, 6], gap="medium")
        with text:
            st.markdown(schedule.explanation)
            st.caption(remark)
            warmup = default_preset(name).warmup_steps
            if name == "constant_with_warmup":
                top = max(1, steps // 2)
                if GUIDE.get("sched.warmup") > top:  # fewer updates than before: the ramp shortens with them
                    GUIDE.set(**{"sched.warmup": top})
                warmup = float(
                    st.slider(
                        "warmup_steps", 0, top, help="Updates spent ramping up from 0.", **GUIDE.bind("sched.warmup")
                    )
                )
        preset = SchedulePreset(lr, steps, warmup)
        with plot:
            st.plotly_chart(figures.schedule_mini(name, preset), width="stretch", key=f"guide.sched.plot.{name}")
        page_link(schedule_link(name, preset), icon=":material/show_chart:")


# -- gradient accumulation -------------------------------------------------------------------------------
def accumulation_demo() -> None:
    st.markdown("##### Check it with torch")
    c1, c2, c3 = st.columns(3)
    n = c1.slider("micro-batches n", 1, 8, **GUIDE.bind("acc.n"))
    b = c2.slider("sequences per micro-batch b", 1, 4, **GUIDE.bind("acc.b"))
    dtype = c3.radio("precision", ["float32", "float64"], horizontal=True, **GUIDE.bind("acc.dtype"))
    r = cached_accumulation(n, b, dtype)
    st.caption(
        f"A tiny language model (embedding + linear head) on {n * b} sequences of random tokens with "
        f"different lengths: {n} micro-batches holding {', '.join(map(str, r.tokens_per_micro))} tokens. "
        f"The large batch's gradient has norm {r.big_norm:.4g}."
    )
    m1, m2, m3 = st.columns(3)
    ok = r.trainer_diff < ACCUMULATION_LIMIT
    m1.metric(
        "Difference, the Trainer's way",
        f"{r.trainer_diff:.1e}",
        help="Largest difference from the large "
        "batch's gradient, any parameter: rounding only. Each micro-batch's summed token loss is divided by "
        "the token count of the whole accumulated batch.",
    )
    m2.metric(
        "Difference, mean of means",
        f"{r.naive_diff:.1e}",
        help="The same difference when each micro-batch's "
        "mean loss is divided by n: exact only if every micro-batch holds as many tokens.",
    )
    m3.metric(
        "Forgetting 1/n: gradient length",
        f"× {r.undivided_ratio:.2f}",
        help="Forgetting the 1/n makes the gradient about n times longer: like multiplying the learning rate by n.",
    )
    if ok:
        st.success(
            f"Accumulating {n} micro-batches gives the large-batch gradient to within {r.trainer_diff:.1e} "
            f"(below {ACCUMULATION_LIMIT:g}): the difference is float rounding.",
            icon=":material/check:",
        )
    else:
        st.error(f"Difference {r.trainer_diff:.1e} is above {ACCUMULATION_LIMIT:g}.", icon=":material/error:")
    page_link(memory_link("accumulation"), icon=":material/memory:")


# -- weight decay ----------------------------------------------------------------------------------------
def decay_comparison() -> None:
    wd = st.select_slider("weight_decay λ", list(WEIGHT_DECAYS), **GUIDE.bind("wd.lambda"))
    rows = cached_decay(float(wd))
    st.dataframe(
        [
            {
                "loss gradient size": f"{r.gradient:g}",
                "pull towards 0, Adam + L2": f"{r.adam_l2:.2e}",
                "pull towards 0, AdamW": f"{r.adamw:.2e}",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        "A weight of 1.0, 200 updates at lr 1e-3, the loss gradient alternating between +g and −g; the "
        "table gives how much further towards zero the decay moved it, computed with torch.optim.Adam "
        "(weight_decay adds λθ to the gradient) and torch.optim.AdamW. AdamW's pull is the same for every "
        "gradient size; Adam's depends on it."
    )
    page_link(weight_decay_link(float(wd)), icon=":material/model_training:")


def decay_groups() -> None:
    if not st.toggle("Show the two groups for a small Llama (runs transformers' own rule)", **GUIDE.bind("wd.groups")):
        return
    g = cached_decay_groups()
    c1, c2 = st.columns(2)
    c1.dataframe({"decayed": g.decayed}, hide_index=True, width="stretch")
    c2.dataframe({"not decayed (weight_decay = 0)": g.not_decayed}, hide_index=True, width="stretch")
    st.caption(f"{g.model}, built on the meta device and passed to Trainer.get_decay_parameter_names.")


# -- max gradient norm -----------------------------------------------------------------------------------
def clipping_demo() -> None:
    st.markdown("##### Clip a gradient")
    c1, c2, c3 = st.columns(3)
    gx = c1.slider("gradient component 1", -10.0, 10.0, step=0.1, **GUIDE.bind("clip.x"))
    gy = c2.slider("gradient component 2", -10.0, 10.0, step=0.1, **GUIDE.bind("clip.y"))
    tau = c3.slider(
        "max_grad_norm τ",
        0.0,
        10.0,
        step=0.1,
        **GUIDE.bind("clip.tau"),
        help="0 turns clipping off in the Trainer; torch itself would then zero the gradient.",
    )
    if tau == 0:
        st.info(
            "With max_grad_norm = 0 the Trainer skips clipping: the gradient is used as it is.", icon=":material/info:"
        )
        before, after = [gx, gy], [gx, gy]
        norm_before, norm_after = float((gx * gx + gy * gy) ** 0.5), None
    else:
        r = cached_clip((gx, gy), float(tau))
        before, after, norm_before, norm_after = r.before, r.after, r.norm_before, r.norm_after
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.clip_figure(before, after, float(tau)), width="stretch", key="guide.clip.chart")
    with right:
        st.metric("‖g‖ before (the logged grad_norm)", f"{norm_before:.4g}")
        if norm_after is not None:
            st.metric("‖g′‖ after clipping", f"{norm_after:.4g}")
            factor = norm_after / norm_before if norm_before else 1.0
            st.caption(f"Scaled by {factor:.4f}." if factor < 1 - 1e-9 else "Not clipped: ‖g‖ is within τ.")
        st.dataframe(
            {"component": ["1", "2"], "before": [f"{v:.4g}" for v in before], "after": [f"{v:.4g}" for v in after]},
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Computed with torch.nn.utils.clip_grad_norm_, each component a separate parameter: the norm "
            "is global, so both are scaled by the same factor and the direction is kept."
        )
    page_link(grad_norm_link(float(tau)), icon=":material/model_training:")


EXTRAS: dict[tuple[str, str], Callable[[], None]] = {
    ("knowledge", "try"): paraphrase_runs,
    ("schedulers", "why"): schedulers,
    ("accumulation", "trainer"): accumulation_demo,
    ("weight-decay", "adamw"): decay_comparison,
    ("weight-decay", "excluded"): decay_groups,
    ("grad-norm", "rule"): clipping_demo,
}
