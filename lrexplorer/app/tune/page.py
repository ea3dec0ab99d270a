"""The Tune page: an LR range test of the run in the Train form, and sweeps over its fields.

The run under test is the Train form's values (`RUN_FORM`), drawn here under the page's own widget keys,
so "use this LR" is a link to the Train page with the form's values and that learning_rate (one history
entry: Back returns to the result). The page's own settings (the range test's and
the sweep's) are its `TUNE` state, in the address with the test (`lrfind`) and the sweep it shows. A range
test is a run (`tuning.launch`); a sweep runs in its own `lrexplorer sweep` process, so it goes on when the
page is closed, and the page reads its study.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from lrexplorer.app.common import roles
from lrexplorer.app.common.field_widgets import changed, field_input, query_value
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.app.common.run_form import form, show_field_errors
from lrexplorer.app.common.run_state import RUN_FORM, config_query
from lrexplorer.app.pages import page_link
from lrexplorer.core.fields import FieldError
from lrexplorer.core.units import format_duration
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
SWEEP_DEFAULTS = {"space": SPACE_EXAMPLE, "sampler": "grid", "pruner": "none", "n_trials": 3}
LRFIND, SWEEP = "lrfind", "sweep"  # the range test and the sweep the page shows


def _defaults() -> dict[str, Any]:
    return {**{f.name: f.default for f in RANGE_FIELDS}, **SWEEP_DEFAULTS}


def _to_query(values: Any) -> dict[str, str]:
    return changed(values, _defaults())


def _from_query(query: Any) -> Decoded:
    from lrexplorer.tuning.study import PRUNERS, SAMPLERS

    values: dict[str, Any] = {}
    problems: list[str] = []
    fields = {f.name: f for f in RANGE_FIELDS}
    for name, text in query.items():
        try:
            if name in fields:
                values[name] = query_value(fields[name], text)
            elif name == "space":
                values[name] = text
            elif name in ("sampler", "pruner"):
                allowed = SAMPLERS if name == "sampler" else PRUNERS
                if text not in allowed:
                    raise FieldError(name, f"must be one of {', '.join(allowed)}; got {text!r}")
                values[name] = text
            elif name == "n_trials":
                values[name] = min(100, max(1, int(text)))
            else:
                raise FieldError(name, "unknown setting of the Tune page")
        except (FieldError, ValueError) as exc:
            problems.append(f"link parameter `{name}` ignored: {getattr(exc, 'problem', exc)}")
    return values, [], problems


TUNE = PageState("tune", "tune", _defaults, _to_query, _from_query, views=(LRFIND, SWEEP))


def render() -> None:
    st.title("Tune")
    _, problems = TUNE.begin()
    for problem in problems:
        st.warning(problem, icon=":material/link_off:")
    st.caption(
        "Which learning rate, and which combination of fields? An LR range test (fastai's lr_find) and sweeps "
        "(Optuna) over the run the Train form describes. Both train for real, as runs on the Runs page."
    )
    with st.expander("The run under test: the Train form's settings (a change here changes them there)"):
        raw = form(prefix="tune.run")
    range_section(raw)
    st.divider()
    sweep_section(raw)


def range_section(raw: dict[str, Any]) -> None:
    st.subheader("LR range test")
    cols = st.columns(len(RANGE_FIELDS))
    given = {f.name: field_input(f, TUNE.bind(f.name), container=col) for col, f in zip(cols, RANGE_FIELDS)}
    try:
        test = RangeTest.from_fields(given)
    except FieldError as exc:
        show_field_errors(exc.errors)
        test = None
    start = st.button(
        "Run the range test",
        key="tune.start_range",
        disabled=test is None or not roles.can_act(),
        icon=":material/play_arrow:",
    )
    if start and not roles.refuse_if_viewer("Running a range test"):
        _start_range(raw, test)
    ref = st.query_params.get(LRFIND)
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
    st.query_params[LRFIND] = run_dir.name
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
    # Before the worker has counted the run, the test's own length (its max_steps) is known from its config.
    total = status.get("max_steps") or store.read_config(run_dir).get("max_steps") or "?"
    message = status.get("message")
    st.info(
        f"Range test {run_dir.name}: {status.get('state')}, update {status.get('global_step') or 0} of {total}"
        + (f" ({message})" if message else "")
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
        left.markdown(f"**{name}** `{rounded_lr(lr):.2e}` — {EXPLAIN.get(name, '')}")
        with mid:
            # A link to the Train form with this LR: one history entry, so Back returns to this result.
            page_link(
                "train",
                "Use this LR",
                ":material/model_training:",
                RUN_FORM.query_with(learning_rate=rounded_lr(lr)),
            )
        with right:
            page_link("schedules", "See it on Schedules", ":material/show_chart:", {"lr": f"{rounded_lr(lr):g}"})


def rounded_lr(lr: float) -> float:
    """A suggestion as one would type it: three significant digits, as the page shows it (the suggestions
    come from a smoothed, noisy curve; more digits would claim a precision they do not have)."""
    return float(f"{lr:.3g}")


def sweep_section(raw: dict[str, Any]) -> None:
    from lrexplorer.tuning.space import parse_space
    from lrexplorer.tuning.study import PRUNERS, SAMPLERS, SweepSettings
    from lrexplorer.tuning.sweep_folder import prepare_folder

    st.subheader("Sweep")
    text = st.text_area("Search space (YAML)", height=100, **TUNE.bind("space"))
    cols = st.columns(3)
    sampler = cols[0].selectbox("sampler", SAMPLERS, **TUNE.bind("sampler"))
    pruner = cols[1].selectbox("pruner", PRUNERS, **TUNE.bind("pruner"))
    n_trials = int(cols[2].number_input("n_trials", 1, 100, **TUNE.bind("n_trials")))
    try:
        space = parse_space(text)
        settings = SweepSettings(sampler=sampler, pruner=pruner, n_trials=n_trials)
        settings.trials_for(space)
    except FieldError as exc:
        show_field_errors(exc.errors)
        return
    unreadable = roles.unreadable_references(raw)
    if unreadable:  # a view-only session plans nothing that would read this machine's files
        show_field_errors(unreadable)
        return
    plan_table(space, settings, raw)
    start = st.button(
        "Start the sweep", key="tune.start_sweep", disabled=not roles.can_act(), icon=":material/play_arrow:"
    )
    if start and not roles.refuse_if_viewer("Starting a sweep"):
        folder = store.runs_dir() / "sweeps" / f"{datetime.now():%Y%m%d-%H%M%S}"
        prepare_folder(folder)  # a sweep's folder, marked so: `lrexplorer sweep` starts in it
        (folder / "base.yaml").write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
        (folder / "space.yaml").write_text(text)
        cmd = [sys.executable, "-m", "lrexplorer", "sweep", "--space", str(folder / "space.yaml")]
        cmd += ["--config", str(folder / "base.yaml"), "--output_dir", str(folder), "--queue"]
        cmd += ["--sampler", sampler, "--pruner", pruner, "--n_trials", str(n_trials)]
        with open(folder / "sweep.log", "ab") as log:
            subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        st.query_params[SWEEP] = folder.name
        st.rerun()
    ref = st.query_params.get(SWEEP)
    if ref:
        sweep_results(ref)


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
        st.caption(
            f"Total predicted training time: about {format_duration(total)} (measured seconds per update x updates)."
        )


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
                "updates": "—" if plan.total_steps is None else f"{plan.total_steps:,}",
                "peak memory": "unknown"
                if memory is None or memory.peak_bytes is None
                else f"{memory.peak_bytes / 2**30:.2f} GiB",
                "predicted time": "—"
                if plan.skip_reason
                else "unknown (no measured run)"
                if plan.seconds is None
                else format_duration(plan.seconds),
                "skipped because": plan.skip_reason or "",
            }
        )
        if not plan.skip_reason:
            total += plan.seconds or 0.0
            unknown = unknown or plan.seconds is None
    return rows, total, unknown


def sweep_results(ref: str) -> None:
    """The sweep named in the URL (`?sweep=NAME`, a folder of runs/sweeps/), read without writing to it."""
    from lrexplorer.tuning.figures import sweep_figures
    from lrexplorer.tuning.study import load_sweep
    from lrexplorer.tuning.sweep_folder import STUDY_FILE

    if not store.RUN_ID.match(ref):  # a name as the page gives them: no path, no 5,000 characters
        st.error(
            f"?sweep={ref[:60]!r}: not the name of a sweep (letters, digits, '.', '_' and '-').",
            icon=":material/error:",
        )
        return
    folder = store.runs_dir() / "sweeps" / ref
    try:
        if not (folder / STUDY_FILE).exists():
            st.info("The sweep is starting...")
            return
        sweep = load_sweep(folder)
    except FieldError as exc:
        st.error(f"Sweep {ref}: {exc.problem}.", icon=":material/error:")
        return
    except OSError as exc:
        st.error(f"Sweep {ref}: cannot be read ({exc.strerror or exc}).", icon=":material/error:")
        return
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
        if t["run"]:
            with right:
                page_link(
                    "train", "Open in Train", ":material/open_in_new:", config_query(store.read_config(Path(t["run"])))
                )
    for name, fig in sweep_figures(sweep).items():
        if isinstance(fig, str):
            st.caption(f"{name}: {fig}")
        else:
            st.plotly_chart(fig, width="stretch", key=f"tune.fig.{name}")
