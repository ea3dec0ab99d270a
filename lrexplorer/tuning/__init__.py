"""Choosing hyperparameters: the LR range test and sweeps over run fields (the algorithms; starting
them as runs is `frontend/tuning_launch.py` and `frontend/sweeps.py`).

- `lr_range`: the range test's LR grid, smoothed loss, stop rule and result (no torch).
- `suggest`: fastai's valley / steep / minimum and Lightning's steepest-gradient suggestions.
- `range_trainer`: the scheduler, Trainer mixin and callback that run a range test in a real Trainer.
- `space`: a sweep's search space (YAML), checked against the parameter catalogue.
- `study`: the sweep itself, an Optuna study stored in the sweep's folder.
- `trial_callback`: the Trainer callback that reports a trial's loss and obeys the pruner.
- `figures`: Optuna's Plotly figures of a sweep.

Import the submodules directly; this package imports nothing heavy.
"""
