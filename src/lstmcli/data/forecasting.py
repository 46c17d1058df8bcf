"""A forecast's shape: the frames predict writes, and forecasts past the end of a series.

A series forecast is long, one row per (window, step), or wide, one row per
window; `--future` forecasts past the last row, keyed by the index continued
at its frequency, and `--steps` beyond the model's horizon forecasts
recursively, feeding the forecasts back as inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lstmcli.data import dataspec
from lstmcli.errors import ConfigError
from lstmcli.model import tasks
from lstmcli.model.record import Record

if TYPE_CHECKING:
    import pandas as pd


def recursive_forecast(trainer, record: Record, data, frame, opts, batch_size):
    """Forecast `opts.steps` steps past the end by feeding each forecast back as the next inputs.

    Only a model whose features are its targets can do this: the forecast
    rows are then complete input rows. Returns the forecasts (1, steps × targets)
    and their keys (1, steps).
    """
    import numpy as np
    import pandas as pd

    from lstmcli.data import rowindex, windowing

    spec = dataspec.DataSpec.from_dict(record.data_spec)
    features, target = record.preprocessing["features"], record.preprocessing["target"]
    if tasks.get_task(record.task).classification or sorted(features) != sorted(target):
        raise ConfigError(
            f"--steps {opts.steps} is more than the model's horizon {spec.horizon}: forecasting further feeds the "
            f"forecasts back as inputs, which needs the features to be the targets (features {','.join(features)}; "
            f"target {','.join(target)}); ask for at most {spec.horizon} steps, or define the model with --horizon {opts.steps}"
        )
    selected = rowindex.select_rows(frame, spec, opts.rows)
    end = selected[1] if selected else len(frame)
    columns = ([spec.index] if spec.index else []) + features
    keep = max(
        spec.timesteps + record.preprocessing.get("context", 0), 3
    )  # a window and its differencing; an index shows its frequency in three values
    start = max(0, end - keep)  # the file row of the series' first row: without an index, keys are row numbers
    series = frame.iloc[start:end][columns].reset_index(drop=True)
    forecasts, keys = [], []
    while sum(len(k) for k in keys) < opts.steps:
        window = windowing.prepare(
            series,
            spec,
            task=tasks.get_task(record.task),
            prep=record.preprocessing,
            loss=record.compile["loss"],
            units=record.architecture["units"],
            need_target=False,
            where="the forecast so far",
            future=True,
        )
        step = trainer.predict(window, batch_size).reshape(spec.horizon, len(target))
        forecasts.append(step)
        step_keys = window.step_keys[0] if spec.index else window.step_keys[0] + start
        keys.append(step_keys)
        grown = pd.DataFrame(step, columns=target)[features]
        if spec.index:
            grown.insert(0, spec.index, step_keys)
        series = pd.concat([series, grown], ignore_index=True)
        start += max(0, len(series) - keep)
        series = series.iloc[-keep:].reset_index(drop=True)
    predicted = np.concatenate(forecasts)[: opts.steps].reshape(1, -1)
    return predicted, np.concatenate(keys)[: opts.steps].reshape(1, -1)


def table(predicted, step_keys, data, *, wide: bool, future: bool, bounds: dict | None = None) -> pd.DataFrame:
    """The predictions of a regression model as the frame predict writes.

    Args:
        predicted: (samples, steps × targets), step-major, in the data's units.
        step_keys: (samples, steps) keys of each step's row, or None for a
            samples file (one prediction per row, keyed as the data is).
        data: The prepared data the predictions are for (keys, target names).
        wide: One row per window, keyed by its first step, the steps side by side.
        future: A forecast past the end: its rows are numbered by step even
            when there is one step.
        bounds: {level: (lower, upper)}, each shaped as `predicted`: every
            predicted column is followed by `…_lower_L` and `…_upper_L` for each
            level (L its percentage, `intervals.label`).
    """
    import numpy as np
    import pandas as pd

    from lstmcli.scoring.intervals import label

    bands = [(label(q), lower, upper) for q, (lower, upper) in (bounds or {}).items()]

    def put(columns: dict, name: str, pick) -> None:
        """A predicted column and its bounds: `pick` takes the values out of an array shaped as `predicted`."""
        columns[name] = pick(predicted)
        for percent, lower, upper in bands:
            columns[f"{name}_lower_{percent}"] = pick(lower)
            columns[f"{name}_upper_{percent}"] = pick(upper)

    if step_keys is None:  # samples: one prediction per row
        columns = {data.key_name: data.keys}
        for i, name in enumerate(data.target_names):
            put(columns, f"predicted_{name}", lambda a, i=i: a[:, i])
        return pd.DataFrame(columns)
    n, steps = step_keys.shape
    k = len(data.target_names)
    if wide:
        columns = {data.key_name: step_keys[:, 0]}
        for j, name in enumerate(data.target_names):
            for h in range(steps):
                column = f"predicted_{name}" + (f"_step{h + 1}" if steps > 1 else "")
                put(columns, column, lambda a, h=h, j=j: a.reshape(n, steps, k)[:, h, j])
        return pd.DataFrame(columns)
    columns = {data.key_name: step_keys.reshape(-1)}
    if steps > 1 or future:
        columns["step"] = np.tile(np.arange(1, steps + 1), n)
    for j, name in enumerate(data.target_names):
        put(columns, f"predicted_{name}", lambda a, j=j: a.reshape(n, steps, k)[:, :, j].reshape(-1))
    return pd.DataFrame(columns)
