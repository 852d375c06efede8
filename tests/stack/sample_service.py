"""A real little service for supervisor tests: reports ready, counts, obeys (or ignores) SIGTERM.

Usage: python sample_service.py NAME MODE   (MODE: good | crash | stubborn)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from polybot.stack.status_file import ServiceStatusFile

name, mode = sys.argv[1], sys.argv[2]
if mode == "crash":
    sys.exit(3)
status = ServiceStatusFile.for_service(name, Path(os.environ["POLYBOT_DATA_DIR"]))
stopping = False


def _stop(signum: int, frame: object) -> None:
    global stopping
    stopping = mode != "stubborn"


signal.signal(signal.SIGTERM, _stop)
status.ready("serving")
ticks = 0
while not stopping:
    ticks += 1
    status.update({"ticks": ticks}, "serving")
    time.sleep(0.1)
status.close()
sys.exit(0)
