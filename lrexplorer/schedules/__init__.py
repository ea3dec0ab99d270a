"""Learning-rate schedules: the catalogue, their exact curves and the real schedulers behind them.

`build_scheduler` (in `.build`) imports torch; everything imported here needs only numpy, so the
page can draw curves without loading torch. Each schedule's arguments are `lrexplorer.fields.Field`s.
"""

from .curves import (
    CATALOGUE,
    NOTES_SCHEDULES,
    Curve,
    compute_curve,
    curve_for,
    get_schedule,
    schedule_names,
    span_of,
)
from .entry import Schedule

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
