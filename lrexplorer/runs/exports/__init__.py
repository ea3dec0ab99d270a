"""A run exported to run elsewhere.

- `script`: a standalone transformers/TRL script, a `trl sft` YAML, an `accelerate launch` command.
- `cluster`: the accelerate config and Slurm script for several machines.
- `bundle`: the complete export (scripts, README, the built-in model and data it uses).
- `merge`: a LoRA/QLoRA adapter merged into its base as a plain model.
"""
