"""Form, URL and display helpers of the Schedules page (no streamlit needed)."""

import pytest

from lrexplorer.app.common.field_widgets import help_text
from lrexplorer.app.common.schedule_inputs import (
    collect_kwargs,
    ordered_schedule_names,
    placeholder,
    preset_from_query,
)
from lrexplorer.app.common.schedule_view import stacked_formula
from lrexplorer.core.fields import FieldError
from lrexplorer.schedules import CATALOGUE, NOTES_SCHEDULES


def param(schedule: str, name: str):
    return next(p for p in CATALOGUE[schedule].params if p.name == name)


def test_order_notes_then_transformers_then_torch():
    names = ordered_schedule_names()
    assert sorted(names) == sorted(CATALOGUE)
    assert tuple(names[:6]) == NOTES_SCHEDULES
    families = [CATALOGUE[n].family for n in names[6:]]
    assert families == sorted(families, key=lambda f: f != "transformers")


def test_typed_text_is_converted_by_the_field_and_errors_name_it():
    def typed(schedule: str, **values):
        return collect_kwargs(CATALOGUE[schedule], values)

    assert typed("MultiStepLR", milestones=" [30, 80 ] ") == {"milestones": [30, 80]}
    assert typed("MultiStepLR", milestones="30 80") == {"milestones": [30, 80]}
    assert typed("MultiStepLR", milestones="  ") == {}
    assert typed("StepLR", step_size="1e3") == {"step_size": 1000} and isinstance(
        typed("StepLR", step_size="1e3")["step_size"], int
    )
    assert typed("StepLR", gamma="0.5") == {"gamma": 0.5}
    for schedule, name, text, words in [
        ("MultiStepLR", "milestones", "30, x", "integers >= 0"),
        ("StepLR", "step_size", "2.5", "integer"),
        ("StepLR", "gamma", "ten", "a number > 0"),
        ("StepLR", "gamma", "-1", "a number > 0"),
    ]:
        with pytest.raises(FieldError) as err:
            typed(schedule, **{name: text})
        assert err.value.field == name and err.value.scope == schedule and words in str(err.value)
        assert str(err.value).startswith(f"{name} ({schedule}): ")


def test_collect_kwargs_passes_only_what_was_set_and_json_wins():
    cyc = CATALOGUE["CyclicLR"]
    values = {p.name: None for p in cyc.params}
    values.update({"mode": "triangular", "cycle_momentum": True, "step_size_up": 50})
    assert collect_kwargs(cyc, values) == {"step_size_up": 50}
    assert collect_kwargs(cyc, values, '{"step_size_up": 7, "mode": "exp_range"}') == {
        "step_size_up": 7,
        "mode": "exp_range",
    }
    with pytest.raises(FieldError) as err:
        collect_kwargs(cyc, values, "{oops")
    assert err.value.field == "lr_scheduler_kwargs"


def test_placeholders_and_help_show_defaults():
    assert placeholder(param("StepLR", "step_size"), 900) == "auto 300"
    assert placeholder(param("StepLR", "gamma"), 900) == "default 0.1"
    assert placeholder(param("OneCycleLR", "max_lr"), 900) == "auto: learning_rate"
    assert placeholder(param("CyclicLR", "base_lr"), 900) == "auto: 0.1 × learning_rate"
    assert placeholder(param("cosine_with_min_lr", "min_lr"), 900) == "not set"
    text = help_text(param("StepLR", "step_size"), span=900, empty=True)
    assert "integer >= 1" in text and "300" in text
    assert "Empty: 0.1 × learning_rate." in help_text(param("CyclicLR", "base_lr"), span=900, empty=True)


def test_query_preset():
    p = preset_from_query({"schedule": "Cosine, StepLR,cosine", "lr": "3e-4", "steps": "1e4", "warmup": "0.1"})
    assert p.schedules == ["cosine", "StepLR"] and p.learning_rate == 3e-4
    assert p.max_steps == 10_000 and p.warmup_steps == 0.1 and not p.problems
    bad = preset_from_query({"schedule": "nope", "lr": "-1", "steps": "2.5", "warmup": "inf"})
    assert bad.schedules is None and bad.learning_rate is None and bad.max_steps is None and bad.warmup_steps is None
    assert len(bad.problems) == 4 and "`lr` (learning_rate) must be a number > 0" in bad.problems[1]
    # The catalogue's names work too, and an old name is read under its current one, with a note.
    named = preset_from_query({"learning_rate": "1e-3", "max_steps": "-1", "warmup_ratio": "0.1"})
    assert named.learning_rate == 1e-3 and named.warmup_steps == 0.1 and "warmup_ratio" in named.notes[0]
    assert named.max_steps is None and "max_steps" in named.problems[0]


def test_stacked_formula_splits_top_level_parts_only():
    linear = stacked_formula(CATALOGUE["linear"].latex)
    assert linear.startswith(r"\begin{gathered}") and linear.count(r" \\ ") == 1
    assert stacked_formula(CATALOGUE["StepLR"].latex) == CATALOGUE["StepLR"].latex
    wsd = CATALOGUE["warmup_stable_decay"].latex  # its \\ are rows of a cases block, not parts
    assert stacked_formula(wsd) == wsd


@pytest.mark.parametrize("name", ["CyclicLR", "OneCycleLR"])
def test_notes_name_the_values_that_follow_the_learning_rate_as_the_real_scheduler_gets_them(name):
    from lrexplorer.app.common.schedule_view import trainer_notes, view_curve
    from lrexplorer.schedules.build import torch_scheduler_class

    lr = 3e-3
    view = view_curve(name, lr, 400, 0, {})
    text = " ".join(t for _, t in trainer_notes(view, lr))
    # The values the torch class is built with, read back from a real scheduler's constructor arguments.
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    real = torch_scheduler_class(name)(opt, **CATALOGUE[name].with_lr(view.kwargs, lr))
    followed = {"base_lr": real.base_lrs[0]} if name == "CyclicLR" else {}
    followed["max_lr"] = real.max_lrs[0] if name == "CyclicLR" else real.optimizer.param_groups[0]["max_lr"]
    for arg, value in followed.items():
        assert f"{arg} = " in text and f"({value:g})" in text, arg
    assert "learning_rate / 10" not in text


def test_the_onecycle_formula_symbols_are_defined_next_to_it():
    schedule = CATALOGUE["OneCycleLR"]
    assert "d_f" in schedule.latex and "p_s" in schedule.latex
    for definition in ("d is div_factor", "d_f final_div_factor", "p_s pct_start", "T total_steps"):
        assert definition in schedule.explanation
    assert {p.name for p in schedule.params} >= {"final_div_factor", "pct_start", "div_factor"}
