"""What `export` leaves on disk: the SavedModel and nothing else (issue 21, item 6).

Replacing an export through a symlink left `.link.PID.*.old`; a killed export's
`.exp.PID.*.tmp` stayed for ever; the directory was 0700 (mkdtemp's), which a
serving user cannot read; a full disk was "unexpected ResourceExhaustedError".
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_helpers import invoke, run_ok, series_csv

FULL = "error: cannot write {}: no space left on the device; free some space or write elsewhere\n"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export")
    data = series_csv(root / "series.csv", rows=12)
    run_ok("define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", root / "d.keras")
    run_ok("compile", root / "d.keras", "--out", root / "c.keras")
    run_ok("fit", root / "c.keras", "--data", data, "--epochs", "1", "--verbose", "0", "--out", root / "f.keras")
    return root / "f.keras"


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_replacing_an_export_through_a_symlink_keeps_the_link_and_leaves_nothing_beside_either(fitted, tmp_path):
    real, link = tmp_path / "real" / "serving", tmp_path / "link"
    real.parent.mkdir()
    run_ok("export", fitted, "--out", real)
    (real / "earlier").write_text("from the earlier export\n")
    link.symlink_to(real)
    run_ok("export", fitted, "--out", link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "saved_model.pb").is_file() and not (real / "earlier").exists(), "the link's target was not replaced"
    assert hidden(tmp_path) == [] and hidden(real.parent) == []


def test_an_export_removes_what_killed_exports_left_and_only_that(fitted, tmp_path):
    """A SIGKILLed export leaves `.exp.PID.XXXXXXXX.tmp` (or `.old`): the next one removes those of dead processes."""
    out, dead, alive = tmp_path / "exp", dead_pid(), os.getpid()
    left = {
        f".exp.{dead}.a1b2c3d4.tmp": True,  # a killed export's half-written SavedModel: removed
        f".exp.{dead}.e5f6g7h8.old": True,  # an earlier export moved aside by an older lstmcli: removed
        f".exp.{alive}.zz9y8x7w.tmp": False,  # a running process's: kept
        ".exp.notanumber.tmp": False,  # not our pattern: kept
        f".other.{dead}.a1b2c3d4.tmp": False,  # another output's: kept
    }
    for name in left:
        (tmp_path / name).mkdir()
        (tmp_path / name / "variables").mkdir()
    run_ok("export", fitted, "--out", out)
    assert hidden(tmp_path) == sorted(name for name, removed in left.items() if not removed)
    assert (out / "saved_model.pb").is_file()


@pytest.mark.parametrize(
    "umask, directories, files", [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)], ids=["umask 022", "umask 027"]
)
def test_the_export_honours_the_umask_as_mkdir_would(umask, directories, files, fitted, tmp_path):
    """mkdtemp made the directory 0700: a serving user could not read the model."""
    before = os.umask(umask)
    try:
        run_ok("export", fitted, "--out", tmp_path / "exp")
    finally:
        os.umask(before)
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [tmp_path / "exp", *(tmp_path / "exp").rglob("*")]}
    assert {p.name: m for p, m in modes.items() if p.is_dir() and m != directories} == {}
    assert {p.name: m for p, m in modes.items() if p.is_file() and m & ~files} == {}


@pytest.mark.parametrize("kind", ["ResourceExhaustedError", "OSError"])
def test_a_full_disk_while_the_savedmodel_is_written_is_no_space_left(kind, fitted, tmp_path, monkeypatch):
    """TensorFlow reports ENOSPC as ResourceExhaustedError (or Python as OSError 28): one line, exit 1, nothing left."""
    import keras
    import tensorflow as tf

    archive = type(keras.export.ExportArchive())

    def full(self, filepath, **kwargs):
        Path(filepath, "variables").mkdir()  # part written
        if kind == "OSError":
            raise OSError(errno.ENOSPC, "No space left on device", filepath)
        raise tf.errors.ResourceExhaustedError(None, None, f"{filepath}/variables/x.tempstate; No space left on device")

    monkeypatch.setattr(archive, "write_out", full)
    outcome = invoke(["export", fitted, "--out", tmp_path / "exp"])
    assert (outcome.exit_code, outcome.stderr) == (1, FULL.format(tmp_path / "exp")), outcome
    assert list(tmp_path.iterdir()) == []


def test_a_real_full_file_system_is_no_space_left(fitted, tmp_path):
    """On a 16 KiB tmpfs (where this machine lets a test mount one): the same line, and the file system left empty."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        outcome = invoke(["export", fitted, "--out", mount / "exp"])
        assert (outcome.exit_code, outcome.stderr) == (1, FULL.format(mount / "exp")), outcome
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)
