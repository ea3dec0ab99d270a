"""Catalogue fields of the groups "Optimisation" and "Learning-rate schedule": the optimizer, the length
of the run (and what counting its updates needs) and the schedule."""

from __future__ import annotations

from collections.abc import Sequence

from lrexplorer.catalogues.optimizers import TRAIN_FORM_CHOICES
from lrexplorer.core.fields import Field
from lrexplorer.core.groups import MEMORY, SCHEDULE, TRAIN
from lrexplorer.core.limits import (
    MAX_ACCUMULATION,
    MAX_BATCH,
    MAX_DEVICES,
    MAX_EPOCHS,
    MAX_EPSILON,
    MAX_EXAMPLES,
    MAX_GRAD_NORM,
    MAX_STEPS,
    MAX_WEIGHT_DECAY,
)
from lrexplorer.schedules import schedule_names
from lrexplorer.schedules.params import LEARNING_RATE

OPT, SCHED = "optimisation", "schedule"


def _schedule_names() -> Sequence[str]:
    return schedule_names()  # the schedules catalogue owns these names


OPTIMISATION: tuple[Field, ...] = (
    LEARNING_RATE,
    Field(
        "num_train_epochs",
        "float",
        1.0,
        "Passes over the training data; a fraction stops part-way "
        "through the last pass. Ignored when max_steps is set.",
        OPT,
        "training-length",
        tools=(TRAIN, SCHEDULE),
        library_default=3.0,
        low=0.0,
        low_open=True,
        high=MAX_EPOCHS,
    ),
    Field(
        "max_steps",
        "int",
        -1,
        "Total optimizer updates; when >= 1 it overrides num_train_epochs and "
        "loops over the data as often as needed. -1 counts from the epochs.",
        OPT,
        "training-length",
        tools=(TRAIN, SCHEDULE),
        low=1,
        also=(-1,),
        high=MAX_STEPS,
    ),
    Field(
        "num_examples",
        "int",
        None,
        "Training examples in the dataset (after any packing or filtering): with the batch size, accumulation, "
        "processes and epochs it gives the number of updates, counted as the Trainer counts them.",
        OPT,
        "training-length",
        tools=(SCHEDULE,),
        target="estimate",
        low=1,
        nullable=True,
        high=MAX_EXAMPLES,
    ),
    Field(
        "per_device_train_batch_size",
        "int",
        8,
        "Examples per forward/backward pass on each device. Activation memory grows with it.",
        OPT,
        "batch-size",
        tools=(TRAIN, SCHEDULE, MEMORY),
        low=1,
        high=MAX_BATCH,
    ),
    Field(
        "gradient_accumulation_steps",
        "int",
        1,
        "Micro-batches whose gradients are summed before one "
        "optimizer update: effective batch = batch size x this x devices, at the memory of one micro-batch.",
        OPT,
        "gradient-accumulation",
        tools=(TRAIN, SCHEDULE, MEMORY),
        low=1,
        high=MAX_ACCUMULATION,
    ),
    Field(
        "world_size",
        "int",
        1,
        "Data-parallel processes (usually one per GPU) sharing each epoch: each sees its share of the batches.",
        OPT,
        "batch-size",
        tools=(SCHEDULE,),
        target="estimate",
        low=1,
        high=MAX_DEVICES,
    ),
    Field(
        "dataloader_drop_last",
        "bool",
        False,
        "Drop the last incomplete batch of each epoch instead of running it.",
        OPT,
        "training-length",
        tools=(SCHEDULE,),
    ),
    Field(
        "optim",
        "choice",
        "adamw_torch",
        "Optimizer. adamw_torch keeps two float32 states per weight; "
        "8-bit variants (bitsandbytes) keep them in 8 bits; adafactor factorises them; sgd keeps none.",
        OPT,
        "optimizer",
        tools=(TRAIN, MEMORY),
        # A memory estimate is for a GPU, where the Trainer's own default is the fused kernel.
        tool_defaults={MEMORY: "adamw_torch_fused"},
        library_default="adamw_torch_fused",
        choices=TRAIN_FORM_CHOICES,
    ),
    Field(
        "weight_decay",
        "float",
        0.0,
        "Decoupled weight decay of AdamW: each update shrinks the weights "
        "(not biases and norms) by lr x this. Typical: 0 to 0.1.",
        OPT,
        "weight-decay",
        low=0.0,
        high=MAX_WEIGHT_DECAY,
    ),
    Field(
        "adam_beta1",
        "float",
        0.9,
        "Decay of Adam's running mean of the gradients (momentum).",
        OPT,
        "optimizer",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Field(
        "adam_beta2",
        "float",
        0.999,
        "Decay of Adam's running mean of the squared gradients.",
        OPT,
        "optimizer",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Field(
        "adam_epsilon",
        "float",
        1e-8,
        "Added to Adam's denominator so tiny second moments do not blow up the step.",
        OPT,
        "optimizer",
        low=0.0,
        low_open=True,
        high=MAX_EPSILON,
    ),
    Field(
        "max_grad_norm",
        "float",
        1.0,
        "Clip the gradient's global norm to this before each update, "
        "against exploding gradients; 0 turns clipping off.",
        OPT,
        "max-grad-norm",
        low=0.0,
        high=MAX_GRAD_NORM,
    ),
)

SCHEDULE_FIELDS: tuple[Field, ...] = (
    Field(
        "lr_scheduler_type",
        "choice",
        "linear",
        "Learning-rate schedule: a transformers SchedulerType or a "
        "torch.optim.lr_scheduler class name (CamelCase). The Schedules page plots each one.",
        SCHED,
        "scheduler",
        tools=(TRAIN, SCHEDULE),
        choices_of=_schedule_names,
    ),
    Field(
        "lr_scheduler_kwargs",
        "json",
        {},
        'Arguments of the schedule as a JSON object, e.g. {"num_cycles": 2}; unknown names are refused.',
        SCHED,
        "scheduler",
        tools=(TRAIN, SCHEDULE),
        library_default=None,
    ),
    Field(
        "warmup_steps",
        "float",
        0.0,
        "Linear warmup from 0: a value >= 1 is a number of updates, a value "
        "below 1 a fraction of all updates, rounded up (formerly warmup_ratio).",
        SCHED,
        "warmup",
        tools=(TRAIN, SCHEDULE),
        low=0.0,
        high=MAX_STEPS,
    ),
)
