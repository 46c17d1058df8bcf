"""Calibrated artifacts for the interval tests: a fitted model given the residuals fit keeps (`fit.calibration`).

`calibrate` measures them as fit does, on the last windows of the training
rows, and re-saves the artifact with them; a fit that already wrote its own
calibration has it replaced, so the tests hold either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmcli.model import artifact
from lstmcli.scoring.intervals import METHOD


def held_out_residuals(model: Path, data: Path, rows) -> np.ndarray:
    """actual − prediction of every window of `rows` (as --rows, or (first, end) row numbers), (columns, windows),
    step-major as the model's outputs."""
    from lstmcli.steps import predicting
    from lstmcli.steps.options import PredictOptions

    opts = PredictOptions(data=data, rows=rows, wide=True)
    actual = predicting.actuals(model, opts)
    assert len(actual.target_names) == 1, "the wide table is target-major; these tests use one target"
    frame = predicting.predict(model, opts)
    predicted = frame[[c for c in frame.columns if c.startswith("predicted_")]].to_numpy()
    return (actual.y_raw - predicted).T


def calibrate(model: Path, out: Path, residuals, held_out: str = "the windows of the test's choice") -> Path:
    """`model` re-saved at `out` with `residuals` (columns, windows) as its record's calibration."""
    residuals = np.asarray(residuals, dtype=np.float64)
    loaded, record = artifact.load(model)
    record.fit = {
        **(record.fit or {}),
        "calibration": {
            "method": METHOD,
            "held_out": held_out,
            "windows": int(residuals.shape[1]),
            "residuals": residuals.tolist(),
        },
    }
    return artifact.save(loaded, record, out)
