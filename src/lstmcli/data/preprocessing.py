"""What fit learns from the data besides weights: scaling statistics and class labels.

Both are plain JSON-able dicts stored in the artifact's record. The scaling
statistics also become layers of the saved model (see `predictor`), so the
model takes and returns the data's own units; the record keeps them for
`verify`, `inspect` and people. Targets are scaled here, in numpy, because
training happens in scaled space.
"""

from __future__ import annotations

import numpy as np

from lstmcli.errors import DataError


def learn_scaling(kind: str, values: np.ndarray) -> dict | None:
    """Learn one (offset, scale) pair per channel so that scaled = (x - offset) / scale.

    A channel is the last axis of `values`: a feature column of a series, or
    one feature of every time step of a samples file. Empty cells (NaN, the
    padding of shorter rows) are ignored; a channel with no values or no spread
    gets the identity.

    Args:
        kind: "none", "minmax" (to [0, 1]) or "standard" (zero mean, unit variance).
        values: Training values, channels on the last axis.

    Returns:
        {"offset": [...], "scale": [...]}, one entry per channel, or None for "none".
    """
    if kind == "none":
        return None
    flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
    offsets, scales = [], []
    for column in flat.T:
        column = column[np.isfinite(column)]
        if column.size == 0:
            offset, spread = 0.0, 1.0
        elif kind == "minmax":
            offset, spread = column.min(), column.max() - column.min()
        else:
            offset, spread = column.mean(), column.std()
        offsets.append(float(offset))
        scales.append(float(spread) if spread > 0 and np.isfinite(spread) else 1.0)
    return {"offset": offsets, "scale": scales}


def scale(values: np.ndarray, stats: dict | None) -> np.ndarray:
    """Scale `values` (channels on the last axis) with `stats` from `learn_scaling`."""
    if not stats:
        return values
    offset, spread = _vectors(stats, values.shape[-1])
    return ((values - offset) / spread).astype(np.float32, copy=False)


def _vectors(stats: dict, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and scales as float32 vectors, tiled to `width` (a horizon's steps repeat the targets)."""
    offset = np.asarray(stats["offset"], dtype=np.float32)
    spread = np.asarray(stats["scale"], dtype=np.float32)
    reps = width // len(offset)
    return np.tile(offset, reps), np.tile(spread, reps)


def _plain(label):
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return int(label)
    return label


def learn_classes(labels: np.ndarray, task: str, units: int, where: str) -> list:
    """The sorted distinct labels of a classification target, checked against the task (see `check_classes`)."""
    return check_classes(distinct_labels(labels), task, units, where)


def distinct_labels(labels: np.ndarray) -> list:
    """The distinct labels, sorted as the classes are (numbers first, then text)."""
    return sorted({_plain(v) for v in labels}, key=lambda v: (isinstance(v, str), v))


def check_classes(classes: list, task: str, units: int, where: str) -> list:
    """`classes`, if a classifier of `task` with `units` outputs can have them.

    Raises:
        DataError: if a binary target does not have exactly two values, or a
            multiclass target's classes do not match the model's outputs.
    """
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"a binary target needs exactly two distinct values; {where} has {len(classes)}: "
            f"{_preview(classes)}. Use --task multiclass for more classes"
        )
    if task == "multiclass" and len(classes) != units:
        raise DataError(
            f"{where} has {len(classes)} classes but the model was defined with {units}; "
            f"define it again with --num-classes {len(classes)} (every class must appear in the "
            f"training data, so its output has a label). Classes: {_preview(classes)}"
        )
    return classes


def label_indices(labels: np.ndarray, classes: list, where: str, rows=None) -> np.ndarray:
    """Each label's position in `classes`; `rows` are the labels' 0-based rows in the file, for the message.

    Raises:
        DataError: naming the first label the model never saw, and its row.
    """
    lookup = {label: i for i, label in enumerate(classes)}
    indices = np.empty(len(labels), dtype=np.int64)
    for row, value in enumerate(labels):
        try:
            indices[row] = lookup[_plain(value)]
        except (KeyError, TypeError):
            raise DataError(
                f"{where}, row {row if rows is None else rows[row]}: label {value!r} was not among the labels the model was "
                f"trained on ({_preview(classes)}); remove those rows or train on them"
            ) from None
    return indices


def encode_labels(labels: np.ndarray, classes: list, loss: str, units: int, where: str, rows=None) -> np.ndarray:
    """Turn labels into what the loss expects: 0/1, class indices, or one-hot rows.

    Raises:
        DataError: naming the first label the model never saw, and its row.
    """
    indices = label_indices(labels, classes, where, rows)
    if units == 1:
        return indices.astype(np.float32)[:, None]
    if loss.startswith("sparse"):
        return indices.astype(np.int32)
    return np.eye(units, dtype=np.float32)[indices]


def _preview(classes: list) -> str:
    shown = ", ".join(repr(c) for c in classes[:8])
    return shown + (", …" if len(classes) > 8 else "")
