"""Signals before a step's boundary, and signals that land in the middle of an import.

Standard library only: `lstmcli.cli.main` installs `startup` before it imports Typer,
rich or anything of lstmcli's own, so a SIGTERM or Ctrl-C during start-up (nothing is
written yet) ends the process at once with the boundary's line and exit code (143, 130)
rather than Python's default (killed by the signal, or a KeyboardInterrupt traceback).
The boundary takes over when a step starts (`startup_over`).

Inside a step, an exception raised by a signal handler while an import runs can leave
CPython with `SystemError: <built-in function __import__> returned a result with an
exception set` and a half-initialised module; `importing` tells a handler so, and
`deliver_later` sends the signal again once the import is over.
"""

from __future__ import annotations

import os
import signal
import threading

EXITS = {signal.SIGTERM: ("terminated", 143), signal.SIGINT: ("interrupted", 130)}
RETRY_S = 0.05


def _exit_now(signum, frame) -> None:
    word, code = EXITS[signum]
    os.write(2, f"error: {word}; no output was written\n".encode())
    os._exit(code)


def startup() -> None:
    """Until a step's boundary starts, SIGTERM and Ctrl-C end the process with one line."""
    for signum in EXITS:
        try:
            signal.signal(signum, _exit_now)
        except ValueError:  # not the main thread: leave signals alone
            return


def startup_over() -> None:
    """A step starts: SIGTERM is the boundary's to install, Ctrl-C raises KeyboardInterrupt outside imports."""
    if signal.getsignal(signal.SIGTERM) is _exit_now:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is _exit_now:
        signal.signal(signal.SIGINT, outside_imports(signal.default_int_handler))


def importing(frame) -> bool:
    """Whether the interrupted frame runs inside an import (importlib's frames are on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def deliver_later(signum: int, handler) -> None:
    """Send `signum` to this process again shortly, if `handler` still handles it then."""

    def again():
        if signal.getsignal(signum) is handler:
            os.kill(os.getpid(), signum)

    timer = threading.Timer(RETRY_S, again)
    timer.daemon = True
    timer.start()


def outside_imports(handler):
    """`handler`, run only outside imports: a signal that lands in one comes again after it."""

    def deferring(signum, frame):
        if importing(frame):
            deliver_later(signum, deferring)
            return None
        return handler(signum, frame)

    return deferring
