"""The training setup the memory estimate models, with the checks that refuse impossible combinations.

Field names are the transformers `TrainingArguments` / PEFT / bitsandbytes names, so a setup reads
like the arguments of the run it describes; `setup_from_values` builds one from catalogue values
(`lrexplorer.catalogues.params`). `validate` checks each value with its catalogue field, then the setup
against the rules of `lrexplorer.rules` (the same a run spec reads), raising FieldError naming the field
and returning their advice; `as_trained` is the setup as the Trainer really runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from lrexplorer.catalogues import optimizers as optimizer_registry
from lrexplorer.catalogues.architecture import Architecture
from lrexplorer.catalogues.params import CATALOGUE, MEMORY, defaults
from lrexplorer.core.fields import FieldError
from lrexplorer.rules.registry import refuse
from lrexplorer.rules.rule import Finding, Subject

# name -> what it is, for the Memory page and the CLI's help (the registry holds the rest)
OPTIMIZERS: dict[str, str] = {o.name: o.description for o in optimizer_registry.OPTIMIZERS.values()}
DTYPES = ("float32", "bfloat16", "float16")
ATTENTION = tuple(a for a in CATALOGUE["attn_implementation"].choices if a != "auto")
DEVICES = CATALOGUE["device"].choices
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
TRAINERS: dict[str, str] = {
    "sft": "TRL's SFTTrainer (what lrexplorer runs and exports): the loss comes from TRL's fused LM head, "
    "which projects in tiles and never holds the full logits",
    "transformers": "the plain transformers Trainer: the model's own loss over the full logits",
}

# FSDP2's options: read only with fsdp on (DDP and ZeRO ignore them, as accelerate does).
FSDP_ONLY = ("fsdp_reshard_after_forward", "fsdp_offload_params")


@dataclass(frozen=True)
class TrainingSetup:
    per_device_train_batch_size: int = 1
    max_length: int = 1024
    gradient_accumulation_steps: int = 1
    activation_checkpointing: bool = False
    optim: str = "adamw_torch_fused"  # TrainingArguments' default in transformers 5
    dtype: str = "bfloat16"
    bf16: bool = False
    fp16: bool = False
    attn_implementation: str | None = None  # None: what transformers picks (sdpa, or eager without sdpa support)
    use_peft: bool = False  # False: full fine-tuning
    lora_r: int = 16
    lora_target_modules: tuple[str, ...] | str | None = None  # None: PEFT's default; "all-linear"
    load_in_4bit: bool = False
    bnb_4bit_use_double_quant: bool = False
    num_gpus: int = 1
    zero_stage: int = 0
    fsdp: bool = False
    # Read only with fsdp on (other schemes ignore them, as accelerate does).
    fsdp_reshard_after_forward: bool = True  # False: SHARD_GRAD_OP, layers stay gathered until their backward
    fsdp_offload_params: bool = False  # CPUOffloadPolicy: shards, gradients and optimizer live in CPU RAM
    device: str = "cuda"
    trainer: str = "sft"
    # SFTConfig's batch shape: packing (TRL's default "bfd" strategy) fills rows of max_length and turns
    # padding_free on; padding_free puts the whole batch in one row without an attention mask.
    packing: bool = False
    padding_free: bool = False
    # Share of the label positions set to -100 (the prompt under completion_only_loss, other turns under
    # assistant_only_loss): only TRL's Triton path (CUDA) skips them.
    masked_label_fraction: float = 0.0
    # Tokens in the dataset's longest example; rows are padded to the longest of their batch, so the
    # worst step's rows are this long (None: at least max_length).
    longest_example: int | None = None

    def with_(self, **changes: Any) -> TrainingSetup:
        return replace(self, **changes)

    @property
    def lora(self) -> bool:
        return self.use_peft

    @property
    def weight_bytes(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def compute_dtype(self) -> str:
        """The dtype activations are computed in: autocast's when mixed precision is on."""
        if self.bf16:
            return "bfloat16"
        if self.fp16:
            return "float16"
        return self.dtype

    @property
    def example_length(self) -> int:
        """Tokens per example in the worst batch: max_length, or fewer when every example is shorter.

        Packing fills its rows to max_length whatever the examples' lengths; padding_free without
        packing never truncates (TRL asks for max_length=None), so the longest example decides.
        """
        if self.packing or self.longest_example is None:
            return self.max_length
        if self.padding_free:
            return self.longest_example
        return min(self.longest_example, self.max_length)

    @property
    def one_row(self) -> bool:
        """The collator flattens the batch into one row (padding_free, or packing's default strategy)."""
        return self.packing or self.padding_free

    def attention(self, arch: Architecture) -> str:
        return self.attn_implementation or arch.default_attn_implementation

    def target_modules(self, arch: Architecture) -> tuple[str, ...]:
        """The decoder Linears LoRA adapts, resolved the way PEFT resolves `target_modules`."""
        if not self.lora:
            return ()
        names = arch.linear_names()
        tm = self.lora_target_modules
        if tm is None:
            # PEFT's default for Llama-like models is q_proj and v_proj; Phi-3 has none, so it takes all.
            return ("q_proj", "v_proj") if "q_proj" in names else names
        if tm in ("all-linear", ("all-linear",)):
            return names
        return tuple(t for t in tm if t in names)


