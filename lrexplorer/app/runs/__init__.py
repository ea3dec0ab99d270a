"""The Runs page.

- `page`: every run in a table, their comparison (overlaid curves, config diff), resume, delete, export.
- `merge`: the merge panel: a LoRA or QLoRA adapter folded into its base model.
- `import_run`: "Import a run made elsewhere" (its trainer_state.json), and what an imported run shows instead of
  its controls.
"""
