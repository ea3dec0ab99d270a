"""Rules of logging, evaluation and saving: what a run will not record or cannot resume from."""

from __future__ import annotations

from lrexplorer.rules.rule import Subject, advice


@advice("info", "eval_steps")
def eval_steps_follow_logging(s: Subject) -> str | None:
    """Evaluation every N steps without eval_steps."""
    if s.values["eval_strategy"] == "steps" and s.values["eval_steps"] is None:
        return f"eval_steps unset: evaluating every logging_steps ({s.values['logging_steps']:g}) updates."
    return None


@advice("info", "save_strategy")
def no_checkpoints(s: Subject) -> str | None:
    """No checkpoints, so no resume."""
    if s.values["save_strategy"] == "no":
        return "save_strategy is no: a stopped run cannot be resumed (no checkpoint)."
    return None


@advice("warning", "logging_strategy")
def no_logging(s: Subject) -> str | None:
    """No logs, so no charts."""
    if s.values["logging_strategy"] == "no":
        return "logging_strategy is no: no metrics are written, so the live charts stay empty."
    return None
