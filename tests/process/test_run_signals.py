"""`lstmcli run` as a real process, stopped mid-fit: the workdir is as it found it (issue 21, 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from corpus_helpers import snapshot

CONFIG = REPO / "configs" / "sequence.toml"


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_run_stopped_during_its_fit_leaves_the_workdir_as_it_found_it(signum, code, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "fitted.keras").write_text("an earlier run's artifact\n")
    (work / "notes.txt").write_text("the user's own file\n")
    before = snapshot(work)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmcli", "run", "--config", CONFIG, "--workdir", work, "-S", "fit.epochs=1000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 240
    while not any(work.glob(".run.*.tmp/compiled.keras")):  # define and compile are done: the fit runs
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    if signum != signal.SIGKILL:
        assert snapshot(work) == before, stderr  # the staging folder is gone too
        return
    assert {k: v for k, v in snapshot(work).items() if not k.startswith(".run.")} == before
    # A SIGKILL leaves its staging folder; the next run there removes it.
    again = subprocess.run(
        [sys.executable, "-m", "lstmcli", "run", "--config", CONFIG, "--workdir", work, "--smoke", "-q"],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    assert not list(work.glob(".run.*"))
    assert (work / "notes.txt").read_text() == "the user's own file\n"
