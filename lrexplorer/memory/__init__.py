"""The Memory explorer: how much memory a fine-tuning step needs per GPU, and what each setting saves.

The package's base, which the three engine folders share:
- `setup`: `TrainingSetup`, the settings the estimate models (TrainingArguments / SFTConfig / PEFT /
  bitsandbytes names, and which trainer runs the step), with the checks that refuse impossible setups.
- `model_source`: a model's architecture from a bundled preset, a local config.json or the Hub.
- `results`: the result of a measured or simulated step or generate call (no torch); `gpus`: target GPUs and
  whether a peak fits.
- `generation`: `GenerationSetup`, the generate call a generation-memory estimate models, and its checks.

Then, lowest first: `analytic/` (the estimate, pure Python, well under a millisecond), `pytorch/` (the real
step counted by PyTorch: simulated under FakeTensorMode, or measured; the only part that imports torch) and
`advice/` (the fit advisor, the savings of each trick, the reports, the accuracy matrix).
"""
