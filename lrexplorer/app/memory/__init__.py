"""The Memory page.

- `page`: the page: will this fine-tune fit, where does the memory go, which setting buys the most.
- `form`: the page's settings (`MEMORY_STATE`, in the address) and its form: the model picker (preset,
  local config or Hub id) and the training setup.
- `advisor`: the trainer settings, what the estimate models, and the fit advisor.
- `check`: the check against PyTorch (the simulated or measured step), run in a worker process.
- `ranks`: the per-GPU view of a multi-GPU run (DDP, ZeRO, FSDP2).
- `generate`: the Generation tab: the memory of one generate call and what fits a GPU.
"""
