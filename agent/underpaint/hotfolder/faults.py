"""The hot folder's one fault-injection point; it exists only for the restart tests.

tests/test_hotfolder_restart.py (and test_hotfolder_sets.py) start `underpaint watch`
with UNDERPAINT_HOTFOLDER_KILL_AT set to a step ("claiming", "splitting-set" or
"moving-originals"); right after the first file of a job is renamed in that step, the process kills
itself with SIGKILL, so the test can check that a restart finishes a
half-done step. Unset (always, outside those tests) it does nothing.
"""

from __future__ import annotations

import os
import signal

KILL_AT = "UNDERPAINT_HOTFOLDER_KILL_AT"


def kill_point(step: str) -> None:
    if os.environ.get(KILL_AT) == step:
        os.kill(os.getpid(), signal.SIGKILL)
