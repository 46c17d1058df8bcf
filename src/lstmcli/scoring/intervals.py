"""Prediction intervals by split conformal prediction, and the scores that judge them.

fit keeps the residuals (actual − prediction, in the data's units) of windows it
held out, one list per model output column (`record.fit["calibration"]`). The
interval at level q of column j is the prediction ± the k-th smallest |residual|
of column j, k = ⌈(n + 1)·q⌉ of n residuals: for exchangeable windows it covers
the truth with probability at least q (Vovk et al.; Lei et al. 2018, the
"split conformal" of NeuralForecast and statsforecast). With fewer than
⌈q / (1 − q)⌉ residuals k exceeds n; the interval then takes the largest
|residual| and is *short*: its guarantee does not hold, and callers say so.

Plain numpy: predict, evaluate, export and plot share these numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lstmcli.errors import ArtifactError, ConfigError
from lstmcli.model import tasks

DEFAULT_LEVELS = (0.8, 0.95)  # what evaluate, export and plot give a calibrated model unless told
METHOD = "split conformal"
NOT_CALIBRATED = (
    "this model has no held-out residuals to calibrate intervals; fit it with validation "
    "(the default guard, --validation-split or --validation-data)"
)
_EPSILON = 1e-9  # (n + 1)·q computed in floats: 20 × 0.95 must be 19, not 19.000000000000004


@dataclass(frozen=True)
class HalfWidths:
    """The half-width of the level-q interval of each output column.

    Args:
        level: q, in (0, 1).
        widths: One half-width per column, in the data's units.
        windows: The residuals per column they come from (n).
        short: Too few residuals for the level (n < `needed_windows(level)`):
            the widths are the largest residuals, and coverage may fall below q.
    """

    level: float
    widths: np.ndarray
    windows: int
    short: bool


def label(level: float) -> str:
    """The level as a percentage for names: 0.8 → "80", 0.975 → "97.5"."""
    return f"{level * 100:.6f}".rstrip("0").rstrip(".")


def needed_windows(level: float) -> int:
    """The fewest residuals for which the level-q interval keeps its guarantee: ⌈q / (1 − q)⌉."""
    return max(1, math.ceil(level / (1.0 - level) - _EPSILON))


def rank(n: int, level: float) -> int:
    """k = ⌈(n + 1)·q⌉: which smallest |residual| is the half-width (k > n: too few residuals)."""
    return math.ceil((n + 1) * level - _EPSILON)


def residuals_of(calibration: dict) -> np.ndarray:
    """The residuals as an array (columns, n)."""
    return np.asarray(calibration["residuals"], dtype=np.float64).reshape(len(calibration["residuals"]), -1)


def half_widths(calibration: dict, level: float) -> HalfWidths:
    """The split-conformal half-width of each column for level `level` (see the module's docstring)."""
    if not 0.0 < level < 1.0:
        raise ConfigError(f"an interval's level is a number between 0 and 1, such as 0.8. Received: {level!r}")
    magnitudes = np.sort(np.abs(residuals_of(calibration)), axis=1)
    n = magnitudes.shape[1]
    k = rank(n, level)
    return HalfWidths(level, magnitudes[:, min(k, n) - 1], n, k > n)


def bounds(predicted, calibration: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The level's lower and upper bounds around `predicted`, (samples, columns) in the model's output order.

    A forecast cut short of the horizon (its first steps only) may have fewer
    columns than the calibration: each column keeps its own half-width.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    widths = half_widths(calibration, level).widths
    if predicted.shape[-1] > len(widths):
        raise ConfigError(
            f"the calibration has residuals for {len(widths)} outputs but the forecast has {predicted.shape[-1]}"
        )
    widths = widths[: predicted.shape[-1]]
    return predicted - widths, predicted + widths


def coverage(truth, lower, upper) -> float:
    """The fraction of actual values inside [lower, upper]."""
    truth = np.asarray(truth, dtype=np.float64)
    return float(np.mean((truth >= lower) & (truth <= upper)))


def mean_width(lower, upper) -> float:
    return float(np.mean(np.asarray(upper, dtype=np.float64) - lower))


def winkler(truth, lower, upper, level: float) -> float:
    """The mean interval (Winkler) score: the width, plus 2/α times how far a value falls outside, α = 1 − q.

    Lower is better; it rewards narrow intervals and punishes misses in
    proportion to their distance (Gneiting & Raftery 2007, §6.2).
    """
    truth = np.asarray(truth, dtype=np.float64)
    alpha = 1.0 - level
    below = np.where(truth < lower, lower - truth, 0.0)
    above = np.where(truth > upper, truth - upper, 0.0)
    return float(np.mean((upper - lower) + (2.0 / alpha) * (below + above)))


def metric_names(levels) -> list[str]:
    """The names `scores` reports for these levels."""
    return [f"{kind}_{label(q)}" for q in levels for kind in ("coverage", "width", "winkler")] + ["calibration_windows"]


def scores(predicted, truth, calibration: dict, levels) -> dict[str, float]:
    """Each level's coverage, mean width and Winkler score on `truth`, and the residuals they rest on.

    Returns:
        coverage_L, width_L and winkler_L for each level (L = `label`), and
        calibration_windows (n).
    """
    found: dict[str, float] = {}
    for level in levels:
        lower, upper = bounds(predicted, calibration, level)
        name = label(level)
        found[f"coverage_{name}"] = coverage(truth, lower, upper)
        found[f"width_{name}"] = mean_width(lower, upper)
        found[f"winkler_{name}"] = winkler(truth, lower, upper, level)
    found["calibration_windows"] = residuals_of(calibration).shape[1]
    return found


def short_note(level: float, windows: int) -> str | None:
    """A warning's words when `windows` residuals are too few for the level, else None."""
    needed = needed_windows(level)
    if windows >= needed:
        return None
    return (
        f"the {label(level)}% interval rests on {windows} held-out windows, fewer than the {needed} it needs; "
        f"its bounds are the widest residuals and may cover less than {label(level)}% (hold out more windows at fit)"
    )


def short_notes(metrics: dict) -> list[str]:
    """The warnings for the levels `scores` reported from too few residuals (see `short_note`)."""
    windows = metrics.get("calibration_windows")
    levels = [float(k.removeprefix("coverage_")) / 100 for k in metrics if k.startswith("coverage_")]
    return [n for n in (short_note(q, windows) for q in levels) if n] if windows else []


def describe(calibration: dict) -> dict:
    """What inspect shows of a calibration: how it was made, and the default levels' half-widths per output."""
    n = residuals_of(calibration).shape[1]
    return {
        "method": calibration["method"],
        "held_out": calibration.get("held_out"),
        "windows": n,
        "half_widths": {label(q): half_widths(calibration, q).widths.tolist() for q in DEFAULT_LEVELS},
    }


def calibration_of(record, flag: str = "--interval") -> dict:
    """The record's calibration, checked usable for intervals.

    Raises:
        ConfigError: for a classifier, a model fitted without held-out windows,
            or a calibration by a method lstmcli does not know.
        ArtifactError: for residuals of another number of outputs than the model's.
    """
    if _classifies(record):
        raise ConfigError(
            f"{flag} gives the range of a regression forecast; this is a {record.task} classifier, whose "
            "probabilities already say how sure it is: drop " + flag
        )
    calibration = (record.fit or {}).get("calibration")
    if not calibration:
        raise ConfigError(NOT_CALIBRATED)
    if calibration.get("method") != METHOD:
        raise ConfigError(
            f"this model's intervals were calibrated by {calibration.get('method')!r}, which this lstmcli does not "
            f"know (it knows {METHOD!r}); use the lstmcli that fitted it"
        )
    units = record.architecture.get("units")
    if len(calibration["residuals"]) != units:
        raise ArtifactError(
            f"the model's record holds residuals for {len(calibration['residuals'])} outputs, but the model has "
            f"{units}; fit it again with lstmcli"
        )
    return calibration


def levels_for(record, asked) -> list[float]:
    """The levels a step reports: those asked for (refused where the model cannot give them), else the
    defaults where the model is calibrated, else none."""
    if asked:
        calibration_of(record)
        return list(asked)
    if _classifies(record) or not (record.fit or {}).get("calibration"):
        return []
    calibration_of(record)
    return list(DEFAULT_LEVELS)


def _classifies(record) -> bool:
    return tasks.get_task(record.task).classification
