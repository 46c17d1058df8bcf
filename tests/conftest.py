"""Shared fixtures: an in-process CLI runner and small synthetic data sets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("COLUMNS", "100")

REPO = Path(__file__).resolve().parent.parent


class Run:
    """The result of one in-process CLI call."""

    def __init__(self, result):
        self.exit_code = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.exception = result.exception

    def __repr__(self):
        return f"Run(exit={self.exit_code}, stdout={self.stdout[-500:]!r}, stderr={self.stderr[-500:]!r})"


@pytest.fixture(scope="session")
def cli():
    """Call `lstmcli ARGS…` in this process; returns exit code, stdout and stderr."""
    from typer.testing import CliRunner

    from lstmcli.cli import app

    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "100"})

    def call(*args, input=None):
        return Run(runner.invoke(app, [str(a) for a in args], input=input))

    return call


def sequence_csv(path: Path) -> Path:
    """The classic example's data: 0.0, 0.1, …, 0.9 in one column."""
    pd.DataFrame({"value": np.round(np.arange(10) / 10, 1)}).to_csv(path, index=False)
    return path


def classification_csv(path: Path, *, classes, n=240, timesteps=6, seed=0) -> Path:
    """Samples-layout data whose label is decided by the mean level of the row."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(classes), n)
    levels = np.linspace(-1, 1, len(classes))[labels]
    x = levels[:, None] + 0.3 * rng.standard_normal((n, timesteps))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(timesteps)])
    frame["label"] = np.asarray(classes, dtype=object)[labels]
    frame.to_csv(path, index=False)
    return path
