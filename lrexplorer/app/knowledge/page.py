"""The Knowledge lab page: fine-tuning against retrieval at teaching the built-in model new facts.

A lab runs in its own `lrexplorer knowledge` process writing a folder under the runs directory
(`knowledge.lab_folder`), so it goes on when the page is closed and its results are drawn again from
the folder after a reload. The lab's settings are the page's `KNOWLEDGE` state (namespace `knowledge.`, in
the address as `methods`, `paraphrases`, `seeds`, `epochs`, `budget`: the Guide's link presets them); the
lab it shows is `lab`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from lrexplorer.app.common import roles
from lrexplorer.app.common.field_widgets import changed
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.app.figures import knowledge as figures
from lrexplorer.core.units import format_duration, plural
from lrexplorer.knowledge import lab_folder
from lrexplorer.knowledge.facts import FactFileError, load_facts, max_paraphrases, parse_text
from lrexplorer.knowledge.lab import BUDGETS, LabSettings, validate
from lrexplorer.knowledge.lab_folder import LabFolder
from lrexplorer.knowledge.results import METHODS

PREFIX = "knowledge."
LAB_PARAM = "lab"
DEFAULTS = LabSettings()
SOURCES = ("built-in", "my fact file")
SEEDS, EPOCHS = (1, 10), (0.5, 100.0)  # the inputs' ranges


def _defaults() -> dict[str, Any]:
    return {
        "source": SOURCES[0],
        "methods": list(DEFAULTS.methods),
        "paraphrases": list(DEFAULTS.paraphrases),
        "seeds": DEFAULTS.seeds,
        "epochs": DEFAULTS.epochs,
        "budget": DEFAULTS.budget,
    }


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    return changed({k: v for k, v in values.items() if k != "source"}, _defaults())


def _from_query(query: Mapping[str, str]) -> Decoded:
    values: dict[str, Any] = {}
    problems: list[str] = []

    def bad(name: str, why: str) -> None:
        problems.append(f"link parameter `{name}` ignored: {why}")

    for name, text in query.items():
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            if name == "methods":
                if unknown := [m for m in items if m not in METHODS]:
                    bad(name, f"unknown method {', '.join(unknown)}; known: {', '.join(METHODS)}")
                values[name] = [m for m in items if m in METHODS]
            elif name == "paraphrases":
                values[name] = list(dict.fromkeys(int(t) for t in items if int(t) >= 1))
            elif name == "seeds":
                values[name] = min(SEEDS[1], max(SEEDS[0], int(text)))
            elif name == "epochs":
                values[name] = min(EPOCHS[1], max(EPOCHS[0], float(text)))
            elif name == "budget":
                if text not in BUDGETS:
                    raise ValueError(f"must be one of {', '.join(BUDGETS)}")
                values[name] = text
            else:
                bad(name, "not a setting of the Knowledge lab")
        except ValueError as exc:
            bad(name, str(exc))
    return values, [], problems


KNOWLEDGE = PageState("knowledge", "knowledge", _defaults, _to_query, _from_query, views=(LAB_PARAM,))


def render() -> None:
    st.title("Knowledge lab")
    st.caption(
        "Can fine-tuning teach a model new facts, and how does it compare with putting the facts in the prompt? "
        "The built-in reader model (a small Llama pre-trained in this repository to answer from a context) "
        "meets facts about invented people it has never seen, learns them by fine-tuning on 1 to K "
        "paraphrases of each (ft), reads them from retrieved documents (rag, BM25 top 3), or both, and "
        "answers multiple-choice questions scored by log-probability, as Ovadia et al. (2024) do."
    )
    _, problems = KNOWLEDGE.begin()
    for problem in problems:
        st.warning(problem, icon=":material/link_off:")
    settings, facts_text, facts_name = controls()
    clicked = st.button(
        "Run the lab",
        key=PREFIX + "start",
        disabled=settings is None or not roles.can_act(),
        icon=":material/play_arrow:",
    )
    if clicked and not roles.refuse_if_viewer("Running a lab"):
        start(settings, facts_text, facts_name)
    st.divider()
    shown = choose_lab()
    if shown is not None:
        lab = LabFolder(shown)
        active = lab.reconcile().get("state") in lab_folder.ACTIVE
        st.fragment(lab_view, run_every=2.0 if active else None)(str(shown), active)


def controls() -> tuple[LabSettings | None, str | None, str]:
    """The lab's settings from the widgets; None (with the errors shown, naming the field) when invalid."""
    source = st.radio("Fact set", SOURCES, horizontal=True, **KNOWLEDGE.bind("source"))
    facts_text, facts_name = None, ""
    try:
        if source == "built-in":
            facts = load_facts()
        else:
            upload = st.file_uploader(
                "Fact file (JSON lines: fact, paraphrases, questions, answer, candidates)",
                type=["jsonl", "json", "txt"],
                key=PREFIX + "upload",
                disabled=not roles.can_act(),  # an upload is a file on this machine: the teacher's link
            )
            if upload is not None and not roles.can_act():
                upload = None
            if upload is None:
                st.info("Choose a fact file to run the lab on it.", icon=":material/upload_file:")
                return None, None, ""
            facts_text, facts_name = upload.getvalue().decode("utf-8", errors="replace"), upload.name
            facts = parse_text(facts_text, facts_name)
    except FactFileError as exc:
        st.error(f"**{exc.field or 'facts'}**: {exc}", icon=":material/error:")
        return None, None, ""
    k = max_paraphrases(facts)
    st.caption(
        f"{len(facts)} facts, {sum(len(f.questions) for f in facts)} test questions, up to {k} paraphrases each."
    )
    counts = range(1, k + 1)
    wanted = KNOWLEDGE.get("paraphrases")
    if any(p not in counts for p in wanted):  # a fact file with fewer paraphrases than the counts asked
        KNOWLEDGE.set(paraphrases=[p for p in wanted if p in counts])
    cols = st.columns([4, 3, 1, 1, 2])
    methods = cols[0].multiselect("methods", METHODS, **KNOWLEDGE.bind("methods"))
    paraphrases = cols[1].multiselect(
        "paraphrases",
        list(counts),
        help="Paraphrase counts to fine-tune on (ft and ft+rag): the first n paraphrases of every fact.",
        **KNOWLEDGE.bind("paraphrases"),
    )
    seeds = cols[2].number_input("seeds", *SEEDS, **KNOWLEDGE.bind("seeds"))
    epochs = cols[3].number_input("epochs", *EPOCHS, step=0.5, **KNOWLEDGE.bind("epochs"))
    budget = cols[4].selectbox(
        "budget",
        BUDGETS,
        help="epochs: every paraphrase count gets the same passes over its documents (more paraphrases, more "
        "updates). updates: every count gets as many updates as the largest count's passes take.",
        **KNOWLEDGE.bind("budget"),
    )
    settings = LabSettings(tuple(methods), tuple(sorted(paraphrases)), int(seeds), float(epochs), budget)
    try:
        validate(settings, facts)
    except ValueError as exc:
        field, _, problem = str(exc).partition(": ")
        st.error(f"**{field}**: {problem}", icon=":material/error:")
        return None, None, ""
    return settings, facts_text, facts_name


