"""The Guide's reference lessons: every argument (from the parameter catalogue) and the corrected
example. transformers is imported only when the user asks for a check.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import streamlit as st

from lrexplorer.app.guide.nav import page_link
from lrexplorer.app.guide.state import GUIDE
from lrexplorer.catalogues import params
from lrexplorer.guide import arguments
from lrexplorer.guide.content import LESSONS
from lrexplorer.guide.example import corrected_example
from lrexplorer.guide.links import arguments_link, example_link

STATUS = {arguments.REMOVED: "(removed)", arguments.MISSING: "(not in the catalogue)"}
OPTIONAL_PACKAGES = ("wandb", "bitsandbytes")


@st.cache_data(show_spinner="Loading transformers and TRL to compare (a few seconds)…")
def installed_fields() -> dict[str, str]:
    """Field name -> the dataclass of the installed libraries that has it (TrainingArguments first)."""
    import dataclasses

    from transformers import TrainingArguments
    from trl import SFTConfig

    out: dict[str, str] = {}
    for cls in (TrainingArguments, SFTConfig):
        for f in dataclasses.fields(cls):
            out.setdefault(f.name, cls.__name__)
    return out


def notes_table() -> None:
    rows = arguments.notes_arguments()
    check = st.toggle("Check each name against the installed transformers and TRL", **GUIDE.bind("args.check"))
    fields = installed_fields() if check else {}
    titles = {lesson.id: lesson.title for lesson in LESSONS}
    table = []
    for r in rows:
        row = {
            "in the notes": r.notes_name,
            "name today": r.current_name or STATUS[r.status],
            "what it does": r.param.help if r.param else r.note,
            "lesson": titles[arguments.lesson_for(r.param)] if r.param else "",
        }
        if check:
            row["notes' name installed"] = fields.get(r.notes_name, "no")
        table.append(row)
    # A static table: its cells wrap, so every help text can be read in full (a class reads along).
    st.table(table, hide_index=True)
    missing = [r.notes_name for r in rows if r.status == arguments.MISSING]
    if missing:
        st.caption(
            "Not in lrexplorer's parameter catalogue yet, so not described here: "
            + ", ".join(f"`{m}`" for m in missing)
            + ". Turn on the check above to see whether the installed "
            "transformers still has them."
        )
    page_link(arguments_link(), icon=":material/model_training:")
    all_fields()


def all_fields() -> None:
    st.subheader("Every field lrexplorer knows", anchor="arguments-all")
    st.caption(
        "The parameter catalogue, by group: the same entries feed the Train form, the CLI flags "
        "(`lrexplorer train --help`) and the exported scripts. Defaults are those of transformers/TRL, with "
        "lrexplorer's own where it picks another."
    )
    for group, rows in arguments.grouped_rows().items():
        with st.expander(f"{group} ({len(rows)})"):
            st.table(rows, hide_index=True)


def installed_packages() -> frozenset[str]:
    return frozenset(p for p in OPTIONAL_PACKAGES if importlib.util.find_spec(p) is not None)


@st.cache_data(show_spinner="Constructing TrainingArguments with the installed transformers…")
def run_example(code: str) -> dict[str, Any]:
    """Execute the generated example (our own code, not user input) and read back what it set."""
    namespace: dict[str, Any] = {}
    exec(compile(code, "<corrected example>", "exec"), namespace)
    args = namespace["training_args"]
    keys = (
        "lr_scheduler_type",
        "warmup_steps",
        "optim",
        "activation_checkpointing",
        "train_sampling_strategy",
        "report_to",
        "max_grad_norm",
    )
    return {k: str(getattr(getattr(args, k), "value", getattr(args, k))) for k in keys}


def example() -> None:
    example = corrected_example(installed_packages())
    st.markdown("**What was changed, and why**")
    st.markdown("\n".join(f"- {c}" for c in example.changes))
    st.code(example.code, language="python", wrap_lines=True)
    page_link(example_link(example.arguments), icon=":material/model_training:")
    if st.button("Run it with the installed transformers", key="guide.example.run", icon=":material/play_arrow:"):
        import transformers

        try:
            values = run_example(example.code)
        except Exception as exc:  # noqa: BLE001 - show whatever the library says
            st.error(f"transformers {transformers.__version__} refused it: {exc}", icon=":material/error:")
        else:
            st.success(f"transformers {transformers.__version__} built the TrainingArguments.", icon=":material/check:")
            st.dataframe([{"field": k, "value": v} for k, v in values.items()], hide_index=True)
    st.caption(
        f"Names, values and checks come from the parameter catalogue ({len(params.CATALOGUE)} fields) and its "
        f"list of {len(params.RENAMED)} renamed fields."
    )


EXTRAS: dict[tuple[str, str], Callable[[], None]] = {
    ("arguments", "intro"): notes_table,
    ("example", "intro"): example,
}
