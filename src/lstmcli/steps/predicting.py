"""`predict`: a fitted model's predictions for every sample of a data file, in the data's units or labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lstmcli.data import dataspec, forecasting
from lstmcli.errors import ConfigError
from lstmcli.model import tasks
from lstmcli.model.record import Record
from lstmcli.options import ALL
from lstmcli.scoring import intervals
from lstmcli.steps.loading import chosen_classes, load_with_data

if TYPE_CHECKING:
    import pandas as pd

NOTES = "lstmcli_notes"  # the key in a predictions frame's attrs of what the command line warns about


def predict(source: Path, opts) -> pd.DataFrame:
    """Predictions for every sample of a data file, in the data's units or labels.

    A series forecast is written long, one row per (window, step): the key of
    the step's row, the step (1..horizon) and the predicted targets; with
    `opts.wide`, one row per window, keyed by its first step. With
    `opts.future`, only the forecast past the last (selected) row, keyed by
    the index continued at its frequency; `opts.steps` beyond the horizon
    forecasts recursively, feeding the forecasts back as inputs.

    With `opts.interval`, each predicted column is followed by the lower and
    upper bounds of each level's split-conformal interval (`scoring.intervals`);
    a level too high for the held-out windows the model has is noted in the
    frame's `attrs[NOTES]`.
    """
    if opts.steps is not None and not opts.future:
        raise ConfigError("--steps N is the length of a forecast past the end; give it with --future")
    model, record, data, frame, dist = load_with_data(source, opts, "predict", need_target=False, future=opts.future)
    from lstmcli.train.loop import Trainer

    trainer = Trainer(
        model, jit_compile=bool(record.compile.get("jit_compile")) and dist.strategy is None, distribution=dist
    )
    batch_size = None if opts.batch_size == ALL else opts.batch_size
    task = tasks.get_task(record.task)
    check(opts, task, dataspec.DataSpec.from_dict(record.data_spec))
    calibration = intervals.calibration_of(record) if opts.interval else None
    if opts.future and opts.steps is not None and opts.steps > data.horizon:
        predicted, step_keys = forecasting.recursive_forecast(trainer, record, data, frame, opts, batch_size)
    else:
        predicted = trainer.predict(data, batch_size)  # the data's units: the model is the whole predictor
        if task.classification:
            return _labelled(predicted, record, data, opts)
        step_keys = data.step_keys
        if opts.future and opts.steps is not None:
            predicted, step_keys = predicted[:, : opts.steps * len(data.target_names)], step_keys[:, : opts.steps]
    bounds = {q: intervals.bounds(predicted, calibration, q) for q in opts.interval or []}
    frame = forecasting.table(predicted, step_keys, data, wide=opts.wide, future=opts.future, bounds=bounds)
    if calibration is not None:
        windows = intervals.residuals_of(calibration).shape[1]
        frame.attrs[NOTES] = [n for n in (intervals.short_note(q, windows) for q in opts.interval) if n]
    return frame


def check(opts, task, spec) -> None:
    """predict's checks of its options against the model's task and data spec (`run` makes them before any work).

    Raises:
        ConfigError: for --steps without --future, --classes on a regression model, --wide
            where predictions have no steps, or --interval on a classifier or past the horizon.
    """
    if opts.steps is not None and not opts.future:
        raise ConfigError("--steps N is the length of a forecast past the end; give it with --future")
    if opts.classes and not task.classification:
        raise ConfigError(
            f"--classes writes a classifier's labels without their probabilities; this is a {task.name} model, "
            f"whose predictions are values: drop --classes"
        )
    if opts.wide and (task.classification or spec.layout != "series"):
        raise ConfigError("--wide puts a series forecast's steps side by side; this model's predictions have no steps")
    if opts.interval and task.classification:
        raise ConfigError(
            f"--interval gives the range of a regression forecast; this is a {task.name} classifier, whose "
            "probabilities already say how sure it is: drop --interval"
        )
    if opts.interval and opts.future and opts.steps is not None and opts.steps > spec.horizon:
        raise ConfigError(
            f"--interval is calibrated on the model's own {spec.horizon}-step forecasts; --steps {opts.steps} "
            f"forecasts further by feeding forecasts back, whose compounding errors the held-out windows never "
            f"measured: ask for at most {spec.horizon} steps with --interval, or define the model with --horizon {opts.steps}"
        )


def _labelled(outputs, record: Record, data, opts):
    import numpy as np
    import pandas as pd

    columns = {data.key_name: data.keys}
    classes = record.preprocessing["classes"]
    probabilities = np.concatenate([1.0 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs
    chosen = chosen_classes(outputs)
    columns["label"] = np.asarray(classes, dtype=object)[chosen]
    if not opts.classes:
        for i, label in enumerate(classes):
            columns[str(label)] = probabilities[:, i]
    return pd.DataFrame(columns)


def actuals(source: Path, opts):
    """The samples of a data file as predict sees them, with their actual targets (`y_raw`) and keys.

    For drawing predictions against actuals (`lstmcli plot`): sample i here is
    row i of `predict`'s output for the same options (with `wide` for a series).
    A series' `y_raw` is step-major: column h*k + j is step h+1 of target j.
    """
    return load_with_data(source, opts, "plot", need_target=True)[2]
