"""A folder's outputs written together or not at all: `run`'s five files staged, then moved into place.

The files are written into a temporary folder inside the target folder (so
moving them is a rename on one file system) and replace the folder's own only
on `commit`; on any failure, Ctrl-C or SIGTERM the temporary folder is removed
and the folder is as it was, down to the folders that were made for it. A
staging folder left by a killed process is removed by the next run there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

from lstmcli import commits, leftovers, outputs
from lstmcli.errors import ArtifactError, WriteError

PREFIX = ".run."
SUFFIX = ".tmp"


class Staged:
    """A staging folder for `names` inside `folder`; use as a context manager, then `commit`.

    Args:
        folder: Where the files belong (made, with its parents, if missing).
        names: The files that `commit` moves into it.
        elsewhere: Other files written with them, by a name to stage them
            under: {name: where it belongs} (fit's --history of a run).
    """

    def __init__(self, folder: Path, names: tuple[str, ...], elsewhere: dict[str, Path] | None = None):
        self.folder = Path(folder)
        self.targets = {name: self.folder / name for name in names} | dict(elsewhere or {})
        self.names = tuple(self.targets)
        self.made: list[Path] = []
        self.stage: Path | None = None
        self.committed = False

    def __enter__(self) -> Staged:
        missing = []
        for folder in (self.folder, *self.folder.parents):
            if folder.exists():
                break
            missing.append(folder)
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self.made.append(folder)
            _remove_orphans(self.folder)
            self.stage = Path(tempfile.mkdtemp(dir=self.folder, prefix=f"{PREFIX}{os.getpid()}.", suffix=SUFFIX))
        except OSError as exc:
            self._undo()
            raise ArtifactError(f"cannot write into {self.folder}: {exc.strerror or exc}") from None
        return self

    def path(self, name: str) -> Path:
        """Where to write `name` until the commit."""
        assert self.stage is not None and name in self.names
        return self.stage / name

    def commit(self) -> None:
        """Move every staged file into the folder: one commit (`lstmcli.commits`) for all of them.

        Ctrl-C and SIGTERM are held until all are there (blocked, so the
        Python API gets the same). A file whose place is a symlink or a device
        is written through it (as `outputs.committed` writes one), and one
        outside the folder is copied beside its place and renamed; the others
        are renamed into place.
        """
        commits.commit(list(self.targets.values()), self._move_all)
        self.committed = True

    def _move_all(self) -> None:
        held = {signal.SIGINT, signal.SIGTERM}
        before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            for name, target in self.targets.items():
                staged = self.path(name)
                if (
                    target.is_symlink()
                    or outputs.is_special(target)
                    or target.parent.resolve() != self.folder.resolve()
                ):
                    with outputs.committed(target) as tmp:
                        shutil.copyfile(staged, tmp)
                else:
                    try:
                        os.replace(staged, target)
                    except OSError as exc:
                        raise WriteError(f"cannot write {target}: {exc.strerror or exc}") from None
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)

    def __exit__(self, *exc) -> None:
        if self.stage is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
        if not self.committed:
            self._undo()

    def _undo(self) -> None:
        for folder in reversed(self.made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty


def _remove_orphans(folder: Path) -> None:
    """Remove staging folders whose process is gone (a run killed with SIGKILL)."""
    for leftover in folder.glob(f"{PREFIX}*{SUFFIX}"):
        pid = leftover.name[len(PREFIX) :].split(".", 1)[0]
        if pid.isdigit() and leftovers.orphaned(int(pid)) and leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