# The setup's values checked by their catalogue field as they are. The setup keeps two in its own form:
# attn_implementation None (the model's default) and lora_target_modules as a tuple; both are checked below.
CHECKED = tuple(
    f.name
    for f in fields(TrainingSetup)
    if f.name in CATALOGUE and f.name not in ("attn_implementation", "lora_target_modules", "longest_example")
)


def _check_fields(setup: TrainingSetup) -> None:
    """Each value must already be what its catalogue field converts it to (an int, not 8.0 or "8")."""
    errors = []
    for name in CHECKED:
        value, field = getattr(setup, name), CATALOGUE[name]
        try:
            converted = field.convert(value)
        except FieldError as exc:
            errors.append(exc)
            continue
        if value is None or converted != value or type(converted) is not type(value):
            errors.append(FieldError(name, f"must be {field.allowed().replace(' (or null)', '')}; got {value!r}"))
    if setup.attn_implementation not in (None, *ATTENTION):
        errors.append(
            FieldError(
                "attn_implementation", f"must be one of {', '.join(ATTENTION)}; got {setup.attn_implementation!r}"
            )
        )
    longest = setup.longest_example
    if longest is not None and (isinstance(longest, bool) or not isinstance(longest, int) or longest < 1):
        errors.append(FieldError("longest_example", f"must be a whole number >= 1 or null; got {longest!r}"))
    if errors:
        raise FieldError.collect(errors)


def subject(setup: TrainingSetup, arch: Architecture) -> Subject:
    """The setup as the rules read it: its values under their catalogue names, and the model."""
    return Subject(MEMORY, {f.name: getattr(setup, f.name) for f in fields(TrainingSetup)}, arch=arch)


def validate(setup: TrainingSetup, arch: Architecture) -> list[Finding]:
    """Raise FieldError for a value out of range, a dtype the estimate cannot take, or the combinations the
    rules refuse (`lrexplorer.rules`, naming each field); return the rules' advice."""
    _check_fields(setup)
    if setup.dtype not in DTYPES:
        raise FieldError("dtype", f"the estimate needs {', '.join(DTYPES)}; auto is read from the model's config")
    return refuse(subject(setup, arch))


def as_trained(setup: TrainingSetup) -> TrainingSetup:
    """The setup as the Trainer runs it: accelerate ignores fp16 on the CPU (no autocast, no loss scaling), so
    the step there is the step without it (`rules.precision.fp16_ignored_on_cpu` says so)."""
    return setup.with_(fp16=False) if setup.fp16 and setup.device == "cpu" else setup


def setup_from_values(
    values: Mapping[str, Any], config: Mapping[str, Any] | None = None, notes: list[str] | None = None
) -> TrainingSetup:
    """The setup of a memory estimate from catalogue values: the memory tool's fields (others are ignored),
    each converted by its field (one FieldError lists every bad one), missing ones at memory's defaults.

    `config` (the model's config.json) settles what transformers settles when it loads the model: dtype
    auto is the saved dtype, and a null max_length is the model's maximum position. What was assumed
    goes into `notes`.
    """
    full, errors = defaults(MEMORY), []
    for name in [n for n in full if n in values]:
        try:
            full[name] = CATALOGUE[name].convert(values[name])
        except FieldError as exc:
            errors.append(exc)
    if errors:
        raise FieldError.collect(errors)
    config = config or {}
    if full["max_length"] is None:
        full["max_length"] = int(config.get("max_position_embeddings") or 1024)
        if notes is not None:
            notes.append(f"max_length is null: estimated at the model's {full['max_length']} positions")
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and full["max_length"] > positions:
        raise FieldError(
            "max_length",
            f"must be at most the model's max_position_embeddings ({positions}): it never sees longer sequences; "
            f"got {full['max_length']}",
        )
    if full["dtype"] == "auto":  # transformers 5 loads the weights in the dtype they were saved in
        saved = str(config.get("dtype") or config.get("torch_dtype") or "float32")
        full["dtype"] = saved if saved in DTYPES else "float32"
    if full["attn_implementation"] == "auto":
        full["attn_implementation"] = None
    targets = full["lora_target_modules"]
    full["lora_target_modules"] = tuple(targets) if targets else None
    return TrainingSetup(**{f.name: full[f.name] for f in fields(TrainingSetup) if f.name in full})


def setup_changes(old: TrainingSetup, new: TrainingSetup) -> list[str]:
    """Each field that differs between two setups, as `name old → new` (None reads as `auto`)."""

    def show(value: Any) -> str:
        return "auto" if value is None else str(value)

    return [
        f"{f.name} {show(getattr(old, f.name))} → {show(getattr(new, f.name))}"
        for f in fields(TrainingSetup)
        if getattr(old, f.name) != getattr(new, f.name)
    ]
