"""Target transforms: log, differencing and seasonal differencing, and how `auto` picks them.

A transform applies to the target columns (and to those columns where they are
also features, so the network sees the history it forecasts in the same
terms). Differencing is one linear filter: `w_t = z_t - sum(c_i * z_{t-i})`,
the product of `(1 - B^lag)` over the differences asked for, so inverting a
forecast adds back the lagged values, from the window or from the steps
already forecast. The forward direction runs here in numpy (training targets
and scaling statistics) and again in the saved graph, with its inverse (see
`predictor`); the tests hold the two to the same numbers.

This module is light (no numpy at import), so `define` can check the names
before any heavy import.
"""

from __future__ import annotations

from lstmcli.errors import ConfigError, DataError

AUTO = "auto"
NAMES = ("log", "diff", "seasonal-diff:P", AUTO)
# auto's thresholds, after the rules auto.arima and STL-based tools use.
KPSS_CRITICAL_5PCT = 0.463  # level-stationarity KPSS statistic at 5% (Kwiatkowski et al., 1992)
SEASONAL_STRENGTH = 0.64  # Hyndman & Athanasopoulos: seasonal differencing when F_s > 0.64
LOG_SPREAD_RATIO = 1.5  # log when the spread of high-level periods is this many times the low ones'


def parse(items: list[str] | None) -> list[str]:
    """Check and normalise `--transform` values, in the order given.

    Raises:
        ConfigError: for an unknown name, a bad period, or `auto` mixed with others.
    """
    chosen = []
    for item in items or []:
        name = str(item).strip().lower()
        if name.startswith("seasonal-diff"):
            _, _, period = name.partition(":")
            if not period.isdigit() or int(period) < 2:
                raise ConfigError(
                    f"seasonal-diff needs its period, e.g. seasonal-diff:12 for monthly data. Received: {item!r}"
                )
            name = f"seasonal-diff:{int(period)}"
        elif name not in ("log", "diff", AUTO):
            from lstmcli.model.tasks import did_you_mean

            raise ConfigError(f"unknown transform {item!r}{did_you_mean(name, NAMES)}; use {', '.join(NAMES)}")
        chosen.append(name)
    if AUTO in chosen and len(chosen) > 1:
        raise ConfigError(
            f"--transform auto chooses the transforms itself; give auto alone or name them. Received: {','.join(chosen)}"
        )
    if chosen.count("log") > 1:
        raise ConfigError("--transform log is given twice; a series is logged once")
    return chosen


def lags(transforms: list[str]) -> list[int]:
    """The lag of each differencing transform, in order."""
    return [1 if t == "diff" else int(t.split(":")[1]) for t in transforms if t != "log"]


def filter_coefficients(transforms: list[str]) -> dict[int, float]:
    """{lag i: c_i} of `w_t = z_t - sum(c_i z_{t-i})` for the differences in `transforms`."""
    poly = {0: 1.0}
    for lag in lags(transforms):
        product: dict[int, float] = {}
        for power, coef in poly.items():
            product[power] = product.get(power, 0.0) + coef
            product[power + lag] = product.get(power + lag, 0.0) - coef
        poly = product
    return {i: -c for i, c in sorted(poly.items()) if i > 0 and c != 0}


def context(transforms: list[str]) -> int:
    """Rows of history the differencing needs before a window's first differenced step."""
    return sum(lags(transforms))


def forward(values, transforms: list[str], where: str, names: list[str]):
    """Apply `transforms` to a series (rows, channels); the first `context` rows become NaN.

    Raises:
        DataError: for a non-positive value under `log`, naming its row and column.
    """
    import numpy as np

    z = np.asarray(values, dtype=np.float64)
    if "log" in transforms:
        check_positive(z, where, names)
        z = np.log(z)
    coefficients = filter_coefficients(transforms)
    if not coefficients:
        return z
    w = np.full_like(z, np.nan)
    lag = max(coefficients)
    w[lag:] = z[lag:]
    for i, c in coefficients.items():
        w[lag:] -= c * z[lag - i : len(z) - i]
    return w


def check_positive(values, where: str, names: list[str], rows=None) -> None:
    """Refuse a non-positive value (or NaN) under `log`, naming its row (`rows[i]`, else i) and column.

    Raises:
        DataError: for the first such cell.
    """
    import numpy as np

    bad = ~(np.asarray(values) > 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"{where}, row {row if rows is None else rows[row]}, column {names[col]!r} holds {float(values[row, col]):g}; the log transform needs "
            f"positive values, so drop 'log' from --transform or shift the data"
        )


def check_offsets(transforms: list[str], offsets: list[int]) -> None:
    """Refuse differencing whose inverse would need a step the model does not forecast.

    Raises:
        ConfigError: naming the missing step.
    """
    known = set(offsets)
    for offset in offsets:
        for i in filter_coefficients(transforms):
            back = offset - i
            if back > 0 and back not in known:
                raise ConfigError(
                    f"differencing a forecast {offset} steps ahead needs the forecast {back} steps ahead, which the "
                    f"model does not make; forecast every step up to the horizon or drop the differencing"
                )


