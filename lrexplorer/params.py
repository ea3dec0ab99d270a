"""The parameter catalogue: every field a training run takes, as data.

One entry per field, named exactly as `TrainingArguments` / TRL's `SFTConfig` (or TRL's `ModelConfig`
and `ScriptArguments` for the model, LoRA and dataset fields) name it. The Train form, the CLI flags,
validation, the YAML / Python exports and the Guide are all generated from `CATALOGUE`; adding a
field is one entry here. `RENAMED` maps names that older transformers/TRL releases (and the training
notes) used to their current spelling. Nothing here imports torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from .optimizers import TRAIN_FORM_CHOICES

GROUPS = {
    "model-data": "Model and data",
    "optimisation": "Optimisation",
    "schedule": "Learning-rate schedule",
    "memory": "Memory",
    "precision": "Precision and speed",
    "logging-eval-saving": "Logging, evaluation and saving",
}

# Concepts of the training notes (../shared/seed/training-notes.md), keyed by a short id; the value
# is the notes' heading the Guide links to. None on a field: the notes do not discuss it.
CONCEPTS = {
    "fine-tuning": "Training (supervised fine-tuning)",
    "knowledge-injection": "Training (knowledge injection, paraphrases, epochs)",
    "scheduler": "Scheduler",
    "warmup": "Scheduler (learning rate warmup)",
    "gradient-accumulation": "Gradient Accumulation Steps",
    "weight-decay": "Weight Decay",
    "max-grad-norm": "Max Gradient Norm",
    "gradient-checkpointing": "Gradient Checkpointing",
    "flash-attention": "Flash attention",
    "optimizer": "transformer implementation (optim, learning rate, Adam betas)",
    "mixed-precision": "transformer implementation (bf16, fp16, tf32)",
    "training-length": "transformer implementation (num_train_epochs, max_steps)",
    "batch-size": "transformer implementation (per_device_train_batch_size)",
    "logging-saving": "transformer implementation (logging and saving strategies)",
    "evaluation": "transformer implementation (evaluation strategy)",
    "speed": "transformer implementation (torch_compile, dataloader, group_by_length)",
    "tracking": "transformer implementation (run_name, report_to, seed)",
}

SAME = object()  # library_default sentinel: the library's default equals ours


@dataclass(frozen=True)
class Param:
    """One run field. `kind`: int, float, bool, str, choice, json (a dict), str_list."""

    name: str
    kind: str
    default: Any
    group: str
    help: str
    concept: str | None = None
    target: str = "sft"  # sft: SFTConfig field; model / data / peft: consumed by the worker's loaders
    library_default: Any = SAME  # SFTConfig/ModelConfig default where lrexplorer picks another
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False  # None is accepted (the library gives it a meaning, said in `help`)
    trl_name: str | None = None  # name in `trl sft --config` YAML when it differs
    also: tuple[Any, ...] = ()  # values accepted outside [low, high], e.g. max_steps=-1

    @property
    def yaml_name(self) -> str:
        return self.trl_name or self.name

    @property
    def hf_default(self) -> Any:
        return self.default if self.library_default is SAME else self.library_default

    def allowed(self) -> str:
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(self.choice_values())
        elif self.kind == "json":
            text = "a JSON object"
        elif self.kind == "str_list":
            text = "a list of names"
        elif self.kind == "str":
            text = "text"
        else:
            word = "an integer" if self.kind == "int" else "a number"
            lo = "" if self.low is None else ("> " if self.low_open else ">= ") + f"{self.low:g}"
            hi = "" if self.high is None else ("< " if self.high_open else "<= ") + f"{self.high:g}"
            text = " ".join(p for p in (word, " and ".join(x for x in (lo, hi) if x)) if p)
            text += "".join(f", or {v!r}" for v in self.also)
        return text + (" (or null)" if self.nullable else "")

    def choice_values(self) -> tuple[str, ...]:
        if self.name == "lr_scheduler_type":  # the schedules catalogue owns these names
            from .schedules import schedule_names

            return tuple(schedule_names())
        return self.choices

    def convert(self, value: Any) -> Any:
        """The value in this field's type, or FieldError naming the field and what is allowed."""
        if self.kind == "choice" and value in self.choice_values():
            return value
        if value is None or (
            isinstance(value, str) and value.strip().lower() in ("none", "null") and self.kind != "str"
        ):
            if self.nullable:
                return None
            raise FieldError(self.name, f"is required; allowed: {self.allowed()}")
        if self.kind == "bool":
            return _to_bool(self, value)
        if self.kind in ("int", "float"):
            return self._number(value)
        if self.kind == "choice":
            raise FieldError(self.name, f"must be {self.allowed()}; got {value!r}")
        if self.kind == "json":
            return _to_dict(self, value)
        if self.kind == "str_list":
            items = [s.strip() for s in value.split(",")] if isinstance(value, str) else value
            if isinstance(items, (list, tuple)) and items and all(isinstance(s, str) and s for s in items):
                return list(items)
            raise FieldError(self.name, f"must be {self.allowed()}, e.g. q_proj,v_proj or all-linear; got {value!r}")
        if not isinstance(value, str):
            raise FieldError(self.name, f"must be text; got {value!r}")
        return value

    def _number(self, value: Any) -> int | float:
        if isinstance(value, str):
            try:
                value = float(value) if self.kind == "float" else int(value.strip())
            except ValueError:
                raise FieldError(self.name, f"must be {self.allowed()}; got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(self.name, f"must be {self.allowed()}; got {value!r}")
        if self.kind == "int":
            if not float(value).is_integer():
                raise FieldError(self.name, f"must be an integer; got {value!r}")
            value = int(value)
        elif not math.isfinite(value):
            raise FieldError(self.name, f"must be a finite number; got {value!r}")
        if (
            (self.low is not None and (value <= self.low if self.low_open else value < self.low))
            or (self.high is not None and (value >= self.high if self.high_open else value > self.high))
        ) and value not in self.also:
            raise FieldError(self.name, f"must be {self.allowed()}; got {value!r}")
        return value


class FieldError(ValueError):
    """A bad value; `field` names the catalogue field (forms highlight it, the CLI prints it)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}.")
        self.field = field
        self.problem = problem


def _to_bool(p: Param, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "t", "y", "1", "no", "false", "f", "n", "0"):
        return value.strip().lower() in ("yes", "true", "t", "y", "1")
    raise FieldError(p.name, f"must be true or false; got {value!r}")


def _to_dict(p: Param, value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise FieldError(p.name, f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise FieldError(p.name, f'must be a JSON object such as {{"use_reentrant": false}}; got {value!r}')
    return dict(value)


P = Param

CATALOGUE_LIST: tuple[Param, ...] = (
    # -- model and data ------------------------------------------------------------------------------------
    P(
        "model",
        "str",
        "builtin:tiny",
        "model-data",
        "What to fine-tune: builtin:tiny (a 3.4M-parameter Llama made from a config, "
        "offline), a local folder in the Hub's format, or a Hub model id.",
        "fine-tuning",
        target="model",
        library_default=None,
        trl_name="model_name_or_path",
    ),
    P(
        "dataset",
        "str",
        "builtin:arithmetic",
        "model-data",
        "Chat data with a `messages` column: builtin:arithmetic, "
        "builtin:facts, a local JSONL/CSV/Parquet file or folder, or a Hub dataset id.",
        "knowledge-injection",
        target="data",
        library_default=None,
        trl_name="dataset_name",
    ),
    P(
        "dataset_config",
        "str",
        None,
        "model-data",
        "Configuration (subset) name of a Hub dataset.",
        "fine-tuning",
        target="data",
        nullable=True,
    ),
    P("dataset_train_split", "str", "train", "model-data", "Split used for training.", "fine-tuning", target="data"),
    P(
        "dataset_test_split",
        "str",
        "test",
        "model-data",
        "Split used for evaluation when eval_strategy is not no.",
        "evaluation",
        target="data",
    ),
    P(
        "dataset_streaming",
        "bool",
        False,
        "model-data",
        "Stream the dataset instead of downloading it; a stream has no length, so max_steps must say when to stop.",
        "training-length",
        target="data",
    ),
    P(
        "max_length",
        "int",
        128,
        "model-data",
        "Longest tokenized example, in tokens; longer ones are cut. null keeps "
        "every token. Memory for activations and logits grows with it.",
        "batch-size",
        library_default=1024,
        low=1,
        nullable=True,
    ),
    P(
        "assistant_only_loss",
        "bool",
        False,
        "model-data",
        "Compute the loss only on the assistant's replies, not on the "
        "prompts (the chat template must mark them with {% generation %}).",
        "fine-tuning",
    ),
    P(
        "trust_remote_code",
        "bool",
        False,
        "model-data",
        "Run Python code shipped with a Hub model. Off unless you trust the model's authors.",
        target="model",
    ),
    P(
        "dataloader_num_workers",
        "int",
        0,
        "model-data",
        "Background processes preparing batches; 0 prepares them in the training process.",
        "speed",
        low=0,
    ),
    P(
        "train_sampling_strategy",
        "choice",
        "random",
        "model-data",
        "Order of training examples: shuffled, in file order, "
        "or grouped by length so batches need less padding (formerly group_by_length=True).",
        "speed",
        choices=("random", "sequential", "group_by_length"),
    ),
    P(
        "seed",
        "int",
        42,
        "model-data",
        "Seed for weight initialisation, LoRA adapters, shuffling and dropout: the same seed gives the same run.",
        "tracking",
        low=0,
    ),
    # -- optimisation --------------------------------------------------------------------------------------
    P(
        "learning_rate",
        "float",
        5e-4,
        "optimisation",
        "Peak step size of the optimizer; the schedule scales it at every "
        "update. Too high diverges (loss becomes nan), too low barely moves.",
        "optimizer",
        library_default=2e-5,
        low=0.0,
        low_open=True,
    ),
    P(
        "num_train_epochs",
        "float",
        1.0,
        "optimisation",
        "Passes over the training data; a fraction stops part-way "
        "through the last pass. Ignored when max_steps is set.",
        "training-length",
        library_default=3.0,
        low=0.0,
        low_open=True,
    ),
    P(
        "max_steps",
        "int",
        -1,
        "optimisation",
        "Total optimizer updates; when >= 1 it overrides num_train_epochs and "
        "loops over the data as often as needed. -1 counts from the epochs.",
        "training-length",
        low=1,
        also=(-1,),
    ),
    P(
        "per_device_train_batch_size",
        "int",
        8,
        "optimisation",
        "Examples per forward/backward pass on each device. Activation memory grows with it.",
        "batch-size",
        low=1,
    ),
    P(
        "gradient_accumulation_steps",
        "int",
        1,
        "optimisation",
        "Micro-batches whose gradients are summed before one "
        "optimizer update: effective batch = batch size x this x devices, at the memory of one micro-batch.",
        "gradient-accumulation",
        low=1,
    ),
    P(
        "optim",
        "choice",
        "adamw_torch",
        "optimisation",
        "Optimizer. adamw_torch keeps two float32 states per weight; "
        "8-bit variants (bitsandbytes) keep them in 8 bits; adafactor factorises them; sgd keeps none.",
        "optimizer",
        library_default="adamw_torch_fused",
        choices=TRAIN_FORM_CHOICES,
    ),
    P(
        "weight_decay",
        "float",
        0.0,
        "optimisation",
        "Decoupled weight decay of AdamW: each update shrinks the weights "
        "(not biases and norms) by lr x this. Typical: 0 to 0.1.",
        "weight-decay",
        low=0.0,
    ),
    P(
        "adam_beta1",
        "float",
        0.9,
        "optimisation",
        "Decay of Adam's running mean of the gradients (momentum).",
        "optimizer",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    P(
        "adam_beta2",
        "float",
        0.999,
        "optimisation",
        "Decay of Adam's running mean of the squared gradients.",
        "optimizer",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    P(
        "adam_epsilon",
        "float",
        1e-8,
        "optimisation",
        "Added to Adam's denominator so tiny second moments do not blow up the step.",
        "optimizer",
        low=0.0,
        low_open=True,
    ),
    P(
        "max_grad_norm",
        "float",
        1.0,
        "optimisation",
        "Clip the gradient's global norm to this before each update, "
        "against exploding gradients; 0 turns clipping off.",
        "max-grad-norm",
        low=0.0,
    ),
    # -- schedule ------------------------------------------------------------------------------------------
    P(
        "lr_scheduler_type",
        "choice",
        "linear",
        "schedule",
        "Learning-rate schedule: a transformers SchedulerType or a "
        "torch.optim.lr_scheduler class name (CamelCase). The Schedules page plots each one.",
        "scheduler",
    ),
    P(
        "lr_scheduler_kwargs",
        "json",
        {},
        "schedule",
        'Arguments of the schedule as a JSON object, e.g. {"num_cycles": 2}; unknown names are refused.',
        "scheduler",
        library_default=None,
    ),
    P(
        "warmup_steps",
        "float",
        0.0,
        "schedule",
        "Linear warmup from 0: a value >= 1 is a number of updates, a value "
        "below 1 a fraction of all updates, rounded up (formerly warmup_ratio).",
        "warmup",
        low=0.0,
    ),
    # -- memory --------------------------------------------------------------------------------------------
    P(
        "activation_checkpointing",
        "bool",
        False,
        "memory",
        "Gradient checkpointing, under its current transformers name: keep "
        "only some activations and recompute the rest in the backward pass; less memory, about a third more compute.",
        "gradient-checkpointing",
        library_default=True,
    ),
    P(
        "activation_checkpointing_kwargs",
        "json",
        None,
        "memory",
        'Arguments for the checkpointing, e.g. {"use_reentrant": false} (formerly gradient_checkpointing_kwargs).',
        "gradient-checkpointing",
        nullable=True,
    ),
    P(
        "attn_implementation",
        "choice",
        "auto",
        "memory",
        "Attention kernel. auto: flash_attention_2 when flash-attn is "
        "installed, the GPU has compute capability >= 8.0 and training is in fp16/bf16; otherwise sdpa. eager keeps "
        "the full attention matrix in memory.",
        "flash-attention",
        target="model",
        library_default=None,
        choices=("auto", "eager", "sdpa", "flash_attention_2"),
    ),
    P("use_cpu", "bool", False, "memory", "Train on the CPU even when a GPU is present.", "batch-size"),
    P(
        "use_peft",
        "bool",
        False,
        "memory",
        "Train LoRA adapters (peft) instead of all weights: gradients and optimizer states only for the adapters.",
        None,
        target="peft",
    ),
    P(
        "lora_r",
        "int",
        16,
        "memory",
        "Rank of the LoRA adapters: trainable parameters grow linearly with it.",
        None,
        target="peft",
        low=1,
    ),
    P(
        "lora_alpha",
        "int",
        32,
        "memory",
        "LoRA scaling: the adapter output is multiplied by lora_alpha / lora_r.",
        None,
        target="peft",
        low=1,
    ),
    P(
        "lora_dropout",
        "float",
        0.05,
        "memory",
        "Dropout on the adapters' input during training.",
        None,
        target="peft",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    P(
        "lora_target_modules",
        "str_list",
        None,
        "memory",
        "Modules that get adapters, e.g. q_proj,v_proj or all-linear; null uses peft's default for the architecture.",
        None,
        target="peft",
        nullable=True,
    ),
    # -- precision and speed -------------------------------------------------------------------------------
    P(
        "dtype",
        "choice",
        "float32",
        "precision",
        "dtype the weights are loaded in (formerly torch_dtype). auto takes the one saved with the model.",
        "mixed-precision",
        target="model",
        choices=("float32", "bfloat16", "float16", "auto"),
    ),
    P(
        "bf16",
        "bool",
        False,
        "precision",
        "Mixed precision with bfloat16 autocast: float32 range, fewer bits. Needs a GPU "
        "of compute capability >= 8.0, or a CPU with bfloat16 instructions. TRL turns it on unless fp16 is set.",
        "mixed-precision",
        library_default=True,
    ),
    P(
        "fp16",
        "bool",
        False,
        "precision",
        "Mixed precision with float16 autocast and loss scaling (a GPU feature).",
        "mixed-precision",
    ),
    P(
        "tf32",
        "bool",
        None,
        "precision",
        "Let float32 matrix products use TensorFloat-32 on Ampere or newer GPUs; null keeps PyTorch's setting.",
        "mixed-precision",
        nullable=True,
    ),
    P(
        "torch_compile",
        "bool",
        False,
        "precision",
        "Compile the model with torch.compile: slower start, faster steps on recent GPUs.",
        "speed",
    ),
    # -- logging, evaluation and saving ------------------------------------------------------------------------
    P(
        "output_dir",
        "str",
        None,
        "logging-eval-saving",
        "Folder of the run (checkpoints, metrics, final model); "
        "lrexplorer picks one under the runs directory when empty.",
        "logging-saving",
        nullable=True,
    ),
    P(
        "run_name",
        "str",
        None,
        "logging-eval-saving",
        "Name shown for the run here and in trackers.",
        "tracking",
        nullable=True,
    ),
    P(
        "report_to",
        "choice",
        "none",
        "logging-eval-saving",
        "Send logs to a tracker as well as to the run folder.",
        "tracking",
        choices=("none", "all", "tensorboard", "wandb", "mlflow", "trackio", "comet_ml", "clearml"),
    ),
    P(
        "logging_strategy",
        "choice",
        "steps",
        "logging-eval-saving",
        "When to log: every logging_steps updates, at each epoch end, or never (then metrics.jsonl stays empty).",
        "logging-saving",
        choices=("steps", "epoch", "no"),
    ),
    P(
        "logging_steps",
        "float",
        1,
        "logging-eval-saving",
        "Updates between two logs; below 1 a fraction of all updates.",
        "logging-saving",
        library_default=10,
        low=0.0,
        low_open=True,
    ),
    P(
        "logging_nan_inf_filter",
        "bool",
        False,
        "logging-eval-saving",
        "Hide nan/inf losses in the logs by logging the "
        "average so far instead. Off here: a diverging run must show it.",
        "logging-saving",
        library_default=True,
    ),
    P(
        "save_strategy",
        "choice",
        "steps",
        "logging-eval-saving",
        "When to save a checkpoint (weights, optimizer, scheduler) to resume from.",
        "logging-saving",
        choices=("no", "steps", "epoch"),
    ),
    P(
        "save_steps",
        "float",
        100,
        "logging-eval-saving",
        "Updates between checkpoints; below 1 a fraction of all updates.",
        "logging-saving",
        library_default=500,
        low=0.0,
        low_open=True,
    ),
    P(
        "save_total_limit",
        "int",
        2,
        "logging-eval-saving",
        "Keep only the newest checkpoints; null keeps all.",
        "logging-saving",
        library_default=None,
        low=1,
        nullable=True,
    ),
    P(
        "eval_strategy",
        "choice",
        "no",
        "logging-eval-saving",
        "When to compute the loss on the test split: never, every "
        "eval_steps updates, or at each epoch end (formerly evaluation_strategy).",
        "evaluation",
        choices=("no", "steps", "epoch"),
    ),
    P(
        "eval_steps",
        "float",
        None,
        "logging-eval-saving",
        "Updates between evaluations; null uses logging_steps.",
        "evaluation",
        low=0.0,
        low_open=True,
        nullable=True,
    ),
    P(
        "per_device_eval_batch_size",
        "int",
        8,
        "logging-eval-saving",
        "Examples per evaluation batch.",
        "evaluation",
        low=1,
    ),
)

CATALOGUE: dict[str, Param] = {p.name: p for p in CATALOGUE_LIST}


@dataclass(frozen=True)
class Renamed:
    """A name older releases or the training notes use, and how it reads today."""

    old: str
    new: str | None  # None: removed, nothing to set
    note: str
    values: dict | None = None  # old value -> new value; a value missing here is refused


RENAMED: tuple[Renamed, ...] = (
    Renamed(
        "warmup_ratio",
        "warmup_steps",
        "transformers 5 removed warmup_ratio; warmup_steps below 1 is the same fraction.",
    ),
    Renamed("evaluation_strategy", "eval_strategy", "the old name is gone from transformers."),
    Renamed(
        "group_by_length",
        "train_sampling_strategy",
        "transformers 5 replaced it with train_sampling_strategy.",
        {True: "group_by_length", False: "random"},
    ),
    Renamed("save_safetensors", None, "transformers 5 always saves safetensors; the option is gone.", {True: None}),
    Renamed(
        "gradient_checkpointing",
        "activation_checkpointing",
        "deprecated alias in current transformers (removed in v6).",
    ),
    Renamed(
        "gradient_checkpointing_kwargs", "activation_checkpointing_kwargs", "deprecated alias in current transformers."
    ),
    Renamed("max_seq_length", "max_length", "TRL's old name for the cut-off length."),
    Renamed("torch_dtype", "dtype", "transformers 5 takes dtype; torch_dtype is deprecated."),
    Renamed("no_cuda", "use_cpu", "the old name is gone from transformers."),
    Renamed("model_name_or_path", "model", "TRL's name; lrexplorer also takes builtin:tiny here."),
    Renamed("dataset_name", "dataset", "TRL's name; lrexplorer also takes builtin:NAME here."),
)
RENAMED_BY_OLD: dict[str, Renamed] = {r.old: r for r in RENAMED}


def renamed_from(name: str) -> list[str]:
    """Older names of a field, for help texts and the Guide."""
    return [r.old for r in RENAMED if r.new == name]


def defaults() -> dict[str, Any]:
    """lrexplorer's default for every field (fresh copies, so callers may mutate them)."""
    return {p.name: json.loads(json.dumps(p.default)) for p in CATALOGUE_LIST}


def by_group() -> dict[str, list[Param]]:
    out: dict[str, list[Param]] = {g: [] for g in GROUPS}
    for p in CATALOGUE_LIST:
        out[p.group].append(p)
    return out
