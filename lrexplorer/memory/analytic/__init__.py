"""The analytic memory engine: a training step replayed op by op on a byte ledger (pure Python).

- `estimate`: the engine's entry: bytes per component and the peak of a steady-state step, per GPU.
- `ledger`: the running count of live bytes; `dims`: the sizes and dtypes a step works with;
  `tensors`: the parameter tensors (stored, trained, their dtypes).
- `step`: one micro-batch; `layer`: one decoder layer; `attention`: its attention block; `linear`: one
  linear layer (plain, autocast, LoRA, 4-bit); `fused_head`: TRL's fused LM head and loss.
- `parallel`: DDP and DeepSpeed ZeRO per GPU; `fsdp`: FSDP2 per rank.
- `generate`: the memory of a `model.generate` call; `generate_prefill`: its prefill, op by op.
"""
