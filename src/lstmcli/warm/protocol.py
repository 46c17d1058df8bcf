"""What the warm client and server agree on: where the socket lives, how messages travel, who may be served.

The socket lives in a directory only its user can enter (`$XDG_RUNTIME_DIR/lstmcli`,
else `/tmp/lstmcli-UID`), checked before every use: a directory, not a link, owned
by this uid, mode 0700. Messages are JSON objects, each framed by a 4-byte length;
the client's stdin, stdout and stderr travel with its request as SCM_RIGHTS.

A server serves a client only when their `fingerprint`s are equal: the same
lstmcli source (version, place and file times), Python, virtual environment and
every environment variable that is read while TensorFlow, Keras, pandas and
lstmcli are imported. Anything else would make a warm run differ from a cold one.
Standard library only: the client imports this on every command.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import os
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

MODE_ENV = "LSTMCLI_SERVER"  # auto | on | off
IDLE_ENV = "LSTMCLI_SERVER_IDLE"  # seconds an idle server waits before it exits
DEFAULT_IDLE = 300.0
SOCKET, LOCK, LOG = "server.sock", "server.lock", "server.log"
MAX_MESSAGE = 4 << 20  # an environment and argv are far smaller; anything bigger is not ours

# Environment variables read at import time by TensorFlow, XLA, Keras, the BLAS and OpenMP
# runtimes, Python itself, the C library's locale, Typer's help formatting, or lstmcli.
IMPORT_TIME_PREFIXES = (
    "TF_",
    "XLA_",
    "KERAS_",
    "CUDA_",
    "NVIDIA_",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "PYTHON",
    "LD_",
    "LC_",
    "TYPER_",
    "_TYPER_",
    "LSTMCLI_",
)
IMPORT_TIME_NAMES = (
    "LANG",
    "LANGUAGE",
    "HOME",
    "TMPDIR",
    "XDG_CACHE_HOME",
    "TERMINAL_WIDTH",
    "FORCE_COLOR",
    "PY_COLORS",
    "GITHUB_ACTIONS",
)
NOT_IMPORT_TIME = (MODE_ENV, IDLE_ENV)


class Unsafe(Exception):
    """The socket directory is not private to this user, so nothing may be sent through it."""


def shared_tempdir() -> str:
    """The temporary folder as a fresh process finds it ($TMPDIR, else /tmp, …).

    Not `tempfile.gettempdir()` as such: inside a command that is the command's
    private folder (`quiet.private_temporary_directory`), so `server start` and
    `status` would look for the socket where no client does.
    """
    saved = tempfile.tempdir
    tempfile.tempdir = None
    try:
        return tempfile.gettempdir()
    finally:
        tempfile.tempdir = saved


def runtime_dir(create: bool = True) -> Path:
    """The private directory of this user's server: made 0700 if missing, checked if present.

    Raises:
        Unsafe: if it is a link, not a directory, someone else's, or open to others.
        OSError: if it cannot be made.
    """
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR", "")
    path = Path(base, "lstmcli") if base and os.path.isdir(base) else Path(shared_tempdir(), f"lstmcli-{uid}")
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise Unsafe(f"{path} is not a directory")
    if info.st_uid != uid:
        raise Unsafe(f"{path} belongs to uid {info.st_uid}, not to this user (uid {uid})")
    if info.st_mode & 0o077:
        raise Unsafe(f"{path} can be entered by others (mode {stat.S_IMODE(info.st_mode):o}); it must be 0700")
    return path


MAX_IDLE = 10**9  # about 30 years: a server that never idles out, in a timeout select() takes


def idle_seconds(given: str | float | None = None) -> float:
    """The idle timeout: `given`, else LSTMCLI_SERVER_IDLE, else 300 s.

    Raises:
        ValueError: if it is not a positive number of seconds.
    """
    raw = given if given is not None else os.environ.get(IDLE_ENV) or DEFAULT_IDLE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < MAX_IDLE:  # select() refuses an infinite timeout: the server would crash once it serves
        raise ValueError(
            f"the idle timeout must be a number of seconds above 0 and below {MAX_IDLE:g}; received {raw!r}"
        )
    return seconds


def fingerprint(environ=None) -> str:
    """A digest of everything that must be equal for a forked child to behave as a fresh process."""
    import lstmcli

    environ = os.environ if environ is None else environ
    package = os.path.dirname(os.path.abspath(lstmcli.__file__))
    keras_json = Path(environ.get("KERAS_HOME") or Path(environ.get("HOME", "/"), ".keras"), "keras.json")
    facts = {
        "lstmcli": [lstmcli.__version__, package, _source_stamp(package)],
        "python": [sys.version, sys.executable, sys.prefix, sys.base_prefix, sys.flags.optimize, sys.flags.utf8_mode],
        "xoptions": sorted(map(str, sys._xoptions.items())),
        "keras.json": _file_stamp(keras_json),
        "environ": sorted(
            (name, value)
            for name, value in environ.items()
            if (name.startswith(IMPORT_TIME_PREFIXES) or name in IMPORT_TIME_NAMES) and name not in NOT_IMPORT_TIME
        ),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _source_stamp(package: str) -> list[int]:
    """How many .py files lstmcli has and the newest one's time: an edited source is another lstmcli."""
    count, newest = 0, 0
    for folder, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                count += 1
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
    return [count, newest]


def _file_stamp(path: Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel says (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def send(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    """Send one framed JSON message, with `fds` attached to its first byte."""
    body = json.dumps(message).encode()
    data = struct.pack("!I", len(body)) + body
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sent = sock.sendmsg([data], ancillary)
    if sent < len(data):
        sock.sendall(data[sent:])


def receive(sock: socket.socket, max_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One framed JSON message and the descriptors that came with it; (None, []) at end of stream.

    Raises:
        ConnectionError: if the stream ends inside a message or the message is malformed.
    """
    fds: list[int] = []
    head = _exactly(sock, 4, fds, max_fds)
    if head is None:
        return None, fds
    (size,) = struct.unpack("!I", head)
    if size > MAX_MESSAGE:
        raise ConnectionError(f"a message of {size} bytes is not one of lstmcli's")
    body = _exactly(sock, size, fds, 0)
    if body is None:
        raise ConnectionError("the stream ended inside a message")
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ConnectionError(f"malformed message: {exc}") from None
    if not isinstance(message, dict):
        raise ConnectionError("malformed message: not a JSON object")
    return message, fds


def _exactly(sock: socket.socket, size: int, fds: list[int], max_fds: int) -> bytes | None:
    data = b""
    while len(data) < size:
        if max_fds:
            chunk, ancillary, _, _ = sock.recvmsg(size - len(data), socket.CMSG_SPACE(max_fds * 4))
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(payload[: len(payload) - len(payload) % got.itemsize])
                    fds.extend(got)
            max_fds = 0
        else:
            chunk = sock.recv(size - len(data))
        if not chunk:
            if data:
                raise ConnectionError("the stream ended inside a message")
            return None
        data += chunk
    return data
