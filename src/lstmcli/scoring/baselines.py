"""The forecasts a model must beat: naive last value, seasonal naive, and what the transforms forecast alone.

A forecaster checks these first. Each is made for exactly the targets and
steps the model forecast, from the series' own past in the data's units:
step h of a window ending on row T is forecast as row T (naive) or as the row
one season before the target, T + h - P·⌈h/P⌉ (seasonal naive). A model with
target transforms has a third: its own forecast with the network's output set
to zero (`predictor.transforms_forecast`: with seasonal and plain differencing,
seasonal naive plus last season's change). `skill` is naive RMSE ÷ model
RMSE: above 1 the model earns its keep; `transforms_skill` is what the network
adds to its transforms.
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


def naive_scale(values: np.ndarray, lag: int = 1) -> list[float]:
    """MASE's scale: the mean absolute change over `lag` rows of each target column, in-sample
    (lag 1: the naive forecast's error; lag P: the seasonal naive's, for the seasonal MASE)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= lag:
        return []
    return [float(v) for v in np.mean(np.abs(values[lag:] - values[:-lag]), axis=0)]


def season_of(explicit: int | None, spec, prep: dict | None, frame) -> int | None:
    """The seasonal naive's period: `explicit` (--season at evaluate), else define's, else the
    period of a seasonal difference fit chose, else the season of the index's frequency."""
    if explicit is not None:
        return explicit
    if spec.season:
        return spec.season
    from lstmcli.data import rowindex, transforms

    seasonal = [lag for lag in transforms.lags((prep or {}).get("transforms") or []) if lag > 1]
    return seasonal[0] if seasonal else rowindex.index_season(frame, spec)


def percentage_errors(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """MAPE and sMAPE in percent, in the data's units.

    MAPE divides by the actual value, so actual zeros are left out of it
    (`mape_left_out` counts them; with every actual zero there is no MAPE);
    sMAPE divides by the mean of |actual| and |forecast| and counts a forecast
    of exactly 0 for an actual 0 as no error.
    """
    predicted, truth = np.asarray(predicted, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    error = np.abs(predicted - truth)
    found = {}
    nonzero = truth != 0
    if nonzero.any():
        found["original_mape"] = float(100.0 * np.mean(error[nonzero] / np.abs(truth[nonzero])))
    if not nonzero.all():
        found["mape_left_out"] = int(np.count_nonzero(~nonzero))
    both = np.abs(truth) + np.abs(predicted)
    found["original_smape"] = float(
        100.0 * np.mean(np.divide(2.0 * error, both, out=np.zeros_like(error), where=both > 0))
    )
    return found


# The names `percentage_errors` reports (MAPE only where an actual value is not 0; the zeros' count where one is).
PERCENTAGE_METRICS = ("original_mape", "original_smape", "mape_left_out")
# The names `forecast_metrics` reports (with a season and a MASE scale), and per step with a horizon.
FORECAST_METRICS = (
    "original_rmse",
    "original_mae",
    *PERCENTAGE_METRICS,
    "naive_rmse",
    "naive_mae",
    "skill",
    "mase",
    "transforms_rmse",
    "transforms_mae",
    "transforms_skill",
    "season",
    "seasonal_naive_rmse",
    "seasonal_naive_mae",
    "seasonal_skill",
    "seasonal_mase",
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
    seasonal_scale: dict | None = None,
    transformed: np.ndarray | None = None,
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
        seasonal_scale: The seasonal MASE's {"season": P, "scale": [...]}
            (`naive_scale(rows, P)` of the training rows), used when P is `season`.
        transformed: What the model's transforms forecast alone, in the
            model's layout, or None for a model without transforms.

    Returns:
        original_rmse, original_mae, original_mape, original_smape (see
        `percentage_errors`), naive_rmse, naive_mae, skill, mase; with
        transforms, transforms_rmse, transforms_mae, transforms_skill; with a
        season, season, seasonal_naive_rmse, seasonal_naive_mae,
        seasonal_skill and seasonal_mase; with more than one step,
        step_H_rmse, step_H_naive_rmse and step_H_skill for each step.
    """
    horizon = target_rows.shape[1]
    k = truth.shape[1] // horizon
    error = (predicted.astype(np.float64) - truth).reshape(len(truth), horizon, k)
    naive_error = (naive(history, target_rows) - truth).reshape(error.shape)
    metrics = {
        "original_rmse": _rmse(error),
        "original_mae": _mae(error),
        **percentage_errors(predicted, truth),
        "naive_rmse": _rmse(naive_error),
        "naive_mae": _mae(naive_error),
    }
    metrics["skill"] = _ratio(metrics["naive_rmse"], metrics["original_rmse"])
    if _usable(scale, k):
        metrics["mase"] = _mase(error, scale)
    if transformed is not None:
        transforms_error = (np.asarray(transformed, dtype=np.float64) - truth).reshape(error.shape)
        metrics["transforms_rmse"] = _rmse(transforms_error)
        metrics["transforms_mae"] = _mae(transforms_error)
        metrics["transforms_skill"] = _ratio(metrics["transforms_rmse"], metrics["original_rmse"])
    seasonal = seasonal_naive(history, target_rows, season) if season else None
    if seasonal is not None:
        seasonal_error = (seasonal - truth).reshape(error.shape)
        metrics["season"] = season
        metrics["seasonal_naive_rmse"] = _rmse(seasonal_error)
        metrics["seasonal_naive_mae"] = _mae(seasonal_error)
        metrics["seasonal_skill"] = _ratio(metrics["seasonal_naive_rmse"], metrics["original_rmse"])
        if seasonal_scale and seasonal_scale.get("season") == season and _usable(seasonal_scale.get("scale"), k):
            metrics["seasonal_mase"] = _mase(error, seasonal_scale["scale"])
    if horizon > 1:
        for h in range(horizon):
            rmse = _rmse(error[:, h])
            metrics[f"step_{h + 1}_rmse"] = rmse
            metrics[f"step_{h + 1}_naive_rmse"] = _rmse(naive_error[:, h])
            metrics[f"step_{h + 1}_skill"] = _ratio(metrics[f"step_{h + 1}_naive_rmse"], rmse)
    return metrics


def _usable(scale, k: int) -> bool:
    return bool(scale) and len(scale) == k and all(s > 0 for s in scale)


def _mase(error: np.ndarray, scale) -> float:
    """The mean over targets of each target's MAE over its scale."""
    return float(np.mean(np.mean(np.abs(error), axis=(0, 1)) / np.asarray(scale, dtype=np.float64)))


def _rmse(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(error))))


def _mae(error: np.ndarray) -> float:
    return float(np.mean(np.abs(error)))


def _ratio(baseline: float, model: float) -> float:
    return float(baseline / model) if model > 0 else float("inf")
