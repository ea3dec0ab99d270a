"""Real runs of the plain transformers `Trainer` (a ~10k-parameter Llama, random tokens, the CPU), as a user's
script would make them anywhere: an output folder with checkpoints, `trainer_state.json` and
`training_args.bin`, plus the arguments as JSON (`TrainingArguments.to_json_string()`) where asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.runs import token_dataset


def tiny_model() -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=32,
    )
    return LlamaForCausalLM(config)


def trainer_run(
    folder: Path,
    schedule: str = "linear",
    kwargs: dict[str, Any] | None = None,
    *,
    learning_rate: float = 1e-3,
    warmup_steps: float = 0,
    max_steps: int = 30,
    logging_steps: int = 1,
    save_steps: int | None = None,
    resume: Path | None = None,
    torch_scheduler: Any = None,
    args_json: bool = True,
) -> Any:
    """Train and return the Trainer; `torch_scheduler(optimizer)` builds a torch scheduler passed through
    `optimizers=` (how a plain script uses one); `resume` continues from a checkpoint folder."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    args = TrainingArguments(
        output_dir=str(folder),
        report_to="none",
        use_cpu=True,
        logging_steps=logging_steps,
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,
        per_device_train_batch_size=2,
        max_steps=max_steps,
        warmup_steps=warmup_steps,
        learning_rate=learning_rate,
        lr_scheduler_type="constant" if torch_scheduler else schedule,
        lr_scheduler_kwargs={} if torch_scheduler else dict(kwargs or {}),
        disable_tqdm=True,
        seed=0,
    )
    model = tiny_model()
    optimizers: tuple[Any, Any] = (None, None)
    if torch_scheduler is not None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
        optimizers = (optimizer, torch_scheduler(optimizer))
    trainer = Trainer(model=model, args=args, train_dataset=token_dataset(64), optimizers=optimizers)
    trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.save_state()  # FOLDER/trainer_state.json, as a script's final save writes it
    if args_json:
        (Path(folder) / "training_args.json").write_text(args.to_json_string(), encoding="utf-8")
    return trainer


def logged_lrs(trainer: Any) -> tuple[list[int], list[float]]:
    entries = [e for e in trainer.state.log_history if "learning_rate" in e and "step" in e]
    return [e["step"] for e in entries], [e["learning_rate"] for e in entries]
