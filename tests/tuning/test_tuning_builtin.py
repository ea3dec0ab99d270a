"""A range test of the built-in model with TRL's SFTTrainer, and whether its suggestion trains well.

The suggestion is judged the way a user would: short runs (40 updates, lrexplorer's defaults, seed 42)
at the suggested LR and at 10x above and below it, scored by the loss on the held-out split.

What this model shows: fastai's `valley` (1.3e-4 here) is conservative for it (10x higher trains
better in a short run: it is a model trained from random weights, whose loss falls steeply during the
range test itself, and the 0.98 smoothing over 100 updates lags behind); `steep` (1.4e-3) beats both
of its neighbours. The test checks `steep`, and that `valley` sits below it.
"""

from __future__ import annotations

import tempfile

import pytest

from lrexplorer.tuning.lr_range import RangeTest
from lrexplorer.tuning.range_trainer import RangeTestCallback, RangeTestSchedulerMixin

pytestmark = pytest.mark.slow

SHORT_RUN = 40


def sft_trainer(fields, cls=None, callbacks=(), data=None):
    """The SFTTrainer of a run of the built-in model with these run fields (lrexplorer's defaults otherwise)."""
    from trl import SFTConfig, SFTTrainer

    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training import sources

    spec = RunSpec.from_dict({"save_strategy": "no", **fields})
    values = spec.values
    tokenizer = sources.load_tokenizer(values)
    train, evaluation = data or sources.load_splits(values)
    config = SFTConfig(output_dir=tempfile.mkdtemp(), disable_tqdm=True, **spec.sft_kwargs(use_cpu=True))
    return (cls or SFTTrainer)(
        model=sources.load_model(values, tokenizer, "sdpa"),
        args=config,
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


def test_the_built_in_models_range_test_suggests_an_lr_that_trains_best():
    from trl import SFTTrainer

    test = RangeTest()
    recorder = RangeTestCallback(test)
    cls = type("RangeTestSFTTrainer", (RangeTestSchedulerMixin, SFTTrainer), {"lrx_range_test": test})
    trainer = sft_trainer(test.run_fields(), cls, [recorder])
    trainer.train()
    result = recorder.result()
    assert result["stopped_early"] is True  # the loss runs away well before LR 10
    suggested = result["suggestions"]
    assert suggested["valley"] < suggested["steep"]

    def eval_loss(lr, data=None):
        fields = {"max_steps": SHORT_RUN, "learning_rate": lr, "eval_strategy": "steps", "eval_steps": SHORT_RUN}
        run = sft_trainer(fields, data=data)
        run.train()
        return [e["eval_loss"] for e in run.state.log_history if "eval_loss" in e][-1], (
            run.train_dataset,
            run.eval_dataset,
        )

    best, data = eval_loss(suggested["steep"])  # later runs reuse its tokenized splits
    below, _ = eval_loss(suggested["steep"] / 10, data)
    above, _ = eval_loss(suggested["steep"] * 10, data)
    assert best < below and best < above, (below, best, above)
