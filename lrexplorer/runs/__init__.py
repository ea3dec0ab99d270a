"""Training runs: a run is a worker subprocess that owns a folder.

- `spec`      RunSpec: the validated values of every catalogue field (`lrexplorer.params`)
- `validate`  cross-field rules and the hardware facts they need; attention `auto`
- `sources`   built-in / local / Hub models and datasets, with fast failures
- `builtin`   the offline defaults (tiny Llama from a config, bundled tokenizer and data)
- `launcher`  start (own process group, never blocking), stop (graceful, then signals), resume
- `worker`    `python -m lrexplorer.runs.worker RUN_DIR`: trains with TRL, writes the folder
- `trainer`   the SFTTrainer subclass with the schedules catalogue's scheduler
- `callbacks` metrics.jsonl, status heartbeats, stop requests, non-finite loss
- `store`     the run-folder API: the one module that knows its files (config, status, metrics, log,
              checkpoints) and their formats; reconciling a run whose worker has gone; run ids and markers
- `metrics`   metrics.jsonl: the incremental reader, tail and writer (re-exported by `store`)
- `registry`  runs whose output_dir lies outside the runs directory, reachable by id
- `process`   is a run's worker alive (pid and start time, not a reused pid)
- `feed`      a run folder read incrementally, once per tick for every viewer (the live pages)
- `summary`   table rows, progress and ETA, final metrics, config diffs, safe deletion
- `lock`      one run per device across processes (fcntl)
- `export`    the spec as a standalone script, a `trl sft` YAML, an `accelerate launch` command
- `bundle`    the three exports in one folder (or zip) that runs anywhere, with a README and the built-in files

`spec`, `validate`, `sources`, `store`, `metrics`, `registry`, `process`, `feed`, `summary`, `lock`, `launcher`, `builtin`,
`export` and `bundle` import without torch (export loads it only to embed a torch scheduler, bundle to save the
built-in model's initial weights);
`trainer`, `callbacks` and `worker` load torch/transformers/TRL and run in the worker process.
"""
