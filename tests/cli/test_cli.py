"""`lrexplorer schedule` against the real libraries.

Every expected number comes from stepping a real scheduler (transformers.get_scheduler, a
torch.optim.lr_scheduler class, or a real Trainer's own optimizer and scheduler) and from the
Trainer's own step arithmetic; nothing here re-derives our formulas or stores values we produced.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from helpers.real_schedulers import rtol_for
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments, get_scheduler
from transformers.optimization import GreedyLR
from transformers.trainer_utils import SchedulerType

from lrexplorer.catalogues.params import CATALOGUE as CATALOGUE_FIELDS
from lrexplorer.catalogues.params import SCHEDULE, fields_for
from lrexplorer.cli import build_parser, main
from lrexplorer.schedules import CATALOGUE
from lrexplorer.schedules.build import build_scheduler

LR = 3e-4
SPEC_FLAGS = (
    "lr_scheduler_type",
    "learning_rate",
    "max_steps",
    "num_examples",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "world_size",
    "dataloader_drop_last",
    "warmup_steps",
    "warmup_ratio",
    "lr_scheduler_kwargs",
    "format",
    "list",
)


# ---------------------------------------------------------------- helpers


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["schedule", *argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def csv_lrs(text: str) -> list[float]:
    lines = text.splitlines()
    assert lines[0] == "step,lr"
    rows = [line.split(",") for line in lines[1:]]
    assert [int(step) for step, _ in rows] == list(range(len(rows)))
    return [float(lr) for _, lr in rows]


def optimizer(lr: float = LR) -> torch.optim.Optimizer:
    # AdamW, the Trainer's default: it has the betas that CyclicLR/OneCycleLR cycle as momentum.
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def stepped(opt: torch.optim.Optimizer, scheduler: Any, n: int) -> list[float]:
    """LR each of n updates uses, read from the optimizer, stepping the scheduler after each update as Trainer does."""
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def assert_same(ours: list[float], real: list[float], rel: float) -> None:
    assert len(ours) == len(real)
    # Relative agreement; values that are ~0 (end of a decay) are compared to a floor far below the peak.
    floor = rel * 1e-3 * max(abs(x) for x in real)
    np.testing.assert_allclose(ours, real, rtol=rel, atol=floor)


def real_warmup(total: int, warmup: str, tmp_path: Path) -> int:
    return TrainingArguments(output_dir=str(tmp_path), warmup_steps=float(warmup)).get_warmup_steps(total)


# ---------------------------------------------------------------- transformers schedules

HF_CASES = [
    ("linear", 100, "10", {}),
    ("cosine", 200, "0.1", {"num_cycles": 1.5}),
    ("cosine", 157, "0", {}),
    ("cosine_with_restarts", 300, "30", {"num_cycles": 3}),
    ("polynomial", 120, "12", {}),
    ("polynomial", 120, "12", {"power": 2.0, "lr_end": 1e-6}),
    ("constant", 50, "5", {}),
    ("constant_with_warmup", 50, "0.2", {}),
    ("inverse_sqrt", 500, "50", {}),
    ("inverse_sqrt", 300, "0", {"timescale": 30}),
    ("cosine_with_min_lr", 250, "25", {"min_lr_rate": 0.1}),
    ("cosine_with_min_lr", 250, "25", {"min_lr": 1e-5, "num_cycles": 0.7}),
    ("cosine_warmup_with_min_lr", 250, "25", {"min_lr_rate": 0.05}),
    ("cosine_warmup_with_min_lr", 250, "25", {"min_lr": 2e-5, "warmup_lr_rate": 0.1}),
    ("warmup_stable_decay", 400, "40", {"num_decay_steps": 80, "decay_type": "1-sqrt"}),
    ("warmup_stable_decay", 400, "40", {"num_decay_steps": 80, "warmup_type": "cosine", "min_lr_ratio": 0.1}),
]


@pytest.mark.parametrize(("name", "total", "warmup", "kwargs"), HF_CASES)
def test_csv_equals_transformers_get_scheduler(capsys, tmp_path, name, total, warmup, kwargs):
    rc, out, _ = cli(
        capsys,
        "--lr_scheduler_type",
        name,
        "--learning_rate",
        str(LR),
        "--max_steps",
        str(total),
        "--warmup_steps",
        warmup,
        "--lr_scheduler_kwargs",
        json.dumps(kwargs),
    )
    assert rc == 0
    opt = optimizer()
    real = get_scheduler(
        name,
        opt,
        num_warmup_steps=real_warmup(total, warmup, tmp_path),
        num_training_steps=total,
        scheduler_specific_kwargs=kwargs,
    )
    assert_same(csv_lrs(out), stepped(opt, real, total), 1e-9)


@pytest.mark.parametrize("name", ["reduce_lr_on_plateau", "greedy"])
def test_metric_driven_schedules_keep_the_learning_rate_without_evaluation(capsys, name):
    rc, out, err = cli(
        capsys, "--lr_scheduler_type", name, "--learning_rate", str(LR), "--max_steps", "40", "--warmup_steps", "5"
    )
    assert rc == 0
    assert "evaluation" in err
    opt = optimizer()
    real = get_scheduler(name, opt, num_warmup_steps=5, num_training_steps=40)
    # The Trainer skips scheduler.step() after an update for exactly these classes (they step on eval).
    assert isinstance(real, (torch.optim.lr_scheduler.ReduceLROnPlateau, GreedyLR))
    applied = []
    for _ in range(40):
        applied.append(opt.param_groups[0]["lr"])
        opt.step()
    assert csv_lrs(out) == applied


# ---------------------------------------------------------------- torch classes

TORCH_WARMUP_CASES = [
    ("StepLR", 150, 15, {"step_size": 40, "gamma": 0.5}),
    ("MultiStepLR", 150, 15, {"milestones": [30, 30, 100], "gamma": 0.3}),
    ("ConstantLR", 60, 5, {"factor": 0.5, "total_iters": 10}),
    ("LinearLR", 60, 5, {"start_factor": 0.25, "total_iters": 20}),
    ("ExponentialLR", 150, 10, {"gamma": 0.97}),
    ("CosineAnnealingLR", 200, 20, {"eta_min": 1e-6}),
    ("CosineAnnealingWarmRestarts", 300, 20, {"T_0": 40, "T_mult": 2, "eta_min": 1e-6}),
    ("CyclicLR", 300, 10, {"step_size_up": 40, "mode": "triangular2"}),
    ("OneCycleLR", 200, 20, {}),
    ("PolynomialLR", 100, 10, {"total_iters": 60, "power": 2.0}),
]


@pytest.mark.parametrize(("name", "total", "warmup", "kwargs"), TORCH_WARMUP_CASES)
def test_csv_equals_torch_class_after_warmup(capsys, name, total, warmup, kwargs):
    rc, out, _ = cli(
        capsys,
        "--lr_scheduler_type",
        name,
        "--learning_rate",
        str(LR),
        "--max_steps",
        str(total),
        "--warmup_steps",
        str(warmup),
        "--lr_scheduler_kwargs",
        json.dumps(kwargs),
    )
    assert rc == 0
    opt = optimizer()
    real = build_scheduler(name, opt, total, warmup, kwargs)
    assert_same(csv_lrs(out), stepped(opt, real, total), rtol_for(name))


S = torch.optim.lr_scheduler
# (CLI name, total steps, kwargs given to the CLI, constructor of the plain torch class with no warmup)
PLAIN_TORCH_CASES: list[tuple[str, int, dict, Callable[[torch.optim.Optimizer], Any]]] = [
    ("StepLR", 100, {"step_size": 30, "gamma": 0.5}, lambda o: S.StepLR(o, step_size=30, gamma=0.5)),
    ("ExponentialLR", 80, {"gamma": 0.95}, lambda o: S.ExponentialLR(o, gamma=0.95)),
    # Past T_max torch follows the cosine back up; the curve must too.
    (
        "CosineAnnealingLR",
        120,
        {"T_max": 90, "eta_min": 1e-6},
        lambda o: S.CosineAnnealingLR(o, T_max=90, eta_min=1e-6),
    ),
    (
        "MultiStepLR",
        90,
        {"milestones": [20, 50], "gamma": 0.1},
        lambda o: S.MultiStepLR(o, milestones=[20, 50], gamma=0.1),
    ),
    ("OneCycleLR", 90, {}, lambda o: S.OneCycleLR(o, max_lr=LR, total_steps=90)),
    (
        "OneCycleLR",
        90,
        {"three_phase": True, "anneal_strategy": "linear", "pct_start": 0.25},
        lambda o: S.OneCycleLR(
            o, max_lr=LR, total_steps=90, three_phase=True, anneal_strategy="linear", pct_start=0.25
        ),
    ),
    (
        "CyclicLR",
        100,
        {"step_size_up": 15, "step_size_down": 25, "mode": "exp_range", "gamma": 0.99},
        lambda o: S.CyclicLR(
            o, base_lr=LR / 10, max_lr=LR, step_size_up=15, step_size_down=25, mode="exp_range", gamma=0.99
        ),
    ),
]


@pytest.mark.parametrize(("name", "total", "kwargs", "make"), PLAIN_TORCH_CASES)
def test_csv_equals_plain_torch_class_without_warmup(capsys, name, total, kwargs, make):
    rc, out, _ = cli(
        capsys,
        "--lr_scheduler_type",
        name,
        "--learning_rate",
        str(LR),
        "--max_steps",
        str(total),
        "--lr_scheduler_kwargs",
        json.dumps(kwargs),
    )
    assert rc == 0
    opt = optimizer()
    assert_same(csv_lrs(out), stepped(opt, make(opt), total), rtol_for(name))


# ---------------------------------------------------------------- step counts from a dataset


@pytest.fixture(scope="module")
def tiny_model() -> LlamaForCausalLM:
    config = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        vocab_size=64,
    )
    return LlamaForCausalLM(config)


def process_dataloader(num_examples: int, batch: int, world_size: int, drop_last: bool) -> DataLoader:
    """The dataloader one of `world_size` processes gets: accelerate's own batch-sampler sharding."""
    data = list(range(num_examples))
    batches = BatchSampler(SequentialSampler(data), batch, drop_last)
    if world_size == 1:
        return DataLoader(data, batch_sampler=batches)
    from accelerate.data_loader import BatchSamplerShard

    shard = BatchSamplerShard(batches, num_processes=world_size, process_index=world_size - 1, even_batches=True)
    return DataLoader(data, batch_sampler=shard)


