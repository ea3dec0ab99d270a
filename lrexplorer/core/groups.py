"""The catalogue's groups (the Train form's sections, the CLI's argument groups), the tools that take
fields, and the concepts of the training notes a field belongs to."""

from __future__ import annotations

GROUPS = {
    "model-data": "Model and data",
    "optimisation": "Optimisation",
    "schedule": "Learning-rate schedule",
    "memory": "Memory",
    "precision": "Precision and speed",
    "distributed": "Processes and sharding",
    "logging-eval-saving": "Logging, evaluation and saving",
}

# The front ends that take catalogue fields: the Train form and `lrexplorer train`, the Schedules
# page and `lrexplorer schedule`, the Memory page and `lrexplorer memory`.
TRAIN, SCHEDULE, MEMORY = "train", "schedule", "memory"
TOOLS = (TRAIN, SCHEDULE, MEMORY)

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
