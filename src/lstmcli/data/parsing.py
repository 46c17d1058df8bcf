"""Reading a table's cells under a data spec: which columns, parsed and checked once, every problem a
DataError naming the row and column."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstmcli.data import transforms
from lstmcli.data.dataspec import MASK_VALUE, DataSpec
from lstmcli.data.rowindex import index_season
from lstmcli.errors import DataError


@dataclass
class Parsed:
    """A fit's training table parsed and checked once, for `learn` and `prepare` both.

    Args:
        features, target: The columns (see `resolve_columns`).
        x: The feature columns as float32, (rows, columns); a masked file's
            empty cells are NaN (the scaling statistics leave them out).
        inputs: `x` as the model takes it: masked steps hold MASK_VALUE.
        y: A regression's target columns, float32 (rows, targets); else None.
        labels: A classifier's label column as read; else None.
        season: The season `--transform auto` tests (define's, or the index's).
    """

    features: list[str]
    target: list[str]
    x: np.ndarray
    inputs: np.ndarray
    y: np.ndarray | None
    labels: np.ndarray | None
    season: int | None = None
    _transformed: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.x)

    def transformed(self, chosen: list[str], where: str) -> np.ndarray:
        """The targets under the transforms `chosen`, float64 (the first `context` rows NaN): computed once."""
        key = tuple(chosen)
        if key not in self._transformed:
            self._transformed[key] = transforms.forward(self.y, chosen, where, self.target)
        return self._transformed[key]


def parse(frame: pd.DataFrame, spec: DataSpec, *, task, where: str) -> Parsed:
    """Parse and check a fit's training table once: every cell `learn` and `prepare` read.

    Raises:
        DataError: for a missing column, a bad cell, padded rows without
            `--mask`, an empty label, or a non-positive value under `log`.
    """
    features, target = resolve_columns(frame, spec, where)
    missing = [t for t in target if t not in frame.columns]
    if missing:
        raise DataError(f"{where} has no target column {missing[0]!r}; fit needs the true values")
    masked = spec.layout == "samples" and spec.mask
    check_padding(frame, features, spec, where)
    x = numeric(frame, features, where, allow_empty=masked)
    inputs = x
    if masked:
        inputs = mask_trailing(x.reshape(len(frame), spec.timesteps, spec.n_features), where, frame.index)
        inputs = inputs.reshape(len(frame), -1)
    y = labels = None
    if task.classification:
        if len(target) != 1:
            raise DataError(f"a {task.name} task takes one label column; name it with --target. Received: {target}")
        labels = frame[target[0]].to_numpy()
        label_rows = np.arange(spec.timesteps, len(frame)) if spec.layout == "series" else np.arange(len(frame))
        bad = pd.isna(labels[label_rows])
        if bad.any():
            raise DataError(
                f"{where}, row {frame.index[int(label_rows[bad.argmax()])]}: the label column {target[0]!r} is empty; fill or drop the row"
            )
    elif not masked and all(name in features for name in target):
        y = x[:, [features.index(name) for name in target]]  # the same cells, parsed once
    else:
        y = numeric(frame, target, where)
    if y is not None and "log" in (spec.transforms or []):
        transforms.check_positive(y, where, target, frame.index)
    season = (spec.season or index_season(frame, spec)) if spec.transforms else None
    return Parsed(features, target, x, inputs, y, labels, season)


def class_indices(y: np.ndarray) -> np.ndarray:
    """Each sample's class index from encoded labels (0/1 column, indices or one-hot rows), as Keras reads them."""
    if y.ndim > 1 and y.shape[-1] != 1:
        return y.argmax(axis=-1)
    return np.round(y.reshape(len(y))).astype(np.int64)


