"""Keep OpenMP threads from spinning while they wait, on a CPU that other jobs share.

torch's OpenMP threads busy-wait between parallel regions by default. When the cores are shared
(other training runs, a test suite), a spinning thread takes the time slice its partner needs, and a
training step measured 6 to 9 times slower with 2 threads than with 1 at load average 10. A passive
wait policy removes that (measured: same load, 2 threads passive as fast as or faster than 1). It
only takes effect if set before torch is first imported, so the entry points call this first.
"""

from __future__ import annotations

import os
import sys


def passive_openmp_wait() -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE unless the user set a policy or torch is already loaded."""
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
