"""The paraphrase experiment of the knowledge-injection lesson: the built-in facts with fewer phrasings.

The built-in `facts` dataset trains on five phrasings of each fact and evaluates on a sixth. To
show that *varied* repetition is what helps, the same facts can be written with only k training
phrasings (the held-out sixth stays the evaluation set) and trained for the same number of
optimizer updates: fewer phrasings then means more epochs over the same sentences.

    python -m lrexplorer.guide.paraphrases --phrasings 2 --out runs/guide-data/facts-2

The rows come from `lrexplorer.catalogues.builtin_data`, so they are the built-in dataset's own sentences.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

from lrexplorer.catalogues import builtin_data
from lrexplorer.runs.folder import index, store

MAX_PHRASINGS = len(next(iter(builtin_data.RELATIONS.values()))[0]) - 1  # one phrasing is held out
BATCH = 8  # the catalogue's default per_device_train_batch_size, which the commands below leave alone
UPDATES = 150  # ten epochs of the full facts dataset: 120 examples / 8 per update = 15 updates an epoch


def facts_with(phrasings: int) -> tuple[list[dict], list[dict]]:
    """(train, test): each fact in its first `phrasings` training phrasings; test is the held-out one."""
    if not 1 <= phrasings <= MAX_PHRASINGS:
        raise ValueError(f"phrasings must be from 1 to {MAX_PHRASINGS}, got {phrasings}")
    train, test = [], []
    for relation, subject, obj in builtin_data.FACTS:
        questions, answer = builtin_data.RELATIONS[relation]
        reply = answer.format(s=subject, o=obj)
        kept = [i for i in range(len(questions)) if i != builtin_data.HELD_OUT][:phrasings]
        for i in kept:
            train.append(_chat(questions[i].format(s=subject), reply))
        test.append(_chat(questions[builtin_data.HELD_OUT].format(s=subject), reply))
    random.Random(1).shuffle(train)  # interleave the facts, as the built-in dataset does
    return train, test


def _chat(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


def write_dataset(phrasings: int, folder: Path) -> Path:
    """train.jsonl and test.jsonl in `folder`: a dataset folder `lrexplorer train --dataset` reads."""
    train, test = facts_with(phrasings)
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (folder / f"{split}.jsonl").write_text(text, encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Experiment:
    phrasings: int
    dataset: str  # what --dataset gets
    run_id: str
    examples: int
    updates_per_epoch: int
    epochs: float
    needs_file: bool  # the dataset folder must be written first (not the built-in)
    settings: dict  # catalogue field -> value: what the CLI flags and the Train form set

    @property
    def label(self) -> str:
        return f"{self.phrasings} phrasing{'s' if self.phrasings > 1 else ''}"

    @property
    def command(self) -> str:
        flags = " ".join(f"--{k} {v}" for k, v in self.settings.items())
        return f"lrexplorer train {flags} --run_id {self.run_id}"


def experiment(phrasings: int, data_root: str = "runs/guide-data") -> Experiment:
    """The `lrexplorer train` command for k phrasings, at the same number of updates for every k.

    `data_root`: where the k-phrasing folders go (the page uses the runs directory's guide-data/)."""
    examples = len(builtin_data.FACTS) * phrasings
    per_epoch = math.ceil(examples / BATCH)
    builtin = phrasings == MAX_PHRASINGS
    dataset = "builtin:facts" if builtin else f"{data_root}/facts-{phrasings}"
    run_id = f"guide-facts-{phrasings}"
    # Evaluate every 15 updates for all k, so the evaluation curves share their x positions.
    settings = {"dataset": dataset, "max_steps": UPDATES, "eval_strategy": "steps", "eval_steps": 15}
    return Experiment(phrasings, dataset, run_id, examples, per_epoch, UPDATES / per_epoch, not builtin, settings)


def matches(config: dict, e: Experiment) -> bool:
    """Whether a run's config (its config.yaml) is this experiment, however it was started (CLI or Train page)."""
    if config.get("max_steps") != UPDATES or config.get("eval_strategy", "no") == "no":
        return False
    dataset = str(config.get("dataset", ""))
    if e.dataset.startswith("builtin:") or dataset.startswith("builtin:"):
        return dataset == e.dataset
    return Path(dataset).expanduser().resolve() == Path(e.dataset).expanduser().resolve()


def newest_runs(experiments: list[Experiment], root: Path) -> dict[str, tuple[Path, Experiment]]:
    """label -> (run folder, experiment): the newest run in `root` of each experiment that has one."""
    found: dict[str, tuple[Path, Experiment]] = {}
    for status in index.list_runs(root):  # newest first
        path = Path(status["path"])
        config = store.read_config(path)
        for e in experiments:
            if e.label not in found and matches(config, e):
                found[e.label] = (path, e)
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the built-in facts with k training phrasings per fact.")
    parser.add_argument("--phrasings", type=int, required=True, help=f"1 to {MAX_PHRASINGS}")
    parser.add_argument("--out", type=Path, required=True, help="folder for train.jsonl and test.jsonl")
    args = parser.parse_args(argv)
    print(write_dataset(args.phrasings, args.out))


if __name__ == "__main__":
    main()