# (examples, batch, accumulation, epochs, max_steps, drop_last flag, world size, warmup, schedule, kwargs)
DATASET_CASES = [
    (1000, 8, 1, 3.0, -1, [], 1, "0", "linear", {}),
    (1001, 6, 4, 2.5, -1, [], 1, "0.1", "cosine", {}),
    (1001, 6, 4, 2.5, -1, ["--dataloader_drop_last"], 1, "7", "linear", {}),
    (37, 4, 3, 1.0, -1, ["--dataloader_drop_last", "false"], 1, "0.05", "warmup_stable_decay", {"num_decay_steps": 1}),
    (500, 8, 2, 3.0, 100, [], 1, "1.0", "linear", {}),
    (50, 8, 1, 0.5, -1, [], 1, "0", "polynomial", {"power": 0.5}),
    (1003, 8, 2, 2.0, -1, [], 4, "0.1", "linear", {}),
    (1003, 8, 2, 2.0, -1, ["--dataloader_drop_last", "true"], 4, "3", "cosine_with_min_lr", {"min_lr_rate": 0.1}),
]


@pytest.mark.parametrize(("m", "b", "g", "e", "s", "drop", "k", "warmup", "name", "kwargs"), DATASET_CASES)
def test_json_counts_equal_the_real_trainer(capsys, tmp_path, tiny_model, m, b, g, e, s, drop, k, warmup, name, kwargs):
    rc, out, _ = cli(
        capsys,
        "--format",
        "json",
        "--lr_scheduler_type",
        name,
        "--learning_rate",
        str(LR),
        "--num_examples",
        str(m),
        "--per_device_train_batch_size",
        str(b),
        "--gradient_accumulation_steps",
        str(g),
        "--num_train_epochs",
        str(e),
        "--max_steps",
        str(s),
        "--world_size",
        str(k),
        "--warmup_steps",
        warmup,
        "--lr_scheduler_kwargs",
        json.dumps(kwargs),
        *drop,
    )
    assert rc == 0
    doc = json.loads(out)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to="none",
        learning_rate=LR,
        lr_scheduler_type=name,
        lr_scheduler_kwargs=kwargs,
        per_device_train_batch_size=b,
        gradient_accumulation_steps=g,
        num_train_epochs=e,
        max_steps=s,
        dataloader_drop_last=bool(drop) and drop[-1] != "false",
        warmup_steps=float(warmup),
    )
    trainer = Trainer(model=tiny_model, args=args)
    epochs, per_epoch, _, _, total_batch, batches, total = trainer.set_initial_training_values(
        args, process_dataloader(m, b, k, args.dataloader_drop_last)
    )
    assert (doc["total_steps"], doc["updates_per_epoch"], doc["batches_per_epoch"], doc["epochs"]) == (
        total,
        per_epoch,
        batches,
        epochs,
    )
    assert doc["warmup_steps"] == args.get_warmup_steps(total)
    if k == 1:  # this single process's Trainer sees world_size 1
        assert doc["global_batch_size"] == total_batch
    assert doc["steps"] == list(range(total))
    # The LR list equals what this Trainer's own optimizer and scheduler apply over the run.
    trainer.create_optimizer_and_scheduler(num_training_steps=total)
    assert_same(doc["lr"], stepped(trainer.optimizer, trainer.lr_scheduler, total), 1e-9)


