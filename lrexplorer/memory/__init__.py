"""The Memory explorer: how much memory a fine-tuning step needs per GPU, and what each setting saves.

- `sources.resolve_model` / `presets`: a model's architecture from a preset, a config.json or the Hub.
- `setup.TrainingSetup`: the run's settings (TrainingArguments / SFTConfig / PEFT / bitsandbytes names),
  including which trainer runs the step: TRL's SFTTrainer (the default) or the plain Trainer.
- `estimate.estimate`: the analytic engine (pure Python, well under a millisecond); SFTTrainer's loss,
  TRL's fused LM head, is replayed by `fused_head`.
- `simulate.simulate_step`: the real step under FakeTensorMode, counted by torch's MemTracker.
- `simulate_parallel.simulate_parallel_step`: one rank of an FSDP2 step (accelerate's wrapping) on a fake
  process group, counted by torch's FSDPMemTracker; `fsdp` is the analytic FSDP2 model checked against it,
  `parallel` the DDP and DeepSpeed ZeRO figures (DeepSpeed's own estimators and bucket defaults).
- `measure.measure_step`: the real step with real tensors (CPU, or a CUDA GPU); for SFTTrainer, step 2
  of a real SFTTrainer run (`measure_sft`).
- `savings.savings`, `gpus`: what each trick buys, and the fit per GPU.

Only `simulate`, `simulate_parallel`, `measure`, `measure_sft` and `realmodel` import torch; importing this
package does not.
"""
