"""`lstmcli inspect`: what an artifact holds, read from its record.

Everything but the layer table comes from `lstmcli.json` alone, so inspecting
an artifact costs a zip read, not a TensorFlow import; the layer table (which
needs the Keras model built) is loaded only when asked for.
"""

from __future__ import annotations

import math
from pathlib import Path

from lstmcli.model import artifact
from lstmcli.model.record import smoke_fit
from lstmcli.model.recordvalues import epoch_numbers
from lstmcli.steps.options import InspectOptions


def inspect(source: Path, opts: InspectOptions | None = None) -> dict:
    """Summarise an artifact: stage, task, data, preprocessing, history, lineage, versions.

    Args:
        source: The `.keras` artifact.
        opts: `layers` also loads the model for its layer table (imports
            TensorFlow); `unsafe` loads archives that carry code (only with `layers`).

    Returns:
        A JSON-ready dict. `history` holds every epoch's values and the best
        epoch (1-based, by validation loss when there is one, else loss);
        `layers`, when asked for, one row per layer; `intervals`, for a
        calibrated model, how its residuals were held out and the default
        levels' half-widths (`intervals.describe`).

    Raises:
        ArtifactError: if the artifact is missing, damaged or not lstmcli's.
    """
    opts = opts or InspectOptions()
    opened = artifact.read_artifact(source)  # once: the record and, with --layers, the model
    record = opened.record
    summary = {
        "path": str(source),
        "stage": record.stage,
        "task": record.task,
        "data_spec": record.data_spec,
        "input_shape": input_shape(record),
        "architecture": record.architecture,
        "compile": record.compile,
        "preprocessing": record.preprocessing,
        "fit": record.fit,
        "history": history_summary(record.history, record.fit),
        "seed": record.seed,
        "smoke": smoke_fit(record) or False,
        "lineage": record.lineage,
        "versions": record.versions,
    }
    calibration = (record.fit or {}).get("calibration")
    if calibration:
        from lstmcli.scoring import intervals

        summary["intervals"] = intervals.describe(calibration)
    if opts.layers:
        summary["layers"] = layer_table(source, unsafe=opts.unsafe, opened=opened)
    return summary


def input_shape(record) -> list[int]:
    """The raw windows the model takes, rows × features: the time steps and the rows the differencing needs."""
    from lstmcli.data.dataspec import DataSpec

    timesteps, features = DataSpec.from_dict(record.data_spec).input_shape
    return [timesteps + (record.preprocessing or {}).get("context", 0), features]


def history_summary(history: dict[str, list], fit: dict | None = None) -> dict:
    """The history with its epoch count and best epoch (1-based), by val_loss if present, else loss.

    A history thinned to fit the record (`fit.history_every`) counts the epochs
    the fit ran and numbers the best one as it was.
    """
    monitor = "val_loss" if "val_loss" in history else "loss"
    values = history.get(monitor, [])
    numbers = epoch_numbers(history, fit)
    finite = [
        (value, epoch)
        for epoch, value in zip(numbers, values)
        if isinstance(value, (int, float)) and math.isfinite(value)
    ]
    best_value, best_epoch = min(finite) if finite else (None, None)
    return {
        "epochs": numbers[-1] if numbers else 0,
        "monitor": monitor,
        "best_epoch": best_epoch,
        "best": best_value,
        "values": history,
    }


def layer_table(source: Path, *, unsafe: bool = False, opened: artifact.Opened | None = None) -> list[dict]:
    """One row per layer of the model: name, type, output shape and parameter count.

    Args:
        opened: The artifact as `artifact.read_artifact` read it; defaults to reading `source`.
    """
    from lstmcli.quiet import load_tensorflow

    load_tensorflow()
    opened = opened or artifact.read_artifact(source)
    model, _ = artifact.load(source, unsafe=unsafe, compile=False, record=opened.record, content=opened.content)
    rows = []
    for layer in model.layers:
        try:
            shape = list(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": shape,
                "parameters": int(layer.count_params()),
            }
        )
    return rows
