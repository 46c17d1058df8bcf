"""Where a step writes: the checks made before any work, and writes that never leave half a file.

Two rules hold for every output of every step (`--out`, `--history`,
`--tensorboard`, `--checkpoint-dir`):

- No output may be, or contain, an input (the model, the data, the validation
  data, the config), nor another output. Paths are compared by inode where they
  exist (a hard link or a symlink is the same file) and resolved otherwise.
- A regular file is written to a temporary file beside it and renamed into
  place, so a crash, Ctrl-C or SIGTERM leaves the old file or the whole new one.
  An output that is not a regular file (a device such as /dev/null or
  /dev/full, a FIFO, /dev/stdout) is written through, never renamed over: as
  root, replacing /dev/null would break it for the whole machine.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lstmcli.errors import ArtifactError, WriteError

STDIO = "-"


@dataclass(frozen=True)
class Output:
    """One place a step writes.

    Args:
        flag: The option that named it, for messages ("--out").
        path: The file or directory.
        directory: True for a directory the step writes into (TensorBoard logs, checkpoints).
        manages: For a directory, the entries inside it that the step writes or
            removes; none means the whole directory (it is replaced).
    """

    flag: str
    path: Path
    directory: bool = False
    manages: tuple[str, ...] = ()

    def claims(self) -> list[Path]:
        """The paths this output writes or removes."""
        if self.directory and self.manages:
            return [self.path / name for name in self.manages]
        return [self.path]


FD_LINK = re.compile(r"^/(?:proc/(?:self|\d+)|dev)/fd/\d+$")


def is_special(path: Path | str) -> bool:
    """Whether `path` is written through rather than replaced.

    True when it exists (following links) and is neither a regular file nor a
    directory, and for a link to an open file descriptor (/dev/stdout is
    /proc/self/fd/1): whatever is behind it (a pipe, a terminal, or the file
    a shell redirected to) is the caller's, not a path to rename over.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) or _through_fd_link(Path(path))


def _through_fd_link(path: Path) -> bool:
    for _ in range(40):  # the kernel's own limit on links followed
        if FD_LINK.match(str(path)):
            return True
        if not path.is_symlink():
            return False
        path = Path(os.path.normpath(path.parent / os.readlink(path)))
    return False


def check(outputs: list[Output], inputs: dict[str, Path | str | None]) -> None:
    """Check a step's outputs before any work: writable, and clear of its inputs and of each other.

    Args:
        outputs: Every place the step will write; None paths and "-" are skipped.
        inputs: The files the step reads, by the name a message should use
            ("MODEL", "--data", "--config"); None and "-" are skipped.

    Raises:
        ArtifactError: naming the output, what it collides with, and what to do.
    """
    outputs = [o for o in outputs if o.path is not None and str(o.path) != STDIO]
    inputs = {role: Path(p) for role, p in inputs.items() if p is not None and str(p) != STDIO}
    for output in outputs:
        _check_place(output)
    for output in outputs:
        if not output.directory and is_special(output.path):
            continue  # written through: reading and writing one device harms nothing
        for claimed in output.claims():
            for role, path in inputs.items():
                if output.directory and _under(path, claimed):
                    raise ArtifactError(
                        f"{output.flag} {output.path} would overwrite {path}, this step's input ({role}), "
                        f"which lies inside it; choose another {output.flag}"
                    )
                if _same(claimed, path):
                    if claimed == output.path:
                        raise ArtifactError(
                            f"{output.flag} {output.path} is one of this step's inputs ({role}); "
                            f"a step never changes its input, so write to a new path"
                        )
                    raise ArtifactError(
                        f"{output.flag} {output.path} would overwrite {claimed}, which is this step's input "
                        f"({role}); choose another {output.flag}"
                    )
    for i, one in enumerate(outputs):
        for other in outputs[i + 1 :]:
            for a in one.claims():
                for b in other.claims():
                    if _same(a, b) or _under(a, b) or _under(b, a):
                        raise ArtifactError(
                            f"{one.flag} {one.path} and {other.flag} {other.path} would write the same file "
                            f"({b if other.directory else a}); give them separate paths"
                        )


