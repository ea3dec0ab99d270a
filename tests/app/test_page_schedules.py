"""The Schedules page, driven through Streamlit's AppTest: what it draws is what the trainer applies."""

import base64
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lrexplorer.catalogues.params import CATALOGUE, SCHEDULE
from lrexplorer.core.hardware import detect_gpus
from lrexplorer.runs.steps import plan_steps
from lrexplorer.schedules import compute_curve

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "lrexplorer" / "app" / "page_scripts" / "schedules.py")
LR = CATALOGUE["learning_rate"].default_for(SCHEDULE)  # where the page starts


def page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def array(value) -> np.ndarray:
    """Plotly 6+ writes numpy arrays as base64 typed arrays ({"dtype", "bdata"}); lists stay lists."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)


def traces(at: AppTest, chart: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    spec = json.loads(at.get("plotly_chart")[chart].proto.spec)
    return {t["name"]: (array(t["x"]).astype(int), array(t["y"]).astype(float)) for t in spec["data"]}


def layout(at: AppTest, chart: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[chart].proto.spec)["layout"]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def set_run(at: AppTest, *, lr: float | None = None, steps: int | None = None, warmup: float | None = None) -> AppTest:
    if lr is not None:
        at.number_input(key="sched.learning_rate").set_value(lr)
    if steps is not None:
        at.number_input(key="sched.max_steps").set_value(steps)
    if warmup is not None:
        at.number_input(key="sched.warmup_steps").set_value(warmup)
    return at.run()


def test_default_page_draws_linear_and_cosine_exactly():
    at = page()
    assert not at.exception and not errors(at)
    drawn = traces(at)
    assert list(drawn) == ["linear", "cosine"]
    for name, (x, y) in drawn.items():
        expected = compute_curve(name, LR, 1000, 0, {}).lr
        assert np.array_equal(x, np.arange(1000))
        np.testing.assert_array_equal(y, expected)
    assert len(at.get("plotly_chart")) == 1  # no warmup, no close-up
    assert metrics(at)["Updates"] == "1,000"


def test_chart_equals_the_real_transformers_scheduler():
    import torch
    from transformers import get_scheduler

    at = page(schedule="cosine")
    at.text_input(key="sched.cosine.num_cycles").set_value("0.75")
    at = set_run(at, lr=3e-4, steps=400, warmup=0.1)
    assert not at.exception and not errors(at)
    x, y = traces(at)["cosine"]

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    sched = get_scheduler(
        "cosine", opt, num_warmup_steps=40, num_training_steps=400, scheduler_specific_kwargs={"num_cycles": 0.75}
    )
    real = []
    for _ in range(400):
        real.append(sched.get_last_lr()[0])  # the LR this update uses
        opt.step()
        sched.step()
    np.testing.assert_allclose(y, np.asarray(real)[x], rtol=1e-12, atol=1e-18)
    assert y[0] == 0.0 and x.size == 400


def test_chart_equals_real_torch_steplr():
    import torch

    at = page(schedule="StepLR", lr="0.01", steps="90", warmup="0")
    at.text_input(key="sched.StepLR.step_size").set_value("25")
    at.text_input(key="sched.StepLR.gamma").set_value("0.5")
    at = at.run()
    _x, y = traces(at)["StepLR"]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=25, gamma=0.5)
    real = []
    for _ in range(90):
        real.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(y, real, rtol=1e-12)


def test_dataset_mode_numbers_equal_plan_steps():
    at = page()
    at.radio(key="sched.mode").set_value("From dataset size").run()
    at.number_input(key="sched.num_examples").set_value(1001)
    at.number_input(key="sched.per_device_train_batch_size").set_value(8)
    at.number_input(key="sched.gradient_accumulation_steps").set_value(4)
    at.number_input(key="sched.num_train_epochs").set_value(2.5)
    at.number_input(key="sched.world_size").set_value(2)
    at.toggle(key="sched.dataloader_drop_last").set_value(True)
    at.number_input(key="sched.warmup_steps").set_value(0.1)
    at = at.run()
    assert not at.exception and not errors(at)
    plan = plan_steps(
        num_examples=1001,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,
        num_train_epochs=2.5,
        world_size=2,
        dataloader_drop_last=True,
        warmup_steps=0.1,
    )
    shown = {k: int(v.replace(",", "")) for k, v in metrics(at).items()}
    assert shown == {
        "Updates": plan.total_steps,
        "Warmup": plan.warmup_steps,
        "Per epoch": plan.updates_per_epoch,
        "Global batch": plan.global_batch_size,
    }
    x, y = traces(at)["linear"]
    assert x[-1] == plan.total_steps - 1
    np.testing.assert_array_equal(y, compute_curve("linear", LR, plan.total_steps, plan.warmup_steps).lr[x])
    epoch_lines = sorted(s["x0"] for s in layout(at)["shapes"] if s["type"] == "line")
    assert epoch_lines == plan.epoch_boundaries()
    assert len(at.get("plotly_chart")) == 2  # warmup close-up


def test_plan_errors_and_notes_name_the_field():
    at = page()
    at.radio(key="sched.mode").set_value("From dataset size").run()
    at.number_input(key="sched.per_device_train_batch_size").set_value(0)
    at = at.run()
    assert not at.exception and any("per_device_train_batch_size" in e for e in errors(at))
    assert not at.get("plotly_chart")
    at.number_input(key="sched.per_device_train_batch_size").set_value(8)
    at.number_input(key="sched.learning_rate").set_value(0.0)
    at = at.run()
    assert not at.exception and any("learning_rate" in e for e in errors(at))
    at.number_input(key="sched.learning_rate").set_value(1e-4)
    at.number_input(key="sched.warmup_ratio").set_value(0.1)
    at = at.run()
    assert not at.exception and not errors(at)
    assert any("warmup_ratio" in w.value for w in at.warning)
    total = int(metrics(at)["Updates"].replace(",", ""))
    assert metrics(at)["Warmup"] == f"{math.ceil(0.1 * total):,}"


def test_a_million_updates_are_decimated_but_exact():
    at = page(schedule="linear,StepLR,OneCycleLR", steps="1000000", warmup="2000")
    assert not at.exception and not errors(at)
    for name, (x, y) in traces(at).items():
        assert x.size <= 2000 and x[0] == 0 and x[-1] == 999_999
        np.testing.assert_array_equal(y, compute_curve(name, LR, 1_000_000, 2000, {}).lr[x])


def test_warmup_longer_than_training_names_the_field():
    at = set_run(page(), steps=100, warmup=150)
    assert not at.exception
    assert any("warmup_steps" in e for e in errors(at))


@pytest.mark.parametrize(
    "field,text,expect",
    [
        ("gamma", "-0.5", "gamma (StepLR): must be a number > 0"),
        ("gamma", "abc", "gamma (StepLR): must be a number > 0"),
        ("step_size", "2.5", "step_size (StepLR): must be an integer"),
    ],
)
def test_bad_steplr_argument_names_the_field(field, text, expect):
    at = page(schedule="StepLR,linear")
    at.text_input(key=f"sched.StepLR.{field}").set_value(text)
    at = at.run()
    assert not at.exception
    assert any(expect in e for e in errors(at))
    assert list(traces(at)) == ["linear"]  # the others are still drawn


def test_malformed_milestones_and_json_name_the_field():
    at = page(schedule="MultiStepLR")
    at.text_input(key="sched.MultiStepLR.milestones").set_value("30, eighty")
    at = at.run()
    assert not at.exception and any("milestones (MultiStepLR)" in e for e in errors(at))
    at.text_input(key="sched.MultiStepLR.milestones").set_value("30, -5")
    at = at.run()
    assert not at.exception and any("milestones (MultiStepLR)" in e for e in errors(at))
    at.text_input(key="sched.MultiStepLR.milestones").set_value("")
    at.text_input(key="sched.MultiStepLR._json").set_value('{"gamma": 0.5,}')
    at = at.run()
    assert not at.exception and any("lr_scheduler_kwargs" in e and "JSON" in e for e in errors(at))
    at.text_input(key="sched.MultiStepLR._json").set_value('{"milestones": [300, 600], "gamma": 0.5}')
    at = at.run()
    assert not at.exception and not errors(at)
    _, y = traces(at)["MultiStepLR"]
    np.testing.assert_array_equal(
        y, compute_curve("MultiStepLR", LR, 1000, 0, {"milestones": [300, 600], "gamma": 0.5}).lr
    )


def test_json_overrides_the_fields():
    at = page(schedule="cosine")
    at.text_input(key="sched.cosine.num_cycles").set_value("2")
    at.text_input(key="sched.cosine._json").set_value('{"num_cycles": 1}')
    _, y = traces(at.run())["cosine"]
    np.testing.assert_array_equal(y, compute_curve("cosine", LR, 1000, 0, {"num_cycles": 1}).lr)


def test_query_params_preset_the_widgets():
    at = page(schedule="cosine,steplr", lr="0.001", steps="2500", warmup="250")
    assert not at.exception and not any("link" in w.value for w in at.warning)
    assert at.multiselect(key="sched.names").value == ["cosine", "StepLR"]
    assert at.number_input(key="sched.learning_rate").value == 0.001
    assert metrics(at)["Updates"] == "2,500" and metrics(at)["Warmup"] == "250"
    _, y = traces(at)["cosine"]
    assert y.max() == pytest.approx(0.001)


def test_bad_query_values_are_ignored_with_a_warning():
    at = page(schedule="cosine,nosuch", lr="fast", steps="-3")
    assert not at.exception and not errors(at)
    text = " ".join(w.value for w in at.warning)
    assert "nosuch" in text and "`lr`" in text and "`steps`" in text
    assert at.multiselect(key="sched.names").value == ["cosine"]
    assert at.number_input(key="sched.learning_rate").value == LR


def test_summary_and_notes():
    at = page(schedule="linear,constant,reduce_lr_on_plateau,OneCycleLR", warmup="10")
    assert not at.exception and not errors(at)
    rows = at.table[0].value
    assert list(rows["schedule"]) == ["linear", "constant", "reduce_lr_on_plateau", "OneCycleLR"]
    assert rows.loc[0, "first LR"] == "0" and rows.loc[1, "warmup"] == "ignored"
    notes = " ".join(w.value for w in [*at.warning, *at.info])
    assert "first update uses LR 0" in notes
    assert "Ignores `warmup_steps`" in notes
    assert "evaluation loss" in notes
    assert "OneCycleLR" in notes and "max_lr" in notes
    assert len(at.get("download_button")) == 1


def test_summary_writes_small_learning_rates_in_scientific_notation():
    """A 2e-5 run reads 2e-05, not 0.0000 (a fixed-point format in a narrow column); the values are those
    of the real transformers schedulers."""
    from helpers.real_schedulers import hf_reference

    at = set_run(page(schedule="linear,cosine", warmup="10"), lr=2e-5, steps=1000)
    assert not at.exception and not errors(at)
    rows = at.table[0].value
    assert list(rows["max LR"]) == ["2e-05", "2e-05"] and list(rows["first LR"]) == ["0", "0"]
    for i, name in enumerate(("linear", "cosine")):
        real = hf_reference(name, 2e-5, 1000, 10, {})
        assert float(rows.loc[i, "last LR"]) == pytest.approx(real[-1], rel=5e-3), name
    cells = [str(v) for column in rows.columns if "LR" in column for v in rows[column]]
    assert not [c for c in cells if c.startswith("0.0")], cells


@pytest.mark.parametrize(
    "lr,text",
    [(5.000000000000001e-08, "5e-08"), (2e-5, "2e-05"), (1.5e-4, "1.5e-04"), (1.37e-10, "1.37e-10"), (0.0, "0")],
)
def test_learning_rates_are_written_as_in_a_config(lr, text):
    from lrexplorer.app.common.schedule_view import lr_text

    assert lr_text(lr) == text


def test_app_entry_point_lists_the_page_and_the_hardware():
    at = AppTest.from_file(str(ROOT / "lrexplorer" / "app" / "main.py"), default_timeout=30).run()
    assert not at.exception
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    if not detect_gpus():
        assert "No NVIDIA GPU detected" in sidebar
    assert "CPU" in sidebar
    assert traces(at)  # the Schedules page is the default page


def test_app_start_and_schedules_page_import_neither_torch_nor_transformers():
    code = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({str(ROOT / 'lrexplorer' / 'app' / 'main.py')!r}, default_timeout=30).run(); "
        "assert not at.exception; "
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, timeout=60)


def test_csv_has_every_update_at_full_precision():
    from lrexplorer.app.common.schedule_view import curves_csv, full_curves

    curves = full_curves(
        ["linear", "StepLR", "polynomial"],
        3e-4,
        250,
        25,
        {"linear": {}, "StepLR": {"gamma": -1}, "polynomial": {"power": 2.0}},
    )
    assert [name for name, _ in curves] == ["linear", "polynomial"]  # the invalid StepLR is left out
    lines = curves_csv(curves).splitlines()
    assert lines[0] == "step,linear,polynomial" and len(lines) == 251
    parsed = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.array_equal(parsed[:, 0], np.arange(250))
    assert np.array_equal(parsed[:, 1], compute_curve("linear", 3e-4, 250, 25).lr)  # bit for bit
    assert np.array_equal(parsed[:, 2], compute_curve("polynomial", 3e-4, 250, 25, {"power": 2.0}).lr)


def test_old_names_in_a_link_are_read_under_the_current_name_with_a_note():
    at = page(schedule="linear", max_steps="200", warmup_ratio="0.1")
    assert not at.exception and not errors(at)
    assert not [w for w in at.warning if "Ignored in the link" in w.value]
    assert at.number_input(key="sched.warmup_steps").value == 0.1
    assert any("warmup_ratio read as warmup_steps" in i.value for i in at.info)
    assert metrics(at)["Warmup"] == "20"  # a fraction of the 200 updates, as transformers 5 reads it


def test_run_form_is_generated_from_the_catalogue_fields():
    at = page()
    at.radio(key="sched.mode").set_value("From dataset size").run()
    inputs = {w.key: w for kind in ("number_input", "toggle") for w in at.get(kind)}
    names = ("learning_rate", "warmup_steps", "per_device_train_batch_size", "num_train_epochs")
    names += ("gradient_accumulation_steps", "world_size", "dataloader_drop_last")
    for name in names:
        field, widget = CATALOGUE[name], inputs["sched." + name]
        assert widget.label == name
        assert field.help in widget.help and field.allowed() in widget.help
        assert widget.value == field.default_for(SCHEDULE), name
    override = inputs["sched.dataset.max_steps"]
    assert override.label == "max_steps" and override.value == CATALOGUE["max_steps"].default_for(SCHEDULE)
    # A value the field refuses is refused in the field's words, as `lrexplorer schedule` refuses it.
    override.set_value(0).run()
    refusal = " ".join(errors(at))
    assert "max_steps" in refusal and CATALOGUE["max_steps"].allowed() in refusal


def test_a_very_long_run_keeps_its_metrics_readable_and_the_warmup_error_is_said_once():
    at = page(max_steps="6250000", warmup_steps="100")
    shown = {m.label: m for m in at.metric}
    assert shown["Updates"].value == "6.25 M" and "6,250,000" in shown["Updates"].help
    at = page(max_steps="50", warmup_steps="80")
    said = [e.value for e in [*at.error, *at.warning] if "whole run" in e.value or "than the run" in e.value]
    assert len(said) == 1, said