def test_json_fields_for_a_max_steps_run(capsys):
    rc, out, _ = cli(
        capsys, "--format", "json", "--lr_scheduler_type", "StepLR", "--max_steps", "30", "--warmup_steps", "3"
    )
    assert rc == 0
    doc = json.loads(out)
    assert set(doc) == {
        "lr_scheduler_type",
        "learning_rate",
        "lr_scheduler_kwargs",
        "total_steps",
        "warmup_steps",
        "updates_per_epoch",
        "batches_per_epoch",
        "epochs",
        "global_batch_size",
        "notes",
        "steps",
        "lr",
    }
    # learning_rate is the catalogue's default, the one `lrexplorer train` and the Train form start from.
    assert (doc["lr_scheduler_type"], doc["learning_rate"], doc["total_steps"], doc["warmup_steps"]) == (
        "StepLR",
        CATALOGUE_FIELDS["learning_rate"].default,
        30,
        3,
    )
    assert doc["updates_per_epoch"] is None and doc["epochs"] is None
    # The resolved kwargs are complete: given to the real class, they reproduce the printed curve.
    opt = optimizer(doc["learning_rate"])
    real = build_scheduler("StepLR", opt, 30, 3, doc["lr_scheduler_kwargs"])
    assert_same(doc["lr"], stepped(opt, real, 30), 1e-6)


