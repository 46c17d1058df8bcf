"""A fork of the warm server made into the process a cold `lstmcli` would have been.

The child leaves the server's session (its own process group, for the signals
the client relays), drops every descriptor of the server's, puts the client's
stdin, stdout and stderr on 0, 1 and 2 and builds `sys.stdin/stdout/stderr` over
them as Python's start-up would (line buffering where it finds a terminal), takes
the client's working directory, environment, umask and argv, restores the signal
handlers a fresh import leaves, reseeds what a fresh process seeds, and only then
says `started` and runs the command. It never returns into the server: it ends
with `os._exit` and the command's own exit status.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import tempfile
import time

from lstmcli.warm import protocol

RESTORED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
_STREAMS = (("stdin", 0, "rb"), ("stdout", 1, "wb"), ("stderr", 2, "wb"))


def run_command(request: dict, fds: list[int], conn, run, handlers: dict, server_fds: list[int]):
    """Become the client's command and run `run(argv[1:])`; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        os.setsid()
        for fd in server_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        if time.monotonic() > request["deadline"]:
            os._exit(0)  # the client stopped waiting and runs the command itself
        become(request, fds)
        # Held until the command's own handler is in place (lstmcli.cli.process.main), as in a cold process,
        # where nothing runs before it: a signal the client relays now is not lost and prints no traceback.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        protocol.send(conn, {"started": os.getpid()})
        conn.close()
    except BaseException as exc:  # nothing of the command has run: the client runs it cold
        with contextlib.suppress(Exception):
            protocol.send(conn, {"refused": f"the child could not start: {exc}"})
        os._exit(1)
    try:
        run(list(request["argv"][1:]))
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def become(request: dict, fds: list[int]) -> None:
    """Take the client's descriptors, directory, environment, umask and argv (see the module's docstring)."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)  # inheritable, as 0, 1 and 2 are in a fresh process
        os.close(fd)
    fds.clear()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    sys.argv = list(request["argv"])
    tempfile.tempdir = None  # found again from this environment's TMPDIR, as a fresh process would
    _standard_streams()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # a fresh process seeds NumPy's global generator from the OS


def _standard_streams() -> None:
    """sys.stdin/stdout/stderr over descriptors 0, 1 and 2, as CPython's start-up makes them.

    The encoding and error handlers are the server's (the locale and PYTHONIOENCODING are
    in the fingerprint); line buffering depends on the descriptor, as at start-up.
    """
    for name, fd, mode in _STREAMS:
        old = getattr(sys, name)
        binary = io.open(fd, mode, buffering=-1, closefd=False)
        binary.raw.name = f"<{name}>"
        stream = io.TextIOWrapper(
            binary,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",
            line_buffering=mode == "wb" and not old.write_through and (fd == 2 or os.isatty(fd)),
            write_through=old.write_through,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
