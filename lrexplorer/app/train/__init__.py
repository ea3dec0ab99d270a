"""The Train page.

- `page`: the page: the run form before Start, the run itself at `?run=ID`.
- `form`: the form view: the run form, what the pre-flight says, and Start.
- `preflight`: the pre-flight panel: updates and LR curve, memory, duration, data lengths.
- `data_view`: the data as the Trainer sees it: TRL's totals and a few sequences token by token.
- `run_view`: a run's live charts, progress, log and Stop; resume, chat and export once it ended.
"""
