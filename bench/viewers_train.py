"""What watching a run costs the run: steps/s of the built-in run with 0, 1 and 5 open viewers.

    python bench/viewers_train.py [--viewers 0,1,5] [--repeat 1] [--max-steps 250]

Starts `lrexplorer app` headless as the app ships (its settings in lrexplorer/cli/app.py decide file
watching), with the runs folder inside the checkout (`runs/bench-viewers-*`, removed afterwards) as a
user's `./runs` is. For each N it starts the Train form's default run (builtin:tiny on
builtin:arithmetic), opens N Chromium sessions on its page (each its own browser context, so its own
Streamlit session), and waits for the run to end. Steps/s come from the run's own metrics (logged
steps over the time between the first and last logged step: model loading is left out). Also shown:
the server's CPU over the training window, in % of one core. Goal: with one viewer, at least 0.95 of
the steps/s with none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import psutil
from live_latency import CHROMIUM, CHROMIUM_ARGS, ROOT, start_server
from viewers import server_cpu


def steps_per_s(run_dir: Path) -> tuple[float, int]:
    from lrexplorer.runs.folder import store

    logged = [r for r in store.read_metrics(run_dir) if "loss" in r and "time" in r]
    if len(logged) < 2:
        raise RuntimeError(f"run {run_dir.name} logged {len(logged)} steps:\n{store.log_tail(run_dir, 20)}")
    span = logged[-1]["time"] - logged[0]["time"]
    return (logged[-1]["step"] - logged[0]["step"]) / span, logged[-1]["step"]


def browser_cpu() -> dict[int, float]:
    """CPU seconds (user + system) used so far by each Chromium process this benchmark started, by pid."""
    seen = {}
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name().lower():
                t = p.cpu_times()
                seen[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return seen


def browser_cpu_since(before: dict[int, float]) -> float:
    """Chromium's CPU seconds since `before`, per process: one that exited meanwhile (a closed page) is left
    out instead of making the total drop."""
    return sum(now - before.get(pid, 0.0) for pid, now in browser_cpu().items())


def one_run(
    browser, url: str, runs: Path, viewers: int, max_steps: int, server: psutil.Process
) -> tuple[float, float, float]:
    from lrexplorer.runs import launcher
    from lrexplorer.runs.folder import store
    from lrexplorer.runs.spec import RunSpec

    spec = RunSpec.from_dict({"max_steps": max_steps} if max_steps > 0 else {})
    run_dir = launcher.start_run(spec, root=runs)
    contexts = []
    for _ in range(viewers):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.new_page().goto(f"{url}/train?run={run_dir.name}")
        contexts.append(context)
    cpu0, browser0, t0 = server_cpu(server), browser_cpu(), time.monotonic()
    while store.reconcile(run_dir).get("state") in store.ACTIVE:
        # Keep Playwright's event loop turning (the pages' websockets), not only sleeping.
        if contexts:
            contexts[0].pages[0].wait_for_timeout(500)
        else:
            time.sleep(0.5)
    span = time.monotonic() - t0
    share, drawing = (server_cpu(server) - cpu0) / span, browser_cpu_since(browser0) / span
    for context in contexts:
        context.close()
    state = store.read_status(run_dir).get("state")
    if state != "completed":
        raise RuntimeError(f"run ended {state}: {store.log_tail(run_dir, 20)}")
    rate, _ = steps_per_s(run_dir)
    return rate, share, drawing


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="0,1,5")
    parser.add_argument("--repeat", type=int, default=1, help="runs per viewer count (the median is reported)")
    parser.add_argument("--max-steps", type=int, default=-1, help="-1: the form's default length")
    args = parser.parse_args()
    counts = [int(n) for n in args.viewers.split(",")]
    runs = ROOT / "runs" / f"bench-viewers-{os.getpid()}"
    runs.mkdir(parents=True)
    locks = runs / ".locks"
    proc, url = start_server(runs, locks, runs / "server.log")
    os.environ.update(LRX_RUNS_DIR=str(runs), LRX_LOCK_DIR=str(locks), HF_HUB_OFFLINE="1")
    results: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
    try:
        server = psutil.Process(proc.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            warm = browser.new_page()
            warm.goto(url + "/train")
            warm.get_by_role("button", name="Start training").wait_for(timeout=120_000)
            warm.close()
            for _ in range(args.repeat):
                for n in counts:
                    rate, share, drawing = one_run(browser, url, runs, n, args.max_steps, server)
                    results[n].append((rate, share, drawing))
                    print(
                        f"  {n} viewer(s): {rate:6.2f} steps/s, CPU in % of one core: server {share * 100:5.1f}, "
                        f"Chromium {drawing * 100:5.1f}",
                        flush=True,
                    )
            browser.close()
        watcher_lines = (runs / "server.log").read_text(errors="replace").count("Inotify queue overflowed")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(runs, ignore_errors=True)

    def median(n: int, column: int) -> float:
        return sorted(row[column] for row in results[n])[len(results[n]) // 2]

    base = median(counts[0], 0)
    print(f"Built-in run, {args.repeat} run(s) per count, median; the server as shipped (cli_app.SETTINGS):")
    for n in counts:
        rate = median(n, 0)
        print(
            f"  {n} viewer(s): {rate:6.2f} steps/s  ratio {rate / base:4.2f}  CPU in % of one core: "
            f"server {median(n, 1) * 100:5.1f}, Chromium {median(n, 2) * 100:5.1f}"
        )
    print(f"  'Inotify queue overflowed' lines in the server log: {watcher_lines}")


if __name__ == "__main__":
    main()
