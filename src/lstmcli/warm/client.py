"""The `lstmcli` entry point's warm path: hand the command to this user's server, or return to run it cold.

`LSTMCLI_SERVER=on` uses a running server; `auto` also starts one in the
background when none runs (this command then runs cold, the next ones warm);
anything else, or unset, never uses one. A command runs cold whenever warm
could differ or fail: `--debug` (TensorFlow's import-time lines come only from a
fresh import), `lstmcli server …`, shell completion, no server, a stale socket,
another user's socket or directory, a fingerprint mismatch, a server that does not
answer within HANDOVER seconds, or a child that could not start. Once the child
has said `started`, the command is the child's: SIGINT, SIGTERM and SIGHUP are
relayed to its process group and this process ends with the child's exact status
(a child killed by a signal kills this process with the same signal). If the
server dies before reporting the status, the child is terminated and this process
says so and exits 1: the command's outcome is unknown, so it is not rerun.
Standard library only, so a warm command costs no TensorFlow import here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import sys
import time
from pathlib import Path

from lstmcli.warm import protocol

HANDOVER = 5.0  # seconds the server has to start the child before this process runs the command itself
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_FAILURE = 1


MODES = ("", "auto", "on", "off")  # unset or empty is off


def run_if_warm(argv: list[str]) -> None:
    """Run `lstmcli ARGV…` in the warm server and end this process with its status; return to run it cold."""
    mode = os.environ.get(protocol.MODE_ENV, "").strip().lower()
    if mode not in MODES:  # as LSTMCLI_SMOKE: a value that means nothing is refused, not taken for "off"
        os.write(
            2,
            f"error: {protocol.MODE_ENV}={mode!r} is not a mode; set it to auto, on or off, or unset it\n".encode(),
        )
        os._exit(2)
    if mode not in ("auto", "on") or not may_be_warm(argv):
        return
    try:
        directory = protocol.runtime_dir(create=mode == "auto")
        sock = connect(directory / protocol.SOCKET)
    except (OSError, protocol.Unsafe):
        return
    if sock is None:
        if mode == "auto":
            with contextlib.suppress(OSError):
                spawn_server(directory)
        return
    with sock:
        _hand_over(sock)


def may_be_warm(argv: list[str]) -> bool:
    """Whether this command line may run in the server at all (see the module's docstring)."""
    return (
        "--debug" not in argv
        and (not argv or argv[0] != "server")
        and not any(name.endswith("_COMPLETE") for name in os.environ if name.startswith("_LSTMCLI"))
    )


def connect(path: Path, timeout: float = 1.0) -> socket.socket | None:
    """A connection to the server at `path`, or None if none answers there or it is not this user's."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        if protocol.peer_uid(sock) == os.getuid():
            return sock
    except OSError:
        pass
    sock.close()
    return None


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _hand_over(sock: socket.socket) -> None:
    """Send the command; if a child starts it, wait for its status and exit with it (never returns then)."""
    deadline = time.monotonic() + HANDOVER
    state = {"pid": None, "pending": []}

    def relay(sig, frame):
        if state["pid"] is None:
            state["pending"].append(sig)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(state["pid"], sig)

    previous = {sig: signal.signal(sig, relay) for sig in RELAYED}
    try:
        request = {
            "op": "run",
            "fingerprint": protocol.fingerprint(),
            "argv": sys.argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": _umask(),
            "deadline": deadline,
        }
        protocol.send(sock, request, [0, 1, 2])
        sock.settimeout(max(0.1, deadline + 1.0 - time.monotonic()))
        reply, _ = protocol.receive(sock)
    except (OSError, ConnectionError, ValueError):
        reply = None
    if not reply or "started" not in reply:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in state["pending"]:
            os.kill(os.getpid(), sig)
        return
    state["pid"] = int(reply["started"])
    for sig in state["pending"]:
        relay(sig, None)
    sock.settimeout(None)
    try:
        reply, _ = protocol.receive(sock)
    except (OSError, ConnectionError):
        reply = None
    if reply is None or "status" not in reply:
        _server_lost(state["pid"])
    mirror(int(reply["status"]))


def _server_lost(pid: int) -> None:
    """The server ended before the child's status came: stop the child and say the outcome is unknown."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    sys.stderr.write(
        "error: the lstmcli server ended while it ran this command, so its outcome is unknown; "
        "run the command again (LSTMCLI_SERVER=off runs it without the server)\n"
    )
    sys.stderr.flush()
    os._exit(EXIT_FAILURE)


def mirror(status: int) -> None:
    """End this process as the child ended: the same exit code, or death by the same signal."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        os._exit(code)
    sig = -code
    with contextlib.suppress(OSError, ValueError):  # SIGKILL's action cannot be set, and needs not be
        signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # a signal that does not end a process (SIGCHLD, SIGCONT) ended the child


def query(op: str, directory: Path | None = None) -> dict | None:
    """Ask the running server for its `status` or to `stop`; None if none answers."""
    directory = directory or protocol.runtime_dir(create=False)
    sock = connect(directory / protocol.SOCKET, timeout=5.0)
    if sock is None:
        return None
    with sock:
        try:
            protocol.send(sock, {"op": op})
            reply, _ = protocol.receive(sock)
        except (OSError, ConnectionError):
            return None
    return reply


def server_starting(directory: Path) -> bool:
    """Whether a server holds the lock: running, or still importing."""
    fd = os.open(directory / protocol.LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def spawn_server(directory: Path, idle: float | None = None):
    """Start a server in the background, detached from this terminal; None if one is already starting."""
    if server_starting(directory):
        return None
    import subprocess

    command = [sys.executable, "-P", "-m", "lstmcli", "server", "start", "--foreground"]
    if idle is not None:
        command += ["--idle", f"{idle:g}"]
    env = {name: value for name, value in os.environ.items() if name != protocol.MODE_ENV}
    with open(directory / protocol.LOG, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            cwd="/",
            env=env,
            start_new_session=True,
            close_fds=True,
        )
