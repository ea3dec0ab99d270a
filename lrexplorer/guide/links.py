"""Links from a lesson to the tool that shows its point, preset through query parameters.

Each link names the target page by its key in the app's page registry (`lrexplorer.app.pages.PAGES`,
which is also its URL path) and the query parameters that page reads. The Schedules page reads `schedule`, `lr`, `steps`, `warmup`
(`lrexplorer.app.common.schedule_inputs.preset_from_query`); a test opens it with these parameters and checks its
widgets. No streamlit here: the Guide's UI turns a Link into `st.page_link`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lrexplorer.schedules import CATALOGUE, NOTES_SCHEDULES

# Keys of the app's page registry.
SCHEDULES_PAGE = "schedules"
MEMORY_PAGE = "memory"
TRAIN_PAGE = "train"
KNOWLEDGE_PAGE = "knowledge"


@dataclass(frozen=True)
class Link:
    page: str  # the target's key in the app's page registry
    label: str
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SchedulePreset:
    """The run a schedule's mini plot draws and its link opens: learning rate, updates, warmup."""

    learning_rate: float = 5e-5
    max_steps: int = 1000
    warmup_steps: float = 0.0


# Warmup matters only for the warmup lesson; the other five show their own shape from update 0.
DEFAULT_WARMUP: dict[str, float] = {"constant_with_warmup": 100.0}


def default_preset(name: str, learning_rate: float = 5e-5, max_steps: int = 1000) -> SchedulePreset:
    return SchedulePreset(learning_rate, max_steps, DEFAULT_WARMUP.get(name, 0.0))


def _number(value: float) -> str:
    # %g keeps 5e-05 and 100 short; repr would write 100.0 and the page reads both the same.
    return f"{value:g}"


def schedule_link(names: str | list[str] | tuple[str, ...], preset: SchedulePreset, label: str | None = None) -> Link:
    """The Schedules page showing `names` for this run (unknown names are a programming error)."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise KeyError(f"not in the schedules catalogue: {unknown}")
    query = {
        "schedule": ",".join(names),
        "lr": _number(preset.learning_rate),
        "steps": str(int(preset.max_steps)),
        "warmup": _number(preset.warmup_steps),
    }
    if label is None:
        label = (
            f"Open {names[0]} on the Schedules page, preset to this curve"
            if len(names) == 1
            else f"Compare these {len(names)} schedules on the Schedules page"
        )
    return Link(SCHEDULES_PAGE, label, query)


def notes_comparison_link(preset: SchedulePreset) -> Link:
    return schedule_link(NOTES_SCHEDULES, preset, "Compare all six on the Schedules page")


# What each Memory-page link should preset, named like lrexplorer.memory.setup.TrainingSetup (and
# the catalogue); the Memory page reads them (`lrexplorer.app.memory.form.apply_query`).
MEMORY_PRESETS: dict[str, dict[str, str]] = {
    "accumulation": {
        "model": "Llama-3.2-1B",
        "per_device_train_batch_size": "2",
        "gradient_accumulation_steps": "8",
        "max_length": "2048",
    },
    "checkpointing": {
        "model": "Llama-3.2-1B",
        "per_device_train_batch_size": "4",
        "max_length": "4096",
        "activation_checkpointing": "true",
    },
    "flash-attention": {
        "model": "Llama-3.2-1B",
        "per_device_train_batch_size": "1",
        "max_length": "8192",
        "attn_implementation": "flash_attention_2",
        "bf16": "true",
    },
}


def memory_link(topic: str) -> Link:
    return Link(MEMORY_PAGE, "See it on the Memory page", dict(MEMORY_PRESETS[topic]))


# The Knowledge lab page reads these (`lrexplorer.app.knowledge.page`): the paper's comparison, all four methods.
KNOWLEDGE_PRESET = {
    "methods": "base,ft,rag,ft+rag",
    "paraphrases": "1,2,5",
    "seeds": "3",
    "epochs": "10",
    "budget": "epochs",
}


def knowledge_link() -> Link:
    return Link(KNOWLEDGE_PAGE, "Compare fine-tuning with retrieval in the Knowledge lab", dict(KNOWLEDGE_PRESET))


def train_link(label: str, query: dict[str, str] | None = None) -> Link:
    """The Train page with its form preset to `query` (catalogue field names; the page reads them as its
    settings), ready to start a real run of the built-in model."""
    return Link(TRAIN_PAGE, label, dict(query or {}))


def weight_decay_link(weight_decay: float) -> Link:
    return train_link(
        f"Train with weight_decay {weight_decay:g} on the Train page (AdamW's decoupled decay)",
        {"weight_decay": _number(weight_decay), "optim": "adamw_torch"},
    )


def grad_norm_link(max_grad_norm: float) -> Link:
    return train_link(
        f"Train with max_grad_norm {max_grad_norm:g}: the grad norm chart draws the threshold",
        {"max_grad_norm": _number(max_grad_norm)},
    )


def arguments_link() -> Link:
    return train_link("Every argument above is a field of the Train form: open it")


# The corrected example's settings the built-in model can train with on any machine (its 8-bit optimizer
# needs bitsandbytes on a GPU, its output names are the notes' own): the run it describes, for real.
EXAMPLE_FIELDS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "max_grad_norm",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "logging_steps",
    "save_strategy",
    "activation_checkpointing",
    "seed",
)


def example_link(arguments: dict[str, object]) -> Link:
    """The Train page preset to the corrected example's settings (`Corrected.arguments`)."""
    query = {}
    for name in EXAMPLE_FIELDS:
        value = arguments[name]
        query[name] = (
            str(value).lower()
            if isinstance(value, bool)
            else _number(value)
            if isinstance(value, float)
            else str(value)
        )
    return train_link("Run the corrected example's settings on the Train page (the built-in model)", query)
