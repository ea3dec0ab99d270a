"""The core: what every other layer may use, importing nothing of lrexplorer's above it.

- `fields`: the one field type and the one error a bad value raises (`FieldError`); `groups`: the
  catalogue's groups, tools and concepts; `limits`: the upper bound of every number.
- `units`: byte units.
- `hardware`: the machine (GPUs through NVML, CPU and RAM); `kernels`: the attention kernels and what each needs;
  `facts`: what the rules and the worker read of the machine (GPU capabilities, CPU bfloat16, packages, cores).
- `resources`: the files that ship inside the package; `version`: lrexplorer's version.
- `compat`: the supported versions of the libraries whose internals the code uses.
"""
