"""What the benchmark's plain and lstmcli sides share: the synthetic series and its windows.

Both sides of the forecasting workloads read the same CSV file (one column,
`value`: a noisy sine) and see the same windows: window i is rows i … i+29 and
its target is row i+30, which is lstmcli's series layout with timesteps 30 and
horizon 1. A series of `windows + TIMESTEPS` rows therefore has `windows` windows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TIMESTEPS = 30
UNITS = 32
BATCH_SIZE = 32
SEED = 7


def write_series(path: Path, windows: int, seed: int = SEED) -> Path:
    """Write a noisy sine with exactly `windows` windows to `path` as CSV (column `value`)."""
    rows = windows + TIMESTEPS
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    values = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 11) + rng.normal(0, 0.1, rows)
    np.savetxt(path, values, fmt="%.6f", header="value", comments="")
    return path


def read_windows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The series at `path` as plain Keras wants it: X (n, TIMESTEPS, 1) and y (n, 1), float32."""
    series = np.loadtxt(path, skiprows=1, dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(series[:-1], TIMESTEPS)
    return np.ascontiguousarray(view)[..., None], series[TIMESTEPS:, None]


def emit(result: dict) -> None:
    """Print a child's result as one JSON line on stdout, the line the harness reads."""
    sys.stdout.write(json.dumps(result) + "\n")
