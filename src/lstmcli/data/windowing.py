"""Turning a table into model inputs and targets under a data spec.

Series windows are never copied out of the series: `Windows` keeps the
(raw) series and the start row of each window, and the training loops
gather a batch of windows at a time in the graph. Samples are reshaped to
(samples, timesteps, features). Inputs stay in the data's units (their scaling
is a layer of the model); the targets' scaling statistics and class labels
learned at fit time are applied here, and every problem with the file's content is a
DataError naming the row and column.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstmcli.data import preprocessing, transforms
from lstmcli.data.dataspec import MASK_VALUE, DataSpec
from lstmcli.errors import ConfigError, DataError
from lstmcli.data.rowindex import index_season, row_keys

ROW_KEY = "row"


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
            column's value, or the 1-based row number).
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

    def split_random(self, fraction: float, seed: int, *, stratify: bool) -> tuple["Prepared", "Prepared"]:
        """Hold out `fraction` of the samples, drawn at random with `seed` (see `held_out`).

        Both parts keep the file's order.
        """
        held = self.held_out(fraction, seed, stratify=stratify)
        return self.subset(np.flatnonzero(~held)), self.subset(np.flatnonzero(held))

    def held_out(self, fraction: float, seed: int, *, stratify: bool) -> np.ndarray:
        """Which samples a random split with `seed` holds out: a boolean mask (see `held_out`).

        Args:
            stratify: Draw within each class (of the encoded targets).
        """
        groups = class_indices(self.y) if stratify else np.zeros(len(self), np.int64)
        return held_out(groups, fraction, seed)

    def subset(self, sel) -> "Prepared":
        """The samples `sel` (a slice, positions or a boolean mask) picks."""
        pick = lambda a: None if a is None else a[sel]  # noqa: E731
        return Prepared(
            self.inputs.subset(sel), pick(self.y), pick(self.y_raw), self.keys[sel], self.key_name, self.target_names,
            pick(self.step_keys), pick(self.target_rows), self.history,
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
    `trainingdata.split`), `Prepared.split_random` on prepared samples.

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


def window_count(n_rows: int, spec: DataSpec, context: int, where: str, *, future: bool = False, selected: bool = False) -> int:
    """How many windows a series of `n_rows` gives (1 for a `future` forecast).

    Raises:
        DataError: for too few rows for one window and its targets.
    """
    window = spec.timesteps + context
    n = 1 if future else n_rows - window - spec.horizon + 1
    if n < 1 or n_rows < window:
        needed = window if future else window + spec.horizon
        raise DataError(
            f"{where} has {n_rows} rows" + (" in the selected range (with its context)" if selected else "")
            + f" but one window needs {needed} (timesteps {spec.timesteps}"
            + (f" + {context} for the differencing" if context else "")
            + ("" if future else f" + horizon {spec.horizon}") + "); give a longer series"
        )
    return n


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
        inputs = _mask_trailing(x.reshape(len(frame), spec.timesteps, spec.n_features), where).reshape(len(frame), -1)
    y = labels = None
    if task.classification:
        if len(target) != 1:
            raise DataError(f"a {task.name} task takes one label column; name it with --target. Received: {target}")
        labels = frame[target[0]].to_numpy()
        label_rows = np.arange(spec.timesteps, len(frame)) if spec.layout == "series" else np.arange(len(frame))
        bad = pd.isna(labels[label_rows])
        if bad.any():
            raise DataError(f"{where}, row {int(label_rows[bad.argmax()]) + 1}: the label column {target[0]!r} is empty; fill or drop the row")
    elif not masked and all(name in features for name in target):
        y = x[:, [features.index(name) for name in target]]  # the same cells, parsed once
    else:
        y = numeric(frame, target, where)
    if y is not None and "log" in (spec.transforms or []):
        transforms.check_positive(y, where, target)
    season = (spec.season or index_season(frame, spec)) if spec.transforms else None
    return Parsed(features, target, x, inputs, y, labels, season)


def class_indices(y: np.ndarray) -> np.ndarray:
    """Each sample's class index from encoded labels (0/1 column, indices or one-hot rows), as Keras reads them."""
    if y.ndim > 1 and y.shape[-1] != 1:
        return y.argmax(axis=-1)
    return np.round(y.reshape(len(y))).astype(np.int64)


