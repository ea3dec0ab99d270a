"""lrexplorer: see and check the hyperparameters of language-model fine-tuning.

The package is built in layers, each a folder, that import only downwards (tests/package/test_import_layers.py):

- `core`: fields and their one error, units, the machine (hardware, attention kernels, the facts the rules
  read), shipped files, supported library versions;
- `schedules`: the schedule catalogue, its exact curves and the real schedulers;
- `catalogues`: every argument (`params`), optimizer, model shape and preset, the built-in model and data;
- `rules`: every cross-field rule once, each a refusal or an advice, read by validation and every front end;
- `memory`: the memory engines (analytic, PyTorch-counted) and the advice built on them;
- `tuning`: the LR range test and sweep algorithms;
- `runs`: a run as a folder, the training worker, run kinds and exports;
- `knowledge`, `guide`: the knowledge lab and the Guide's lessons;
- `frontend`: what the command line and the app share (the pre-flight, the chat, launching tuning runs);
- `cli` and `app`: the two front ends; `__main__` runs the command line (`python -m lrexplorer`).
"""

from lrexplorer.core.version import __version__

__all__ = ["__version__"]
