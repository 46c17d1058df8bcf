"""`lstmcli server start|stop|status`: this user's warm server, and what its children run.

The server (`lstmcli.warm.server`) imports TensorFlow, Keras, pandas and every
lstmcli module once, creating no TensorFlow context and no thread pool, and forks
one child per command; a child runs `commands.main`, the very function a cold
`lstmcli` process runs, so the two print the same bytes and exit alike.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time
from typing import Annotated, Callable, Optional

import typer

from lstmcli.cli.boundary import boundary
from lstmcli.errors import EXIT_FAILURE, UsageError
from lstmcli.warm import client, protocol

app = typer.Typer(
    name="server",
    help="This user's warm server: with LSTMCLI_SERVER=auto (or on) each command runs in a fork of a process "
    "that has already imported TensorFlow, instead of importing it again.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

START_WAIT = 300.0  # seconds `server start` waits for the import to finish on a busy machine
SKIPPED = ("lstmcli.__main__", "lstmcli.warm", "lstmcli.cli.serving")
_main: Callable[[list[str]], None] = None  # set by `attach`


def preload() -> None:
    """Import what any command imports, the way a cold process imports it, without starting TensorFlow."""
    from lstmcli import quiet

    quiet.load_tensorflow()
    import pandas  # noqa: F401

    import lstmcli

    for module in pkgutil.walk_packages(lstmcli.__path__, "lstmcli."):
        if not module.name.startswith(SKIPPED):
            importlib.import_module(module.name)


def run_child(argv: list[str]) -> None:
    """What a forked child runs: the cold entry point's main, TensorFlow's quiet set-up done again.

    `load_tensorflow` is marked not yet done so that it sets TF_CPP_MIN_LOG_LEVEL in the
    client's environment and hides fd 2 as in a cold process (the imports are cached).
    """
    from lstmcli import quiet

    quiet._loaded = False
    _main(argv)


def attach(parent: typer.Typer, main: Callable[[list[str]], None]) -> None:
    """Add `lstmcli server` to `parent`; the server's children run `main`, the cold entry point's own."""
    global _main
    _main = main
    parent.add_typer(app, name="server")


def _idle(value: Optional[str]) -> float:
    try:
        return protocol.idle_seconds(value)
    except ValueError as exc:
        raise UsageError(f"--idle: {exc}") from None


@app.command("start")
def start(
    idle: Annotated[
        Optional[str],
        typer.Option(
            "--idle",
            metavar="SECONDS",
            help=f"Exit after this many seconds without a command (default: ${protocol.IDLE_ENV}, else "
            f"{protocol.DEFAULT_IDLE:g}).",
            show_default=False,
        ),
    ] = None,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Serve from this process until stopped, logging to stderr.")
    ] = False,
) -> None:
    """Start the warm server in the background (or in this process with --foreground)."""
    with boundary(False):
        seconds = _idle(idle)
        directory = _directory()
        if not foreground:
            status = client.query("status", directory)
            if status is None:
                status = _wait_for(directory, client.spawn_server(directory, seconds))
                print(f"started: pid {status['pid']}, socket {status['socket']}, idle timeout {status['idle']:g} s")
            else:
                print(f"already running: pid {status['pid']}, socket {status['socket']}")
            return
    # Outside the boundary: the signal handlers the children inherit are those of a fresh process.
    raise SystemExit(_serve_here(seconds))


def _serve_here(seconds: float) -> int:
    from lstmcli.warm import server

    return server.serve(run_child, preload, seconds)


def _directory():
    try:
        return protocol.runtime_dir()
    except protocol.Unsafe as exc:
        raise UsageError(f"{exc}; remove it or set XDG_RUNTIME_DIR to a private directory") from None


def _wait_for(directory, process) -> dict:
    """The new server's status once it listens; an error if it ended first or never answered."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        status = client.query("status", directory)
        if status is not None:
            return status
        if process is not None and process.poll() is not None:
            status = client.query("status", directory)  # another start won the lock: that one serves
            if status is not None:
                return status
            raise UsageError(f"the server exited with status {process.returncode}; see {directory / protocol.LOG}")
        time.sleep(0.1)
    raise UsageError(f"the server did not answer within {START_WAIT:g} s; see {directory / protocol.LOG}")


@app.command("stop")
def stop() -> None:
    """Stop the warm server: it takes no new command and exits when the running ones have finished."""
    with boundary(False):
        reply = client.query("stop", _directory())
        if reply is None:
            print("not running")
            return
        pid = int(reply["stopping"])
        while _alive(pid):
            time.sleep(0.05)
        print(f"stopped: pid {pid}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child, from `start`) has ended
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@app.command("status")
def status() -> None:
    """Say whether the warm server runs and whether this environment may use it; exit 1 if none runs."""
    with boundary(False):
        reply = client.query("status", _directory())
        if reply is None:
            print("not running")
            raise SystemExit(EXIT_FAILURE)
        usable = reply["fingerprint"] == protocol.fingerprint()
        print(
            f"running: pid {reply['pid']}, socket {reply['socket']}, up {time.time() - reply['since']:.0f} s, "
            f"{reply['served']} command(s) served, {reply['running']} running, idle timeout {reply['idle']:g} s; "
            + (
                "this environment uses it"
                if usable
                else "this environment differs from the server's (lstmcli, Python or import-time variables), "
                "so commands run cold"
            )
        )
        sys.stdout.flush()
