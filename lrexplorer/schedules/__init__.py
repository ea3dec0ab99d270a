"""Learning-rate schedules: the catalogue, their exact curves and the real schedulers behind them.

`build_scheduler` (in `.build`) imports torch; everything imported here needs only numpy, so the
page can draw curves without loading torch.
"""

from .curves import (
    CATALOGUE,
    NOTES_SCHEDULES,
    Curve,
    compute_curve,
    get_schedule,
    schedule_names,
    span_of,
)
from .entry import Schedule
from .params import Param, ScheduleError, parse_kwargs_json

__all__ = [
    "CATALOGUE",
    "NOTES_SCHEDULES",
    "Curve",
    "Param",
    "Schedule",
    "ScheduleError",
    "compute_curve",
    "get_schedule",
    "parse_kwargs_json",
    "schedule_names",
    "span_of",
]
