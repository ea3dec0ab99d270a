"""The range test's suggestions against the anchors: Lightning's own code, and fastai's algorithms.

Lightning (a test dependency) runs for real: its `_LRFinder.suggestion` on the same (lr, loss)
series. fastai cannot be installed beside torch 2.13 (it pins another torch), so its `lr_find`
post-processing and its `valley`, `steep` and `minimum` functions are transcribed below from
fastai/callback/schedule.py, loop for loop, with torch tensors as fastai uses them (in float64, so
the comparison is of the algorithm, not of float32 rounding).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from lightning.pytorch.tuner.lr_finder import _LRFinder

from lrexplorer.tuning.lr_range import RangeTest, smooth
from lrexplorer.tuning.suggest import suggest

# Lightning logs an error where it has too few points to suggest; so do we (we return None), quietly.
logging.getLogger("lightning.pytorch.tuner.lr_finder").setLevel(logging.CRITICAL)

# -- fastai, transcribed -------------------------------------------------------------------------------------


def fastai_valley(lrs, losses):
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def fastai_minimum(lrs, losses):
    return lrs[losses.argmin()].item() / 10


def fastai_steep(lrs, losses):
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    return lrs[grads.argmin()].item()


def fastai_lr_find_suggestions(recorded_lrs, recorded_losses, num_it):
    """`Learner.lr_find`'s post-processing: window, cut at the first nan, then each function."""
    lrs = torch.tensor(recorded_lrs[num_it // 10 : -5], dtype=torch.float64)
    losses = torch.tensor(recorded_losses[num_it // 10 : -5], dtype=torch.float64)
    nan_idxs = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan_idxs) > 0:
        drop_idx = min(nan_idxs)
        lrs = lrs[:drop_idx]
        losses = losses[:drop_idx]
    out = {}
    for name, func in (("valley", fastai_valley), ("steep", fastai_steep), ("minimum", fastai_minimum)):
        try:
            out[name] = func(lrs, losses)
        except (IndexError, RuntimeError):  # fastai fails on too short a window; we return None
            out[name] = None
    return out


def lightning_suggestion(lrs, losses):
    finder = _LRFinder("exponential", 1e-7, 10.0, max(1, len(lrs)))  # these only label the results
    finder.results = {"lr": list(lrs), "loss": list(losses)}
    lr = finder.suggestion()
    return lr, finder._optimal_idx


# -- comparisons -------------------------------------------------------------------------------------------------


def check_against_anchors(lrs, smoothed, num_steps):
    ours = suggest(lrs, smoothed, num_steps)
    fastai = fastai_lr_find_suggestions(lrs, smoothed, num_steps)
    for name in ("valley", "steep", "minimum"):
        got = ours[name]
        if fastai[name] is None:
            assert got is None, name
        else:
            assert got is not None, name
            assert got.lr == pytest.approx(fastai[name], rel=1e-12), name
    lr, index = lightning_suggestion(lrs, smoothed)
    if lr is None:
        assert ours["lightning"] is None
    else:
        assert ours["lightning"] is not None
        assert (ours["lightning"].lr, ours["lightning"].index) == (pytest.approx(lr, rel=1e-6), index)
    return ours


def classic_curve(test, seed=0):
    """Flat, a fall over two decades, a floor, then a blow-up: the textbook range-test shape."""
    rng = np.random.default_rng(seed)
    lrs = test.lrs()
    x = np.log10(lrs)
    raw = 1.0 + 3.0 / (1 + np.exp(3 * (x + 3.5))) + np.exp(2.5 * (x + 0.5)) + rng.normal(0, 0.05, len(x))
    return lrs, list(raw)


def test_classic_curve_matches_the_anchors_and_suggests_inside_the_fall():
    test = RangeTest()
    lrs, raw = classic_curve(test)
    smoothed = smooth(raw)
    ours = check_against_anchors(lrs, smoothed, test.num_steps)
    # The fall is centred on 10^-3.5; the floor ends where the blow-up starts, near 10^-1.
    assert 1e-5 < ours["valley"].lr < 1e-2
    assert ours["minimum"].lr == pytest.approx(lrs[ours["minimum"].index] / 10)
    assert ours["minimum"].index == int(np.argmin(smoothed[test.num_steps // 10 : -5])) + test.num_steps // 10


@pytest.mark.parametrize("mode", ["exponential", "linear"])
@pytest.mark.parametrize("seed", range(5))
def test_noisy_curves_match_the_anchors(mode, seed):
    test = RangeTest(start_lr=1e-6, end_lr=1.0, num_steps=80, mode=mode)
    lrs, raw = classic_curve(test, seed)
    check_against_anchors(lrs, smooth(raw), test.num_steps)


@settings(max_examples=150, deadline=None)
@given(
    losses=st.lists(st.one_of(st.floats(0.01, 100.0), st.integers(1, 4).map(float)), max_size=120),  # ties too
    extra_steps=st.integers(0, 30),
)
def test_any_series_matches_the_anchors(losses, extra_steps):
    num_steps = max(6, len(losses) + extra_steps)  # a stopped test has fewer points than planned
    lrs = RangeTest(num_steps=num_steps).lrs()[: len(losses)]
    check_against_anchors(lrs, losses, num_steps)


def test_a_nan_cuts_fastais_window_and_lightning_skips_it():
    test = RangeTest(num_steps=100)
    lrs, raw = classic_curve(test)
    smoothed = smooth(raw)
    smoothed[60] = math.nan
    ours = check_against_anchors(lrs, smoothed, test.num_steps)
    assert ours["minimum"].index < 60 and ours["valley"].index < 60


def test_too_short_a_record_gives_no_suggestion():
    """fastai looks at updates num_steps // 10 up to the sixth last; Lightning needs two points after its skips."""
    lrs = RangeTest(num_steps=100).lrs()

    def found(n):
        return {name: s is not None for name, s in suggest(lrs[:n], smooth([3.0] * n), 100).items()}

    assert found(15) == {"valley": False, "steep": False, "minimum": False, "lightning": True}
    assert found(16) == {"valley": True, "steep": False, "minimum": True, "lightning": True}
    assert found(17) == {"valley": True, "steep": True, "minimum": True, "lightning": True}
    assert found(12)["lightning"] is False and found(13)["lightning"] is True
