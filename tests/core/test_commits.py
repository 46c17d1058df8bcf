"""The commit rule in the core, without TensorFlow: a signal before the rename aborts, one during it waits.

The command line's handler reports each signal to `commits` and raises only when told it may;
these tests install a handler that does just that.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from lstmcli import commits, outputs, quiet


@pytest.fixture
def reporting_handler():
    def handler(signum, frame):
        if commits.signal_arrived(signum):
            raise KeyboardInterrupt

    commits.begin()
    previous = signal.signal(signal.SIGINT, handler)
    yield
    signal.signal(signal.SIGINT, previous)
    commits.begin()


def test_a_signal_whose_exception_was_swallowed_still_stops_the_rename(reporting_handler, tmp_path):
    out = tmp_path / "m.json"
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_output(out) as handle:
            handle.write("{}\n")
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass  # a library's `except BaseException: pass`
    assert list(tmp_path.iterdir()) == []
    assert commits.written() == ([], [])


def test_a_signal_during_the_rename_is_raised_after_it_and_the_output_is_listed(
    reporting_handler, tmp_path, monkeypatch
):
    out = tmp_path / "m.json"
    rename = os.replace

    def rename_then_signal(source, target):
        rename(source, target)
        signal.raise_signal(signal.SIGINT)  # lands inside the commit: held until it ends

    monkeypatch.setattr(os, "replace", rename_then_signal)
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_output(out) as handle:
            handle.write("{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"] and out.read_text() == "{}\n"
    assert commits.written() == ([out], [])


def test_without_the_handler_a_write_is_a_plain_rename(tmp_path):
    commits.begin()
    with outputs.atomic_output(tmp_path / "m.json") as handle:
        handle.write("{}\n")
    assert commits.arrived() is None and commits.written() == ([tmp_path / "m.json"], [])
    commits.begin()


def test_the_private_temporary_directory_holds_what_python_writes_there_and_goes_at_the_end():
    """Autograph's `__autograph_generated_file*.py` are made with NamedTemporaryFile in the temp folder."""
    outside = tempfile.gettempdir()
    with quiet.private_temporary_directory() as private:
        assert Path(private).parent == Path(outside) and Path(private).name.startswith(f"lstmcli-{os.getpid()}-")
        with tempfile.NamedTemporaryFile(prefix="__autograph_generated_file", suffix=".py", delete=False) as made:
            assert Path(made.name).parent == Path(private)
    assert not Path(private).exists() and tempfile.gettempdir() == outside
