"""The Tune page: an LR range test of the run in the Train form, and sweeps over its fields.

The run under test is the Train form itself (same widgets, same session state), so "use this LR" only
has to set the form's learning_rate. A range test is a run (`tuning.launch`); a sweep runs in its own
`lrexplorer sweep` process, so it goes on when the page is closed, and the page reads its study.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from lrexplorer.app.common.run_form import form, load_form, show_field_errors
from lrexplorer.app.common.run_inputs import SAVED, key, to_widget
from lrexplorer.app.pages import page_link, switch_page
from lrexplorer.catalogues.params import CATALOGUE
from lrexplorer.core.fields import FieldError
from lrexplorer.runs.folder import index, lock, store
from lrexplorer.runs.kinds.range_test import read_result
from lrexplorer.tuning.lr_range import RANGE_FIELDS, RangeTest

EXPLAIN = {
    "valley": "fastai's default. The longest stretch where the smoothed loss keeps falling, and a point about "
    "two thirds of the way down it: fast learning, safely before the bottom.",
    "steep": "Where the smoothed loss falls fastest per step of log(LR). Often a little low, rarely unstable.",
    "minimum": "The LR of the lowest smoothed loss, divided by 10: the bottom is already too hot to train at.",
    "lightning": "Lightning's suggestion: the steepest negative gradient of the smoothed loss, skipping the first "
    "and last few points.",
}
SPACE_EXAMPLE = "learning_rate: {values: [1.0e-4, 1.0e-3, 3.0e-3]}\n"


def render() -> None:
    st.title("Tune")
    st.caption(
        "Which learning rate, and which combination of fields? An LR range test (fastai's lr_find) and sweeps "
        "(Optuna) over the run the Train form describes. Both train for real, as runs on the Runs page."
    )
    with st.expander("The run under test (the Train form)", expanded=False):
        raw = form()
    range_section(raw)
    st.divider()
    sweep_section(raw)


def range_section(raw: dict[str, Any]) -> None:
    st.subheader("LR range test")
    cols = st.columns(len(RANGE_FIELDS))
    given: dict[str, Any] = {}
    for col, field in zip(cols, RANGE_FIELDS):
        if field.kind == "choice":
            given[field.name] = col.selectbox(field.name, field.choices, key=f"tune.{field.name}", help=field.help)
        else:
            text = col.text_input(field.name, f"{field.default:g}", key=f"tune.{field.name}", help=field.help)
            given[field.name] = text
    try:
        test = RangeTest.from_fields(given)
    except FieldError as exc:
        show_field_errors(exc.errors)
        test = None
    if st.button("Run the range test", key="tune.start_range", disabled=test is None, icon=":material/play_arrow:"):
        _start_range(raw, test)
    ref = st.query_params.get("lrfind")
    if ref:
        range_view(ref)


def _start_range(raw: dict[str, Any], test: RangeTest | None) -> None:
    from lrexplorer.frontend.tuning_launch import start_range_test

    if test is None:
        return
    try:
        run_dir = start_range_test(raw, test, store.runs_dir())
    except FieldError as exc:
        show_field_errors(exc.errors)
        return
    except lock.DeviceBusy as exc:
        st.error(str(exc), icon=":material/block:")
        return
    st.query_params["lrfind"] = run_dir.name
    st.rerun()


def range_view(ref: str) -> None:
    """A finished test is drawn once, outside any fragment, so its buttons act at the first click; a test
    still running is followed by a polling fragment that redraws the page when the result appears."""
    try:
        run_dir = index.find_run(ref, store.runs_dir())
    except (store.RunNotFound, ValueError) as exc:
        st.error(str(exc))
        return
    result = read_result(run_dir)
    if result is None:
        range_progress(run_dir)
    else:
        range_result_view(result)


@st.fragment(run_every=2.0)
def range_progress(run_dir: Path) -> None:
    status = store.reconcile(run_dir)
    if read_result(run_dir) is not None:
        st.rerun(scope="app")
    st.info(
        f"Range test {run_dir.name}: {status.get('state')}, update {status.get('global_step', 0)} "
        f"of {status.get('max_steps', '?')} ({status.get('message', '')})"
    )
    page_link("train", "Watch it live on the Train page", ":material/monitoring:", {"run": run_dir.name})


def range_result_view(result: dict[str, Any]) -> None:
    from lrexplorer.tuning.figures import range_figure

    st.plotly_chart(range_figure(result), width="stretch", key="tune.range_chart")
    st.caption(
        f"{len(result['lrs'])} updates; stopped early: {'yes' if result['stopped_early'] else 'no'}. "
        "Grey dots: the loss of each update; blue: the debiased moving average (beta 0.98) the methods read."
    )
    for name, lr in result["suggestions"].items():
        if lr is None:
            continue
        left, mid, right = st.columns([5, 2, 2], vertical_alignment="center")
        left.markdown(f"**{name}** `{lr:.2e}` — {EXPLAIN.get(name, '')}")
        if mid.button("Use this LR", key=f"tune.use.{name}"):
            use_lr(lr)
        with right:
            page_link("schedules", "See it on Schedules", ":material/show_chart:", {"lr": f"{lr:.3g}"})


def use_lr(lr: float) -> None:
    """Put `lr` into the Train form and go there."""
    saved = dict(st.session_state.get(SAVED, {}))
    values = {name: st.session_state.get(key(name)) for name in CATALOGUE}
    values = {**saved, **{k: v for k, v in values.items() if v is not None}}
    values[key("learning_rate")] = to_widget(CATALOGUE["learning_rate"], lr)
    st.session_state[SAVED] = values
    st.session_state.pop(key("learning_rate"), None)
    if not switch_page("train"):
        st.success(f"learning_rate set to {lr:.3g} in the Train form.")


def sweep_section(raw: dict[str, Any]) -> None:
    from lrexplorer.tuning.space import parse_space
    from lrexplorer.tuning.study import PRUNERS, SAMPLERS, SweepSettings, open_sweep

    st.subheader("Sweep")
    text = st.text_area("Search space (YAML)", SPACE_EXAMPLE, key="tune.space", height=100)
    cols = st.columns(3)
    sampler = cols[0].selectbox("sampler", SAMPLERS, key="tune.sampler")
    pruner = cols[1].selectbox("pruner", PRUNERS, key="tune.pruner")
    n_trials = int(cols[2].number_input("n_trials", 1, 100, 3, key="tune.n_trials"))
    try:
        space = parse_space(text)
        settings = SweepSettings(sampler=sampler, pruner=pruner, n_trials=n_trials)
        settings.trials_for(space)
    except FieldError as exc:
        show_field_errors(exc.errors)
        return
    plan_table(space, settings, raw)
    if st.button("Start the sweep", key="tune.start_sweep", icon=":material/play_arrow:"):
        folder = store.runs_dir() / "sweeps" / f"{datetime.now():%Y%m%d-%H%M%S}"
        folder.mkdir(parents=True)
        (folder / "base.yaml").write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
        (folder / "space.yaml").write_text(text)
        cmd = [sys.executable, "-m", "lrexplorer", "sweep", "--space", str(folder / "space.yaml")]
        cmd += ["--config", str(folder / "base.yaml"), "--output_dir", str(folder), "--queue"]
        cmd += ["--sampler", sampler, "--pruner", pruner, "--n_trials", str(n_trials)]
        with open(folder / "sweep.log", "ab") as log:
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        st.query_params["sweep"] = folder.name
        st.rerun()
    ref = st.query_params.get("sweep")
    if ref:
        sweep_results(store.runs_dir() / "sweeps" / Path(ref).name, open_sweep)


def plan_table(space: Any, settings: Any, raw: dict[str, Any]) -> None:
    rows, total, unknown = planned_rows(space, settings, raw)
    label = "Trials planned" if settings.sampler == "grid" else "Corners of the space (they bound every trial)"
    st.markdown(f"**{label}**")
    corners = space_corners(space, settings)
    if corners > len(rows):
        st.caption(
            f"The space has {corners:,} corners: {len(rows)} of them are planned here, the lowest and the highest "
            "first, then a fixed random sample (each trial the sampler draws still lies inside the space)."
        )
    st.dataframe(rows, hide_index=True)
    if unknown:
        st.caption("Predicted time unknown for some trials: run a range test or a run of this model and batch first.")
    else:
        st.caption(f"Total predicted training time: about {total:.0f} s (measured seconds per update x updates).")


def space_corners(space: Any, settings: Any) -> int:
    from lrexplorer.frontend.sweeps import corner_count
    from lrexplorer.tuning.study import Sweep

    probe = Sweep.__new__(Sweep)  # corner_count reads only the space and the sampler
    probe.space, probe.settings = space, settings
    return corner_count(probe)


# Each trial's pre-flight builds a memory estimate: cached, so that typing elsewhere on the page (or the
# range test's polling) does not redo them. A minute: new measured step times get in soon enough.
@st.cache_data(show_spinner="Planning the trials (schedule and memory of each)...", ttl=60, max_entries=32)
def planned_rows(space: Any, settings: Any, raw: dict[str, Any]) -> tuple[list[dict[str, Any]], float, bool]:
    from lrexplorer.frontend.sweeps import plan_trial, planned_params
    from lrexplorer.tuning.study import Sweep

    probe = Sweep.__new__(Sweep)  # planned_params reads only the space and the sampler
    probe.space, probe.settings = space, settings
    rows, total, unknown = [], 0.0, False
    for params in planned_params(probe):
        plan = plan_trial(raw, params)
        memory = plan.preflight.memory
        rows.append(
            {
                **params,
                "updates": plan.total_steps,
                "peak memory (GiB)": None if memory is None or memory.peak_bytes is None else memory.peak_bytes / 2**30,
                "predicted time (s)": plan.seconds,
                "skipped because": plan.skip_reason or "",
            }
        )
        if not plan.skip_reason:
            total += plan.seconds or 0.0
            unknown = unknown or plan.seconds is None
    return rows, total, unknown


def sweep_results(folder: Path, open_sweep: Any) -> None:
    from lrexplorer.tuning.figures import sweep_figures

    if not (folder / "study.db").exists():
        st.info("The sweep is starting...")
        return
    sweep = open_sweep(folder)
    summary = sweep.summary()
    st.markdown(f"**Sweep {folder.name}**: {sweep.done()} of {sweep.n_trials} trials ended.")
    if summary["best"]:
        st.success(
            f"Best: trial {summary['best']['number']} {summary['best']['params']}, loss {summary['best']['value']:.4f}"
        )
    for t in summary["trials"]:
        left, right = st.columns([6, 2], vertical_alignment="center")
        value = "-" if t["value"] is None else f"{t['value']:.4f}"
        left.markdown(f"#{t['rank'] or '-'} trial {t['number']} ({t['state']}): `{t['params']}` loss {value}")
        if t["run"] and right.button("Open in Train", key=f"tune.open.{t['number']}"):
            load_form(store.read_config(Path(t["run"])))
            switch_page("train")
    for name, fig in sweep_figures(sweep).items():
        if isinstance(fig, str):
            st.caption(f"{name}: {fig}")
        else:
            st.plotly_chart(fig, width="stretch", key=f"tune.fig.{name}")