def _check_place(output: Output) -> None:
    path = Path(output.path)
    flag = output.flag
    if output.directory:
        if path.exists() and not path.is_dir():
            raise ArtifactError(
                f"{flag} {path} is a file, not a directory; give a directory (it is created if missing)"
            )
    else:
        if path.is_dir():
            raise ArtifactError(f"{flag} {path} is a directory; give a file name inside it, such as {path / 'out'}")
        if is_special(path):
            if not os.access(path, os.W_OK):
                raise ArtifactError(f"cannot write {path}: it is not writable")
            return
    _check_reachable(path, flag)
    ancestor = path.parent if not path.exists() or not output.directory else path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ArtifactError(f"cannot write {path}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK):
        raise ArtifactError(f"cannot write {path}: {ancestor} is not writable")


def _check_reachable(path: Path, flag: str) -> None:
    """Refuse a path the system cannot resolve: a symlink loop or a dangling link on the way, an unsearchable folder.

    `Path.exists` says False for all of these, so without this check the
    step would do its work and fail only when it writes.
    """
    for place in (*reversed(path.parents), path):
        try:
            os.stat(place)
        except FileNotFoundError:
            if os.path.islink(place) and place != path:
                raise ArtifactError(
                    f"cannot write {path}: {place} is a symbolic link to nothing ({os.readlink(place)}); "
                    f"fix or remove the link, or choose another {flag}"
                ) from None
            return  # the rest is made when written
        except NotADirectoryError:
            return  # a file on the way, which the caller names
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ArtifactError(
                    f"cannot write {path}: {place} is a symbolic link loop; fix the link or choose another {flag}"
                ) from None
            if exc.errno == errno.ENAMETOOLONG:
                return  # refused where the name is used, with its own message
            raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}; choose another {flag}") from None


def _same(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return _resolved(a) == _resolved(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _under(inner: Path, outer: Path) -> bool:
    return _resolved(outer) in _resolved(inner).parents


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(os.path.abspath(path)))


# ---------------------------------------------------------------- writing


@contextlib.contextmanager
def committed(path: Path, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file path to write; on success it becomes `path`.

    A regular target (or a new one) gets a temporary file beside it, renamed
    over it when the block ends without an error; a symlink's target is
    replaced, the link kept. A device or FIFO gets a temporary file in the
    temporary directory, copied into it when complete. On any error, and on
    Ctrl-C or SIGTERM, the temporary file is removed and `path` is untouched.

    Raises:
        ArtifactError: if the temporary file cannot be made.
        WriteError: if the write fails (a full disk: "no space left").
    """
    path = Path(path)
    special = is_special(path)
    target = path if special else _resolved(path)
    fd, tmp = _make_temporary(target, suffix, beside=not special)
    os.close(fd)
    try:
        try:
            yield tmp
            if special:
                # Append: a shell's `>` has already emptied the file behind /dev/stdout, and `>>` must keep it.
                with open(tmp, "rb") as source, open(path, "ab") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            else:
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
        except OSError as exc:
            raise _write_error(path, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w") -> Iterator[Any]:
    """Open a file to write that becomes `path` only on success (see `committed`)."""
    with committed(Path(path)) as tmp:
        with open(
            tmp, mode, newline="" if "b" not in mode else None, **({} if "b" in mode else {"encoding": "utf-8"})
        ) as handle:
            yield handle


def _write_error(path: Path, exc: OSError) -> WriteError:
    if exc.errno == errno.ENOSPC:
        return WriteError(f"cannot write {path}: no space left on the device; free some space or write elsewhere")
    return WriteError(f"cannot write {path}: {exc.strerror or exc}")


def _make_temporary(path: Path, suffix: str, *, beside: bool = True) -> tuple[int, str]:
    """A temporary file named after `path` and this process, beside it (or in the temp folder).

    Temporary files left by a step that was killed (whose process is gone) are
    removed first. The file gets the permissions a plain open() would give
    (mkstemp's are 0600), so the renamed output is as readable as any other.
    """
    try:
        if beside:
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_orphans(path)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent if beside else None, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix
        )
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        return fd, tmp
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None


def _remove_orphans(path: Path) -> None:
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.*.tmp*"):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
