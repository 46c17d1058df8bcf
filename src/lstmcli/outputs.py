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

The rename is the commit (`commits`): a signal before it leaves nothing, one
after it finds the output whole and listed for the message.
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

from lstmcli import commits, leftovers
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
    made = []  # filled inside a hold: a signal cannot come between making the file and owning it
    try:
        with commits.held():
            made.append(_make_temporary(target, suffix, beside=not special))
        tmp = made[0]
        try:
            yield tmp
            if special:
                _write_through(tmp, path)
            else:
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                commits.commit(path, lambda: os.replace(tmp, target))
        except OSError as exc:
            raise _write_error(path, exc) from None
    finally:
        with commits.held():
            for tmp in made:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


def _write_through(tmp: str, path: Path) -> None:
    """Copy a finished temporary file into a device, FIFO or descriptor; a signal may cut it short."""
    commits.abort_if_signalled()
    commits.cutting(path)
    # Append: a shell's `>` has already emptied the file behind /dev/stdout, and `>>` must keep it.
    with open(tmp, "rb") as source, open(path, "ab") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    commits.wrote(path)


@contextlib.contextmanager
def committed_directory(path: Path) -> Iterator[str]:
    """A temporary directory to fill; on success it replaces `path` (a SavedModel, say).

    As `committed` for a file: built beside the target (a symlink's target, the
    link kept), with the permissions `mkdir` would give, and swapped in whole;
    on any error or signal it is removed and `path` is untouched.

    Raises:
        ArtifactError: if the temporary directory cannot be made.
        WriteError: if the move fails (a full disk: "no space left").
    """
    path = Path(path)
    target = _resolved(path)
    made = []  # filled inside a hold, as in `committed`
    try:
        with commits.held():
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                _remove_orphans(target)
                made.append(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"))
                os.chmod(made[0], 0o777 & ~_umask())  # mkdtemp's 0700 would keep a serving user out
            except OSError as exc:
                raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None
        tmp = made[0]
        try:
            yield tmp
            commits.commit(path, lambda: _swap_in(tmp, target))
        except OSError as exc:
            raise _write_error(path, exc) from None
    finally:
        with commits.held():
            for tmp in made:
                shutil.rmtree(tmp, ignore_errors=True)  # after a swap, what `target` held before


def _swap_in(new: str, target: Path) -> None:
    """Put directory `new` at `target`; whatever `target` held ends at `new`, for the caller to remove.

    Where the kernel can exchange two paths in one step (Linux's renameat2), a
    SIGKILL at any moment leaves the old directory or the new one at `target`;
    elsewhere the old one is moved aside first, for a moment.
    """
    if not os.path.lexists(target):
        os.replace(new, target)
    elif not _exchange(new, target):
        aside = f"{new}.old"
        os.replace(target, aside)
        try:
            os.replace(new, target)
        except OSError:
            os.replace(aside, target)
            raise
        os.replace(aside, new)


def _exchange(a: str, b: Path) -> bool:
    """Swap two paths atomically (renameat2 with RENAME_EXCHANGE); False where the system cannot."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w") -> Iterator[Any]:
    """Open a file to write that becomes `path` only on success (see `committed`)."""
    with committed(Path(path)) as tmp:
        with open(
            tmp, mode, newline="" if "b" not in mode else None, **({} if "b" in mode else {"encoding": "utf-8"})
        ) as handle:
            yield handle


def no_space(path: Path) -> WriteError:
    """The error for a full device (ENOSPC), whoever reported it."""
    return WriteError(f"cannot write {path}: no space left on the device; free some space or write elsewhere")


def _write_error(path: Path, exc: OSError) -> WriteError:
    if exc.errno == errno.ENOSPC:
        return no_space(path)
    return WriteError(f"cannot write {path}: {exc.strerror or exc}")


def _make_temporary(path: Path, suffix: str, *, beside: bool = True) -> str:
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
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError as exc:
        os.unlink(tmp)
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return tmp


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _remove_orphans(path: Path) -> None:
    """Remove the temporary files and directories that killed steps left beside `path`.

    Only names of our own pattern (`.NAME.PID.XXXXXXXX.tmp…`, and `.old` from
    before the exchange) whose process is gone; a directory as a whole.
    """
    ours = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}(\.tmp.*|\.old)", re.DOTALL)
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.*"):
        found = ours.fullmatch(leftover.name)
        if found is not None and leftovers.orphaned(int(found[1])):
            leftovers.remove(leftover)
