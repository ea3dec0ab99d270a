"""Catalogue fields of the groups "Memory" and "Precision and speed": what trades memory for compute or
precision, LoRA, and the settings only a memory estimate takes (quantisation, GPUs, sharding)."""

from __future__ import annotations

import json

from lrexplorer.core.fields import Field
from lrexplorer.core.groups import MEMORY, TRAIN
from lrexplorer.core.limits import MAX_DEVICES, MAX_LENGTH, MAX_LORA

MEM, PREC = "memory", "precision"

# transformers hands activation_checkpointing_kwargs to torch.utils.checkpoint.checkpoint as they are, at the
# first forward pass: any other key fails the run there, after its start. These are that function's keyword
# arguments a JSON object can carry (context_fn takes a function), with what each accepts; the catalogue test
# reads torch's signature and calls the real function with each of them.
CHECKPOINT_KWARGS: dict[str, tuple[object, ...]] = {
    "use_reentrant": (True, False),
    "preserve_rng_state": (True, False),
    "determinism_check": ("default", "none"),
    "debug": (True, False),
    "early_stop": (True, False),
}


def checkpoint_kwargs_problem(kwargs: dict) -> str | None:
    """Why torch's checkpoint would refuse `kwargs` at the first forward pass, or None."""
    for key, value in kwargs.items():
        if key not in CHECKPOINT_KWARGS:
            return f"unknown key {key!r}; torch.utils.checkpoint.checkpoint takes {', '.join(CHECKPOINT_KWARGS)}"
        allowed = CHECKPOINT_KWARGS[key]
        if not any(value is a or (isinstance(a, str) and value == a) for a in allowed):
            words = " or ".join(json.dumps(a) for a in allowed)
            return f"{key} must be {words}; got {value!r}"
    if kwargs.get("debug") is True and kwargs.get("use_reentrant", True) is not False:
        # torch takes use_reentrant=True when it is not given, and refuses debug with it
        return "debug: true needs use_reentrant: false (torch refuses it with the reentrant checkpoint)"
    return None


