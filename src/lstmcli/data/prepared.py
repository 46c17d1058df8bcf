"""Prepared data: model inputs (series windows as views, or samples) with their targets and keys, and how
they split into training and validation parts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstmcli.data.dataspec import DataSpec
from lstmcli.errors import ConfigError, DataError


@dataclass
class Windows:
    """Series windows as views: the series and each window's first row."""

    values: np.ndarray  # (rows, features) float32
    starts: np.ndarray  # (samples,) int64
    timesteps: int

    def __len__(self) -> int:
        return len(self.starts)

    def subset(self, selection) -> "Windows":
        return Windows(self.values, self.starts[selection], self.timesteps)

    def to_array(self) -> np.ndarray:
        """All windows as one (samples, timesteps, features) array: a copy."""
        view = np.lib.stride_tricks.sliding_window_view(self.values, self.timesteps, axis=0)
        return np.ascontiguousarray(view[self.starts].transpose(0, 2, 1))


@dataclass
class Samples:
    """Samples already shaped (samples, timesteps, features)."""

    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values)

    @property
    def timesteps(self) -> int:
        return self.values.shape[1]

    def subset(self, selection) -> "Samples":
        return Samples(self.values[selection])

    def to_array(self) -> np.ndarray:
        return self.values


@dataclass
class Prepared:
    """A table turned into model inputs, targets and row keys.

    Args:
        inputs: Windows or Samples, in the data's units.
        y: Targets as the loss wants them (scaled / encoded), or None.
        y_raw: Targets in the data's own units or labels, or None.
        keys: One key per sample: the key of its first target row (the index
            column's value, or the 0-based row number, as pandas counts).
        key_name: The index column's name, or "row".
        target_names: The target columns.
        step_keys: series: (samples, horizon) keys of each forecast step's row,
            continued past the end of the file at the index's frequency.
        target_rows: series: (samples, horizon) row numbers (0-based, in the
            whole file) of each step's target.
        history: series with targets: every target value of the file up to the
            last selected row, (rows, targets) in the data's units, for the baselines.
    """

    inputs: Windows | Samples
    y: np.ndarray | None
    y_raw: np.ndarray | None
    keys: np.ndarray
    key_name: str
    target_names: list[str]
    step_keys: np.ndarray | None = None
    target_rows: np.ndarray | None = None
    history: np.ndarray | None = None

    @property
    def horizon(self) -> int:
        return 1 if self.target_rows is None else self.target_rows.shape[1]

    def __len__(self) -> int:
        return len(self.inputs)

    def split_tail(self, fraction: float) -> tuple["Prepared", "Prepared"]:
        """Split off the last `fraction` of samples (in order) for validation (see `tail_cut`)."""
        cut = tail_cut(len(self), fraction)
        return self.subset(slice(0, cut)), self.subset(slice(cut, None))

    def subset(self, sel) -> "Prepared":
        """The samples `sel` (a slice, positions or a boolean mask) picks."""
        pick = lambda a: None if a is None else a[sel]  # noqa: E731
        return Prepared(
            self.inputs.subset(sel),
            pick(self.y),
            pick(self.y_raw),
            self.keys[sel],
            self.key_name,
            self.target_names,
            pick(self.step_keys),
            pick(self.target_rows),
            self.history,
        )

    def head(self, n: int) -> "Prepared":
        """The first `n` samples (all of them if there are fewer)."""
        return self.subset(slice(0, n))


def tail_cut(n: int, fraction: float) -> int:
    """How many of `n` samples in order a tail split keeps for training: the last `fraction` are held out."""
    check_split_size(n, fraction)
    return n - int(round(n * fraction))


def held_out(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Which samples a random split with `seed` holds out: a boolean mask.

    The one implementation of the random and stratified draws: fit chooses
    its validation samples with it before anything is learned (see
    `fitdata.split`).

    Args:
        groups: One group per sample, drawn within: a classifier's class
            indices (each class gives round(its count × fraction) samples to
            validation, so a file sorted by class keeps every class in both
            parts), or all zeros for a plain random draw.
    """
    n = len(groups)
    check_split_size(n, fraction)
    rng = np.random.default_rng(seed)
    held = np.zeros(n, dtype=bool)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        count = int(round(len(members) * fraction))
        held[rng.permutation(members)[:count]] = True
    if held.all() or not held.any():
        check_split_size(n, fraction, n_val=int(held.sum()))
    return held


def check_split_size(n: int, fraction: float, n_val: int | None = None) -> None:
    """Refuse a `--validation-split` that leaves either part of `n` samples empty."""
    n_val = int(round(n * fraction)) if n_val is None else n_val
    if n_val < 1 or n_val >= n:
        raise ConfigError(
            f"--validation-split {fraction} leaves {n - n_val} training and {n_val} "
            f"validation samples out of {n}; choose a split that leaves both non-empty"
        )


def window_count(
    n_rows: int, spec: DataSpec, context: int, where: str, *, future: bool = False, selected: bool = False
) -> int:
    """How many windows a series of `n_rows` gives (1 for a `future` forecast).

    Raises:
        DataError: for too few rows for one window and its targets.
    """
    window = spec.timesteps + context
    n = 1 if future else n_rows - window - spec.horizon + 1
    if n < 1 or n_rows < window:
        needed = window if future else window + spec.horizon
        raise DataError(
            f"{where} has {n_rows} rows"
            + (" in the selected range (with its context)" if selected else "")
            + f" but one window needs {needed} (timesteps {spec.timesteps}"
            + (f" + {context} for the differencing" if context else "")
            + ("" if future else f" + horizon {spec.horizon}")
            + "); give a longer series"
        )
    return n
