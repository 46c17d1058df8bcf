"""Bounding every wait on a multi-worker peer, even one TensorFlow makes while holding the GIL.

`Watchdog` ends a wait that makes no progress from a Python thread; `hard_deadline`
covers waits inside TensorFlow where no Python thread can run (see `distribution`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Callable


class Watchdog:
    """Calls `on_stuck(message)` when a guarded wait on peers makes no progress for `timeout` seconds.

    TensorFlow bounds a collective by its CommunicationOptions timeout, but
    not every wait: joining a cluster whose peer never starts blocks inside
    TensorFlow's runtime with no deadline and cannot be interrupted from
    Python. So a thread watches the clock; what to do then (the CLI prints one
    line and ends the process) is the caller's.
    """

    def __init__(self, timeout: float, on_stuck: Callable[[str], None] | None):
        self.timeout = timeout
        self.on_stuck = on_stuck
        self._deadline: float | None = None
        self._message = ""
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watch(self, message: str):
        """Guard the block: `message` is what `on_stuck` gets if it stalls."""
        if self.on_stuck is None:
            yield
            return
        with self._changed:
            self._message = message
            self._deadline = time.monotonic() + self.timeout
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lstmcli-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._deadline = None
                self._changed.notify()

    def pet(self) -> None:
        """Progress was made: the guarded block has `timeout` seconds again."""
        with self._changed:
            if self._deadline is not None:
                self._deadline = time.monotonic() + self.timeout

    def _run(self) -> None:
        with self._changed:
            while True:
                if self._deadline is None:
                    self._changed.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._changed.wait(left)
                    continue
                self._deadline = None
                message = self._message
                break
        self.on_stuck(message)


# Run by a helper process that holds the read end of a pipe: faulthandler
# writes to the pipe only when its deadline passes, and ends the process.
_SAY_WHEN_WRITTEN = "import os, sys\nif os.read(0, 1):\n    sys.stderr.write('error: ' + sys.argv[1] + '\\n')\n"


@contextlib.contextmanager
def hard_deadline(timeout: float, message: str):
    """End the process with exit 1 and `error: message` if the block outlasts `timeout`.

    For waits that hold Python's GIL inside TensorFlow (the chief joining a
    cluster whose peer never starts), where no Python thread can run: the
    standard library's faulthandler ends the process from C, and a helper
    process prints the line when faulthandler's report reaches its pipe.
    """
    import faulthandler
    import subprocess

    read, write = os.pipe()
    helper = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SAY_WHEN_WRITTEN, message], stdin=read)
    os.close(read)
    report = os.fdopen(write, "w")
    faulthandler.dump_traceback_later(timeout, exit=True, file=report)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        report.close()  # the helper reads end-of-file and leaves quietly
        helper.wait()
