"""Turning a table into model inputs and targets under a data spec.

Series windows are never copied out of the series: `Windows` keeps the
(raw) series and the start row of each window, and the training loops
gather a batch of windows at a time in the graph. Samples are reshaped to
(samples, timesteps, features). Inputs stay in the data's units (their scaling
is a layer of the model); the targets' scaling statistics and class labels
learned at fit time are applied here, and every problem with the file's content is a
DataError naming the row and column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmcli.data import parsing, preprocessing, transforms
from lstmcli.data.dataspec import DataSpec
from lstmcli.data.parsing import Parsed
from lstmcli.data.prepared import Prepared, Samples, Windows, window_count
from lstmcli.data.rowindex import row_keys
from lstmcli.errors import ConfigError, DataError

ROW_KEY = "row"


def prepare(
    frame: pd.DataFrame,
    spec: DataSpec,
    *,
    task,
    prep: dict,
    loss: str | None,
    units: int,
    need_target: bool,
    where: str,
    future: bool = False,
    rows: tuple[int, int] | None = None,
    context: bool = True,
    parsed: Parsed | None = None,
) -> Prepared:
    """Turn a table into model inputs and targets, applying learned preprocessing.

    Args:
        frame: The table read from the data file.
        spec: The artifact's data spec.
        task: The artifact's Task.
        prep: Learned preprocessing: target scaling statistics and class labels.
            Inputs stay raw: their scaling is a layer of the model.
        loss: The compiled loss (decides one-hot or sparse labels).
        units: Output units of the model.
        need_target: Refuse a file without target columns (fit, evaluate).
        where: The file's name, for messages.
        future: series only: the one window that ends on the last selected
            row, whose `horizon` targets lie past it (a forecast); targets are left out.
        rows: The selected rows (first, end) as 0-based positions, end
            excluded (see `select_rows`); None: all of them.
        context: series: take the rows a window needs from before `rows`
            (evaluate, predict), so that the first target is the first selected
            row; fit takes no rows from outside its selection.
        parsed: The whole of `frame` already parsed and checked (`parse`):
            fit's, which `learn` read too; its cells are not parsed again.

    Raises:
        DataError: for any problem with the file's content.
    """
    if future and spec.layout != "series":
        raise ConfigError(
            "--future forecasts past the end of a series; the model's layout is samples, where every row is already a sample"
        )
    if parsed is not None and (rows is not None or future or len(parsed) != len(frame)):
        raise ValueError("a parsed table is prepared whole")
    features, target = (
        (parsed.features, parsed.target)
        if parsed is not None
        else parsing.resolve_columns(frame, spec, where, need_target=need_target)
    )
    has_target = all(t in frame.columns for t in target) and not future
    if need_target and not has_target:
        raise DataError(f"{where} has no target column {target!r}; evaluate and fit need the true values")
    lo, hi = rows if rows is not None else (0, len(frame))
    window = spec.timesteps + prep.get("context", 0)  # the differencing needs rows before a window's timesteps
    first = max(0, lo - window) if context and spec.layout == "series" else lo
    part = frame.iloc[first:hi]
    chosen = prep.get("transforms") or []
    x = parsed.inputs if parsed is not None else _inputs(part, features, target, spec, chosen, where)
    inputs, keys, step_keys, target_rows = _arranged(
        x, frame, spec, first, hi, window, where, future=future, selected=rows is not None
    )
    y = y_raw = history = None
    if has_target and task.classification:
        y, y_raw = _labels(frame, target, target_rows, first, hi, task, prep, loss, units, where)
    elif has_target:
        y, y_raw, history = _values(
            frame, part, target, target_rows, first, hi, prep, chosen, need_target, parsed, where
        )
    return Prepared(inputs, y, y_raw, keys, spec.index or ROW_KEY, target, step_keys, target_rows, history)


def _inputs(
    part: pd.DataFrame, features: list[str], target: list[str], spec: DataSpec, chosen: list[str], where: str
) -> np.ndarray:
    """The feature cells of `part`, parsed and checked (padding, masked steps, log's positive values)."""
    masked = spec.layout == "samples" and spec.mask
    parsing.check_padding(part, features, spec, where)
    x = parsing.numeric(part, features, where, allow_empty=masked)
    if masked:
        x = parsing.mask_trailing(x.reshape(len(part), spec.timesteps, spec.n_features), where, part.index)
        x = x.reshape(len(part), -1)
    if "log" in chosen:
        logged = [i for i, name in enumerate(features) if name in target]
        transforms.check_positive(x[:, logged], where, [features[i] for i in logged], part.index)
    return x


def _arranged(
    x: np.ndarray,
    frame: pd.DataFrame,
    spec: DataSpec,
    first: int,
    hi: int,
    window: int,
    where: str,
    *,
    future: bool,
    selected: bool,
):
    """The inputs as series windows (views) or samples, with each sample's key, step keys and target rows."""
    n_rows = hi - first
    if spec.layout != "series":
        keys = frame[spec.index].to_numpy()[first:hi] if spec.index else np.arange(first, hi) + 1
        return Samples(x.reshape(n_rows, spec.timesteps, spec.n_features)), keys, None, None
    n = window_count(n_rows, spec, window - spec.timesteps, where, future=future, selected=selected)
    starts = np.arange(n, dtype=np.int64) + (n_rows - window if future else 0)
    target_rows = first + starts[:, None] + window + np.arange(spec.horizon)
    step_keys = row_keys(frame, spec, target_rows)
    return Windows(x, starts, window), step_keys[:, 0], step_keys, target_rows


def _labels(frame, target, target_rows, first, hi, task, prep, loss, units, where):
    """A classifier's raw labels and their encoding (one-hot or sparse, as the loss wants)."""
    label_rows = target_rows[:, 0] if target_rows is not None else np.arange(first, hi)
    y_raw = frame[target[0]].to_numpy()[label_rows]
    if len(target) != 1:
        raise DataError(f"a {task.name} task takes one label column; name it with --target. Received: {target}")
    bad = pd.isna(y_raw)
    if bad.any():
        raise DataError(
            f"{where}, row {frame.index[int(label_rows[bad.argmax()])]}: the label column {target[0]!r} is empty; fill or drop the row"
        )
    y = (
        preprocessing.encode_labels(y_raw, prep["classes"], loss or task.loss, units, where, frame.index[label_rows])
        if "classes" in prep
        else None
    )
    return y, y_raw


def _values(frame, part, target, target_rows, first, hi, prep, chosen, need_target, parsed, where):
    """A regression's targets: raw (`y_raw`), transformed and scaled (`y`), and the history before them."""
    if target_rows is None:
        y_raw = parsed.y if parsed is not None else parsing.numeric(part, target, where)
        return preprocessing.scale(y_raw, prep.get("targets")), y_raw, None
    # the baselines (evaluate) and MASE's scale (fit) look back before the window; predict needs none of it
    base = 0 if need_target else first
    values = parsed.y if parsed is not None else parsing.numeric(frame.iloc[base:hi], target, where)
    history = values if need_target else None
    at = target_rows - base
    y_raw = values[at].reshape(len(at), -1)  # step-major: unit h*k + j is step h+1 of target j
    if chosen:
        forward = (
            parsed.transformed(chosen, where)
            if parsed is not None
            else transforms.forward(values, chosen, where, target)
        )
        values = forward.astype(np.float32)
    return preprocessing.scale(values[at].reshape(len(at), -1), prep.get("targets")), y_raw, history


def learn(parsed: Parsed, spec: DataSpec, *, task, scaling: str, units: int, where: str, rows=None) -> dict:
    """Learn the preprocessing of a training table, once: transforms, scaling statistics and labels.

    Inputs get one statistic per feature channel (over every row of a series;
    over every time step of a samples file, padded steps left out); regression
    targets one per target column.

    Args:
        parsed: The table, parsed and checked (`parse`).
        rows: The rows the training samples are made of (0-based positions),
            when a validation split holds the others out: everything is
            learned on these alone (`auto`'s choice, the statistics, the
            labels). For a series whose training rows depend on the context
            the chosen differencing needs (a tail split under `auto`), a
            function of that context; `auto` then chooses on the rows of no
            context, the fewest, which are training rows whatever it chooses.
            Defaults to every row.
    """
    features, target = parsed.features, parsed.target
    learned: dict = {"features": features, "target": target, "scaling_kind": scaling}
    x = parsed.x
    if spec.layout == "samples":
        x = x.reshape(len(parsed), spec.timesteps, spec.n_features)
    y = parsed.y
    if spec.transforms:
        x, y, rows = _learn_transforms(learned, spec, parsed, x, where, rows)
    elif callable(rows):
        rows = rows(0)
    if rows is not None:
        x, y = x[rows], None if y is None else y[rows]
    learned["inputs"] = preprocessing.learn_scaling(scaling, x)
    learned["targets"] = None
    if task.classification:
        labels = parsed.labels if rows is None else parsed.labels[rows]
        learned["classes"] = preprocessing.learn_classes(labels[~pd.isna(labels)], task.name, units, where)
    else:
        learned["targets"] = preprocessing.learn_scaling(scaling, y)
    return learned


def step_offsets(spec: DataSpec) -> list[int]:
    """Each output step's distance in rows from the window's last row: 1..horizon."""
    return list(range(1, spec.horizon + 1))


def _learn_transforms(learned: dict, spec: DataSpec, parsed: Parsed, x: np.ndarray, where: str, rows):
    """Settle the spec's transforms on the training rows; the transformed inputs and targets, and the rows.

    `auto` is decided here, from the targets of the training rows
    (`transforms.choose`); the choice, its reasons, the history rows the
    differencing needs and the forecast steps are recorded in `learned`,
    which the graph is built from. `rows` as `learn` takes them; returned as
    positions (or None), once the context is known.

    Raises:
        ConfigError: for differencing a target that is not among the features
            (its history would not be in the window), or a horizon whose
            inverse would need a step the model does not forecast.
    """
    features, target = learned["features"], learned["target"]
    chosen, reasons = list(spec.transforms), []
    if chosen == [transforms.AUTO]:
        seen = rows(0) if callable(rows) else rows
        chosen, reasons = transforms.choose(parsed.y if seen is None else parsed.y[seen], parsed.season)
    if callable(rows):
        rows = rows(transforms.context(chosen))
    steps = step_offsets(spec)
    if transforms.lags(chosen):
        outside = [name for name in target if name not in features]
        if outside:
            raise ConfigError(
                f"differencing {outside[0]!r} needs its history in each window, but it is not a feature; "
                f"add it to --features or drop diff/seasonal-diff from --transform"
            )
        transforms.check_offsets(chosen, steps)
    learned.update(transforms=chosen, transform_reasons=reasons, context=transforms.context(chosen), steps=steps)
    y = parsed.transformed(chosen, where)  # prepare's targets too: transformed once
    x = x.astype(np.float64)
    logged = [i for i, name in enumerate(features) if name in target]
    x[:, logged] = y[:, [target.index(features[i]) for i in logged]]  # the same columns, transformed once
    return x, y, rows
