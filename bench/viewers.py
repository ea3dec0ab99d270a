"""Server CPU with 1 to 10 browser sessions watching the same live run.

    python bench/viewers.py [--viewers 1,2,5,10] [--seconds 20] [--points 2000]

Starts `lrexplorer app` with one *running* run (a writer appends a record every 0.5 s, like a
run logging twice a second), opens N sessions on its Train page (each its own Chromium context, so
its own Streamlit session, refreshing every second), and measures the server process's CPU time
(user + system, psutil) over `--seconds`. Chromium runs on the same machine, so only the server's
own CPU time is counted. Reported per N: server CPU in % of one core, and the increase per viewer
beyond the first. `--no-post-script-gc` starts the server without Streamlit's full garbage collection
after every script or fragment run (`runner.postScriptGC`), which dominates the per-viewer cost.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from live_latency import (
    CHROMIUM,
    CHROMIUM_ARGS,
    append,
    make_live_run,
    open_run,
    record,
    start_server,
    warm_up,
)


def writer(run_dir: Path, start: int, stop: threading.Event, every_s: float = 0.5) -> None:
    step = start
    while not stop.wait(every_s):
        step += 1
        append(run_dir, record(step))


def server_cpu(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="1,2,5,10")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument(
        "--no-post-script-gc",
        action="store_true",
        help="start the server with --runner.postScriptGC false (no full gc.collect after every rerun)",
    )
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="lrx-viewers-"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    extra = ["--runner.postScriptGC", "false"] if args.no_post_script_gc else []
    proc, url = start_server(tmp / "runs", tmp / "locks", tmp / "server.log", extra)
    stop = threading.Event()
    results = []
    try:
        run_dir = make_live_run(tmp / "runs", "live", args.points, sleeper.pid)
        thread = threading.Thread(target=writer, args=(run_dir, args.points, stop), daemon=True)
        thread.start()
        server = psutil.Process(proc.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            warm_up(browser, url)
            pages = []
            for n in counts:
                while len(pages) < n:
                    pages.append(open_run(browser, url, "live", 1))  # long series are decimated: any point will do
                time.sleep(3)  # let the new sessions settle into their refresh cycle
                cpu0, t0 = server_cpu(server), time.monotonic()
                time.sleep(args.seconds)
                share = (server_cpu(server) - cpu0) / (time.monotonic() - t0)
                results.append((n, share))
                print(f"  {n:>2} viewer(s): server CPU {share * 100:5.1f}% of one core", flush=True)
            browser.close()
    finally:
        stop.set()
        proc.terminate()
        sleeper.kill()
    base_n, base = results[0]
    gc_note = "runner.postScriptGC false" if args.no_post_script_gc else "Streamlit's default runner.postScriptGC true"
    print(
        f"Server CPU, one run logging 2 records/s ({args.points:,}+ points), {args.seconds:g} s per measurement, {gc_note}:"
    )
    for n, share in results:
        extra = "" if n == base_n else f"   +{(share - base) / (n - base_n) * 100:.1f} points per extra viewer"
        print(f"  {n:>2} viewer(s): {share * 100:5.1f}% of one core{extra}")


if __name__ == "__main__":
    main()
