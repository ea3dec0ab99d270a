"""The memory of a step counted by PyTorch itself: simulated under FakeTensorMode, or measured.

- `realmodel`: the real model, adapters and the Trainer's optimizer of a step.
- `counting`: the counting tools (live storages, optimizer state, saved tensors, MemTracker, peaks per phase).
- `measure`: a real step of the plain Trainer; `measure_sft`: a real step of TRL's SFTTrainer;
  `measure_generate`: a real `generate` call, counted op by op.
- `simulate`: the step under FakeTensorMode; `simulate_parallel`: one rank of an FSDP2 step.
- `engine_process`: runs a simulation or measurement in its own process.
"""