def resolve_columns(frame: pd.DataFrame, spec: DataSpec, where: str, *, need_target: bool = True) -> tuple[list[str], list[str]]:
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
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    huge = np.abs(np.nan_to_num(values)) > np.finfo(np.float32).max  # would become inf as float32
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise DataError(
            f"{where}, row {row + 1}, column {names[col]!r} holds {values[row, col]:g}, beyond the largest number "
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
        raise DataError(f"{where}, row {row + 1}, column {names[col]!r} {what}; {fix}")
    return values.astype(np.float32)


def prepare(
    frame: pd.DataFrame,
    spec: DataSpec,
    *,
    task,
    prep: dict,
    loss: str | None,
    units: int,
    need_target: bool,
    where: str,
    future: bool = False,
    rows: tuple[int, int] | None = None,
    context: bool = True,
    parsed: Parsed | None = None,
) -> Prepared:
    """Turn a table into model inputs and targets, applying learned preprocessing.

    Args:
        frame: The table read from the data file.
        spec: The artifact's data spec.
        task: The artifact's Task.
        prep: Learned preprocessing: target scaling statistics and class labels.
            Inputs stay raw: their scaling is a layer of the model.
        loss: The compiled loss (decides one-hot or sparse labels).
        units: Output units of the model.
        need_target: Refuse a file without target columns (fit, evaluate).
        where: The file's name, for messages.
        future: series only: the one window that ends on the last selected
            row, whose `horizon` targets lie past it (a forecast); targets are left out.
        rows: The selected rows (first, end) as 0-based positions, end
            excluded (see `select_rows`); None: all of them.
        context: series: take the rows a window needs from before `rows`
            (evaluate, predict), so that the first target is the first selected
            row; fit takes no rows from outside its selection.
        parsed: The whole of `frame` already parsed and checked (`parse`):
            fit's, which `learn` read too; its cells are not parsed again.

    Raises:
        DataError: for any problem with the file's content.
    """
    if future and spec.layout != "series":
        raise ConfigError("--future forecasts past the end of a series; the model's layout is samples, where every row is already a sample")
    if parsed is not None and (rows is not None or future or len(parsed) != len(frame)):
        raise ValueError("a parsed table is prepared whole")
    features, target = (parsed.features, parsed.target) if parsed is not None else resolve_columns(frame, spec, where, need_target=need_target)
    has_target = all(t in frame.columns for t in target) and not future
    if need_target and not has_target:
        raise DataError(f"{where} has no target column {target!r}; evaluate and fit need the true values")
    lo, hi = rows if rows is not None else (0, len(frame))
    window = spec.timesteps + prep.get("context", 0)  # the differencing needs rows before a window's timesteps
    first = max(0, lo - window) if context and spec.layout == "series" else lo
    part = frame.iloc[first:hi]
    masked = spec.layout == "samples" and spec.mask
    n_rows = len(part)
    chosen = prep.get("transforms") or []
    if parsed is not None:
        x = parsed.inputs
    else:
        check_padding(part, features, spec, where)
        x = numeric(part, features, where, allow_empty=masked)
        if masked:
            x = _mask_trailing(x.reshape(n_rows, spec.timesteps, spec.n_features), where).reshape(n_rows, -1)
        if "log" in chosen:
            logged = [i for i, name in enumerate(features) if name in target]
            transforms.check_positive(x[:, logged], where, [features[i] for i in logged])
    # (parsed: its logged feature columns are target columns, whose transform below refuses non-positive rows)
    step_keys = target_rows = history = None
    if spec.layout == "series":
        n = window_count(n_rows, spec, window - spec.timesteps, where, future=future, selected=rows is not None)
        starts = np.arange(n, dtype=np.int64) + (n_rows - window if future else 0)
        inputs = Windows(x, starts, window)
        target_rows = first + starts[:, None] + window + np.arange(spec.horizon)
        step_keys = row_keys(frame, spec, target_rows)
        keys = step_keys[:, 0]
    else:
        inputs = Samples(x.reshape(n_rows, spec.timesteps, spec.n_features))
        rows_at = np.arange(first, hi)
        keys = part[spec.index].to_numpy() if spec.index else rows_at + 1
    y = y_raw = None
    if has_target:
        if task.classification:
            label_rows = target_rows[:, 0] if target_rows is not None else np.arange(first, hi)
            y_raw = frame[target[0]].to_numpy()[label_rows]
            if len(target) != 1:
                raise DataError(f"a {task.name} task takes one label column; name it with --target. Received: {target}")
            bad = pd.isna(y_raw)
            if bad.any():
                raise DataError(f"{where}, row {int(label_rows[bad.argmax()]) + 1}: the label column {target[0]!r} is empty; fill or drop the row")
            y = preprocessing.encode_labels(y_raw, prep["classes"], loss or task.loss, units, where) if "classes" in prep else None
        elif target_rows is not None:
            # the baselines (evaluate) and MASE's scale (fit) look back before the window; predict needs none of it
            base = 0 if need_target else first
            values = parsed.y if parsed is not None else numeric(frame.iloc[base:hi], target, where)
            history = values if need_target else None
            at = target_rows - base
            y_raw = values[at].reshape(len(at), -1)  # step-major: unit h*k + j is step h+1 of target j
            if chosen:
                forward = parsed.transformed(chosen, where) if parsed is not None else transforms.forward(values, chosen, where, target)
                values = forward.astype(np.float32)
            y = preprocessing.scale(values[at].reshape(len(at), -1), prep.get("targets"))
        else:
            y_raw = parsed.y if parsed is not None else numeric(part, target, where)
            y = preprocessing.scale(y_raw, prep.get("targets"))
    return Prepared(inputs, y, y_raw, keys, spec.index or ROW_KEY, target, step_keys, target_rows, history)


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
            f"{where}, row {row + 1} ends after {length} of {spec.timesteps} time steps (the rest are empty): "
            f"the rows have different lengths. Define the model with --mask, so empty trailing steps are "
            f"masked, or fill the cells. {int(padded.sum())} row(s) are padded this way"
        )


