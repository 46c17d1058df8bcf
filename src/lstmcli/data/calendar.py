"""The index of a series as a calendar: its frequency, its season, its future keys.

`predict --future` labels the rows past the end of a series with real keys,
continued from the index at the frequency it shows (monthly `2023-12` is
followed by `2024-01`), written in the index's own format; the seasonal
baselines and `--transform auto` take the season length from that frequency.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmcli.errors import DataError

# pandas' offset name (its prefix before any '-') → what people call it
_KINDS = {
    "YS": "yearly",
    "YE": "yearly",
    "Y": "yearly",
    "BYS": "yearly",
    "BYE": "yearly",
    "A": "yearly",
    "AS": "yearly",
    "QS": "quarterly",
    "QE": "quarterly",
    "Q": "quarterly",
    "BQS": "quarterly",
    "BQE": "quarterly",
    "MS": "monthly",
    "ME": "monthly",
    "M": "monthly",
    "BMS": "monthly",
    "BME": "monthly",
    "W": "weekly",
    "D": "daily",
    "B": "business-daily",
    "h": "hourly",
    "H": "hourly",
    "min": "minutely",
    "T": "minutely",
    "s": "secondly",
    "S": "secondly",
}
SEASONS = {"monthly": 12, "quarterly": 4, "weekly": 52, "daily": 7, "business-daily": 5, "hourly": 24, "minutely": 60}

_QUARTER = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$", re.IGNORECASE)
# Candidate spellings of a date, tried in order: the first that writes every value back exactly wins.
_DATE_FORMATS = (
    "%Y-%m",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y/%m",
    "%Y%m%d",
    "%Y%m",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%b %Y",
    "%Y %b",
    "%Y-%b",
    "%B %Y",
    "%Y",
)


@dataclass(frozen=True)
class Frequency:
    """How an index advances from one row to the next.

    Args:
        kind: "monthly", "quarterly", "yearly", "daily", "hourly", …, or
            "integer" for whole numbers (row numbers, years written as numbers).
        offset: pandas' offset alias for dates (e.g. "MS"), or None for integers.
        step: The increment of an integer index.
        style: How keys are written: "integer", "quarter" (2023Q4, 2023 Q4, …) or a strftime format.
        quarter_sep: The text between year and quarter in the "quarter" style.
    """

    kind: str
    offset: str | None = None
    step: int = 1
    style: str = "integer"
    quarter_sep: str = ""

    def following(self, last, count: int) -> list:
        """The `count` keys after `last`, written as the index writes its keys."""
        if self.style == "integer":
            return [int(last) + self.step * (i + 1) for i in range(count)]
        if self.style == "quarter":
            year, quarter = _split_quarter(str(last))
            period = pd.Period(year=year, quarter=quarter, freq="Q")
            return [f"{p.year}{self.quarter_sep}Q{p.quarter}" for p in (period + i + 1 for i in range(count))]
        start = pd.Timestamp(_parse(pd.Series([last]), self.style).iloc[0])
        dates = pd.date_range(start, periods=count + 1, freq=self.offset)[1:]
        return [d.strftime(self.style) for d in dates]


def infer_frequency(values) -> Frequency:
    """The frequency of an index column, from its values in order.

    Args:
        values: The index column: whole numbers (years, row numbers) or dates
            written as text (`2023-12`, `2023-12-31`, `2023Q4`, `1990`, …).

    Returns:
        The Frequency, which continues the index with `following`.

    Raises:
        DataError: if the index has fewer than two values, or does not advance
            by one regular step (irregular dates, gaps, or text that is not a date).
    """
    series = pd.Series(values).reset_index(drop=True)
    if len(series) < 2:
        raise DataError("an index needs at least two values to show its frequency; give a longer series")
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        numbers = series.to_numpy(dtype=np.float64)
        steps = np.diff(numbers)
        if np.all(numbers == np.round(numbers)) and steps[0] > 0 and np.all(steps == steps[0]):
            return Frequency("integer", step=int(steps[0]))
        raise DataError(
            "the index's numbers do not advance by one fixed whole step "
            f"(first steps: {', '.join(f'{s:g}' for s in steps[:3])}); a forecast's keys cannot be continued from it"
        )
    text = series.astype(str).str.strip()
    quarters = text.str.match(_QUARTER)
    if quarters.all():
        parts = [_split_quarter(v) for v in text]
        ordinals = np.array([y * 4 + q for y, q in parts])
        if np.all(np.diff(ordinals) == 1):
            separator = re.match(r"^\d{4}(\s*-?\s*)Q", text.iloc[-1], re.IGNORECASE).group(1)
            return Frequency("quarterly", "QS", style="quarter", quarter_sep=separator)
        raise DataError("the index's quarters are not consecutive; a forecast's keys cannot be continued from it")
    style = _date_format(text)
    dates = pd.DatetimeIndex(_parse(text, style))
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset, not its name
        warnings.simplefilter("ignore")
        found = pd.infer_freq(dates) if len(dates) >= 3 else None
    offset = getattr(found, "freqstr", found)
    if offset is None:
        raise DataError(
            f"the index's dates ({text.iloc[0]}, {text.iloc[1]}, …) do not advance by one regular step; "
            "a forecast's keys cannot be continued from them: fill the gaps, or define the model without --index"
        )
    prefix = re.match(r"^\d*([A-Za-z]+)", offset).group(1)
    kind = _KINDS.get(prefix, prefix)
    return Frequency(kind, offset, style=style)


def season_length(freq: Frequency | str | None) -> int | None:
    """The usual season of a frequency: 12 for monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly.

    Args:
        freq: A Frequency, or its kind ("monthly", …).

    Returns:
        The season length in rows, or None where a frequency has no usual
        season (yearly, integer row numbers).
    """
    if freq is None:
        return None
    kind = freq.kind if isinstance(freq, Frequency) else str(freq)
    return SEASONS.get(kind)


def _split_quarter(text: str) -> tuple[int, int]:
    match = _QUARTER.match(text.strip())
    if match is None:
        raise DataError(f"the index value {text!r} is not a quarter like 2023Q4")
    return int(match.group(1)), int(match.group(2))


def _parse(text: pd.Series, style: str) -> pd.Series:
    return pd.to_datetime(text, format=style)


def _date_format(text: pd.Series) -> str:
    """The first candidate format that reads every value and writes it back unchanged."""
    for style in _DATE_FORMATS:
        try:
            dates = _parse(text, style)
        except (ValueError, TypeError):
            continue
        if (dates.dt.strftime(style) == text).all():
            return style
    raise DataError(
        f"the index's values ({text.iloc[0]!r}, …) are neither whole numbers nor dates in a format lstmcli "
        "knows (2023-12, 2023-12-31, 2023Q4, 2023-12-31 08:00, …); a forecast's keys cannot be continued from them"
    )
