"""Helpers for the bad-input corpus: running the CLI in process, small files, doctored archives.

The corpus runs the CLI through the suite's one in-process runner (`runners.invoke`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from runners import Outcome, invoke  # noqa: F401  (the corpus imports them from here)


def run_ok(*argv) -> Outcome:
    """Run a step that must succeed (fixture building) and fail loudly if it does not."""
    outcome = invoke(list(argv))
    assert outcome.exit_code == 0, outcome
    return outcome


# ---------------------------------------------------------------- files and snapshots


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root` (hidden ones too): files by sha256, folders as 'dir'.

    Devices and FIFOs are named by their kind and device number, never read
    (a FIFO would block, a /dev/full-like device never ends); symlinks by target.
    """
    root = Path(root)
    entries = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            entries[rel] = "link to " + os.readlink(path)
        elif stat.S_ISDIR(mode):
            entries[rel] = "dir"
        elif stat.S_ISREG(mode):
            entries[rel] = sha256(path)
        else:
            entries[rel] = (
                f"special {stat.S_IFMT(mode):o} {os.major(path.lstat().st_rdev)},{os.minor(path.lstat().st_rdev)}"
            )
    return entries


NULL_DEVICE = (1, 3)  # what /dev/null is: writes vanish, reads are empty
FULL_DEVICE = (1, 7)  # what /dev/full is: every write fails with ENOSPC


def device(path: Path, numbers: tuple[int, int] = NULL_DEVICE) -> Path:
    """A character device node at `path` (in the test's own tmp_path, never the machine's /dev).

    Skips the test where device nodes cannot be made (not root, or a container without mknod).
    """
    import pytest

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(*numbers))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@dataclass(frozen=True)
class Replace:
    """What a `with_record` edit returns to replace the whole record (even with null)."""

    value: object


def with_record(source: Path, target: Path, edit: Callable, *, redigest: bool = True) -> Path:
    """Rewrite the archive's lstmcli.json through `edit(obj)`, which changes obj in place or returns a Replace.

    With `redigest` the record's digest member is recomputed too, as a careful
    forger would: then only the schema stands between the edit and the steps.
    """

    def change(name, data):
        if name == "lstmcli.json":
            obj = json.loads(data)
            new = edit(obj)
            change.written = json.dumps(new.value if isinstance(new, Replace) else obj).encode()
            return change.written
        return data

    rewrite_zip(source, target, change)
    if redigest:
        rewrite_zip(
            target,
            target.with_suffix(".tmp"),
            lambda name, data: (
                hashlib.sha256(change.written).hexdigest().encode() if name == "lstmcli.json.sha256" else data
            ),
        )
        os.replace(target.with_suffix(".tmp"), target)
    return target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def series_csv(path: Path, rows: int = 12, column: str = "value") -> Path:
    """A one-column series 0.0, 0.1, … of `rows` rows."""
    return write(path, column + "\n" + "".join(f"{i / 10:.1f}\n" for i in range(rows)))


def series_csv_with_cell(path: Path, row: int, cell: str, rows: int = 12) -> Path:
    """`series_csv` with data row `row` (1-based, after the header) replaced by `cell`."""
    lines = [f"{i / 10:.1f}" for i in range(rows)]
    lines[row - 1] = cell
    return write(path, "value\n" + "\n".join(lines) + "\n")


LABELS = ("cat", "dog", "eel")
MC_FEATURES = ("x0", "x1", "x2", "x3")


def samples_csv(
    path: Path,
    labels=LABELS,
    rows: int = 12,
    *,
    label_column: str = "label",
    cells: dict[tuple[int, str], str] | None = None,
) -> Path:
    """Samples-layout rows x0…x3 and a string label cycling through `labels`.

    `cells` overrides single cells: {(data row, 1-based; column): text}.
    """
    cells = cells or {}
    header = [*MC_FEATURES, label_column]
    lines = [",".join(header)]
    for r in range(rows):
        label = labels[r % len(labels)]
        level = LABELS.index(label) if label in LABELS else 1
        values = [f"{level - 1 + 0.1 * k:.2f}" for k in range(len(MC_FEATURES))] + [label]
        for c, name in enumerate(header):
            values[c] = cells.get((r + 1, name), values[c])
        lines.append(",".join(values))
    return write(path, "\n".join(lines) + "\n")


# ---------------------------------------------------------------- doctored archives


def rewrite_zip(source: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy the zip `source` to `target`, passing each member through `change`.

    `change(name, data)` returns the member's new bytes, or None to drop it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info, data)
    return target


def without_member(source: Path, target: Path, member: str) -> Path:
    return rewrite_zip(source, target, lambda name, data: None if name == member else data)


def with_json_member(source: Path, target: Path, member: str, edit: Callable[[dict], None]) -> Path:
    """Rewrite one JSON member of the archive through `edit(obj)` (which changes obj in place)."""

    def change(name, data):
        if name != member:
            return data
        obj = json.loads(data)
        edit(obj)
        return json.dumps(obj).encode()

    return rewrite_zip(source, target, change)


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


# ---------------------------------------------------------------- what a refusal looks like

LSTMCLI_ERROR = re.compile(r"\Aerror: (?P<message>[^\n]+)\n?\Z")


def refusal_message(stderr: str, usage: bool) -> str | None:
    """The one message line of a refusal, or None when stderr is not exactly one.

    Every refusal is one line, `error: …`: lstmcli's own and Click's usage
    errors alike (`usage` names which, for the reader of a case).
    """
    match = LSTMCLI_ERROR.match(stderr.lstrip("\n"))
    return match.group("message") if match else None