def resolve_columns(
    frame: pd.DataFrame, spec: DataSpec, where: str, *, need_target: bool = True
) -> tuple[list[str], list[str]]:
    """The feature and target columns of `frame` under `spec`.

    Args:
        need_target: Refuse a file without the spec's target columns. Predict
            does not need them: new data usually has no labels yet.

    Raises:
        DataError: for a missing column (naming close matches) or a count that
            does not match the model's input shape.
    """
    columns = list(frame.columns)
    required = [spec.index] + (spec.features or []) + ((spec.target or []) if need_target else [])
    for name in required:
        if name is not None and name not in columns:
            close = difflib.get_close_matches(name, columns, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise DataError(
                f"{where} has no column {name!r}{hint}; its columns are: {', '.join(columns[:20])}"
                + (", …" if len(columns) > 20 else "")
            )
    rest = [c for c in columns if c != spec.index]
    if spec.layout == "samples":
        target = spec.target or [rest[-1]]
        features = spec.features or [c for c in rest if c not in target]
    else:
        features = spec.features or rest
        target = spec.target or features
    expected = spec.n_features if spec.layout == "series" else spec.timesteps * spec.n_features
    if len(features) != expected:
        raise DataError(
            f"{where} gives {len(features)} feature columns but the model takes {expected} "
            f"(input shape {spec.timesteps}×{spec.n_features}); name them with --features at define time"
        )
    return features, target


def numeric(frame: pd.DataFrame, names: list[str], where: str, *, allow_empty: bool = False) -> np.ndarray:
    """The named columns as float32, refusing text, empty, NaN and infinite cells.

    Args:
        allow_empty: Let empty cells through as NaN (for masked rows).

    Raises:
        DataError: naming the first bad cell's row and column.
    """
    block = frame[names]
    _check_kinds(block, where)
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    huge = np.abs(np.nan_to_num(values)) > np.finfo(np.float32).max  # would become inf as float32
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise DataError(
            f"{where}, row {block.index[row]}, column {names[col]!r} holds {values[row, col]:g}, beyond the largest number "
            f"a model computes with (about 3.4e38); rescale the column"
        )
    bad = ~np.isfinite(values)
    if allow_empty:
        bad &= ~block.isna().to_numpy()
    if bad.any():
        row, col = np.argwhere(bad)[0]
        cell = block.iat[row, col]
        if pd.isna(cell):
            what = "is empty"
            fix = "fill or drop the row"
        elif isinstance(cell, str) and pd.isna(pd.to_numeric(cell, errors="coerce")):
            what = f"holds {cell!r}, which is not a number"
            fix = "fix the cell, or leave the column out of --features"
        else:
            what = f"holds {cell.item() if isinstance(cell, np.generic) else cell}"
            fix = "replace infinite and NaN values"
        raise DataError(f"{where}, row {block.index[row]}, column {names[col]!r} {what}; {fix}")
    return values.astype(np.float32)


def _check_kinds(block: pd.DataFrame, where: str) -> None:
    """Refuse columns whose cells are not numbers at all: dates and times (which pandas would turn into
    nanoseconds since 1970) and nested values (a Parquet list or struct column).

    Raises:
        DataError: naming the column and what it holds.
    """
    for name in block.columns:
        column = block[name]
        kind = column.dtype
        if pd.api.types.is_datetime64_any_dtype(kind) or pd.api.types.is_timedelta64_dtype(kind) or kind.kind == "M":
            raise DataError(
                f"{where}, column {name!r} holds dates or times ({kind}), not numbers; use it as the index "
                f"(--index {name}) or leave it out of --features"
            )
        if not pd.api.types.is_numeric_dtype(kind):
            dated = next((cell for cell in column if isinstance(cell, (pd.Timestamp, np.datetime64))), None)
            if dated is not None:
                raise DataError(
                    f"{where}, column {name!r} holds dates or times, not numbers; use it as the index "
                    f"(--index {name}) or leave it out of --features"
                )
            row = next((i for i, cell in enumerate(column) if not (cell is None or np.isscalar(cell))), None)
            if row is not None:
                what = "an object" if isinstance(column.iat[row], dict) else "a list"
                raise DataError(
                    f"{where}, row {row + 1}, column {name!r} holds {what} (a nested value), not a number; "
                    f"flatten it into one column per value"
                )


def check_padding(frame: pd.DataFrame, features: list[str], spec: DataSpec, where: str) -> None:
    """Refuse rows padded at the end (variable-length samples) when the model has no mask, naming `--mask`.

    A samples row whose last time steps are wholly empty (blank cells or NaN)
    is a shorter sample padded to the file's width. Without a Masking layer
    the model cannot skip those steps, so the fix is a model defined with
    `--mask`; other empty cells are left to `numeric`'s message.

    Raises:
        DataError: naming the first padded row, its length, and the fix.
    """
    if spec.layout != "samples" or spec.mask:
        return
    empty = frame[features].isna().to_numpy().reshape(len(frame), spec.timesteps, spec.n_features).all(axis=2)
    if spec.timesteps < 2 or not empty[:, -1].any():
        return
    trailing = np.flip(np.logical_and.accumulate(np.flip(empty, axis=1), axis=1), axis=1)
    padded = trailing[:, -1] & ~empty[:, 0] & ~(empty & ~trailing).any(axis=1)  # gaps inside a row are not padding
    if padded.any():
        row = int(np.argmax(padded))
        length = int((~trailing[row]).sum())
        raise DataError(
            f"{where}, row {frame.index[row]} ends after {length} of {spec.timesteps} time steps (the rest are empty): "
            f"the rows have different lengths. Define the model with --mask, so empty trailing steps are "
            f"masked, or fill the cells. {int(padded.sum())} row(s) are padded this way"
        )


def mask_trailing(x: np.ndarray, where: str, index=None) -> np.ndarray:
    """Replace empty trailing time steps with MASK_VALUE; refuse gaps anywhere else (`index`: the rows' file rows)."""
    index = np.arange(len(x)) if index is None else index
    empty = np.isnan(x)
    step_empty = empty.all(axis=2)
    partial = empty.any(axis=2) & ~step_empty
    if partial.any():
        row, step = np.argwhere(partial)[0]
        raise DataError(
            f"{where}, row {index[row]}: time step {step + 1} is partly empty; a masked row may only end early, with whole time steps empty"
        )
    gap = step_empty[:, :-1] & ~step_empty[:, 1:]
    if gap.any():
        row, step = np.argwhere(gap)[0]
        raise DataError(
            f"{where}, row {index[row]}: time step {step + 1} is empty but a later one is not; only trailing steps can be masked"
        )
    if step_empty[:, 0].any():
        row = int(np.argmax(step_empty[:, 0]))
        raise DataError(f"{where}, row {index[row]} has no values at all; drop the row")
    return np.where(empty, np.float32(MASK_VALUE), x).astype(np.float32)
