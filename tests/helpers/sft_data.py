"""Small datasets of every shape SFTTrainer takes (written as JSONL), and a run's real SFTTrainer built the way
the worker builds it, to compare lrexplorer's counts with what TRL and the Trainer really do."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

from helpers.runs import write_jsonl

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "theta",
    "kappa",
    "lambda",
    "sigma",
    "omega",
    "river",
    "stone",
    "cloud",
]


def _words(rnd: random.Random, lo: int, hi: int) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(lo, hi)))


def text_rows(n: int, lo: int, hi: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    return [{"text": _words(rnd, lo, hi)} for _ in range(n)]


def prompt_completion_rows(n: int, lo: int, hi: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    return [{"prompt": _words(rnd, lo, hi) + " ->", "completion": " " + _words(rnd, lo, hi)} for _ in range(n)]


def chat_rows(n: int, lo: int, hi: int, turns: int = 1, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        messages = []
        for _turn in range(turns):
            messages += [
                {"role": "user", "content": _words(rnd, lo, hi)},
                {"role": "assistant", "content": _words(rnd, lo, hi)},
            ]
        rows.append({"messages": messages})
    return rows


def datasets_in(folder: Path) -> dict[str, str]:
    """name -> dataset reference: the two built-in sets and three local files of other shapes and lengths
    (the text file has more than 1,000 rows, so TRL packs it in two map batches)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "arithmetic": "builtin:arithmetic",
        "facts": "builtin:facts",
        "text": str(write_jsonl(folder / "text.jsonl", text_rows(1300, 2, 90, seed=1))),
        "prompt_completion": str(write_jsonl(folder / "pc.jsonl", prompt_completion_rows(300, 3, 50, seed=2))),
        "chat": str(write_jsonl(folder / "chat.jsonl", chat_rows(200, 3, 30, turns=3, seed=3))),
    }


class _Started(Exception):
    pass


def real_trainer(values: dict[str, Any], run_dir: Path) -> Any:
    """The run's LrxSFTTrainer, built by the worker's own `build_trainer`."""
    from lrexplorer.core.facts import Facts
    from lrexplorer.runs.spec import RunSpec
    from lrexplorer.runs.training.trainer import build_trainer

    trainer, _info = build_trainer(RunSpec(values), run_dir, Facts((), False, False), [])
    return trainer


def trainer_max_steps(values: dict[str, Any], run_dir: Path) -> int:
    """state.max_steps of the run's real trainer, read when training begins (then training is abandoned)."""
    from transformers import TrainerCallback

    seen: dict[str, int] = {}

    class Capture(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seen["max_steps"] = state.max_steps
            raise _Started

    trainer = real_trainer(values, run_dir)
    trainer.add_callback(Capture())
    with contextlib.suppress(_Started):
        trainer.train()
    return seen["max_steps"]