def start(settings: LabSettings | None, facts_text: str | None, facts_name: str) -> None:
    if settings is None:
        return
    wanted = {k: settings.to_json()[k] for k in ("methods", "paraphrases", "seeds", "epochs", "budget")}
    folder = lab_folder.start_lab(wanted, facts_text, facts_name)
    st.query_params[LAB_PARAM] = folder.name
    st.rerun()


def choose_lab() -> Any:
    """The lab to show: the one in the URL, else the newest; a selector over every lab in the runs folder."""
    labs = lab_folder.list_labs()
    if not labs:
        st.caption(f"No lab has run yet; results are kept in {lab_folder.labs_dir()}/.")
        return None
    names = [p.name for p in labs]
    wanted = st.query_params.get(LAB_PARAM)
    index = names.index(wanted) if wanted in names else 0
    name = st.selectbox("Lab", names, index, key=f"{PREFIX}shown.{wanted}", help=f"Folders in {lab_folder.labs_dir()}")
    if name != wanted:
        st.query_params[LAB_PARAM] = name
    return labs[names.index(name)]


def lab_view(path: str, was_active: bool) -> None:
    lab = LabFolder(path)
    status = lab.reconcile()
    state = status.get("state", "?")
    if was_active and state not in lab_folder.ACTIVE:
        st.rerun()  # ended: draw it once more without the refresh
    settings = lab.settings()
    st.markdown(
        f"**{lab.path.name}** ({state}): methods {', '.join(settings.get('methods', []))}; paraphrases "
        f"{', '.join(map(str, settings.get('paraphrases', [])))}; {plural(settings.get('seeds') or 0, 'seed')}; "
        f"{plural(settings.get('epochs') or 0, 'epoch')}, same {settings.get('budget')}; facts: {settings.get('facts')}"
    )
    if state in lab_folder.ACTIVE:
        eta = status.get("eta_s")
        eta_text = "" if eta is None else f", about {format_duration(eta)} left"
        st.progress(float(status.get("fraction", 0.0)), text=f"{status.get('message', '')}{eta_text}")
        if lab.should_stop():
            st.caption("Stop asked: the lab ends after the current step, keeping the results that finished.")
        elif st.button(
            "Stop", key=PREFIX + "stop", icon=":material/stop:", disabled=not roles.can_act()
        ) and not roles.refuse_if_viewer("Stopping a lab"):
            lab.request_stop()
    elif state == "failed":
        st.error(status.get("message", "failed"), icon=":material/error:")
    elif state == "stopped":
        st.warning("Stopped before the end: the results below are those that finished.", icon=":material/pause:")
    results = lab.results()
    if results is not None:
        show_results(results)
    records = lab.records()
    if records:
        st.markdown("**Fine-tuning loss**")
        st.plotly_chart(figures.curves_figure(records), width="stretch", key=PREFIX + "curves")
        st.caption(
            "One line per paraphrase count and seed. The loss drops at each dotted line, where the model sees "
            "its documents again: it is memorising the sentences, which is not the same as being able to "
            "answer a question phrased differently."
        )


def show_results(results: dict[str, Any]) -> None:
    st.markdown("**Accuracy on questions about the new facts**")
    st.plotly_chart(figures.accuracy_figure(results), width="stretch", key=PREFIX + "accuracy")
    st.dataframe(figures.table_rows(results), hide_index=True, width="stretch")
    st.caption(
        f"{results['questions']} questions, each scored by the candidate with the highest log-probability "
        f"(chance {results['chance']:.2f}); exact match: the greedy answer equals the right one. base and rag do "
        f"not train, so their figure is the same for every seed. Lab time: {format_duration(results['elapsed_s'])}."
    )
