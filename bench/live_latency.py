"""From a metrics record written to a run's metrics.jsonl to that point drawn in the browser.

    python bench/live_latency.py [--records 30] [--points 50]

Starts `lrexplorer app` on a free port with a temporary runs folder holding one *running* run
(its "worker" is a sleeping process, so the page treats it as live), opens its Train page in
headless Chromium, then appends one record at a time, at random moments relative to the page's
1-second refresh, and waits for the loss chart to hold it. Latency = the browser's clock when the
chart has the new point minus the clock when the record was flushed (same machine, same clock).
Target: at most 2 s. The helpers here are shared with bench/viewers.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Points of the loss chart's first trace (titles are wrapped in <b> by Streamlit's theme; Plotly 6
# may hold arrays as base64 typed arrays).
LOSS_POINTS = """() => {
  for (const div of document.querySelectorAll('.js-plotly-plot')) {
    const t = div.layout && div.layout.title && div.layout.title.text;
    if (!t || t.replace(/<[^>]+>/g, '') !== 'Loss') continue;
    const x = div.data[0].x;
    if (!x) return 0;
    if (x.length !== undefined) return x.length;
    return atob(x.bdata).length / parseInt(x.dtype.slice(1));
  }
  return -1;
}"""


def record(step: int) -> dict:
    return {
        "step": step,
        "epoch": step / 1000,
        "time": time.time(),
        "loss": 3 + math.sin(step / 30) + 1 / step,
        "grad_norm": 1.2,
        "learning_rate": 1e-3,
        "tokens_per_s": 900.0,
        "rss_bytes": 2**30,
    }


def make_live_run(root: Path, run_id: str, points: int, pid: int) -> Path:
    """A run folder in state `running` whose pid is `pid` (alive), with `points` logged steps."""
    import psutil

    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec

    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    spec = RunSpec.from_dict({"max_steps": 100_000, "output_dir": str(run_dir)})
    (run_dir / store.CONFIG).write_text(spec.to_yaml(), encoding="utf-8")
    store.write_json_atomic(
        run_dir / store.STATUS,
        {
            "state": "running",
            "run_id": run_id,
            "created_at": time.time(),
            "started_at": time.time(),
            "max_steps": 100_000,
            "global_step": points,
            "pid": pid,
            "pid_create_time": psutil.Process(pid).create_time(),
            "message": "training",
        },
    )
    append(run_dir, *(record(s) for s in range(1, points + 1)))
    return run_dir


def append(run_dir: Path, *records: dict) -> float:
    """Append and flush; returns the time the bytes were in the file."""
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in records))
        fh.flush()
    return time.time()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    runs: Path, locks: Path, log: Path, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """`lrexplorer app` headless on a free port, with the settings the app ships with (cli_app.SETTINGS)
    plus `extra` flags and `env` variables; returns the process and its address once it answers its health
    check."""
    port = free_port()
    env = dict(os.environ, LRX_RUNS_DIR=str(runs), LRX_LOCK_DIR=str(locks), HF_HUB_OFFLINE="1", **(env or {}))
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lrexplorer",
                "app",
                "--port",
                str(port),
                "--server.headless",
                "true",
                *(extra or []),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError(f"streamlit did not start; its log:\n{log.read_text(errors='replace')[-4000:]}")


def open_run(browser, url: str, run_id: str, wait_points: int):
    """A fresh session (its own browser context) on the run's Train page, once the chart is drawn."""
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{url}/train?run={run_id}")
    page.wait_for_function(f"() => ({LOSS_POINTS})() >= {wait_points}", timeout=60_000)
    return page


def warm_up(browser, url: str) -> None:
    # Load the app once so the timed page opens from a warm server (imports done).
    page = browser.new_page()
    page.goto(url)
    page.get_by_text("Learning-rate schedules").first.wait_for(timeout=60_000)
    page.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30)
    parser.add_argument("--points", type=int, default=50, help="steps already logged when the page opens")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lrx-latency-"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    proc, url = start_server(tmp / "runs", tmp / "locks", tmp / "server.log")
    try:
        run_dir = make_live_run(tmp / "runs", "live", args.points, sleeper.pid)
        latencies = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            warm_up(browser, url)
            page = open_run(browser, url, "live", args.points)
            step = args.points
            for _ in range(args.records):
                time.sleep(random.uniform(0.2, 1.2))  # land anywhere in the 1-second refresh cycle
                step += 1
                written = append(run_dir, record(step))
                seen = page.wait_for_function(
                    f"() => ({LOSS_POINTS})() >= {step} ? Date.now() : false", timeout=10_000, polling=20
                ).json_value()
                latencies.append(seen / 1000 - written)
            browser.close()
        latencies.sort()
        print(f"Record written -> drawn in the browser, {len(latencies)} records (refresh every 1 s):")
        print(
            f"  median {statistics.median(latencies):.2f} s   p90 {latencies[int(0.9 * len(latencies)) - 1]:.2f} s   "
            f"max {latencies[-1]:.2f} s   min {latencies[0]:.2f} s"
        )
    finally:
        proc.terminate()
        sleeper.kill()


if __name__ == "__main__":
    main()
