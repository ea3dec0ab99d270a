"""The training process of a run (the worker) and what it builds.

- `worker`: the process (`python -m lrexplorer.runs.training.worker RUN_DIR`); `ranks`: its supervision of
  several processes; `distributed`: the DeepSpeed set-up and launch command of a multi-process run.
- `trainer`: the run's TRL `SFTTrainer`; `sources`: its model and data (built-in, local, Hub); `lengths`:
  the token counts of its data; `probe`: cheap looks at a local file or folder before a start.
- `callbacks`: metrics, heartbeats, stop requests, non-finite loss; `peak_callback`: the memory record;
  `attention_probe`: which attention kernel really ran; `diverge`: why a loss became nan or inf.
"""
