"""Signals that land inside an import are delivered after it (lstmcli.cli.process)."""

from __future__ import annotations

import sys
import time

import pytest

from lstmcli.cli.boundary import boundary

SLOW_MODULE = """
import os, signal, time
os.kill(os.getpid(), signal.{name})
for _ in range(20):
    time.sleep(0.01)
whole = True
"""


def test_a_sigterm_during_an_import_ends_the_step_after_the_import(tmp_path, monkeypatch):
    """Raised inside the import it would break it (CPython's SystemError, a half-made module); it waits."""
    (tmp_path / "slow_to_import.py").write_text(SLOW_MODULE.format(name="SIGTERM"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import", raising=False)
    with pytest.raises(SystemExit) as exit, boundary(debug=False):
        import slow_to_import  # noqa: F401

        time.sleep(10)  # the signal comes back here, outside the import
    assert exit.value.code == 143
    assert sys.modules["slow_to_import"].whole
    monkeypatch.delitem(sys.modules, "slow_to_import")


def test_a_ctrl_c_during_an_import_interrupts_the_step_after_the_import(tmp_path, monkeypatch):
    """Ctrl-C inside a step's import waits for the import too."""
    (tmp_path / "slow_to_import_int.py").write_text(SLOW_MODULE.format(name="SIGINT"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_to_import_int", raising=False)
    with pytest.raises(SystemExit) as exit, boundary(debug=False):
        import slow_to_import_int  # noqa: F401

        time.sleep(10)
    assert exit.value.code == 130
    assert sys.modules["slow_to_import_int"].whole
    monkeypatch.delitem(sys.modules, "slow_to_import_int")


class HalfMade:
    """An object a signal interrupted while it was built: its finaliser fails (TensorFlow's AtomicFunction)."""

    def __del__(self):
        raise AttributeError("'HalfMade' object has no attribute '_generated_graph'")


def test_a_failing_finaliser_after_a_signal_prints_no_traceback(monkeypatch):
    """Found by the real-time signal scan: "Exception ignored in … Traceback" after the one error line."""
    from lstmcli import quiet
    from lstmcli.cli import process

    shown = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: shown.append(str(unraisable.exc_value)))
    with process.quiet_finalisers():
        HalfMade()  # dropped at once: its __del__ raises, as an unraisable exception
    assert shown == []
    with quiet.debugging(True), process.quiet_finalisers():
        HalfMade()
    assert shown == ["'HalfMade' object has no attribute '_generated_graph'"]  # --debug shows it
    assert sys.unraisablehook is not None
