"""The Train page's form and pre-flight panel (drawn by `train_preflight`): widgets generated from the parameter catalogue, grouped
as the catalogue groups them, and what `preflight` says about the spec before Start.

Every widget's key is `train.<field>`; its help text is the catalogue's, with the allowed values and
the library default where lrexplorer picks another. Numbers are not clamped by the widgets: an
out-of-range value reaches `RunSpec`, whose error names the field, so the page and the CLI refuse
the same things with the same words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from ..params import CATALOGUE, CATALOGUE_LIST, GROUPS, Field, FieldError, by_group, renamed_from
from ..preflight import Preflight, preflight
from ..runs import builtin, launcher, lock, store
from .pages import page_link
from .train_dist import distributed_section
from .train_preflight import show_duration, show_lengths, show_memory, show_plan
from .widgets import cached_facts, cached_hardware

PREFIX = "train."
SAVED = "train.saved_form"  # widget values kept while the form is not on screen (Streamlit drops widget state)
OPEN_GROUPS = ("model-data", "optimisation", "schedule")
# Arrow steps of the float fields; typing any value still works.
STEPS = {
    "learning_rate": 1e-5,
    "adam_epsilon": 1e-9,
    "weight_decay": 0.01,
    "adam_beta1": 0.01,
    "adam_beta2": 0.001,
    "max_grad_norm": 0.1,
    "num_train_epochs": 0.5,
    "warmup_steps": 1.0,
    "logging_steps": 1.0,
    "save_steps": 10.0,
    "eval_steps": 10.0,
    "lora_dropout": 0.05,
}
NULL_LABEL = "null"


def key(name: str) -> str:
    return PREFIX + name


# -- catalogue value <-> widget value ----------------------------------------------------------------------
def to_widget(p: Field, value: Any) -> Any:
    """What the widget of `p` holds for catalogue value `value`."""
    if p.kind == "bool":
        return value if p.nullable else bool(value)
    if p.kind in ("int", "float"):
        if value is None:
            return None
        return int(value) if p.kind == "int" else float(value)
    if p.kind == "json":
        return "" if value is None else json.dumps(value)
    if p.kind == "str_list":
        return "" if value is None else ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    return "" if value is None else value


def from_widget(p: Field, value: Any) -> Any:
    """The raw value handed to `RunSpec.from_dict` (which converts and checks it)."""
    if isinstance(value, str) and p.kind in ("str", "str_list", "json") and not value.strip():
        return None if p.nullable else ("{}" if p.kind == "json" else value)
    return value


def help_for(p: Field) -> str:
    parts = [p.help, f"Allowed: {p.allowed()}."]
    if p.hf_default != p.default:
        parts.append(f"lrexplorer's default: {p.default!r}; the library's default: {p.hf_default!r}.")
    old = renamed_from(p.name)
    if old:
        parts.append("Formerly: " + ", ".join(old) + ".")
    return "\n\n".join(parts)


def seed_form() -> None:
    """Give every widget its first value: the one kept from the last visit, else the catalogue default
    (set through session state, never also through `value=`, which Streamlit warns about)."""
    saved = st.session_state.get(SAVED, {})
    for p in CATALOGUE_LIST:
        k = key(p.name)
        if k not in st.session_state:
            st.session_state[k] = saved.get(k, to_widget(p, p.default))


def load_form(values: dict[str, Any] | None = None) -> None:
    """Fill the form with a run's config (None: the defaults) the next time it is drawn.

    output_dir is left empty: the new run gets its own folder.
    """
    values = values or {}
    st.session_state[SAVED] = {
        key(p.name): to_widget(p, values.get(p.name, p.default) if p.name != "output_dir" else p.default)
        for p in CATALOGUE_LIST
    }
    for p in CATALOGUE_LIST:
        st.session_state.pop(key(p.name), None)


def _source_options(p: Field) -> list[str]:
    if p.name == "model":
        return [builtin.PREFIX + name for name in builtin.BUILTIN_MODELS]
    return [builtin.PREFIX + name for name in builtin.builtin_datasets()]


def widget(p: Field, disabled: bool = False) -> Any:
    """One input for one catalogue field; returns its widget value."""
    k, tip = key(p.name), help_for(p)
    if p.name in ("model", "dataset"):
        options = _source_options(p)
        current = st.session_state.get(k)
        if current and current not in options:
            options.append(current)
        return st.selectbox(
            p.name, options, key=k, help=tip + "\n\nPick a built-in or type a path or Hub id.", accept_new_options=True
        )
    if p.kind == "bool" and p.nullable:
        return st.selectbox(
            p.name,
            [None, True, False],
            key=k,
            help=tip,
            format_func=lambda v: NULL_LABEL if v is None else str(v).lower(),
            disabled=disabled,
        )
    if p.kind == "bool":
        return st.checkbox(p.name, key=k, help=tip, disabled=disabled)
    if p.kind == "choice":
        return st.selectbox(
            p.name, list(p.choice_values()), key=k, help=tip, format_func=lambda v: v or "(off)", disabled=disabled
        )
    if p.kind == "int":
        return st.number_input(
            p.name,
            step=1,
            format="%d",
            key=k,
            help=tip,
            placeholder=NULL_LABEL if p.nullable else None,
            disabled=disabled,
        )
    if p.kind == "float":
        return st.number_input(
            p.name,
            step=STEPS.get(p.name, 0.1),
            format="%g",
            key=k,
            help=tip,
            placeholder=NULL_LABEL if p.nullable else None,
            disabled=disabled,
        )
    placeholder = {"json": "{}" if not p.nullable else "null", "str_list": "null (peft's default)"}.get(
        p.kind, NULL_LABEL
    )
    return st.text_input(
        p.name, key=k, help=tip, placeholder=placeholder if p.nullable or p.kind == "json" else None, disabled=disabled
    )


def form() -> dict[str, Any]:
    """The whole form, one expander per catalogue group; returns field -> raw value."""
    seed_form()
    raw: dict[str, Any] = {}
    groups = by_group()
    for group, title in GROUPS.items():
        with st.expander(title, expanded=group in OPEN_GROUPS):
            if group == "model-data":
                st.caption(dataset_caption())
            if group == "distributed":
                raw.update(distributed_section(groups[group], cached_facts(), cached_hardware()))
                continue
            cols = st.columns(2)
            for i, p in enumerate(groups[group]):
                with cols[i % 2]:
                    raw[p.name] = from_widget(p, widget(p))
    st.session_state[SAVED] = {key(n): st.session_state.get(key(n)) for n in CATALOGUE}
    return raw


def dataset_caption() -> str:
    names = builtin.builtin_datasets()
    described = " ".join(f"**{builtin.PREFIX}{n}**: {builtin.DATASET_DESCRIPTIONS.get(n, '')}" for n in names)
    return f"Built-in model **builtin:tiny** (3.4M parameters, made from a config: no download). {described}"


# -- pre-flight ---------------------------------------------------------------------------------------------
def show_field_errors(errors: list) -> None:
    for err in errors:
        field = getattr(err, "field", None)
        problem = getattr(err, "problem", str(err))
        st.error(f"**{field}**: {problem}" if field else str(err), icon=":material/error:")


def show_warnings(items: list[tuple[str, str]]) -> None:
    for level, text in items:
        {"error": st.error, "warning": st.warning}.get(level, st.info)(
            text, icon={"error": ":material/block:", "warning": ":material/warning:"}.get(level, ":material/info:")
        )


def start(pf: Preflight, queue: bool) -> None:
    """Launch the run and put its id in the URL; errors are shown, never raised."""
    if pf.spec is None:
        return
    try:
        run_dir = launcher.start_run(pf.spec, store.runs_dir(), queue=queue)
    except FieldError as exc:
        show_field_errors(exc.errors)
        return
    except lock.DeviceBusy as exc:
        st.error(str(exc), icon=":material/block:")
        holder = exc.holder.get("run_dir")
        if holder:
            page_link(
                "train",
                label=f"Open the run that holds the {exc.device}",
                query_params={"run": run_ref(Path(holder))},
                icon=":material/open_in_new:",
            )
        return
    except (OSError, ValueError) as exc:
        st.error(f"Could not start the run: {exc}", icon=":material/error:")
        return
    st.query_params["run"] = run_ref(run_dir)
    st.rerun()


def run_ref(run_dir: Path) -> str:
    """The ?run= value of a run: its id (a run outside the runs directory is registered under it)."""
    return store.run_id_of(Path(run_dir))


def form_view() -> None:
    """The Train page before Start: the form on the left, what it will do on the right."""
    facts, hw = cached_facts(), cached_hardware()
    left, right = st.columns([9, 10], gap="large")
    with left:
        top = st.columns([3, 1.2], vertical_alignment="center")
        top[0].caption("Defaults train the built-in model on built-in data: Start works offline, on a CPU.")
        if top[1].button(
            "Reset", key="train.reset", help="Back to lrexplorer's defaults", icon=":material/restart_alt:"
        ):
            load_form(None)
            st.rerun()
        raw = form()
    with right:
        pf = preflight(raw, facts, hw)
        if pf.errors:
            show_field_errors(pf.errors)
        if pf.spec is not None:
            show_plan(pf)
            show_memory(pf, hw)
            show_duration(pf)
            show_lengths(pf)
            show_warnings(pf.warnings)
        queue = st.checkbox(
            "Queue if the device is busy",
            key="train.queue",
            help="Wait for the running job to end instead of refusing to start.",
        )
        if st.button(
            "Start training", type="primary", key="train.start", disabled=not pf.ok, icon=":material/play_arrow:"
        ):
            start(pf, queue)
