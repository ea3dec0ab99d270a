"""A run as a folder, read and written while its worker runs.

- `store`: the one place that knows a run's files and their formats; `metrics`: metrics.jsonl.
- `destination`: the one rule for a folder a command writes (new or empty, never a run's), checked before
  anything is written; `index`: runs found by id and listed; `registry`: runs living outside the runs directory;
  `health`: whether a folder can be used.
- `lock`: one run per device; `process`: whether a run's worker is alive.
- `feed`: a live folder read incrementally for every viewer; `summary`: table rows, progress, diffs;
  `peak`: predicted against measured peak memory; `step_time`: measured seconds per update;
  `schedule_match`: the schedule a run's logged LRs follow, kept in the folder (schedule_match.json).

`store` names every file of a run, writes config, status, metrics, memory record and markers, and deletes a
run that is not running. A few others touch files of their own, named by store's constants:
`runs/launcher.py` (creates the folder, appends the worker's output to the log, leaves a stop request),
`runs/training/ranks.py` (each rank's log and end record under `ranks/`), `runs/kinds/` (`run_kind.json`
and a range test's result), `runs/imported.py` (creates the folder of an imported run, writing through store)
and `schedule_match` (its own result file).
"""
