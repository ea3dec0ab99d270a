"""Why a run's loss became nan or inf, read from the arguments it ran with.

The Trainer only sees the non-finite loss; which setting caused it is usually plain from the spec: a
weight decay that scales the weights by a negative factor, a learning rate far above fine-tuning
rates, fp16's narrow range, clipping turned off. The most likely cause comes first.
"""

from __future__ import annotations

from typing import Any

HIGH_LR = 1e-2  # fine-tuning rates are 1e-5 to 1e-3; AdamW above 1e-2 rarely survives
FP16_MAX = 65504.0


def likely_causes(args: Any) -> list[str]:
    """Causes of a divergence under `args` (TrainingArguments, or anything with its attributes), likeliest first."""
    lr, wd = float(args.learning_rate), float(args.weight_decay)
    causes = []
    if lr * wd >= 1:
        causes.append(
            f"weight_decay {wd:g} with learning_rate {lr:g}: each update multiplies the weights by "
            f"1 - lr x weight_decay = {1 - lr * wd:.3g}, so they are wiped or blow up; keep weight_decay 0 to 0.1"
        )
    if lr > HIGH_LR:
        causes.append(f"learning_rate {lr:g} is far above fine-tuning rates (1e-5 to 1e-3); lower it")
    if getattr(args, "fp16", False):
        causes.append(f"fp16 overflows above {FP16_MAX:g}; use bf16 or float32, or lower learning_rate")
    if not getattr(args, "max_grad_norm", 1.0):
        causes.append("gradient clipping is off (max_grad_norm 0); set it to 1.0")
    if causes:
        return causes
    return [
        f"no setting stands out: lower learning_rate (now {lr:g}), add warmup_steps, or check the data for "
        "extreme examples"
    ]


def divergence_message(bad: str, step: int, args: Any) -> str:
    causes = likely_causes(args)
    text = f"loss became {bad} at step {step}: training diverged. Likely cause: {causes[0]}"
    if len(causes) > 1:
        text += ". Also: " + "; ".join(causes[1:])
    return text
