"""Run kinds: what makes a run more than a training run (a range test, a sweep trial), one module each.

- `kind`: what a kind is (`RunKind`: its name, what it attaches to the trainer, how it ends) and `KIND_FILE`.
- `registry`: `KINDS`, every kind by name, as data; `mark` writes a run's `run_kind.json`, `read_kind` reads
  it, `attach` adds the kind's pieces to the worker's trainer.
- `range_test`: the LR range test (its result in `lr_find.json`, no model saved).
- `sweep_trial`: a trial of a sweep (reports to the study, obeys its pruner).
- `imported`: a run made elsewhere (`runs/imported.py`): its logs only, no worker, read-only.

The algorithms live in `lrexplorer/tuning/`; a kind only puts them into a run.
"""
