"""What fit learns from the data besides weights: scaling statistics and class labels.

Both are plain JSON-able dicts stored in the artifact's record, so evaluate and
predict apply exactly what fit learned, to whatever file they are given.
"""

from __future__ import annotations

import numpy as np

from lstmcli.errors import DataError

def learn_scaling(kind: str, columns: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Learn per-column (offset, scale) so that scaled = (x - offset) / scale.

    Args:
        kind: "none", "minmax" (to [0, 1]) or "standard" (zero mean, unit variance).
        columns: Training values by column name.

    Returns:
        {column: [offset, scale]}, empty for "none".
    """
    if kind == "none":
        return {}
    stats = {}
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        if kind == "minmax":
            offset, spread = values.min(), values.max() - values.min()
        else:
            offset, spread = values.mean(), values.std()
        stats[name] = [float(offset), float(spread) if spread > 0 else 1.0]
    return stats


def scale(values: np.ndarray, names: list[str], stats: dict[str, list[float]]) -> np.ndarray:
    """Scale the columns of `values` (last axis, named `names`) with `stats`."""
    if not stats:
        return values
    offset, spread = _vectors(names, stats)
    return ((values - offset) / spread).astype(np.float32, copy=False)


def unscale(values: np.ndarray, names: list[str], stats: dict[str, list[float]]) -> np.ndarray:
    """Undo `scale`: return values in the data's own units."""
    if not stats:
        return values
    offset, spread = _vectors(names, stats)
    return (values * spread + offset).astype(np.float32, copy=False)


def _vectors(names, stats):
    pairs = np.array([stats[name] for name in names], dtype=np.float32)
    return pairs[:, 0], pairs[:, 1]


def _plain(label):
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, float) and label.is_integer():
        return int(label)
    return label


def learn_classes(labels: np.ndarray, task: str, units: int, where: str) -> list:
    """The sorted distinct labels of a classification target.

    Raises:
        DataError: if a binary target does not have exactly two values, or a
            multiclass target's classes do not match the model's outputs.
    """
    classes = sorted({_plain(v) for v in labels}, key=lambda v: (isinstance(v, str), v))
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


def encode_labels(labels: np.ndarray, classes: list, loss: str, units: int, where: str) -> np.ndarray:
    """Turn labels into what the loss expects: 0/1, class indices, or one-hot rows.

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
                f"{where}, row {row + 1}: label {value!r} was not among the labels the model was "
                f"trained on ({_preview(classes)}); remove those rows or train on them"
            ) from None
    if units == 1:
        return indices.astype(np.float32)[:, None]
    if loss.startswith("sparse"):
        return indices.astype(np.int32)
    return np.eye(units, dtype=np.float32)[indices]


def _preview(classes: list) -> str:
    shown = ", ".join(repr(c) for c in classes[:8])
    return shown + (", …" if len(classes) > 8 else "")
