"""A command as a process, from its first line to its last: signals, the final flush, the exit.

One rule for SIGINT (Ctrl-C) and SIGTERM, whatever the command and the moment:

- a signal that arrives before an output's commit (its rename, see
  `lstmcli.commits`) aborts the step: temporary files are removed, nothing
  more is written, and the process exits 130 (SIGINT) or 143 (SIGTERM);
- one that arrives after it (during a later step of `run`, while the step
  reports, while stdout is flushed) still exits 130 or 143, and the one
  `error:` line names the outputs that were written in full;
- never a traceback, and the line never contradicts the files on disk.

The handler is installed before Typer is imported and stays to the end. It
raises (KeyboardInterrupt, `Terminated`) only while a step runs inside the
error boundary, so the step unwinds through its clean-ups; everywhere else
(start-up, Typer's parsing, the report, the flush) it notes the signal, which
is acted on at the boundary's entry or at the process's end. Nor does it raise
inside an import: an exception raised there can leave CPython with "SystemError:
<built-in function __import__> returned a result with an exception set" and a
half-made module, so the signal is sent again once the import is over. This module
imports neither Typer nor rich at its top, so it can run before them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

from lstmcli import commits, quiet
from lstmcli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED

SIGNALS = (signal.SIGINT, signal.SIGTERM)
RETRY_S = 0.05  # how soon a signal that landed inside an import is sent again
EXIT = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (temporary files removed), then exit 143.

    A BaseException, as KeyboardInterrupt is, so no `except Exception` on the
    way up can swallow it.
    """


class _Process:
    """The signal state of this process (or of one in-process command, in tests)."""

    def __init__(self, whole: bool = False) -> None:
        self.whole = whole  # `main` runs the process: state survives from start-up to the exit
        self.raising = False  # a step runs: a signal raises (unless a commit holds it)
        self.signum: int | None = None  # the first signal, until reported
        self.reported = False  # its line is out: later signals change nothing
        self.written: tuple[list[Path], list[Path]] = ([], [])  # what the step wrote (see commits.written)
        self.stop = None  # fit's StopFlag while it trains


_process = _Process()


def exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _handler(signum, frame):
    if _process.reported:
        return
    if not _process.raising:
        _process.signum = _process.signum or signum
        return
    stop = _process.stop
    if signum == signal.SIGINT and stop is not None and not (stop.requested or stop.final):
        stop.requested = True
        from lstmcli.cli import render

        render.stderr_console().print("stopping after the current step (Ctrl-C again to abort)", markup=False)
        return
    if importing(frame):  # raising here would break the import: the signal comes again after it
        deliver_later(signum)
        return
    _process.signum = _process.signum or signum
    if commits.signal_arrived(signum):
        raise exception(signum)


def importing(frame) -> bool:
    """Whether the interrupted frame runs inside an import (importlib's frames are on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def deliver_later(signum: int) -> None:
    """Send `signum` to this process again shortly, if this module still handles it then."""

    def again():
        if signal.getsignal(signum) is _handler:
            os.kill(os.getpid(), signum)

    timer = threading.Timer(RETRY_S, again)
    timer.daemon = True
    timer.start()


@contextlib.contextmanager
def handled():
    """Within the block SIGINT and SIGTERM go to this module's handler; the previous handlers come back after."""
    previous = {}
    try:
        for signum in SIGNALS:
            previous[signum] = signal.signal(signum, _handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def step():
    """The step's part of a command (inside the error boundary): here a signal raises.

    A signal noted before (start-up, parsing) raises at once, before any work.
    On the way out the step's outputs are noted for the message, and from then
    on a signal is only noted.
    """
    global _process
    if not _process.whole:
        _process = _Process()
    commits.begin()
    _process.raising = True
    try:
        if _process.signum is not None:
            commits.signal_arrived(_process.signum)
            raise exception(_process.signum)
        yield
    finally:
        _process.raising = False
        _process.signum = _process.signum or commits.arrived()
        _process.written = commits.written()
        commits.begin()  # the Python API after an interrupted command starts clean


def pending() -> int | None:
    """The signal this command got and has not reported yet."""
    return None if _process.reported else _process.signum


def report(signum: int) -> int:
    """Print the one line a signal gets, saying what was written; return its exit code."""
    from lstmcli.cli import render

    _process.reported = True
    render.error(message(signum, *_process.written))
    return EXIT[signum]


def message(signum: int, whole: list[Path], partial: list[Path]) -> str:
    """ "interrupted; no output was written", or which outputs were (in full, or partly through a device)."""
    parts = ["interrupted" if signum == signal.SIGINT else "terminated"]
    if whole:
        were = "was" if len(whole) == 1 else "were"
        parts.append(f"{_names(whole)} {were} written in full before the signal took effect")
    if partial:
        parts.append(f"{_names(partial)} may hold part of the output (written through, not replaced)")
    if len(parts) == 1:
        parts.append("no output was written")
    return "; ".join(parts)


def _names(paths: list[Path]) -> str:
    """ "a.json", or "a.keras, b.keras and c.json in DIR" (run's outputs share their folder), or the paths in full."""
    if len(paths) == 1:
        return str(paths[0])
    folders = {Path(p).parent for p in paths}
    names = [Path(p).name for p in paths] if len(folders) == 1 else [str(p) for p in paths]
    listed = ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} in {folders.pop()}" if len(folders) == 1 else listed


@contextlib.contextmanager
def stopping_after_the_current_step(flag):
    """While training, the first Ctrl-C sets `flag.requested` instead of raising (see boundary.StopFlag)."""
    before = _process.stop
    _process.stop = flag
    try:
        yield flag
    finally:
        _process.stop = before


def silence_stdout() -> None:
    """The reader of stdout went away (`| head`): drop what is left, like a Unix tool."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None, load_app: Callable[[], Callable]) -> None:
    """Run one command as this whole process, and end it; `argv` defaults to sys.argv[1:].

    The signal handler comes first, then Typer (`load_app`). After the command,
    stdout and stderr are flushed, a signal not yet reported gets its line and
    exit code, and TensorFlow's temporary files go with their private folder.
    Once a command has loaded TensorFlow the process ends with `os._exit`:
    TensorFlow's interpreter teardown costs about 0.7 s and does nothing a
    finished step needs, since every file a step writes is complete and closed
    before it returns.
    """
    global _process
    _process = _Process(whole=True)
    with handled(), quiet.private_temporary_directory(), quiet_finalisers():
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # a warm server's child holds them until here
        try:
            load_app()(args=argv, prog_name="lstmcli")
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except (KeyboardInterrupt, Terminated) as exc:  # from outside any step: its signal was noted
            _process.signum = _process.signum or (
                signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM
            )
            code = EXIT_FAILURE
        code = _finish(code)
    if "tensorflow" in sys.modules:
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def quiet_finalisers():
    """Within the block an exception raised in a finaliser (`__del__`) prints nothing, unless --debug.

    Python prints those as "Exception ignored in: …" with a traceback. A Ctrl-C that lands while
    TensorFlow builds an object leaves it half-made, and its `__del__` then fails at some later
    collection (`'AtomicFunction' object has no attribute '_generated_graph'`): nothing the user
    can act on, and the one-line rule says no traceback.
    """
    previous = sys.unraisablehook

    def hook(unraisable):
        if quiet.debug():
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _finish(code: int) -> int:
    """Flush what the command wrote; a signal that came and was not reported decides the exit code."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            silence_stdout()
            code = code or EXIT_FAILURE
    signum = pending()
    if signum is not None:
        code = report(signum)
        with contextlib.suppress(Exception):
            sys.stderr.flush()
    return code
