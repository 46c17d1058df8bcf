"""The moment an output becomes real (its rename), and the signals around it.

Every output a step writes becomes whole in one move (`outputs.committed`
renames a file, `outputs.committed_directory` swaps a directory in): that move
is the commit. The rule for SIGINT and SIGTERM, whatever the command:

- a signal that arrives before the commit aborts it: the temporary file is
  removed and nothing is written, even when a library on the way up swallowed
  the exception the signal raised (the commit checks `arrived` first);
- a signal that arrives during the commit waits for its end (`held`), so it
  falls after it: the output is whole, and `written()` names it for the message.

The command line's signal handler reports each signal here (`signal_arrived`)
and raises only when told it may. Without that handler (the Python API) nothing
is reported, and the commit is a plain rename. This is core: no Typer, no rich.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Callable, Iterator


class _Commits:
    """One command's commits and signals (module state: signals are per process)."""

    def __init__(self) -> None:
        self.written: list[Path] = []  # outputs renamed (or copied) into place, whole
        self.partial: list[Path] = []  # outputs written through when a signal cut the copy short
        self.arrived: int | None = None  # the first SIGINT/SIGTERM the handler reported
        self.holding = 0  # > 0 inside a commit: a signal waits for its end
        self.pending = False  # one arrived while holding


_state = _Commits()


def begin() -> None:
    """Start a command: nothing written, no signal arrived (the command line calls it)."""
    global _state
    _state = _Commits()


def written() -> tuple[list[Path], list[Path]]:
    """(outputs this command wrote whole that are still there, outputs a signal cut short while written through)."""
    whole = [p for p in dict.fromkeys(_state.written) if os.path.lexists(p)]
    return whole, list(dict.fromkeys(_state.partial))


def signal_arrived(signum: int) -> bool:
    """Note a SIGINT or SIGTERM (the command line's handler calls it); True if the handler may raise now.

    Inside a commit it may not: the handler returns, and the signal is raised
    again (`signal.raise_signal`) as soon as the commit is over.
    """
    if _state.arrived is None:
        _state.arrived = signum
    if _state.holding:
        _state.pending = True
        return False
    return True


def arrived() -> int | None:
    """The first signal that arrived during this command, if any."""
    return _state.arrived


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Within the block a signal waits (a commit, the removal of a temporary); it is raised at the end."""
    _state.holding += 1
    try:
        yield
    finally:
        _state.holding -= 1
        if not _state.holding and _state.pending:
            _state.pending = False
            signal.raise_signal(_state.arrived)


def abort_if_signalled() -> None:
    """A signal that arrived earlier, and whose exception a library swallowed, still aborts: raise it again."""
    if _state.arrived is not None and not _state.holding:
        signal.raise_signal(_state.arrived)


def commit(path: Path | list[Path], move: Callable[[], None]) -> None:
    """Run `move`, the step that makes `path` whole, unless a signal came first; then record `path`.

    `path` may be several outputs that one move makes whole together (run's
    five). A signal during the move is raised once it is done and recorded. A
    commit inside another's move (a file of run's five written through a
    symlink) is part of that one, which has begun: it always moves.
    """
    inside = _state.holding > 0
    abort_if_signalled()
    with held():
        if inside or _state.arrived is None:
            move()
            _state.written.extend(path if isinstance(path, list) else [path])


def cutting(path: Path) -> None:
    """`path` is being written through (a device, a FIFO): until `wrote`, a signal leaves part of it there."""
    _state.partial.append(path)


def wrote(path: Path) -> None:
    """A write-through to `path` is complete."""
    with held():
        _state.partial.remove(path)
        _state.written.append(path)
