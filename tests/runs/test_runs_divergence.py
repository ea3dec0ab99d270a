"""A diverging run's message names the likely cause from its arguments, not always the learning rate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lrexplorer.runs.training.diverge import divergence_message, likely_causes


def _args(**given):
    base = {"learning_rate": 5e-4, "weight_decay": 0.0, "fp16": False, "max_grad_norm": 1.0}
    return SimpleNamespace(**{**base, **given})


@pytest.mark.parametrize(
    "given, first",
    [
        ({"weight_decay": 1e308}, "weight_decay"),
        ({"learning_rate": 1e30}, "learning_rate 1e+30"),
        ({"fp16": True}, "fp16"),
        ({"max_grad_norm": 0.0}, "clipping is off"),
        ({}, "no setting stands out"),
    ],
)
def test_the_likeliest_cause_comes_first(given, first):
    assert first in likely_causes(_args(**given))[0]


def test_a_huge_weight_decay_is_not_blamed_on_the_learning_rate():
    text = divergence_message("nan", 1, _args(weight_decay=1e308))
    assert "Likely cause: weight_decay 1e+308" in text and "lower it" not in text


@pytest.mark.slow
def test_a_real_run_diverging_from_weight_decay_names_it(tmp_path):
    """weight_decay 1e308 (refused by validation since lr x weight_decay >= 1, so the spec is built directly,
    as an old config would be): the real AdamW step wipes the weights and the status names weight_decay."""
    from lrexplorer.catalogues.params import defaults
    from lrexplorer.core.facts import Facts
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training.callbacks import RunCallback
    from lrexplorer.runs.training.trainer import build_trainer

    values = {**defaults(), "weight_decay": 1e308, "max_steps": 3, "save_strategy": "no", "logging_steps": 1}
    callback = RunCallback(tmp_path)
    trainer, _ = build_trainer(RunSpec(values), tmp_path, Facts((), True, False), [callback])
    callback.trainer = trainer
    try:
        trainer.train()
    finally:
        callback.close()
    assert callback.nonfinite is not None and "Likely cause: weight_decay 1e+308" in callback.nonfinite
