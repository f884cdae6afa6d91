"""`vdbench tui` in a real terminal: tmux runs it at 100×30, we send keys and read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (scripts/install_tmux.sh installs it; .ci/run calls it)")


class Tmux:
    """A private tmux server (its own socket) holding one detached session."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"vdbench-test-{uuid.uuid4().hex[:8]}"
        self.session = "tui"
        self.env = {**os.environ, "TERM": "xterm-256color", "TMUX": ""}

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              env=self.env, timeout=20, check=False).stdout

    def start(self, command: str) -> None:
        self("new-session", "-d", "-s", self.session, "-x", "100", "-y", "30", command)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", self.session, *keys)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} is still on screen:\n{self.screen()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.session],
                              capture_output=True, env=self.env, check=False).returncode == 0

    def kill(self) -> None:
        self("kill-server")


def test_tui_in_a_real_terminal(tui_store: Path, tmp_path: Path) -> None:
    tmux = Tmux(tmp_path)
    # Textual draws on stderr, so it is not redirected; a traceback would show on the screen.
    command = (f"cd {REPO} && OMP_NUM_THREADS=1 {sys.executable} -m vdbench.cli tui "
               f"--db {tui_store} --poll 0 --n-boot 200 --user tester; "
               f"echo EXITED $?; sleep 30")
    tmux.start(command)
    try:
        screen = tmux.wait_for("runs and lineage")
        tmux.wait_for("├─ dpo")
        assert "1 Runs" in screen and "6 Judge" in screen
        tmux.keys("2")
        tmux.wait_for("step 800/800 · 100% · 9/9")
        tmux.keys("Left")
        screen = tmux.wait_for("step 700/800 · 88% · 8/9")
        assert "█" in screen and "▒" in screen and "░" in screen  # stance glyphs in the terminal
        tmux.keys("3")
        tmux.wait_for("dpo vs simpo vs ppo")
        tmux.keys("F1")
        tmux.wait_for("keyboard first")
        tmux.keys("Escape")  # a lone ESC: the terminal waits to tell it from alt+key
        tmux.wait_gone("keyboard first")
        tmux.keys("5")
        tmux.wait_for("1,485 sample(s) · run dpo")
        tmux.keys("q")
        screen = tmux.wait_for("EXITED 0")
        assert "Traceback" not in screen
    finally:
        tmux.kill()