def test_deprecated_warmup_ratio_is_read_as_a_fraction_with_a_note(capsys, tmp_path):
    rc, out, err = cli(capsys, "--format", "json", "--max_steps", "95", "--warmup_ratio", "0.1")
    assert rc == 0
    assert "warmup_ratio" in err and "warmup_steps" in err
    assert json.loads(out)["warmup_steps"] == real_warmup(95, "0.1", tmp_path)


# ---------------------------------------------------------------- user errors

ERROR_CASES = [
    (["--lr_scheduler_type", "cosine_annealing", "--max_steps", "10"], ["lr_scheduler_type", "cosine_annealing"]),
    (
        ["--lr_scheduler_type", "cosine", "--max_steps", "10", "--lr_scheduler_kwargs", '{"num_cycle": 2}'],
        ["num_cycle", "num_cycles"],
    ),
    (["--lr_scheduler_type", "StepLR", "--max_steps", "10", "--lr_scheduler_kwargs", '{"gamma": -0.5}'], ["gamma"]),
    (
        ["--lr_scheduler_type", "StepLR", "--max_steps", "10", "--lr_scheduler_kwargs", '{"step_size": "ten"}'],
        ["step_size"],
    ),
    (
        [
            "--lr_scheduler_type",
            "cosine_with_min_lr",
            "--max_steps",
            "10",
            "--lr_scheduler_kwargs",
            '{"min_lr_rate": 1.5}',
        ],
        ["min_lr_rate"],
    ),
    (["--max_steps", "10", "--lr_scheduler_kwargs", '{"gamma": 0.5'], ["lr_scheduler_kwargs", "JSON"]),
    (["--max_steps", "10", "--lr_scheduler_kwargs", "[1, 2]"], ["lr_scheduler_kwargs"]),
    (["--lr_scheduler_type", "linear"], ["--max_steps", "--num_examples"]),
    (["--max_steps", "10", "--warmup_steps", "2", "--warmup_ratio", "0.1"], ["--warmup_ratio", "not both"]),
    (["--max_steps", "10", "--warmup_ratio", "1.5"], ["--warmup_ratio", "< 1"]),
    (["--max_steps", "10", "--dataloader_drop_last", "maybe"], ["--dataloader_drop_last", "true or false"]),
    (["--max_steps", "10", "--learning_rate", "-1"], ["learning_rate"]),
    (["--max_steps", "0"], ["max_steps"]),
    (["--max_steps", "ten"], ["--max_steps"]),
    (["--num_examples", "10", "--num_train_epochs", "inf"], ["--num_train_epochs"]),
    (["--num_examples", "10", "--per_device_train_batch_size", "0"], ["per_device_train_batch_size"]),
    (["--max_steps", "10", "--format", "xml"], ["--format"]),
    # Beyond int64 or float range: still a message, not a traceback.
    (
        ["--num_examples", "10", "--per_device_train_batch_size", "1", "--num_train_epochs", "1e308"],
        ["num_train_epochs"],
    ),
    (["--max_steps", str(10**30)], ["max_steps"]),
    (
        ["--max_steps", "10", "--lr_scheduler_type", "StepLR", "--lr_scheduler_kwargs", '{"step_size": 1e300}'],
        ["step_size"],
    ),
    (
        ["--max_steps", "10", "--lr_scheduler_type", "cosine", "--lr_scheduler_kwargs", '{"num_cycles": 1e308}'],
        ["num_cycles"],
    ),
]


