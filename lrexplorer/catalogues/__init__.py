"""The catalogues: what can be set and what exists, as data (no torch).

- `params/`: every argument any front end takes, one `Field` each.
- `optimizers`: every optimizer, by its `TrainingArguments.optim` name; `optimizer_state`: the memory
  arithmetic of each one's state and step.
- `architecture`: a decoder-only model's shape, read from a `config.json`; `presets`: the bundled configs of
  popular models.
- `builtin`: the offline defaults (the built-in model and data); `builtin_data`: the bundled datasets'
  generator; `make_assets`: rewrites the bundled files.
"""
