"""Test-only crash points: ``POLYBOT_FAULT_AT=<name>`` makes the process SIGKILL itself there.

Crash-safety tests need the executor to die at an exact step (after the order intent is
committed but before the venue call; after the venue acknowledged but before any fill was
recorded) without cooperation from the code being tested — a SIGKILL runs no cleanup, exactly
like a power cut or the OOM killer. Never set this variable outside tests.

Names: ``after_journal`` (intent committed, nothing sent), ``after_submit`` (venue accepted the
order, nothing recorded after that).
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "POLYBOT_FAULT_AT"


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL if ``POLYBOT_FAULT_AT`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
