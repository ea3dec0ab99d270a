"""Learning-rate schedules: the catalogue, their exact curves and the real schedulers behind them.

- `entry`: a schedule's catalogue entry; `catalogue_hf` and `catalogue_torch`: the entries of every
  transformers `SchedulerType` and every torch scheduler class a run can use; `params`: their arguments as
  fields, and the peak `learning_rate` every schedule takes.
- `curves`: the curve of any schedule, update by update; `hf_curves`, `torch_curves`: their closed forms.
- `warmup`: the linear warmup in front of a torch class; `build`: the real scheduler a run steps (torch).
- `recognise`: which schedule, peak LR and warmup reproduce a run's logged LRs exactly (or where the log departs
  from every schedule); `recognise_fit`: its arithmetic (solving the linear unknowns); `recognise_shapes`: the
  candidate arguments of each schedule, read off the log.

Everything imported here needs only numpy, so a page draws curves without loading torch.
"""

from lrexplorer.schedules.curves import (
    CATALOGUE,
    NOTES_SCHEDULES,
    Curve,
    compute_curve,
    curve_for,
    get_schedule,
    schedule_names,
    span_of,
)
from lrexplorer.schedules.entry import Schedule

__all__ = [
    "CATALOGUE",
    "NOTES_SCHEDULES",
    "Curve",
    "Schedule",
    "compute_curve",
    "curve_for",
    "get_schedule",
    "schedule_names",
    "span_of",
]
