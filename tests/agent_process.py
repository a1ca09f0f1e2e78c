"""The agent as a real process (`underpaint serve`), for tests that kill it, restart it or limit its files."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

# `python -m underpaint serve`, except that a write past the file-size limit kills the process the
# way SIGKILL would: Python ignores SIGXFSZ at start-up, so the default action is restored first.
SERVE_KILLED_BY_FILE_LIMIT = ("-c", "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL); "
                                    "from underpaint.cli import main; main(['serve'])")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def agent_env(tmp_path: Path) -> dict[str, str]:
    return os.environ | {
        "UNDERPAINT_CONFIG_DIR": str(tmp_path / "config"),
        "UNDERPAINT_DATA_DIR": str(tmp_path / "data"),
        "UNDERPAINT_PORT": str(free_port()),
    }


def underpaint(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "underpaint", *args], env=env, capture_output=True, text=True,
                          check=check, timeout=120)


def file_size_limit(limit: int) -> Callable[[], None]:
    """For `start_server(preexec_fn=...)`: no file of the agent may grow past `limit` bytes (root too).
    Python ignores SIGXFSZ, so a write past it fails with OSError (EFBIG) unless the process restores it."""
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def start_server(env: dict[str, str], args: tuple[str, ...] = ("-m", "underpaint", "serve"),
                 preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, preexec_fn=preexec_fn)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{env['UNDERPAINT_PORT']}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the agent did not start")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    process.send_signal(sig)
    process.wait(timeout=30)
