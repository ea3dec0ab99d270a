"""Every number has a documented upper bound (lrexplorer/core/limits.py), enforced before work starts: the
knowledge lab's, the LR range test's, a sweep's, every schedule argument's and the runs commands'. A refusal
is one line naming the flag, as the flag."""

from __future__ import annotations

import argparse

import pytest

from lrexplorer.catalogues.params import CATALOGUE
from lrexplorer.cli import build_parser, main
from lrexplorer.schedules import CATALOGUE as SCHEDULES
from lrexplorer.tuning.lr_range import RANGE_FIELDS, RangeTest

NUMERIC = ("int", "float", "int_list")


def every_numeric_field():
    """(where, field) for every number any front end takes."""
    from lrexplorer.cli.runs import SHOWN, TIMEOUT
    from lrexplorer.knowledge.lab import SETTING_FIELDS

    yield from (("catalogue", f) for f in CATALOGUE.values())
    for schedule in SCHEDULES.values():
        yield from ((f"schedule {schedule.name}", f) for f in schedule.params)
    yield from (("lr-find", f) for f in RANGE_FIELDS)
    yield from (("knowledge", f) for f in SETTING_FIELDS.values())
    yield from (("runs", f) for f in (SHOWN, TIMEOUT))


def test_every_number_has_an_upper_bound_that_convert_enforces():
    unbounded = [f"{where}: {f.name}" for where, f in every_numeric_field() if f.kind in NUMERIC and f.high is None]
    assert unbounded == []
    for _where, field in every_numeric_field():
        if field.kind not in ("int", "float"):
            continue
        above = field.high * 10 + 10 if field.high > 0 else 1
        with pytest.raises(ValueError, match=field.name):
            field.convert(int(above) if field.kind == "int" else above)


def cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    ("argv", "flag", "bound"),
    [
        (["knowledge", "--check", "--seeds", "100000"], "--seeds", "<= 20"),
        (["knowledge", "--check", "--top_k", "1000000000000"], "--top_k", "<= 50"),
        (["knowledge", "--check", "--epochs", "1e9"], "--epochs", "<= 1000"),
        (["knowledge", "--check", "--per_device_train_batch_size", "0"], "--per_device_train_batch_size", ">= 1"),
        (["lr-find", "--check", "--end_lr", "1e300"], "--end_lr", "<= 1e+30"),
        (["lr-find", "--check", "--early_stop_threshold", "1e300"], "--early_stop_threshold", "<= 1e+06"),
        (["sweep", "--check", "--space", "SPACE", "--sweep_seed", "4294967296"], "--sweep_seed", "4294967295"),
        (["sweep", "--check", "--space", "SPACE", "--n_trials", "100000"], "--n_trials", "1000"),
        (["runs", "stop", "r1", "--timeout", "1e300"], "--timeout", "<= 3600"),
        (["runs", "show", "r1", "--metrics", "1e30"], "--metrics", "<= 1000000"),
        (
            [
                "schedule",
                "--max_steps",
                "10",
                "--lr_scheduler_type",
                "OneCycleLR",
                "--lr_scheduler_kwargs",
                '{"max_lr": 1e308}',
            ],
            "--lr_scheduler_kwargs",
            "max_lr",
        ),
        (
            [
                "schedule",
                "--max_steps",
                "10",
                "--lr_scheduler_type",
                "ExponentialLR",
                "--lr_scheduler_kwargs",
                '{"gamma": 1e6}',
            ],
            "--lr_scheduler_kwargs",
            "gamma",
        ),
    ],
)
def test_numbers_above_their_bound_are_refused_naming_the_flag(capsys, tmp_path, monkeypatch, argv, flag, bound):
    from helpers.run_folders import make_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    make_run(tmp_path / "runs")
    (tmp_path / "space.yaml").write_text("learning_rate: {values: [1.0e-3]}\n")
    argv = [str(tmp_path / "space.yaml") if a == "SPACE" else a for a in argv]
    code, err = cli(capsys, *argv)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{flag}:" in err and bound in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "space.yaml"]  # nothing written


def test_a_one_cycle_peak_of_1e308_no_longer_reaches_the_curve():
    from lrexplorer.core.fields import FieldError
    from lrexplorer.core.limits import MAX_LR
    from lrexplorer.schedules import compute_curve

    with pytest.raises(FieldError, match=r"max_lr \(OneCycleLR\): must be a number > 0 and <= 1e\+30"):
        compute_curve("OneCycleLR", 1e-3, 10, 0, {"max_lr": 1e308})
    assert max(compute_curve("OneCycleLR", 1e-3, 10, 0, {"max_lr": MAX_LR}).lr) <= MAX_LR


def test_a_range_test_is_bounded_as_the_learning_rate_is():
    with pytest.raises(ValueError, match="end_lr"):
        RangeTest.from_fields({"end_lr": "1e300"})
    with pytest.raises(ValueError, match="end_lr"):
        RangeTest(end_lr=1e300)
    assert RangeTest.from_fields({"end_lr": "1e30"}).end_lr == 1e30


def test_lab_messages_name_the_flags(capsys):
    code, err = cli(capsys, "knowledge", "--check", "--per_device_train_batch_size", "0")
    assert code == 2 and "--per_device_train_batch_size:" in err and " batch_size:" not in err


def test_merge_messages_name_the_dtype_flag(capsys, tmp_path, monkeypatch):
    from helpers.run_folders import make_run

    monkeypatch.setenv("LRX_RUNS_DIR", str(tmp_path / "runs"))
    make_run(tmp_path / "runs", config={"use_peft": True})
    code, err = cli(capsys, "runs", "merge", "r1", str(tmp_path / "out"), "--dtype", "int8")
    assert code == 2 and err.endswith("error: --dtype: must be one of float32, bfloat16, float16; got 'int8'."), err


def test_the_help_of_the_lab_states_its_bounds():
    parser = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["knowledge"]
    text = parser.format_help()
    assert "--seeds 20" in text and "--top_k 50" in text and "16 MiB" in text
