"""Advice and reports built on the memory engines.

- `budget`: a GPU's usable memory under a safety margin, and the largest value of a setting that fits it.
- `advisor`: does a setup fit a GPU, the largest micro-batch, the cheapest changes that make it fit.
- `savings`: what each memory-saving setting buys.
- `report`: one result shape for every engine (bytes) and its table (GiB).
- `accuracy`: the validation matrix of the estimate against measured steps; `accuracy_generate`: the
  generation estimate's, against real generate calls; `rules_of_thumb`: the public rules they are compared with.
- `generation_fit`: does a generate call fit a GPU, the largest batch and longest prompt, its table.
"""
