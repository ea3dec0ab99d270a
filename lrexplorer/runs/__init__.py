"""Training runs: a run is a worker subprocess that owns a folder.

- `spec`: `RunSpec`, the validated values of every catalogue field; launch and every export read it.
- `steps`: the Trainer's count of optimizer updates; `estimates`: a spec's examples and memory per device,
  before it starts; `sequences`: the sequences the Trainer batches (TRL's preparation of the rows: packing,
  dropped rows). (A spec's cross-field rules are `lrexplorer.rules`, the machine they read `core/facts.py`.)
- `launcher`: start (own process group, never blocking), stop (graceful, then signals), resume.
- `imported`: a run made elsewhere, read from its trainer_state.json into a read-only run of kind imported;
  `imported_args`: its arguments, from a JSON or YAML file beside it (never the pickled training_args.bin).
- `folder/`: the run folder (files, ids, locks, live feeds, summaries).
- `training/`: the worker process and the SFTTrainer it builds.
- `kinds/`: run kinds (a range test, a sweep trial), one module each, in a registry the worker reads.
- `exports/`: a run exported as scripts, a bundle, a cluster launch, or a merged model.

Only `training/` (and exports that embed a torch scheduler or save the built-in model) load torch,
transformers or TRL; the rest imports without them.
"""