@pytest.mark.parametrize(("argv", "words"), ERROR_CASES)
def test_user_errors_exit_2_with_a_message_naming_the_field(capsys, argv, words):
    rc, out, err = cli(capsys, *argv)
    assert rc == 2
    assert out == ""
    assert "Traceback" not in err
    for word in words:
        assert word in err


def test_unknown_name_lists_every_valid_name(capsys):
    rc, _, err = cli(capsys, "--lr_scheduler_type", "Cosine", "--max_steps", "10")
    assert rc == 2
    for value in [s.value for s in SchedulerType] + ["StepLR", "CosineAnnealingLR", "OneCycleLR"]:
        assert value in err


# ---------------------------------------------------------------- help, catalogue, processes


def test_help_lists_every_flag_with_help_text(capsys):
    assert main(["--help"]) == 0
    assert "schedule" in capsys.readouterr().out
    assert main(["schedule", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in SPEC_FLAGS:
        assert f"--{flag}" in text
    # Every flag that is a training argument comes from the catalogue, with the catalogue's help text.
    for field in fields_for(SCHEDULE):
        assert " ".join(field.help.split()[:4]) in " ".join(text.split()), field.name
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices["schedule"]._actions:
        assert action.help, action.option_strings


def test_list_prints_the_catalogue_of_real_schedulers(capsys):
    rc, out, _ = cli(capsys, "--list")
    assert rc == 0
    lines = out.splitlines()[1:]
    assert [line.split()[0] for line in lines] == list(CATALOGUE)
    families = {line.split()[0]: line.split()[1] for line in lines}
    # Every transformers SchedulerType is offered, and every torch entry is a real torch class.
    assert {s.value for s in SchedulerType} <= {n for n, f in families.items() if f == "transformers"}
    for name, family in families.items():
        if family == "torch":
            assert isinstance(getattr(torch.optim.lr_scheduler, name), type)


def test_console_script_prints_the_real_exponential_curve_and_reports_errors():
    script = Path(sys.executable).with_name("lrexplorer")
    if not script.exists():
        pytest.skip("the lrexplorer console script is not installed (pip install -e .)")
    argv = [
        "schedule",
        "--lr_scheduler_type",
        "ExponentialLR",
        "--learning_rate",
        "0.01",
        "--max_steps",
        "60",
        "--warmup_steps",
        "0",
        "--lr_scheduler_kwargs",
        '{"gamma": 0.9}',
    ]
    done = subprocess.run([str(script), *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    opt = optimizer(0.01)
    assert_same(csv_lrs(done.stdout), stepped(opt, S.ExponentialLR(opt, gamma=0.9), 60), 1e-6)
    bad = subprocess.run(
        [str(script), "schedule", "--lr_scheduler_type", "nope", "--max_steps", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "OneCycleLR" in bad.stderr


def test_cli_runs_as_a_module_without_importing_torch():
    code = (
        "import sys; from lrexplorer.cli import main; "
        "rc = main(['schedule', '--lr_scheduler_type', 'OneCycleLR', '--max_steps', '5']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules, rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "False False 0", done.stderr
    for module in ("lrexplorer", "lrexplorer.cli"):
        listing = subprocess.run(
            [sys.executable, "-m", module, "schedule", "--list"], capture_output=True, text=True, timeout=60
        )
        assert listing.returncode == 0 and "OneCycleLR" in listing.stdout


def test_version_is_the_installed_distributions_or_the_checkouts(monkeypatch, capsys):
    import importlib
    import importlib.metadata

    import lrexplorer

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    declared = tomllib.loads((Path(lrexplorer.__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "version"
    ]
    try:
        installed = importlib.metadata.version("lrexplorer")
    except importlib.metadata.PackageNotFoundError:
        installed = declared
    assert lrexplorer.__version__ == installed
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip() == f"lrexplorer {installed}"

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    try:
        assert importlib.reload(lrexplorer).__version__ == declared
    finally:
        monkeypatch.undo()
        importlib.reload(lrexplorer)
