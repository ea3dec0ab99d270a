#!/usr/bin/env bash
# Set up everything that is missing, then start the app or run the tests.
#   ./run.sh app    install (first time) and start the app:  lrexplorer app  (on 127.0.0.1:8501)
#   ./run.sh dev    the same, reloading the app when its code is saved (lrexplorer app --dev)
#   ./run.sh test   install (first time) and run the whole test suite
#   ./run.sh lint   install (first time) and run ruff (lint and format check) and mypy
#   ./run.sh cli    install (first time) and run the lrexplorer command: ./run.sh cli memory --help
# Everything goes into .venv next to this file, at the exact versions of requirements.lock (the app) or
# requirements-test.lock (the app and the test tools), by scripts/setup_env.py. Nothing is installed
# system-wide except, for the browser tests, Debian's chromium package (when running as root and it is missing).
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: ./run.sh app|dev [lrexplorer app options] | ./run.sh test [pytest options] | ./run.sh lint | ./run.sh cli COMMAND [flags]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mode=$1; shift

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11 to choose one." >&2; exit 1; }
VPY=.venv/bin/python
# Console scripts of the environment (lrexplorer, accelerate, trl) for the app's and tests' subprocesses.
export PATH="$PWD/.venv/bin:$PATH"

install() { "$PY" scripts/setup_env.py --venv .venv --lock "$1"; }

# The browser tests drive Debian's chromium (/usr/bin/chromium). Install it when missing and we are
# root; otherwise say why those tests will be skipped.
browser() {
  [ -x /usr/bin/chromium ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
    echo "Installing Debian's chromium for the browser tests ..."
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } > .venv/chromium-install.log 2>&1; then
      echo "Installing chromium failed (log: .venv/chromium-install.log); the browser tests will be skipped." >&2
    fi
  else
    echo "Browser tests will be skipped: /usr/bin/chromium is missing (as root: apt-get install chromium)." >&2
  fi
}

case "$mode" in
  app)
    install requirements.lock
    exec .venv/bin/lrexplorer app "$@"
    ;;
  dev)
    install requirements.lock
    exec .venv/bin/lrexplorer app --dev "$@"
    ;;
  test)
    install requirements-test.lock
    browser
    exec "$VPY" -m pytest -n 2 "$@"
    ;;
  lint)
    install requirements-test.lock
    "$VPY" -m ruff check .
    "$VPY" -m ruff format --check .
    "$VPY" -m mypy
    ;;
  cli)
    install requirements.lock
    exec .venv/bin/lrexplorer "$@"
    ;;
  *) usage ;;
esac
