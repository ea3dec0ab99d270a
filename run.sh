#!/usr/bin/env bash
# Set up everything that is missing, then start the app or run the tests.
#   ./run.sh app    install (first time) and start the app:  streamlit run app.py
#   ./run.sh dev    the same, reloading the app when its code is saved (file watching on)
#   ./run.sh test   install (first time) and run the whole test suite
#   ./run.sh lint   install (first time) and run ruff (lint and format check) and mypy
#   ./run.sh cli    install (first time) and run the lrexplorer command: ./run.sh cli memory --help
# Everything goes into .venv next to this file; nothing is installed system-wide except, for the
# browser tests, Debian's chromium package (when running as root and it is missing).
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: ./run.sh app|dev [streamlit options] | ./run.sh test [pytest options] | ./run.sh lint | ./run.sh cli COMMAND [flags]" >&2; exit 2; }
[ $# -ge 1 ] || usage
mode=$1; shift

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "Python 3.10 or newer is needed (found $("$PY" --version 2>&1))." >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "Creating .venv ..."; "$PY" -m venv .venv; }
VPY=.venv/bin/python
# Console scripts of the environment (lrexplorer, accelerate, trl) for the app's and tests' subprocesses.
export PATH="$PWD/.venv/bin:$PATH"

# Reinstall only when the project's requirements changed since the last install.
install() {
  local extra=$1 stamp=".venv/.lrx-installed${1:+-test}"
  local want; want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing lrexplorer and its dependencies into .venv (first run takes a few minutes) ..."
    # pip's full output goes to a log; it is shown only if the install fails.
    if ! { "$VPY" -m pip install --upgrade pip && "$VPY" -m pip install -e ".$extra"; } > .venv/install.log 2>&1; then
      tail -n 40 .venv/install.log >&2
      echo "Installation failed; the full log is in .venv/install.log" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

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
    install ""
    exec "$VPY" -m streamlit run app.py "$@"
    ;;
  dev)
    install ""
    exec "$VPY" -m streamlit run app.py --server.fileWatcherType auto --server.runOnSave true "$@"
    ;;
  test)
    install "[test]"
    browser
    exec "$VPY" -m pytest -n 2 "$@"
    ;;
  lint)
    install "[test]"
    "$VPY" -m ruff check .
    "$VPY" -m ruff format --check .
    "$VPY" -m mypy
    ;;
  cli)
    install ""
    exec .venv/bin/lrexplorer "$@"
    ;;
  *) usage ;;
esac
