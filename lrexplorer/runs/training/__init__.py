"""The training process of a run (the worker) and what it builds.

- `worker`: the process (`python -m lrexplorer.runs.training.worker RUN_DIR`); `ranks`: its supervision of
  several processes; `distributed`: the DeepSpeed set-up and launch command of a multi-process run.
- `trainer`: the run's TRL `SFTTrainer`; `sources`: its model and data (built-in, local, Hub); `lengths`:
  the token counts of its data; `probe`: cheap looks at a local file or folder before a start.
- `prepare`: the train split as TRL's own preparation makes it, without a model; `data_view`: its totals and
  a few sequences token by token (which tokens the loss trains on, the cut, packing's boundaries).
- `callbacks`: metrics, heartbeats, stop requests, non-finite loss; `peak_callback`: the memory record;
  `attention_probe`: which attention kernel really ran; `diverge`: why a loss became nan or inf.
"""
