"""`lstmcli plot`: PNG figures for reports, drawn with matplotlib's Agg backend.

The training curves come from the artifact's record alone; with data, the
model's predictions are drawn against the actual values (regression) or as a
confusion matrix (classification). matplotlib is imported here only, inside
the functions, so no other command pays for it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from lstmcli import outputs
from lstmcli.model import artifact
from lstmcli.options import carried
from lstmcli.steps import predicting
from lstmcli.steps.options import PredictOptions

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
BEST_COLOR = "#2ca02c"
ACTUAL_COLOR = "#000000"
PREDICTED_COLOR = "#d62728"
DPI = 100
SIZE = (8.0, 3.2)  # inches of one row of panels
HISTORY = "history.png"
PREDICTIONS = "predictions.png"
CONFUSION = "confusion.png"


def plot(source: Path, opts) -> list[Path]:
    """Write the training curves and, given data, predictions against actuals.

    Args:
        source: A fitted `.keras` artifact.
        opts: A `PlotOptions`: `out_dir` for the PNG files (made if missing),
            and `data` (with its `format`) to draw predictions against, or None
            for the curves alone.

    Returns:
        The PNG files written: history.png, then predictions.png (regression:
        the one-step-ahead predictions against the actual values along the
        index, and for a series the forecast past its end, dashed, at its
        dates) or confusion.png (classification).

    Raises:
        StageError: if the artifact was never fitted.
    """
    record = artifact.read_record(source)
    artifact.require_stage(record, "fitted", source, "plot")
    out_dir = Path(opts.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        from lstmcli.errors import ConfigError

        raise ConfigError(f"--out-dir {out_dir} is a file; give a folder for the PNG files")
    written = [_save(history_figure(record.history), out_dir / HISTORY)]
    if opts.data is None:
        return written
    predict_opts = carried(PredictOptions, opts)
    actual = predicting.actuals(source, predict_opts)
    if record.preprocessing and record.preprocessing.get("classes") is not None:
        predicted = predicting.predict(source, predict_opts)
        classes = [str(c) for c in record.preprocessing["classes"]]
        figure = confusion_figure([str(v) for v in actual.y_raw.ravel()], [str(v) for v in predicted["label"]], classes)
        return written + [_save(figure, out_dir / CONFUSION)]
    series = actual.step_keys is not None
    horizon = actual.horizon
    # one row per window; for a horizon of H steps, draw step 1 (the next row) against the actuals
    predicted = predicting.predict(source, replace(predict_opts, wide=series))
    suffix = "_step1" if horizon > 1 else ""
    columns = [predicted[f"predicted_{name}{suffix}"].to_numpy() for name in actual.target_names]
    future = None
    if series:
        ahead = predicting.predict(source, replace(predict_opts, future=True))
        future = (
            ahead[actual.key_name].to_numpy(),
            [ahead[f"predicted_{name}"].to_numpy() for name in actual.target_names],
        )
    figure = predictions_figure(
        actual.keys,
        actual.key_name,
        actual.y_raw[:, : len(actual.target_names)],
        columns,
        actual.target_names,
        future=future,
        horizon=horizon,
    )
    return written + [_save(figure, out_dir / PREDICTIONS)]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_figure(history: dict[str, list]):
    """One panel per metric: train and validation curves by epoch, the best epoch marked.

    The best epoch is the one with the lowest validation loss, or loss when
    there is no validation; it is a dashed vertical line on every panel and a
    dot on the loss curve it was chosen by. A positive curve spanning more
    than a factor of 100 gets a log axis.
    """
    plt = _pyplot()
    names = [n for n in history if not n.startswith("val_") and n != "learning_rate"]
    figure, axes = plt.subplots(1, len(names), figsize=(SIZE[0], SIZE[1]), dpi=DPI, squeeze=False)
    monitor = "val_loss" if "val_loss" in history else "loss"
    best = _best_epoch(history.get(monitor, []))
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], color=TRAIN_COLOR, linewidth=1.5, label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], color=VALIDATION_COLOR, linewidth=1.5, label="validation")
        if _spans_decades(history[name] + history.get(f"val_{name}", [])):
            ax.set_yscale("log")
        if best is not None:
            ax.axvline(best, color=BEST_COLOR, linestyle="--", linewidth=1)
            if name == monitor.removeprefix("val_"):
                ax.plot([best], [history[monitor][best - 1]], "o", color=BEST_COLOR, label=f"best epoch {best}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def predictions_figure(
    keys, key_name: str, actual, predicted: list, target_names: list[str], *, future=None, horizon: int = 1
):
    """One panel per target: actual and predicted values along the data's keys (dates when they are dates).

    Args:
        keys: Each sample's key (its first target row's index value).
        actual: (samples, targets) actual values.
        predicted: One array of predictions per target, one per sample
            (step 1 of the forecast when the horizon is longer).
        future: Optional (keys, [one array per target]): the forecast past
            the end of the data, drawn dashed with its keys (dates).
        horizon: The model's horizon, named in the title when above 1.
    """
    import numpy as np

    plt = _pyplot()
    all_keys = np.concatenate([np.asarray(keys), np.asarray(future[0])]) if future is not None else np.asarray(keys)
    x_all = _as_dates(all_keys)
    x, x_future = x_all[: len(keys)], x_all[len(keys) :]
    figure, axes = plt.subplots(
        len(target_names), 1, figsize=(SIZE[0], SIZE[1] * len(target_names)), dpi=DPI, squeeze=False
    )
    for i, (ax, name) in enumerate(zip(axes[:, 0], target_names)):
        ax.plot(x, np.asarray(actual)[:, i], color=ACTUAL_COLOR, linewidth=1.5, label="actual")
        ax.plot(
            x,
            predicted[i],
            color=PREDICTED_COLOR,
            linewidth=1.5,
            label="predicted" + (" (1 step ahead)" if horizon > 1 else ""),
        )
        if future is not None and len(x_future):
            ax.plot(
                x_future,
                future[1][i],
                color=PREDICTED_COLOR,
                linewidth=1.5,
                linestyle="--",
                marker=".",
                label="forecast",
            )
        ax.set_title(name)
        ax.set_xlabel(key_name)
        ax.legend(fontsize="small")
    if x_all is not all_keys:
        figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def confusion_figure(actual: list[str], predicted: list[str], classes: list[str]):
    """A confusion matrix: rows are the actual classes, columns the predicted ones, cells the counts."""
    import numpy as np

    plt = _pyplot()
    index = {label: i for i, label in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for truth, guess in zip(actual, predicted):
        counts[index[truth], index[guess]] += 1
    side = max(SIZE[1], 0.6 * len(classes) + 1.5)
    figure, ax = plt.subplots(figsize=(side + 1, side), dpi=DPI)
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(classes)), classes, rotation=45 if len(classes) > 4 else 0)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"accuracy {accuracy:.3f} on {counts.sum()} samples")
    for (row, column), count in np.ndenumerate(counts):
        ax.text(
            column, row, str(count), ha="center", va="center", color="white" if count > counts.max() / 2 else "black"
        )
    figure.colorbar(image, ax=ax)
    figure.tight_layout()
    return figure


def _save(figure, path: Path) -> Path:
    plt = _pyplot()
    with outputs.atomic_output(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI)
    plt.close(figure)
    return path


def _best_epoch(values: list) -> int | None:
    finite = [(v, epoch) for epoch, v in enumerate(values, 1) if isinstance(v, (int, float)) and math.isfinite(v)]
    return min(finite)[1] if finite else None


def _spans_decades(values: list) -> bool:
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100


def _as_dates(keys):
    """The keys as datetimes when they are date strings, else the keys themselves."""
    import numpy as np
    import pandas as pd

    if np.asarray(keys).dtype.kind not in "OUS":
        return keys
    try:
        return pd.to_datetime(pd.Series(keys), format="mixed").to_numpy()
    except (ValueError, TypeError):
        return keys
