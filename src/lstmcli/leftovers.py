"""What a killed process left beside its outputs: is its owner gone, and removing it.

A step killed with SIGKILL cannot clean up; the next step that writes there
removes the temporary files and folders of owners that are no longer alive
(`outputs` for files and exports, `steps.staging` for `run`'s folders).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process `pid` exists (one of another user's counts: it may still be writing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(pid: int) -> bool:
    """A leftover of process `pid` may go: not this process, and no longer running."""
    return pid != os.getpid() and not alive(pid)


def remove(leftover: Path) -> None:
    """Remove a leftover file, link or folder (a folder as a whole, a link itself, never its target)."""
    if leftover.is_dir() and not leftover.is_symlink():
        shutil.rmtree(leftover, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            leftover.unlink()
