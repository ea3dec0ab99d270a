"""A search space of 10**9 corners (nine fields of ten listed values each), as the Tune page reads it: the
stall case of a class session, used by the sweep-plan tests and bench/class_session.py."""

from __future__ import annotations

BILLION_CORNERS: dict[str, list[float]] = {
    "learning_rate": [1e-5 * (i + 1) for i in range(10)],
    "weight_decay": [0.01 * i for i in range(10)],
    "warmup_steps": [float(i) for i in range(10)],
    "max_grad_norm": [0.5 + 0.1 * i for i in range(10)],
    "adam_beta1": [0.8 + 0.01 * i for i in range(10)],
    "adam_beta2": [0.9 + 0.009 * i for i in range(10)],
    "adam_epsilon": [1e-9 * (i + 1) for i in range(10)],
    "lora_dropout": [0.01 * i for i in range(10)],
    "num_train_epochs": [1.0 + i for i in range(10)],
}


def space_yaml(fields: dict[str, list[float]]) -> str:
    """The space as the YAML the Tune page's text area takes: `name: {values: [...]}` per line."""
    return "\n".join(f"{name}: {{values: {values}}}" for name, values in fields.items())
