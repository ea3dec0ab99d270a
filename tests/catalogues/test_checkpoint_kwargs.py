"""activation_checkpointing_kwargs reach torch.utils.checkpoint.checkpoint through transformers, at the first
forward pass of a run: what the catalogue accepts must be what a real model with checkpointing runs with, so
nothing passes `train --check` only to fail the run."""

from __future__ import annotations

import inspect
import itertools

import pytest

from lrexplorer.catalogues.params import CATALOGUE, FieldError
from lrexplorer.catalogues.params.memory import CHECKPOINT_KWARGS

FIELD = CATALOGUE["activation_checkpointing_kwargs"]


def test_the_keys_are_torch_s_keyword_arguments_that_json_can_carry():
    from torch.utils.checkpoint import checkpoint

    keywords = {p.name for p in inspect.signature(checkpoint).parameters.values() if p.kind == p.KEYWORD_ONLY}
    # context_fn takes a function (not JSON); preserve_rng_state is read from **kwargs by torch itself
    assert '"preserve_rng_state"' in inspect.getsource(checkpoint)
    assert set(CHECKPOINT_KWARGS) == (keywords - {"context_fn"}) | {"preserve_rng_state"}


def _runs(model, kwargs) -> bool:
    """Whether a real training step of `model` with checkpointing and these kwargs goes through."""
    import logging

    import torch

    model.activation_checkpointing_disable()
    model.train()
    # debug=True traces every op through torch's "LoggingTensor" logger with arguments its message does not
    # format: logging prints that and goes on, as in a run; pytest's log capture would raise it instead.
    raising, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=dict(kwargs))
        ids = torch.randint(0, 64, (2, 8))
        model(input_ids=ids, labels=ids).loss.backward()
    except (TypeError, ValueError):
        return False
    finally:
        logging.raiseExceptions = raising
    return True


def _accepted(kwargs) -> bool:
    try:
        FIELD.convert(kwargs)
    except FieldError:
        return False
    return True


CANDIDATES = [
    {},
    {"use_reentrant": False},
    {"use_reentrant": True},
    {"foo": 1},
    {"use_reentrant": False, "foo": 1},
    {"use_reentrant": False, "context_fn": "noop"},
    {"debug": True},
    {"use_reentrant": True, "debug": True},
    {"use_reentrant": False, "determinism_check": "full"},
    {"use_reentrant": False, "early_stop": "yes"},
] + [
    {"use_reentrant": reentrant, key: value}
    for reentrant, key in itertools.product((False, True), CHECKPOINT_KWARGS)
    for value in CHECKPOINT_KWARGS[key]
    if key != "use_reentrant"
]


@pytest.mark.parametrize("kwargs", CANDIDATES, ids=[str(c) for c in CANDIDATES])
def test_what_the_catalogue_accepts_a_real_model_runs_with(tiny_llama, kwargs):
    accepted, runs = _accepted(kwargs), _runs(tiny_llama(), kwargs)
    assert not accepted or runs, f"accepted, then the run fails: {kwargs}"
    assert runs or not accepted


def test_every_listed_value_is_one_torch_runs_with(tiny_llama):
    for key, values in CHECKPOINT_KWARGS.items():
        for value in values:
            kwargs = {"use_reentrant": False, key: value}
            assert _accepted(kwargs) and _runs(tiny_llama(), kwargs), kwargs
