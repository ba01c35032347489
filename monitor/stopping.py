"""SIGTERM and SIGINT as an event: a daemon's stop, which may be asked for at any moment from start-up on."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

log = logging.getLogger("closeloop.daemon")


def stop_on_signals() -> threading.Event:
    """Install handlers (main thread only) that set and return one event on SIGTERM or SIGINT.

    Installed as the first thing `closeloop run` does, so a stop that arrives while the daemon still opens
    its database or loads its model is a clean exit (0) once start-up is done, never a death by signal.
    """
    requested = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("daemon_signal signal=%s", signal.Signals(signum).name)
        requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return requested
