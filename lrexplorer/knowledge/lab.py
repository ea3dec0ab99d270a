"""The knowledge-injection experiment: base, fine-tuning, retrieval and both, on facts new to the model.

`run_lab` evaluates the base model, without and with retrieved documents (`base`, `rag`), then for
each seed and paraphrase count fine-tunes a fresh copy of it on the fact documents and evaluates that
without and with retrieval (`ft`, `ft+rag`). Every answer is scored as in the paper: the candidate
with the highest log-probability; exact match of the greedy answer is kept beside it. `base` and `rag`
involve no randomness: they are evaluated once and the figure stands for every seed.

Budgets: `epochs` gives every paraphrase count the same number of passes over its documents (more
paraphrases, more updates); `updates` gives every count the updates that `epochs` passes over the
largest requested count take (fewer paraphrases, more passes over the same sentences).

Hooks let a run-folder worker drive it: `progress(done_fraction, message, eta_s)`; `should_stop()`,
asked between evaluations and after every optimizer step (a stop returns what finished, marked
`stopped`); `log(record)`, every Trainer log record tagged with method, paraphrases and seed.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lrexplorer.core.fields import Field, FieldError
from lrexplorer.core.limits import MAX_LAB_BATCH, MAX_LAB_EPOCHS, MAX_LAB_LR, MAX_LAB_SEEDS, MAX_TOP_K
from lrexplorer.knowledge import assets
from lrexplorer.knowledge.facts import Fact, load_facts, max_paraphrases
from lrexplorer.knowledge.finetune import FinetuneSettings, Hooks, finetune, planned_steps, updates_per_epoch
from lrexplorer.knowledge.progress import Progress
from lrexplorer.knowledge.prompts import qa_prompt
from lrexplorer.knowledge.results import METHODS, TRAINED, LabResult, MethodResult
from lrexplorer.knowledge.retrieve import Retriever
from lrexplorer.knowledge.score import Question, choice_accuracy, exact_match, score_questions

BUDGETS = ("epochs", "updates")


@dataclass(frozen=True)
class LabSettings:
    methods: tuple[str, ...] = METHODS
    paraphrases: tuple[int, ...] = (1, 2, 5)
    seeds: int = 3
    epochs: float = 10.0
    budget: str = "epochs"
    learning_rate: float = 1e-3
    batch_size: int = 16
    top_k: int = 3
    first_seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def trained_counts(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.paraphrases))) if any(m in TRAINED for m in self.methods) else ()


# The lab's settings as fields, named as `lrexplorer knowledge` names its flags (batch_size is
# --per_device_train_batch_size), each bounded in core/limits.
SETTING_FIELDS: dict[str, Field] = {
    "seeds": Field("seeds", "int", 3, "Fine-tuning seeds per paraphrase count.", low=1, high=MAX_LAB_SEEDS),
    "epochs": Field(
        "epochs", "float", 10.0, "Passes over the fact documents.", low=0.0, low_open=True, high=MAX_LAB_EPOCHS
    ),
    "learning_rate": Field(
        "learning_rate", "float", 1e-3, "Fine-tuning learning rate.", low=0.0, low_open=True, high=MAX_LAB_LR
    ),
    "batch_size": Field(
        "per_device_train_batch_size", "int", 16, "Fact documents per fine-tuning update.", low=1, high=MAX_LAB_BATCH
    ),
    "top_k": Field("top_k", "int", 3, "Documents retrieved into the prompt (rag).", low=1, high=MAX_TOP_K),
    "budget": Field("budget", "choice", "epochs", "What every paraphrase count gets the same of.", choices=BUDGETS),
}


def validate(settings: LabSettings, facts: list[Fact]) -> None:
    """FieldError (a ValueError) naming every setting the lab cannot run, as the command's flag."""
    k = max_paraphrases(facts)
    errors: list[FieldError] = []
    unknown = [m for m in settings.methods if m not in METHODS]
    if unknown or not settings.methods:
        what = f"unknown method {unknown[0]!r}" if unknown else "give at least one method"
        errors.append(FieldError("methods", f"{what} (allowed: {', '.join(METHODS)})"))
    if any(m in TRAINED for m in settings.methods):
        bad = [p for p in settings.paraphrases if not 1 <= p <= k]
        if bad or not settings.paraphrases:
            what = f"{str(bad[0])[:20]} is outside" if bad else "give at least one count in"
            errors.append(FieldError("paraphrases", f"{what} 1..{k} (the fact set has {k} paraphrases per fact)"))
    for name, field in SETTING_FIELDS.items():
        try:
            field.convert(getattr(settings, name))
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise FieldError.collect(errors)


def finetune_settings(settings: LabSettings, facts: list[Fact], paraphrases: int) -> FinetuneSettings:
    max_steps = None
    if settings.budget == "updates":
        largest = max(settings.trained_counts)
        max_steps = max(1, round(settings.epochs * updates_per_epoch(len(facts) * largest, settings.batch_size)))
    return FinetuneSettings(settings.learning_rate, settings.batch_size, settings.epochs, max_steps)


