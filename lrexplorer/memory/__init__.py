"""The Memory explorer: how much memory a fine-tuning step needs per GPU, and what each setting saves.

- `sources.resolve_model` / `presets`: a model's architecture from a preset, a config.json or the Hub.
- `setup.TrainingSetup`: the run's settings (TrainingArguments / PEFT / bitsandbytes names).
- `estimate.estimate`: the analytic engine (pure Python, well under a millisecond).
- `simulate.simulate_step`: the real step under FakeTensorMode, counted by torch's MemTracker.
- `measure.measure_step`: the real step with real tensors (CPU, or a CUDA GPU).
- `savings.savings`, `gpus`: what each trick buys, and the fit per GPU.

Only `simulate`, `measure` and `realmodel` import torch; importing this package does not.
"""
