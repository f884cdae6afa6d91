#!/usr/bin/env bash
# Install tmux for the TUI's real-terminal test (tests/test_tui_tmux.py) if it is missing.
# Called from .ci/run; safe to run repeatedly.
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_tmux.sh: no apt-get here; install tmux by hand (the tmux test will skip)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends tmux >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends tmux >/dev/null
}
tmux -V
