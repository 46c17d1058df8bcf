"""The figures `lstmcli plot` draws, with matplotlib's Agg backend: training curves, forecasts
against actual values, confusion matrices. matplotlib is imported inside the functions only,
so no other command pays for it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
BEST_COLOR = "#2ca02c"
ACTUAL_COLOR = "#000000"
PREDICTED_COLOR = "#d62728"
SPLIT_COLOR = "#7f7f7f"
DPI = 100
SIZE = (8.0, 3.2)  # inches of one row of panels
NOT_CURVES = ("learning_rate", "lr", "restored")  # history columns that are not a metric's values


@dataclass
class Band:
    """A prediction interval shaded around a curve: its level's name ("80") and, per target, the lower and
    upper bounds of the curve's first len(bounds) keys (a forecast's band may stop at the horizon)."""

    name: str
    lower: list
    upper: list


@dataclass
class Curve:
    """A line of a predictions figure: its label, x keys, one array of values per target, and its bands."""

    label: str
    keys: object
    values: list
    color: str = PREDICTED_COLOR
    style: str = "-"
    marker: str | None = None
    width: float = 1.5
    bands: list[Band] = field(default_factory=list)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history_curves(history: dict[str, list]) -> list[str]:
    """The history's metrics drawn as curves: not validation's (drawn beside theirs), and not the
    columns that are no metric (the learning rate, early stopping's `restored` marker)."""
    return [n for n in history if not n.startswith("val_") and n not in NOT_CURVES]


def history_figure(history: dict[str, list], dpi: int = DPI, epochs: list[int] | None = None):
    """One panel per metric: train and validation curves by epoch, the best epoch marked.

    The best epoch is the one with the lowest validation loss, or loss when
    there is no validation; it is a dashed vertical line on every panel and a
    dot on the loss curve it was chosen by. A positive curve spanning more
    than a factor of 100 gets a log axis. `epochs` numbers the values (a
    thinned history's, `recordvalues.epoch_numbers`); by default 1..n.
    """
    plt = pyplot()
    names = history_curves(history)
    figure, axes = plt.subplots(1, max(len(names), 1), figsize=SIZE, dpi=dpi, squeeze=False)
    monitor = "val_loss" if "val_loss" in history else "loss"
    position = _best_epoch(history.get(monitor, []))  # 1-based, among the values stored
    if not names:
        axes[0][0].set_title("no training history recorded")
    for ax, name in zip(axes[0], names):
        numbers = epochs or range(1, len(history[name]) + 1)
        best = None if position is None else numbers[position - 1]
        ax.plot(numbers, history[name], color=TRAIN_COLOR, linewidth=1.5, label="train")
        if f"val_{name}" in history:
            ax.plot(numbers, history[f"val_{name}"], color=VALIDATION_COLOR, linewidth=1.5, label="validation")
        if _spans_decades(history[name] + history.get(f"val_{name}", [])):
            ax.set_yscale("log")
        if best is not None:
            ax.axvline(best, color=BEST_COLOR, linestyle="--", linewidth=1)
            if name == monitor.removeprefix("val_"):
                ax.plot([best], [history[monitor][position - 1]], "o", color=BEST_COLOR, label=f"best epoch {best}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def predictions_figure(
    actual: Curve, predicted: list[Curve], key_name: str, target_names: list[str], *, split=None, dpi: int = DPI
):
    """One panel per target: the actual values and each predicted curve along the data's keys (dates when they are dates).

    Args:
        actual: The actual values (one array per target) at their keys.
        predicted: The curves drawn over them: a step's forecasts, the forecast past the end.
        split: A key where the selected (test) rows begin, drawn as a vertical line; None for none.
    """
    import numpy as np

    plt = pyplot()
    curves = [actual, *predicted]
    lengths = [len(c.keys) for c in curves] + ([1] if split is not None else [])
    raw = np.concatenate(
        [np.asarray(c.keys, dtype=object) for c in curves]
        + ([np.asarray([split], dtype=object)] if split is not None else [])
    )
    x_all = _as_dates(raw)
    xs = np.split(np.asarray(x_all), np.cumsum(lengths)[:-1])
    figure, axes = plt.subplots(
        len(target_names), 1, figsize=(SIZE[0], SIZE[1] * len(target_names)), dpi=dpi, squeeze=False
    )
    for i, (ax, name) in enumerate(zip(axes[:, 0], target_names)):
        ax.plot(xs[0], np.asarray(actual.values[i]), color=ACTUAL_COLOR, linewidth=1.5, label=actual.label)
        _shade(ax, predicted, xs[1:], i)
        for curve, x in zip(predicted, xs[1:]):
            if len(x):
                ax.plot(
                    x,
                    np.asarray(curve.values[i]),
                    color=curve.color,
                    linewidth=curve.width,
                    linestyle=curve.style,
                    marker=curve.marker,
                    label=curve.label,
                )
        if split is not None:
            ax.axvline(xs[-1][0], color=SPLIT_COLOR, linestyle=":", linewidth=1.2, label=f"test from {split}")
        ax.set_title(name)
        ax.set_xlabel(key_name)
        ax.legend(fontsize="small")
    if np.asarray(x_all).dtype.kind == "M":  # dates: slanted, so they do not overlap
        figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def _shade(ax, curves: list[Curve], xs, target: int) -> None:
    """Each curve's bands around it, the widest level palest; the legend names each level once."""
    import numpy as np

    named = set()
    for curve, x in zip(curves, xs):
        levels = sorted(curve.bands, key=lambda band: float(band.name))
        for rank, band in enumerate(levels):
            lower, upper = np.asarray(band.lower[target]), np.asarray(band.upper[target])
            label = f"{band.name}% interval" if band.name not in named else "_nolegend_"
            named.add(band.name)
            alpha = 0.3 - 0.18 * rank / max(len(levels) - 1, 1)
            ax.fill_between(x[: len(lower)], lower, upper, color=curve.color, alpha=alpha, linewidth=0, label=label)


def step_color(step: int, horizon: int) -> str:
    """Step 1 in the predicted colour, later steps fading towards orange."""
    if horizon <= 1 or step == 1:
        return PREDICTED_COLOR
    import matplotlib.colors as mcolors

    start, end = mcolors.to_rgb(PREDICTED_COLOR), mcolors.to_rgb(VALIDATION_COLOR)
    t = (step - 1) / (horizon - 1)
    return mcolors.to_hex(tuple(a + (b - a) * t for a, b in zip(start, end)))


def confusion_matrix(actual: list[str], predicted: list[str], classes: list[str], normalize: str = "none"):
    """Counts (rows: actual classes, columns: predicted), or fractions as scikit-learn's `normalize`:
    of each actual class ("true"), of each predicted class ("pred"), of all samples ("all")."""
    import numpy as np

    index = {label: i for i, label in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.float64)
    for truth, guess in zip(actual, predicted):
        counts[index[truth], index[guess]] += 1
    if normalize == "none":
        return counts.astype(int)
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    total = counts.sum(axis=axis, keepdims=axis is not None)
    return np.divide(counts, total, out=np.zeros_like(counts), where=np.asarray(total) > 0)


def confusion_figure(parts: list[tuple[str, list, list]], classes: list[str], normalize: str = "none", dpi: int = DPI):
    """One confusion matrix per part (title, actual labels, predicted labels), side by side."""
    import numpy as np

    plt = pyplot()
    side = max(SIZE[1], 0.6 * len(classes) + 1.5)
    figure, axes = plt.subplots(1, len(parts), figsize=((side + 1) * len(parts), side), dpi=dpi, squeeze=False)
    for ax, (title, actual, predicted) in zip(axes[0], parts):
        cells = confusion_matrix(actual, predicted, classes, normalize)
        image = ax.imshow(cells, cmap="Blues", vmin=0, vmax=None if normalize == "none" else 1)
        ax.set_xticks(range(len(classes)), classes, rotation=45 if len(classes) > 4 else 0)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        n = len(actual)
        accuracy = sum(a == p for a, p in zip(actual, predicted)) / max(n, 1)
        ax.set_title(f"{title}: accuracy {accuracy:.3f} on {n} samples", fontsize="medium")
        top = cells.max() if cells.size else 0
        for (row, column), value in np.ndenumerate(cells):
            text = str(value) if normalize == "none" else f"{value:.2f}"
            ax.text(column, row, text, ha="center", va="center", color="white" if value > top / 2 else "black")
        figure.colorbar(image, ax=ax)
    figure.tight_layout()
    return figure


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
    if not all(isinstance(k, str) for k in keys):
        try:
            return np.asarray([float(k) for k in keys])  # row numbers, years
        except (ValueError, TypeError):
            return keys
    try:
        return pd.to_datetime(pd.Series(keys), format="mixed").to_numpy()
    except (ValueError, TypeError):
        return keys
