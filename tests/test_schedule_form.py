"""Form, URL and display helpers of the Schedules page (no streamlit needed)."""

import pytest

from lrexplorer.app.schedule_view import stacked_formula
from lrexplorer.schedule_form import (
    collect_kwargs,
    help_text,
    ordered_schedule_names,
    parse_int_list,
    parse_number,
    placeholder,
    preset_from_query,
)
from lrexplorer.schedules import CATALOGUE, NOTES_SCHEDULES, ScheduleError


def param(schedule: str, name: str):
    return next(p for p in CATALOGUE[schedule].params if p.name == name)


def test_order_notes_then_transformers_then_torch():
    names = ordered_schedule_names()
    assert sorted(names) == sorted(CATALOGUE)
    assert tuple(names[:6]) == NOTES_SCHEDULES
    families = [CATALOGUE[n].family for n in names[6:]]
    assert families == sorted(families, key=lambda f: f != "transformers")


def test_int_list_and_number_parsing_name_the_field():
    milestones = param("MultiStepLR", "milestones")
    assert parse_int_list(" [30, 80 ] ", "MultiStepLR", milestones) == [30, 80]
    assert parse_int_list("30 80", "MultiStepLR", milestones) == [30, 80]
    assert parse_int_list("  ", "MultiStepLR", milestones) is None
    with pytest.raises(ScheduleError) as err:
        parse_int_list("30, x", "MultiStepLR", milestones)
    assert err.value.field == "milestones" and "`milestones`" in str(err.value)
    step = param("StepLR", "step_size")
    assert parse_number("1e3", "StepLR", step) == 1000 and isinstance(parse_number("1e3", "StepLR", step), int)
    assert parse_number("2.5", "StepLR", step) == 2.5  # the engine rejects it, naming the field
    assert parse_number("", "StepLR", step) is None
    with pytest.raises(ScheduleError) as err:
        parse_number("ten", "StepLR", param("StepLR", "gamma"))
    assert err.value.field == "gamma"


def test_collect_kwargs_passes_only_what_was_set_and_json_wins():
    cyc = CATALOGUE["CyclicLR"]
    values = {p.name: None for p in cyc.params}
    values.update({"mode": "triangular", "cycle_momentum": True, "step_size_up": 50})
    assert collect_kwargs(cyc, values) == {"step_size_up": 50}
    assert collect_kwargs(cyc, values, '{"step_size_up": 7, "mode": "exp_range"}') == {
        "step_size_up": 7,
        "mode": "exp_range",
    }
    with pytest.raises(ScheduleError) as err:
        collect_kwargs(cyc, values, "{oops")
    assert err.value.field == "lr_scheduler_kwargs"


def test_placeholders_and_help_show_defaults():
    assert placeholder(param("StepLR", "step_size"), 900) == "auto 300"
    assert placeholder(param("StepLR", "gamma"), 900) == "default 0.1"
    assert placeholder(param("OneCycleLR", "max_lr"), 900) == "not set"
    text = help_text(param("StepLR", "step_size"), 900)
    assert "integer >= 1" in text and "300" in text


def test_query_preset():
    p = preset_from_query({"schedule": "Cosine, StepLR,cosine", "lr": "3e-4", "steps": "1e4", "warmup": "0.1"})
    assert p.schedules == ["cosine", "StepLR"] and p.learning_rate == 3e-4
    assert p.max_steps == 10_000 and p.warmup_steps == 0.1 and not p.problems
    bad = preset_from_query({"schedule": "nope", "lr": "-1", "steps": "2.5", "warmup": "inf"})
    assert bad.schedules is None and bad.learning_rate is None and bad.max_steps is None and bad.warmup_steps is None
    assert len(bad.problems) == 4


def test_stacked_formula_splits_top_level_parts_only():
    linear = stacked_formula(CATALOGUE["linear"].latex)
    assert linear.startswith(r"\begin{gathered}") and linear.count(r" \\ ") == 1
    assert stacked_formula(CATALOGUE["StepLR"].latex) == CATALOGUE["StepLR"].latex
    wsd = CATALOGUE["warmup_stable_decay"].latex  # its \\ are rows of a cases block, not parts
    assert stacked_formula(wsd) == wsd