def fact_documents(facts: list[Fact], paraphrases: int) -> list[str]:
    return [text for f in facts for text in f.paraphrases[:paraphrases]]


def run_lab(
    settings: LabSettings,
    facts: list[Fact] | Path | str | None = None,
    model_dir: Path | str = assets.MODEL_DIR,
    progress: Callable[[float, str, float | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[dict[str, Any]], None] | None = None,
) -> LabResult:
    """Run the experiment; see the module docstring for the hooks."""
    started = time.monotonic()
    facts = load_facts() if facts is None else load_facts(facts) if isinstance(facts, (str, Path)) else facts
    validate(settings, facts)
    stop = should_stop or (lambda: False)
    asked = [(q, f) for f in facts for q in f.questions]
    closed = [Question(qa_prompt(q), f.answer, f.candidates) for q, f in asked]
    with_context: list[Question] = []
    if any(m.endswith("rag") for m in settings.methods):
        contexts = Retriever([f.fact for f in facts]).contexts([q for q, _ in asked], settings.top_k)
        with_context = [Question(qa_prompt(q, c), f.answer, f.candidates) for (q, f), c in zip(asked, contexts)]
    tracker = Progress(_planned_work(settings, facts, closed, with_context), progress)
    result = LabResult(
        [MethodResult(m, p) for m, p in _rows(settings)],
        settings.to_json(),
        len(closed),
        sum(1 / len(q.candidates) for q in closed) / len(closed),
    )
    tokenizer, base = assets.load_tokenizer(model_dir), assets.load_model(model_dir)

    def evaluate(model: Any, method: str, p: int | None, seed: int | None) -> None:
        rag = method.endswith("rag")
        qs = with_context if rag else closed
        tracker.begin(
            "eval-rag" if rag else "eval-closed", f"evaluating {method}" + (f" ({p}p, seed {seed})" if p else "")
        )
        scores = score_questions(model, tokenizer, qs, done=tracker.add)
        row = result.row(method, p)
        row.accuracy.append(choice_accuracy(qs, scores.logprobs))
        row.exact_match.append(exact_match(qs, scores.answers))

    for method in ("base", "rag"):
        if method in settings.methods and not stop():
            evaluate(base, method, None, None)
    for seed in range(settings.first_seed, settings.first_seed + settings.seeds):
        for p in settings.trained_counts:
            if stop():
                break
            tracker.begin("setup", f"fine-tuning on {p} paraphrase{'s' * (p > 1)}, seed {seed}")
            model = copy.deepcopy(base)
            ft = finetune_settings(settings, facts, p)
            docs = fact_documents(facts, p)
            done_before = tracker.done["train"]
            tag = {"method": "ft", "paraphrases": p, "seed": seed}
            hooks = Hooks(log=_tagged(log, tag), step=tracker.step, should_stop=stop)
            if not finetune(model, tokenizer, docs, ft, seed, hooks):
                tracker.skip("train", planned_steps(len(docs), ft) - (tracker.done["train"] - done_before))
                break
            for method in ("ft", "ft+rag"):
                if method in settings.methods and not stop():
                    evaluate(model, method, p, seed)
    result.stopped = stop()
    for row in result.results:  # nothing random in base and rag: one evaluation stands for every seed
        if row.paraphrases is None and row.accuracy:
            row.accuracy *= settings.seeds
            row.exact_match *= settings.seeds
    result.elapsed_s = time.monotonic() - started
    tracker.finish("stopped: partial results" if result.stopped else "done")
    return result


def _rows(settings: LabSettings) -> list[tuple[str, int | None]]:
    rows: list[tuple[str, int | None]] = []
    for method in METHODS:
        if method in settings.methods:
            rows += [(method, p) for p in settings.trained_counts] if method in TRAINED else [(method, None)]
    return rows


def _planned_work(settings: LabSettings, facts: list[Fact], closed: list, with_context: list) -> dict[str, int]:
    """Units of each kind of work: optimizer steps, and questions per evaluation."""
    runs = settings.seeds * len(settings.trained_counts)
    n_closed = ("base" in settings.methods) + runs * ("ft" in settings.methods)
    n_rag = ("rag" in settings.methods) + runs * ("ft+rag" in settings.methods)
    steps = sum(
        planned_steps(len(fact_documents(facts, p)), finetune_settings(settings, facts, p))
        for p in settings.trained_counts
    )
    return {
        "eval-closed": n_closed * len(closed),
        "eval-rag": n_rag * len(with_context),
        "setup": runs,
        "train": settings.seeds * steps,
    }


def _tagged(log: Callable[[dict[str, Any]], None] | None, tag: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def relay(record: dict[str, Any]) -> None:
        if log is not None:
            log({**tag, **record})

    return relay
