"""What every service process shares: logging, signals, status/counters, and a clean exit.

A service's ``__main__`` is one line::

    sys.exit(run_service("executor", main))

where ``main(runtime)`` is an async function that starts its work, calls ``runtime.ready()`` once
it serves, and returns when ``runtime.stopping`` is set (SIGTERM/SIGINT). ``run_service`` then
withdraws the status file and exits 0; an exception is logged (redacted) and exits 1 so the
supervisor restarts the service.

Latency settings every service process gets from ``run_service`` (one place, the same for all):

* **GIL switch interval** ``SWITCH_INTERVAL_S`` (Python's default is 5 ms). A service's event loop
  shares the GIL with its worker threads (the scanner's recording flush, the runner's DuckDB
  writer, ``asyncio.to_thread`` work, background publishers); while one of them runs Python, a
  loop that has a frame to handle waits up to one interval for the GIL. 0.2 ms bounds that wait;
  the price is a few µs per forced switch, and only while two threads actually want the GIL (the
  executor's CPU per order did not move measurably in bench/tick_to_order.py). The environment
  variable ``POLYBOT_GIL_SWITCH_INTERVAL_S`` overrides it, e.g. to compare with 0.005.
* **Frozen start-up heap.** A full garbage collection walks every tracked object: with pandas,
  pyarrow, SQLAlchemy and DuckDB imported that is ~130k objects and 30–60 ms on this box — a
  pause in the middle of the stream. Once the service is ready everything allocated so far
  (modules, settings, sockets, caches) is moved out of the collector's reach with
  ``gc.freeze()``; later collections only walk what was allocated since.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from polybot.config import Settings, load_settings
from polybot.core.errors import ConfigError
from polybot.stack.logs import configure_logging
from polybot.stack.status_file import ServiceStatusFile

STATUS_INTERVAL_S = 2.0
SWITCH_INTERVAL_S = 0.0002  # see the module docstring
SWITCH_INTERVAL_ENV = "POLYBOT_GIL_SWITCH_INTERVAL_S"  # overrides it (seconds), e.g. to compare
log = logging.getLogger("polybot.service")


class ServiceRuntime:
    """The handle a service's ``main`` gets: settings, counters, readiness and the stop event."""

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.counters: Counter[str] = Counter()
        self.stopping = asyncio.Event()
        self.detail = ""
        data_dir = Path(os.environ.get("POLYBOT_DATA_DIR", str(settings.data_dir)))
        self.status_file = ServiceStatusFile.for_service(name, data_dir)
        self._is_ready = False
        self.freeze_on_ready = False  # set by run_service: its process is the service's own

    def ready(self, detail: str = "") -> None:
        """Announce that the service is serving (the supervisor waits for this)."""
        self.detail = detail
        self._is_ready = True
        if self.freeze_on_ready:
            freeze_heap()
        self.status_file.update(dict(self.counters), detail)
        log.info("%s ready %s", self.name, detail)

    def count(self, counter: str, amount: int = 1) -> None:
        """Add to a monotonically increasing counter (shown in status and /metrics)."""
        self.counters[counter] += amount

    def request_stop(self) -> None:
        """Ask the service to stop (what SIGTERM/SIGINT do)."""
        self.stopping.set()

    async def publish_status_forever(self) -> None:
        """Refresh the status file every few seconds once ready."""
        while not self.stopping.is_set():
            if self._is_ready:
                self.status_file.update(dict(self.counters), self.detail)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), STATUS_INTERVAL_S)


ServiceMain = Callable[[ServiceRuntime], Awaitable[None]]


def freeze_heap() -> None:
    """Collect once, then keep everything alive now out of later collections (``gc.freeze``)."""
    gc.collect()
    gc.freeze()


def run_service(name: str, main: ServiceMain, settings: Settings | None = None) -> int:
    """Run one service process to completion; return its exit status."""
    sys.setswitchinterval(float(os.environ.get(SWITCH_INTERVAL_ENV) or SWITCH_INTERVAL_S))
    try:
        settings = settings or load_settings()
    except ConfigError as exc:
        logging.basicConfig()
        log.error("%s cannot start: %s", name, exc)
        return 2
    configure_logging(name, settings)
    return asyncio.run(_run(name, main, settings))


async def _run(name: str, main: ServiceMain, settings: Settings) -> int:
    runtime = ServiceRuntime(name, settings)
    runtime.freeze_on_ready = True
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, runtime.request_stop)
    status_task = asyncio.create_task(runtime.publish_status_forever())
    try:
        await main(runtime)
        log.info("%s stopped cleanly", name, extra={"counters": dict(runtime.counters)})
        return 0
    except Exception:
        log.exception("%s crashed", name)
        return 1
    finally:
        runtime.request_stop()
        await status_task
        runtime.status_file.close()
