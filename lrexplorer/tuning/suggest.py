"""Which learning rate a range test suggests: fastai's valley, steep and minimum, and Lightning's pick.

Each method reads the smoothed loss against the LR, as its library does, and returns the index of
the point it picked in the series it was given, or None when there are too few points.

- fastai runs its methods on ``series[num_steps // 10 : -5]`` (the first tenth is still settling,
  the last five are diverging) cut before the first nan; see `fastai_window`.
- `valley` (fastai's default): the longest strictly decreasing subsequence of the losses (not
  necessarily contiguous) that ends first, cut in thirds; the suggestion is the middle of the middle
  third, ``start + int(L / 3) + int(L / 6)`` with L = end - start, so about halfway down (fastai
  takes the start as ``end - length``, one before the subsequence's first point).
- `steep`: the LR at the left end of the segment with the most negative slope of loss per log-LR.
- `minimum`: the LR of the lowest loss, divided by 10 (the picked point is the lowest loss itself).
- `lightning` (Lightning's `suggestion(skip_begin=10, skip_end=1)`): drop the first 10 and the last
  point and the non-finite losses, take the gradient of loss with respect to the LR itself (not its
  log) with second-order central differences on the uneven grid, in float32 as Lightning does, and
  pick its most negative point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FASTAI_SKIP_END = 5
LIGHTNING_SKIP_BEGIN = 10
LIGHTNING_SKIP_END = 1
METHODS = ("valley", "steep", "minimum", "lightning")


@dataclass(frozen=True)
class Suggestion:
    lr: float  # the suggested learning rate
    index: int  # the update whose (lr, smoothed loss) point the method picked


def fastai_window(smoothed: list[float], num_steps: int) -> tuple[int, int]:
    """The [start, end) range of updates fastai's methods look at."""
    start = num_steps // 10
    end = max(start, len(smoothed) - FASTAI_SKIP_END)
    for i in range(start, end):
        if not np.isfinite(smoothed[i]):
            return start, i
    return start, end


def valley(losses: np.ndarray) -> int | None:
    n = len(losses)
    if n == 0:
        return None
    lds = np.ones(n, dtype=np.int64)  # longest strictly decreasing subsequence ending at each point
    for i in range(1, n):
        longer = lds[:i][losses[:i] > losses[i]]
        if len(longer):
            lds[i] = longer.max() + 1
    end = int(np.argmax(lds))  # the first point that reaches the longest
    # fastai's start is one before the subsequence's first point; with no fall at all it stays at 0.
    start = end - int(lds[end]) if lds[end] > 1 else 0
    sections = (end - start) / 3
    index = start + int(sections) + int(sections / 2)
    return index % n  # fastai indexes with it, so -1 (a two-point window) means the last point


def steep(lrs: np.ndarray, losses: np.ndarray) -> int | None:
    if len(losses) < 2:
        return None
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return int(np.argmin(slopes))


def minimum(losses: np.ndarray) -> int | None:
    return int(np.argmin(losses)) if len(losses) else None


def lightning(
    lrs: np.ndarray, losses: np.ndarray, skip_begin: int = LIGHTNING_SKIP_BEGIN, skip_end: int = LIGHTNING_SKIP_END
) -> int | None:
    """Index into the whole series, as Lightning's `_optimal_idx`."""
    kept = np.arange(len(losses))[skip_begin : max(skip_begin, len(losses) - skip_end)]
    kept = kept[np.isfinite(losses[kept])]
    if len(kept) < 2:
        return None
    # Lightning builds float32 tensors; in float32, near-equal slopes (a flat stretch) rank as in Lightning.
    slope = np.gradient(losses[kept].astype(np.float32), lrs[kept].astype(np.float32))
    return int(kept[np.argmin(slope)])


def suggest(lrs: list[float], smoothed: list[float], num_steps: int) -> dict[str, Suggestion | None]:
    """Every method's suggestion for one range test; `num_steps` is the planned length (fastai's num_it)."""
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(smoothed, dtype=np.float64)
    lo, hi = fastai_window(smoothed, num_steps)
    wx, wy = x[lo:hi], y[lo:hi]

    def at(index: int | None, offset: int = lo, scale: float = 1.0) -> Suggestion | None:
        return None if index is None else Suggestion(float(x[index + offset]) * scale, index + offset)

    return {
        "valley": at(valley(wy)),
        "steep": at(steep(wx, wy)),
        "minimum": at(minimum(wy), scale=0.1),
        "lightning": at(lightning(x, y), offset=0),
    }
