"""The warm server: import once, then fork one child per command, on a private Unix socket.

One thread, one `select` loop over the listening socket, the connections whose
child runs, one pidfd per child and a self-pipe for signals: forking from a
process with no other thread keeps every lock a child inherits free. The server
holds `server.lock` (flock) from before its imports until it exits, so only one
runs per user and a concurrent `auto` start simply ends. It never listens on a
network port; a peer of another uid is refused (SO_PEERCRED).

A request carries the client's fingerprint, argv, working directory,
environment, umask and a deadline, with its stdin/stdout/stderr attached. A
child is forked for it only if the fingerprints are equal; the child says
`started` itself (`child.become`), and the server sends the child's raw wait
status when it has reaped it. A crashing child is one status among others.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lstmcli.warm import child, protocol

REQUEST_TIMEOUT = 2.0  # seconds a connected client has to send its request


@dataclass
class Running:
    pid: int
    conn: socket.socket
    command: str
    started: float = field(default_factory=time.monotonic)


@dataclass
class State:
    """What the loop keeps between events."""

    fingerprint: str
    socket_path: Path
    idle: float
    started: float = field(default_factory=time.time)
    last: float = field(default_factory=time.monotonic)
    served: int = 0
    bound: tuple[int, int] = (0, 0)
    stopping: bool = False
    children: dict[int, Running] = field(default_factory=dict)  # pidfd → child


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {message}\n")
    sys.stderr.flush()


def take_lock(directory: Path) -> int | None:
    """The server's lock, held for its life; None if another server holds it."""
    fd = os.open(directory / protocol.LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def serve(run: Callable[[list[str]], None], preload: Callable[[], None], idle: float, on_ready=None) -> int:
    """Import with `preload`, then serve until stopped or idle for `idle` seconds; returns an exit code.

    `run(argv)` is what a child runs: the command line's main. `on_ready(path)` is
    called once the socket listens. Returns 0, or 1 if another server already runs.
    """
    directory = protocol.runtime_dir()
    lock = take_lock(directory)
    if lock is None:
        log("another server holds the lock; nothing to do")
        return 1
    state = State(protocol.fingerprint(), directory / protocol.SOCKET, idle)
    started = time.perf_counter()
    preload()
    handlers = {sig: signal.getsignal(sig) for sig in child.RESTORED}
    log(f"imported in {time.perf_counter() - started:.2f} s; idle timeout {idle:g} s")
    listener = _listen(state.socket_path)
    info = os.stat(state.socket_path)
    state.bound = (info.st_dev, info.st_ino)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: setattr(state, "stopping", True))
    # `server start --foreground` runs inside cli.process.main, whose handler only notes a signal outside a
    # step: Ctrl-C would be ignored, then reported as "interrupted" (130) when the server ends. The server's
    # own Ctrl-C ends it here, quietly (the children got the command line's handler, in `handlers`, above).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if on_ready:
        on_ready(state.socket_path)
    try:
        _loop(state, listener, wake_read, run, handlers, own=[lock, wake_read, wake_write])
    except KeyboardInterrupt:  # Ctrl-C on `server start --foreground`; running children go on
        log("interrupted")
    finally:
        _unlink_if_ours(state.socket_path, state.bound)
        listener.close()
    log(f"exiting after {state.served} command(s)")
    return 0


def _listen(path: Path) -> socket.socket:
    # Whatever socket file is here is stale: its server would hold the lock we hold.
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(64)
    return listener


def _unlink_if_ours(path: Path, bound: tuple[int, int]) -> None:
    """Remove the socket file unless another server has put its own there since."""
    try:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) == bound:
            path.unlink()
    except OSError:
        pass


def _loop(state: State, listener, wake: int, run, handlers: dict, own: list[int]) -> None:
    while True:
        if state.stopping and listener.fileno() >= 0:
            _unlink_if_ours(state.socket_path, state.bound)
            listener.close()
        if state.stopping and not state.children:
            return
        timeout = None if state.children or state.stopping else state.last + state.idle - time.monotonic()
        if timeout is not None and timeout <= 0:
            log("idle timeout")
            return
        waiting = [*state.children, wake] + ([listener] if listener.fileno() >= 0 else [])
        ready, _, _ = select.select(waiting, [], [], timeout)
        for fd in ready:
            if fd == wake:
                _drain(wake)
            elif fd in state.children:
                _reap(state, fd)
            else:
                _accept(state, listener, run, handlers, own)
        state.last = time.monotonic()


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _reap(state: State, pidfd: int) -> None:
    done = state.children.pop(pidfd)
    os.close(pidfd)
    _, status, usage = os.wait4(done.pid, 0)
    log(
        f"{done.command} (pid {done.pid}): exit {os.waitstatus_to_exitcode(status)} in "
        f"{time.monotonic() - done.started:.2f} s, peak memory {usage.ru_maxrss / 1024:.0f} MiB"
    )
    try:
        protocol.send(done.conn, {"status": status})
    except OSError:
        pass  # the client is gone; nothing is waiting for the status
    done.conn.close()


def _accept(state: State, listener, run, handlers: dict, own: list[int]) -> None:
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    fds: list[int] = []
    try:
        conn.settimeout(REQUEST_TIMEOUT)
        if protocol.peer_uid(conn) != os.getuid():
            log("refused a peer of another uid")
            protocol.send(conn, {"refused": "this server serves only its own user"})
            conn.close()
            return
        request, fds = protocol.receive(conn, max_fds=3)
        answer = _answer(state, request or {}, fds)
        if answer is not None:
            protocol.send(conn, answer)
            conn.close()
            return
        conn.settimeout(None)
        _fork(state, conn, request, fds, run, handlers, own + [listener.fileno()])
    except (OSError, ConnectionError, ValueError) as exc:
        log(f"dropped a request: {exc}")
        conn.close()
    finally:
        for fd in fds:
            os.close(fd)


def _answer(state: State, request: dict, fds: list[int]) -> dict | None:
    """The reply to anything but a command this server can run; None for one it can."""
    op = request.get("op")
    if op == "status":
        return {
            "pid": os.getpid(),
            "fingerprint": state.fingerprint,
            "running": len(state.children),
            "served": state.served,
            "since": state.started,
            "idle": state.idle,
            "socket": str(state.socket_path),
        }
    if op == "stop":
        state.stopping = True
        return {"stopping": os.getpid()}
    if op != "run":
        return {"refused": f"unknown request {op!r}"}
    if state.stopping:
        return {"refused": "the server is stopping"}
    if request.get("fingerprint") != state.fingerprint:
        return {"refused": "mismatch"}
    if len(fds) != 3:
        return {"refused": "a command needs its stdin, stdout and stderr"}
    return None


def _fork(state: State, conn, request: dict, fds: list[int], run, handlers: dict, own: list[int]) -> None:
    pid = os.fork()
    if pid == 0:
        others = [fd for pidfd, c in state.children.items() for fd in (pidfd, c.conn.fileno())]
        child.run_command(request, fds, conn, run, handlers, [*own, *others])
    state.served += 1
    pidfd = os.pidfd_open(pid)
    state.children[pidfd] = Running(pid, conn, " ".join(request["argv"][1:2]) or "lstmcli")
