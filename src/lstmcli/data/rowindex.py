"""The rows a step reads and what keys them: `--rows START:END` and the index column.

`select_rows` reads a `--rows` range against the index (like `.loc`) or row
numbers (like `.iloc`); `row_keys` keys rows by the index, continued at its
frequency past the end of the file (predict --future); `index_season` is the
season length that frequency implies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmcli.data.dataspec import DataSpec
from lstmcli.errors import ConfigError, DataError

FREQUENCY_ROWS = 120  # the index's last rows that show its frequency (ten years of months)


def row_keys(frame: pd.DataFrame, spec: DataSpec, rows: np.ndarray) -> np.ndarray:
    """The keys of (0-based) `rows`: the index column's values, continued past the end.

    Without an index the key is the 0-based row number, as pandas counts
    (`--rows 2:4` is keyed 2 and 3), continuing past the end of the file. Rows
    past the end of the file are keyed by the index continued at the
    frequency its last values show.

    Raises:
        DataError: if rows past the end of the file need keys and the index
            does not advance regularly (see `calendar.infer_frequency`).
    """
    if not spec.index:
        return rows
    values = frame[spec.index].to_numpy()
    keys = np.empty(rows.shape, dtype=object)
    inside = rows < len(frame)
    keys[inside] = values[rows[inside]]
    if not inside.all():
        from lstmcli.data import calendar

        beyond = int(rows.max()) - len(frame) + 1
        freq = calendar.infer_frequency(frame[spec.index].iloc[-FREQUENCY_ROWS:])
        following = np.empty(beyond, dtype=object)
        following[:] = freq.following(values[len(frame) - 1], beyond)
        keys[~inside] = following[rows[~inside] - len(frame)]
    return keys


def select_rows(frame: pd.DataFrame, spec: DataSpec, text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """The rows `--rows START:END` selects, as 0-based positions (first, end), end excluded.

    With an index column, START and END are values of it and both ends are
    included, as with pandas' `.loc` (dates may be partial: `2019` is all of
    2019); without one they are 0-based row numbers, END excluded, as with `.iloc`.

    Raises:
        ConfigError: if the text is not START:END.
        DataError: if the range selects no rows or the index is not in order.
    """
    if text is None:
        return None
    if isinstance(text, tuple):  # positions chosen by the core itself (backtest's folds)
        return text
    if ":" not in text:
        raise ConfigError(
            f"--rows takes START:END (either may be empty, as in :2019-12 or 2020-01:). Received: {text!r}"
        )
    start, end = (part.strip() or None for part in text.split(":", 1))
    if spec.index is None:
        try:
            bounds = [None if v is None else int(v) for v in (start, end)]
        except ValueError:
            raise ConfigError(
                f"--rows {text}: without an index column START and END are row numbers; "
                "define the model with --index to select by its values"
            ) from None
        lo, hi, _ = slice(*bounds).indices(len(frame))
    else:
        column = frame[spec.index]
        if pd.api.types.is_numeric_dtype(column):
            index = pd.Index(column.to_numpy())
            bad = next((v for v in (start, end) if v is not None and not _is_number(v)), None)
            if bad is not None:
                raise DataError(
                    f"{bad!r} in --rows {text} is not a number, and the index {spec.index!r} holds numbers (from "
                    f"{column.iloc[0]} to {column.iloc[-1]}); write START and END like {column.iloc[0]}, or leave one empty"
                )
            start, end = (None if v is None else column.dtype.type(float(v)) for v in (start, end))
        else:
            try:
                index = pd.DatetimeIndex(pd.to_datetime(column.astype(str), format="mixed"))
            except (ValueError, TypeError):
                index = pd.Index(column.astype(str))
        if not index.is_monotonic_increasing:
            raise DataError(
                f"--rows selects by the index {spec.index!r}, whose values are not in increasing order; sort the file by it"
            )
        rows = pd.Series(np.arange(len(frame)), index=index)
        try:
            positions = rows.loc[start:end]
        except (KeyError, ValueError, TypeError):
            raise _not_a_bound(text, rows, (start, end), column) from None
        lo, hi = (int(positions.iloc[0]), int(positions.iloc[-1]) + 1) if len(positions) else (0, 0)
    if hi <= lo:
        raise DataError(f"--rows {text} selects no rows of the {len(frame)}; check START and END")
    return lo, hi


def _not_a_bound(text: str, rows: pd.Series, bounds, column: pd.Series) -> DataError:
    """The one line for a START or END the index cannot be sliced at (pandas' own words left out)."""
    bad = next((b for b in bounds if b is not None and _unsliceable(rows, b)), bounds[0] if bounds[0] else bounds[1])
    first, last = column.iloc[0], column.iloc[-1]
    kind = "date" if isinstance(rows.index, pd.DatetimeIndex) else "value"
    example = f", or a partial date such as {str(first)[:4]}" if kind == "date" else ""
    return DataError(
        f"{str(bad)!r} in --rows {text} is not a valid {kind} of the index {column.name!r} (its values run from "
        f"{first} to {last}); write START and END like {first}{example}, or leave one empty"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _unsliceable(rows: pd.Series, bound) -> bool:
    try:
        rows.loc[bound:]
    except (KeyError, ValueError, TypeError):
        return True
    return False


def index_season(frame: pd.DataFrame, spec: DataSpec) -> int | None:
    """The season length of the index's frequency (12 for months, …), or None.

    None too where there is no index or it does not advance regularly: a
    season is then only what `--season` says.
    """
    if not spec.index or spec.index not in frame.columns:
        return None
    from lstmcli.data import calendar

    try:
        return calendar.season_length(calendar.infer_frequency(frame[spec.index].iloc[-FREQUENCY_ROWS:]))
    except DataError:
        return None
