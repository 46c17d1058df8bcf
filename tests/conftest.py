"""Shared fixtures: the in-process CLI runner and small synthetic data sets.

The suite has three levels, as STYLE.md asks: core/ calls the plain core and the Python API,
command/ runs each command in process (`runners.invoke`), process/ runs real `lstmcli`
processes (signals, pipes, Make, several workers, the README as a reader copies it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from runners import invoke  # also sets the environment every test shares

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cli():
    """Call `lstmcli ARGS…` in this process (`runners.invoke`); returns exit code, stdout and stderr."""

    def call(*args, input=None):
        return invoke(list(args), input=input)

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