def _mask_trailing(x: np.ndarray, where: str) -> np.ndarray:
    """Replace empty trailing time steps with MASK_VALUE; refuse gaps anywhere else."""
    empty = np.isnan(x)
    step_empty = empty.all(axis=2)
    partial = empty.any(axis=2) & ~step_empty
    if partial.any():
        row, step = np.argwhere(partial)[0]
        raise DataError(f"{where}, row {row + 1}: time step {step + 1} is partly empty; a masked row may only end early, with whole time steps empty")
    gap = step_empty[:, :-1] & ~step_empty[:, 1:]
    if gap.any():
        row, step = np.argwhere(gap)[0]
        raise DataError(f"{where}, row {row + 1}: time step {step + 1} is empty but a later one is not; only trailing steps can be masked")
    if step_empty[:, 0].any():
        row = int(np.argmax(step_empty[:, 0]))
        raise DataError(f"{where}, row {row + 1} has no values at all; drop the row")
    return np.where(empty, np.float32(MASK_VALUE), x).astype(np.float32)


def learn(parsed: Parsed, spec: DataSpec, *, task, scaling: str, units: int, where: str, rows=None) -> dict:
    """Learn the preprocessing of a training table, once: transforms, scaling statistics and labels.

    Inputs get one statistic per feature channel (over every row of a series;
    over every time step of a samples file, padded steps left out); regression
    targets one per target column.

    Args:
        parsed: The table, parsed and checked (`parse`).
        rows: The rows the training samples are made of (0-based positions),
            when a validation split holds the others out: everything is
            learned on these alone (`auto`'s choice, the statistics, the
            labels). For a series whose training rows depend on the context
            the chosen differencing needs (a tail split under `auto`), a
            function of that context; `auto` then chooses on the rows of no
            context, the fewest, which are training rows whatever it chooses.
            Defaults to every row.
    """
    features, target = parsed.features, parsed.target
    learned: dict = {"features": features, "target": target, "scaling_kind": scaling}
    x = parsed.x
    if spec.layout == "samples":
        x = x.reshape(len(parsed), spec.timesteps, spec.n_features)
    y = parsed.y
    if spec.transforms:
        x, y, rows = _learn_transforms(learned, spec, parsed, x, where, rows)
    elif callable(rows):
        rows = rows(0)
    if rows is not None:
        x, y = x[rows], None if y is None else y[rows]
    learned["inputs"] = preprocessing.learn_scaling(scaling, x)
    learned["targets"] = None
    if task.classification:
        labels = parsed.labels if rows is None else parsed.labels[rows]
        learned["classes"] = preprocessing.learn_classes(labels[~pd.isna(labels)], task.name, units, where)
    else:
        learned["targets"] = preprocessing.learn_scaling(scaling, y)
    return learned


def step_offsets(spec: DataSpec) -> list[int]:
    """Each output step's distance in rows from the window's last row: 1..horizon."""
    return list(range(1, spec.horizon + 1))


def _learn_transforms(learned: dict, spec: DataSpec, parsed: Parsed, x: np.ndarray, where: str, rows):
    """Settle the spec's transforms on the training rows; the transformed inputs and targets, and the rows.

    `auto` is decided here, from the targets of the training rows
    (`transforms.choose`); the choice, its reasons, the history rows the
    differencing needs and the forecast steps are recorded in `learned`,
    which the graph is built from. `rows` as `learn` takes them; returned as
    positions (or None), once the context is known.

    Raises:
        ConfigError: for differencing a target that is not among the features
            (its history would not be in the window), or a horizon whose
            inverse would need a step the model does not forecast.
    """
    features, target = learned["features"], learned["target"]
    chosen, reasons = list(spec.transforms), []
    if chosen == [transforms.AUTO]:
        seen = rows(0) if callable(rows) else rows
        chosen, reasons = transforms.choose(parsed.y if seen is None else parsed.y[seen], parsed.season)
    if callable(rows):
        rows = rows(transforms.context(chosen))
    steps = step_offsets(spec)
    if transforms.lags(chosen):
        outside = [name for name in target if name not in features]
        if outside:
            raise ConfigError(
                f"differencing {outside[0]!r} needs its history in each window, but it is not a feature; "
                f"add it to --features or drop diff/seasonal-diff from --transform"
            )
        transforms.check_offsets(chosen, steps)
    learned.update(transforms=chosen, transform_reasons=reasons, context=transforms.context(chosen), steps=steps)
    y = parsed.transformed(chosen, where)  # prepare's targets too: transformed once
    x = x.astype(np.float64)
    logged = [i for i, name in enumerate(features) if name in target]
    x[:, logged] = y[:, [target.index(features[i]) for i in logged]]  # the same columns, transformed once
    return x, y, rows