MEMORY_FIELDS: tuple[Field, ...] = (
    Field(
        "activation_checkpointing",
        "bool",
        False,
        "Gradient checkpointing, under its current transformers name: keep only some activations and "
        "recompute the rest in the backward pass; less memory, about a third more compute. TRL's SFTConfig turns "
        "it on when a script leaves it out; lrexplorer's runs and memory estimates use false unless told.",
        MEM,
        "gradient-checkpointing",
        tools=(TRAIN, MEMORY),
        library_default=True,
    ),
    Field(
        "activation_checkpointing_kwargs",
        "json",
        None,
        'Arguments for the checkpointing, e.g. {"use_reentrant": false} (formerly gradient_checkpointing_kwargs); '
        "the keyword arguments of torch.utils.checkpoint.checkpoint: " + ", ".join(CHECKPOINT_KWARGS) + ".",
        MEM,
        "gradient-checkpointing",
        nullable=True,
        check=checkpoint_kwargs_problem,
    ),
    Field(
        "attn_implementation",
        "choice",
        "auto",
        "Attention kernel. auto: for a run, the newest flash kernel that can run here (flash_attention_4, 3, "
        "then 2: each needs its package, an NVIDIA GPU and fp16/bf16), otherwise sdpa; for a memory estimate, "
        "what transformers picks for the model (sdpa, or eager where sdpa is unsupported). eager keeps the full "
        "attention matrix in memory; sdpa and the flash kernels do not.",
        MEM,
        "flash-attention",
        tools=(TRAIN, MEMORY),
        target="model",
        library_default=None,
        choices=("auto", "eager", "sdpa", "flash_attention_2", "flash_attention_3", "flash_attention_4"),
    ),
    Field("use_cpu", "bool", False, "Train on the CPU even when a GPU is present.", MEM, "batch-size"),
    Field(
        "use_peft",
        "bool",
        False,
        "Train LoRA adapters (peft) instead of all weights: gradients and optimizer states only for the adapters.",
        MEM,
        tools=(TRAIN, MEMORY),
        target="peft",
    ),
    Field(
        "lora_r",
        "int",
        16,
        "Rank of the LoRA adapters (with use_peft): trainable parameters grow linearly with it.",
        MEM,
        tools=(TRAIN, MEMORY),
        target="peft",
        low=1,
        high=MAX_LORA,
    ),
    Field(
        "lora_alpha",
        "int",
        32,
        "LoRA scaling: the adapter output is multiplied by lora_alpha / lora_r.",
        MEM,
        target="peft",
        low=1,
        high=MAX_LORA,
    ),
    Field(
        "lora_dropout",
        "float",
        0.05,
        "Dropout on the adapters' input during training.",
        MEM,
        target="peft",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Field(
        "lora_target_modules",
        "str_list",
        None,
        "Modules that get adapters, e.g. q_proj,v_proj or all-linear; null uses peft's default for the architecture.",
        MEM,
        tools=(TRAIN, MEMORY),
        target="peft",
        nullable=True,
    ),
    Field(
        "use_rslora",
        "bool",
        False,
        "Rank-stabilised LoRA: scale the adapters by lora_alpha / sqrt(lora_r) instead of lora_alpha / lora_r, "
        "so higher ranks keep learning.",
        MEM,
        target="peft",
    ),
    Field(
        "use_dora",
        "bool",
        False,
        "DoRA: split each adapted weight into a magnitude (trained) and a direction (trained through LoRA); "
        "a little more memory and compute than LoRA.",
        MEM,
        target="peft",
    ),
    # -- quantised base weights (bitsandbytes), as BitsAndBytesConfig / TRL's ModelConfig name them --------------
    Field(
        "load_in_4bit",
        "bool",
        False,
        "Load the base weights in 4 bits with bitsandbytes and train LoRA adapters on top (QLoRA; needs use_peft).",
        MEM,
        tools=(TRAIN, MEMORY),
        target="model",
    ),
    Field(
        "bnb_4bit_quant_type",
        "choice",
        "nf4",
        "4-bit number format: nf4 (NormalFloat, spaced for normally distributed weights, what QLoRA uses) or "
        "fp4 (a plain 4-bit float).",
        MEM,
        target="model",
        choices=("nf4", "fp4"),
    ),
    Field(
        "bnb_4bit_compute_dtype",
        "choice",
        "float32",
        "dtype the 4-bit weights are unpacked to for each matrix product. TRL's trl sft uses dtype for it; "
        "bfloat16 halves the traffic on GPUs of compute capability >= 8.0.",
        MEM,
        target="model",
        choices=("float32", "bfloat16", "float16"),
    ),
    Field(
        "bnb_4bit_use_double_quant",
        "bool",
        False,
        "Quantise the 4-bit weights' scales too: about 0.37 bits per weight less.",
        MEM,
        tools=(TRAIN, MEMORY),
        target="model",
        trl_name="use_bnb_nested_quant",
    ),
    Field(
        "load_in_8bit",
        "bool",
        False,
        "Load the base weights in 8 bits (LLM.int8 of bitsandbytes) and train LoRA adapters on top (needs use_peft; "
        "not with load_in_4bit).",
        MEM,
        target="model",
    ),
    # -- taken only by memory estimates ----------------------------------------------------------------------
    Field(
        "num_gpus",
        "int",
        1,
        "Data-parallel GPUs the run is spread over; with zero_stage or fsdp they share weights and states.",
        MEM,
        "batch-size",
        tools=(MEMORY,),
        target="estimate",
        low=1,
        high=MAX_DEVICES,
    ),
    Field(
        "zero_stage",
        "int",
        0,
        "DeepSpeed ZeRO stage: 1 shards the optimizer states over the GPUs, 2 also the gradients, 3 also the "
        "weights; 0 keeps a full copy on each.",
        MEM,
        tools=(MEMORY,),
        target="estimate",
        low=0,
        high=3,
    ),
    Field(
        "fsdp_reshard_after_forward",
        "bool",
        True,
        "With fsdp: free each layer's gathered weights after its forward and gather them again for its backward "
        "(full shard); off keeps them from forward to backward (shard-grad-op), more memory, one gather less.",
        MEM,
        tools=(MEMORY,),
        target="estimate",
    ),
    Field(
        "fsdp_offload_params",
        "bool",
        False,
        "With fsdp: keep the weight shards, gradients and optimizer states in CPU RAM (CPUOffloadPolicy); the "
        "optimizer steps on the CPU and each GPU holds only the gathered layers and the activations.",
        MEM,
        tools=(MEMORY,),
        target="estimate",
    ),
    Field(
        "fsdp_wrap",
        "choice",
        "accelerate",
        "With fsdp: how the model is cut into FSDP2 groups. accelerate: what accelerate's fsdp2_prepare_model builds "
        "(the Trainer, accelerate launch): the embedding, each decoder layer, the [final norm, lm_head] tail kept "
        "gathered, then the root. layers: a fully_shard per decoder layer and one on the model, as plain FSDP2 "
        "scripts and torchtune do; the root then holds the embedding, final norm and lm_head gathered for the whole "
        "step (more memory with an untied embedding).",
        MEM,
        tools=(MEMORY,),
        target="estimate",
        choices=("accelerate", "layers"),
    ),
    Field(
        "device",
        "choice",
        "cuda",
        "Where the run trains: cuda (a GPU; the CUDA context and cuBLAS workspace count) or cpu (one process, "
        "compared with the RAM).",
        MEM,
        "batch-size",
        tools=(MEMORY,),
        target="estimate",
        choices=("cuda", "cpu"),
    ),
    Field(
        "trainer",
        "choice",
        "sft",
        "The trainer whose step is estimated: sft (TRL's SFTTrainer, what lrexplorer's runs and exports use) "
        "or transformers (the plain Trainer with the model's own loss).",
        MEM,
        "fine-tuning",
        tools=(MEMORY,),
        target="estimate",
        choices=("sft", "transformers"),
    ),
    Field(
        "padding_free",
        "bool",
        False,
        "SFTConfig's padding_free: the batch's examples go in one row without padding or attention mask (the "
        "position ids mark where each starts), so no compute is spent on padding and the flash kernels run "
        "without a mask; needs trainer sft.",
        MEM,
        "batch-size",
        tools=(TRAIN, MEMORY),
        target="sft",
    ),
    Field(
        "masked_label_fraction",
        "float",
        0.0,
        "Share of the label tokens left out of the loss (the prompt under completion_only_loss, other turns "
        "under assistant_only_loss). Only TRL's Triton LM head on a GPU skips them, so it lowers only CUDA "
        "estimates of trainer sft.",
        MEM,
        "fine-tuning",
        tools=(MEMORY,),
        target="estimate",
        low=0.0,
        high=1.0,
        high_open=True,
    ),
    Field(
        "longest_example",
        "int",
        None,
        "Tokens in the dataset's longest example: unpacked rows are padded to the longest of their batch, so "
        "the worst step has rows this long (capped by max_length). null: every row is max_length tokens.",
        MEM,
        "batch-size",
        tools=(MEMORY,),
        target="estimate",
        low=1,
        high=MAX_LENGTH,
        nullable=True,
    ),
)

PRECISION: tuple[Field, ...] = (
    Field(
        "dtype",
        "choice",
        "float32",
        "dtype the weights are loaded in (formerly torch_dtype). auto takes the one saved with the model.",
        PREC,
        "mixed-precision",
        tools=(TRAIN, MEMORY),
        # An estimate describes the model as transformers 5 loads it by default: in its saved dtype.
        tool_defaults={MEMORY: "auto"},
        target="model",
        choices=("float32", "bfloat16", "float16", "auto"),
    ),
    Field(
        "bf16",
        "bool",
        False,
        "Mixed precision with bfloat16 autocast: float32 range, fewer bits. Needs a GPU "
        "of compute capability >= 8.0, or a CPU with bfloat16 instructions. TRL's SFTConfig turns it on when a script "
        "leaves it out (unless fp16 is set); lrexplorer's runs and memory estimates use false unless told, and an "
        "SFTTrainer estimate also gives the figure of TRL's default.",
        PREC,
        "mixed-precision",
        tools=(TRAIN, MEMORY),
        library_default=True,
    ),
    Field(
        "fp16",
        "bool",
        False,
        "Mixed precision with float16 autocast and loss scaling (a GPU feature).",
        PREC,
        "mixed-precision",
        tools=(TRAIN, MEMORY),
    ),
    Field(
        "tf32",
        "bool",
        None,
        "Let float32 matrix products use TensorFloat-32 on Ampere or newer GPUs; null keeps PyTorch's setting.",
        PREC,
        "mixed-precision",
        nullable=True,
    ),
    Field(
        "torch_compile",
        "bool",
        False,
        "Compile the model with torch.compile: slower start, faster steps on recent GPUs.",
        PREC,
        "speed",
    ),
)
