"""The lab's results: accuracy per method, paraphrase count and seed, with mean and spread."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

METHODS = ("base", "ft", "rag", "ft+rag")
TRAINED = ("ft", "ft+rag")  # methods that fine-tune, so take a paraphrase count


@dataclass
class MethodResult:
    """One row: `accuracy` and `exact_match` hold one value per seed that finished."""

    method: str
    paraphrases: int | None
    accuracy: list[float] = field(default_factory=list)
    exact_match: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.accuracy) if self.accuracy else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation over seeds (0 for a single seed)."""
        if not self.accuracy:
            return None
        return statistics.stdev(self.accuracy) if len(self.accuracy) > 1 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "paraphrases": self.paraphrases,
            "accuracy": self.accuracy,
            "mean": self.mean,
            "std": self.std,
            "exact_match": self.exact_match,
            "exact_match_mean": statistics.fmean(self.exact_match) if self.exact_match else None,
        }


@dataclass
class LabResult:
    results: list[MethodResult]
    settings: dict[str, Any]
    questions: int
    chance: float  # expected accuracy of guessing among the candidates
    stopped: bool = False
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def row(self, method: str, paraphrases: int | None) -> MethodResult:
        return next(r for r in self.results if r.method == method and r.paraphrases == paraphrases)

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [r.to_json() for r in self.results],
            "settings": self.settings,
            "questions": self.questions,
            "chance": self.chance,
            "stopped": self.stopped,
            "elapsed_s": round(self.elapsed_s, 1),
            "notes": self.notes,
        }


def accuracy_text(accuracy: list[float]) -> str:
    """Mean accuracy over the seeds that finished, with the sample std when there are several (one seed has
    no spread to show: `0.412`, not `0.412 ± 0.000`)."""
    mean = statistics.fmean(accuracy)
    return f"{mean:.3f} ± {statistics.stdev(accuracy):.3f}" if len(accuracy) > 1 else f"{mean:.3f}"


def table(result: LabResult) -> str:
    """Plain-text table in the paper's layout: one row per method (and paraphrase count)."""
    lines = [
        f"{'method':<8} {'paraphrases':>11} {'accuracy':>17} {'exact match':>11}  per seed",
    ]
    for r in result.results:
        par = "-" if r.paraphrases is None else str(r.paraphrases)
        if r.mean is None:
            lines.append(f"{r.method:<8} {par:>11} {'(not run)':>17}")
            continue
        acc = accuracy_text(r.accuracy)
        em = f"{statistics.fmean(r.exact_match):.3f}"
        seeds = " ".join(f"{a:.3f}" for a in r.accuracy)
        lines.append(f"{r.method:<8} {par:>11} {acc:>17} {em:>11}  {seeds}")
    lines.append(
        f"{result.questions} questions; chance {result.chance:.3f}" + (" (stopped early)" if result.stopped else "")
    )
    return "\n".join(lines)
