"""Every cross-field rule, once: a small named function over a tool's catalogue values, with its severity.

A rule either refuses the values (validation raises it, naming the field) or advises (the pre-flight and
the front ends show it, at a level). Validation of a run spec (`runs/spec.py`), the memory estimate's setup
(`memory/setup.py`), the Train page's pre-flight (`frontend/preflight.py`), `lrexplorer train --check` and
`lrexplorer memory` all read the one registry, so every front end says the same thing in the same words.
Per-field types and bounds stay with each field in the catalogue (`Field.convert`).

- `rule`: what a rule is (`Rule`, `Subject`, `Outlook`, `Finding`) and the `refusal` / `advice` decorators.
- `registry`: `RULES`, every rule in order, and `check` / `refuse`, which run them.
- The rules, one module per theme: `precision` (bf16, fp16, tf32, dtype), `attention` (kernels, and the
  attention a run resolves to), `batch` (its shape and size, streamed data), `optimization` (optimizer,
  decay, schedule), `adapters` (LoRA and quantized weights), `distributed` (processes, FSDP, DeepSpeed),
  `logging_saving` (what is recorded and resumable) and `outlook` (the pre-flight's length, first LR, memory).

How to add a rule: a function `(Subject) -> str | None` in the module of its theme, decorated with
`@refusal(field, tools=...)` or `@advice(level, field, tools=...)`; the registry picks it up in the order
it is written, and `tests/rules/test_rules_registry.py` lists it.
"""
