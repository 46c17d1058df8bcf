"""The forecasts a model must beat: naive last value and seasonal naive.

A forecaster checks these first. Each is made for exactly the targets and
steps the model forecast, from the series' own past in the data's units:
step h of a window ending on row T is forecast as row T (naive) or as the row
one season before the target, T + h - P·⌈h/P⌉ (seasonal naive). `skill` is
naive RMSE ÷ model RMSE: above 1 the model earns its keep.
"""

from __future__ import annotations

import numpy as np


def naive(history: np.ndarray, target_rows: np.ndarray) -> np.ndarray:
    """Last-value forecasts, (windows, horizon × targets) step-major, like the model's outputs.

    Args:
        history: The series' targets by row, (rows, targets).
        target_rows: Each window's target rows, (windows, horizon).
    """
    last = history[target_rows[:, 0] - 1]  # (windows, targets): the window's last row
    return np.tile(last, (1, target_rows.shape[1]))


def seasonal_naive(history: np.ndarray, target_rows: np.ndarray, season: int) -> np.ndarray | None:
    """Seasonal-naive forecasts in the model's output layout, or None where the
    series does not reach one season back from some window's first target."""
    steps = np.arange(1, target_rows.shape[1] + 1)
    source = target_rows - season * ((steps - 1) // season + 1)
    if source.min() < 0:
        return None
    return history[source].reshape(len(target_rows), -1)


def naive_scale(values: np.ndarray) -> list[float]:
    """MASE's scale: the mean absolute one-step change of each target column, in-sample."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return []
    return [float(v) for v in np.mean(np.abs(np.diff(values, axis=0)), axis=0)]


# The names `forecast_metrics` reports (with a season and a MASE scale), and per step with a horizon.
FORECAST_METRICS = (
    "original_rmse",
    "original_mae",
    "naive_rmse",
    "naive_mae",
    "skill",
    "mase",
    "season",
    "seasonal_naive_rmse",
    "seasonal_naive_mae",
    "seasonal_skill",
)
STEP_METRICS = ("step_{}_rmse", "step_{}_naive_rmse", "step_{}_skill")


def forecast_metrics(
    predicted: np.ndarray,
    truth: np.ndarray,
    history: np.ndarray,
    target_rows: np.ndarray,
    *,
    season: int | None,
    scale: list[float] | None,
) -> dict:
    """The model's errors beside the baselines', over all steps and per step.

    Args:
        predicted: The model's forecasts, (windows, horizon × targets) step-major, data units.
        truth: The true values, in the same layout.
        history: The series' targets by row (for the baselines).
        target_rows: Each window's target rows, (windows, horizon).
        season: The seasonal naive's period, or None for none.
        scale: MASE's per-target scale (`naive_scale` of the training rows),
            or None to leave MASE out.

    Returns:
        original_rmse, original_mae, naive_rmse, naive_mae, skill, mase and,
        with a season, season, seasonal_naive_rmse, seasonal_naive_mae,
        seasonal_skill; with more than one step, step_H_rmse, step_H_naive_rmse
        and step_H_skill for each step.
    """
    horizon = target_rows.shape[1]
    k = truth.shape[1] // horizon
    error = (predicted.astype(np.float64) - truth).reshape(len(truth), horizon, k)
    naive_error = (naive(history, target_rows) - truth).reshape(error.shape)
    metrics = {
        "original_rmse": _rmse(error),
        "original_mae": _mae(error),
        "naive_rmse": _rmse(naive_error),
        "naive_mae": _mae(naive_error),
    }
    metrics["skill"] = _ratio(metrics["naive_rmse"], metrics["original_rmse"])
    if scale and len(scale) == k and all(s > 0 for s in scale):
        metrics["mase"] = float(np.mean(np.mean(np.abs(error), axis=(0, 1)) / np.asarray(scale)))
    seasonal = seasonal_naive(history, target_rows, season) if season else None
    if seasonal is not None:
        seasonal_error = (seasonal - truth).reshape(error.shape)
        metrics["season"] = season
        metrics["seasonal_naive_rmse"] = _rmse(seasonal_error)
        metrics["seasonal_naive_mae"] = _mae(seasonal_error)
        metrics["seasonal_skill"] = _ratio(metrics["seasonal_naive_rmse"], metrics["original_rmse"])
    if horizon > 1:
        for h in range(horizon):
            rmse = _rmse(error[:, h])
            metrics[f"step_{h + 1}_rmse"] = rmse
            metrics[f"step_{h + 1}_naive_rmse"] = _rmse(naive_error[:, h])
            metrics[f"step_{h + 1}_skill"] = _ratio(metrics[f"step_{h + 1}_naive_rmse"], rmse)
    return metrics


def _rmse(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(error))))


def _mae(error: np.ndarray) -> float:
    return float(np.mean(np.abs(error)))


def _ratio(baseline: float, model: float) -> float:
    return float(baseline / model) if model > 0 else float("inf")
