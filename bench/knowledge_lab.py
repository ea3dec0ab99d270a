"""The default knowledge lab, timed: 4 methods, paraphrases 1/2/5, 3 seeds, on the built-in data.

    python bench/knowledge_lab.py [--seeds 3] [--paraphrases 1,2,5] [--epochs E] [--budget epochs|updates]
                                  [--json results.json]

Prints the progress lines (with ETA), the results table, wall time, this process's CPU time and the
load average before and after (the machine is shared: wall time depends on the other jobs, CPU time
much less). Target: the default lab within 10 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TARGET_S = 600.0


def main() -> None:
    from lrexplorer.knowledge.cpu import passive_openmp_wait

    passive_openmp_wait()
    from lrexplorer.cli.knowledge import ProgressPrinter
    from lrexplorer.knowledge.lab import LabSettings, run_lab
    from lrexplorer.knowledge.results import table

    defaults = LabSettings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=defaults.seeds)
    parser.add_argument("--paraphrases", default=",".join(map(str, defaults.paraphrases)))
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--budget", default=defaults.budget)
    parser.add_argument("--json", type=Path, help="also write the results JSON here")
    args = parser.parse_args()
    settings = LabSettings(
        paraphrases=tuple(int(x) for x in args.paraphrases.split(",")),
        seeds=args.seeds,
        epochs=args.epochs,
        budget=args.budget,
    )
    load_before = os.getloadavg()
    started = time.monotonic()
    result = run_lab(settings, progress=ProgressPrinter(every_s=30))
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(table(result))
    print(f"settings: {json.dumps(settings.to_json())}")
    print(
        f"wall {wall:.0f} s (target {TARGET_S:.0f} s: {'met' if wall <= TARGET_S else 'missed'}); "
        f"CPU {usage.ru_utime + usage.ru_stime:.0f} s; load average before {load_before[0]:.1f}, "
        f"after {os.getloadavg()[0]:.1f}; torch threads {torch_threads()}"
    )
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8")


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