def choose(values, season: int | None) -> tuple[list[str], list[str]]:
    """`--transform auto`: pick transforms for a training series the way auto.arima picks d and D.

    - log, when the series is positive and its spread grows with its level
      (the spread of the upper third of periods is LOG_SPREAD_RATIO times the lower third's);
    - seasonal-diff:P, when a season P is known and the seasonal strength
      F_s = max(0, 1 - var(remainder) / var(season + remainder)) exceeds SEASONAL_STRENGTH;
    - diff, when a KPSS level-stationarity test rejects at 5% after the above.

    Args:
        values: The training series (rows, channels) of the target columns.
        season: The season length, if known (from --season or the index frequency).

    Returns:
        (the transforms, one reason per decision for the fit summary).
    """
    import numpy as np

    y = np.asarray(values, dtype=np.float64)
    y = y[np.isfinite(y).all(axis=1)]
    chosen, why = [], []
    period = season if season and len(y) >= 3 * season else None
    if len(y) < 8:
        return [], [f"{len(y)} rows are too few to test; no transform"]
    if (y > 0).all():
        ratio = _spread_ratio(y, period or max(4, len(y) // 12))
        if ratio >= LOG_SPREAD_RATIO:
            chosen.append("log")
            why.append(f"log: the spread grows with the level ({ratio:.2f}× from the low to the high periods)")
            y = np.log(y)
        else:
            why.append(f"no log: the spread does not grow with the level ({ratio:.2f}×)")
    else:
        why.append("no log: the series is not positive")
    if period:
        strength = _seasonal_strength(y, period)
        if strength > SEASONAL_STRENGTH:
            chosen.append(f"seasonal-diff:{period}")
            why.append(f"seasonal-diff:{period}: seasonal strength {strength:.2f} > {SEASONAL_STRENGTH}")
            y = y[period:] - y[:-period]
        else:
            why.append(f"no seasonal-diff:{period}: seasonal strength {strength:.2f} ≤ {SEASONAL_STRENGTH}")
    elif season:
        why.append(f"no seasonal-diff:{season}: fewer than three seasons of data")
    else:
        why.append("no seasonal-diff: no season known (give --season P or an index with a frequency)")
    statistic = max(_kpss(column) for column in y.T)
    if statistic > KPSS_CRITICAL_5PCT:
        chosen.append("diff")
        why.append(f"diff: KPSS {statistic:.2f} > {KPSS_CRITICAL_5PCT} (not level-stationary)")
    else:
        why.append(f"no diff: KPSS {statistic:.2f} ≤ {KPSS_CRITICAL_5PCT} (level-stationary)")
    return chosen, why


def _spread_ratio(y, period: int) -> float:
    import numpy as np

    blocks = [y[i : i + period] for i in range(0, len(y) - period + 1, period)]
    if len(blocks) < 3:
        return 1.0
    levels = np.array([b.mean() for b in blocks])
    spreads = np.array([b.std() for b in blocks])
    order = np.argsort(levels)
    third = max(1, len(blocks) // 3)
    low, high = spreads[order[:third]].mean(), spreads[order[-third:]].mean()
    return float(high / low) if low > 0 else 1.0


def _seasonal_strength(y, period: int) -> float:
    """F_s of a classical additive decomposition (centred moving-average trend)."""
    import numpy as np

    strengths = []
    for series in y.T:
        kernel = np.ones(period + (period % 2 == 0)) / period
        if period % 2 == 0:
            kernel[0] = kernel[-1] = 0.5 / period
        trend = np.convolve(series, kernel, mode="valid")
        pad = (len(series) - len(trend)) // 2
        detrended = series[pad : pad + len(trend)] - trend
        phase = (np.arange(len(detrended)) + pad) % period
        seasonal = np.array([detrended[phase == p].mean() for p in range(period)])[phase]
        remainder = detrended - seasonal
        denominator = np.var(detrended)
        strengths.append(max(0.0, 1.0 - np.var(remainder) / denominator) if denominator > 0 else 0.0)
    return float(max(strengths))


def _kpss(series) -> float:
    """The KPSS level-stationarity statistic, with a Bartlett long-run variance (lags 4(n/100)^(1/4))."""
    import numpy as np

    e = series - series.mean()
    n = len(e)
    s = np.cumsum(e)
    lags = int(4 * (n / 100) ** 0.25)
    variance = np.dot(e, e) / n
    for lag in range(1, lags + 1):
        variance += 2 * (1 - lag / (lags + 1)) * np.dot(e[lag:], e[:-lag]) / n
    return float(np.dot(s, s) / (n * n * variance)) if variance > 0 else 0.0
