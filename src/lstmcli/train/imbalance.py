"""Unequal classes: class weights for fit, the majority baseline and per-class recall for evaluate.

Class weights keep Keras's meaning (`model.fit(class_weight={index: weight})`):
each training sample's loss is multiplied by its class's weight, and the
logged loss is the weighted mean. `balanced` gives each class the weight
n_samples / (n_classes × its count), as scikit-learn's `class_weight="balanced"`
does, so every class carries the same total weight. This module is light (no
numpy at import), so a malformed `--class-weight` is refused before any heavy
import.
"""

from __future__ import annotations

import math

from lstmcli.errors import ConfigError, DataError

NONE = "none"
BALANCED = "balanced"
MAJORITY_ACCURACY = "majority_accuracy"
RECALL_PREFIX = "recall_"


def parse_class_weight(text: str) -> str | dict[str, float]:
    """Read `--class-weight`: "none", "balanced" or LABEL=WEIGHT pairs.

    Returns:
        "none", "balanced", or {label as written: weight}.

    Raises:
        ConfigError: for a pair without `=`, a weight that is not a positive number, or a label named twice.
    """
    text = str(text).strip()
    if text.lower() in (NONE, BALANCED):
        return text.lower()
    weights: dict[str, float] = {}
    for pair in text.split(","):
        label, sep, value = pair.partition("=")
        label = label.strip()
        try:
            weight = float(value) if sep and label else math.nan
        except ValueError:
            weight = math.nan
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError(
                f"--class-weight takes none, balanced, or LABEL=WEIGHT pairs with positive weights, "
                f"such as 'yes=3,no=1'. Received: {text!r}"
            )
        if label in weights:
            raise ConfigError(f"--class-weight names class {label!r} twice. Received: {text!r}")
        weights[label] = weight
    return weights


def class_weights(chosen: str | dict[str, float], classes: list, counts: list[int]) -> dict[int, float] | None:
    """Keras's `class_weight` dict {class index: weight} for the training part, or None.

    Args:
        chosen: What `parse_class_weight` returned.
        classes: The model's classes, in output order.
        counts: Training samples of each class.

    Raises:
        ConfigError: for a label the model does not have.
    """
    if chosen == NONE:
        return None
    if chosen == BALANCED:
        total, present = sum(counts), sum(1 for n in counts if n)
        return {i: total / (present * n) for i, n in enumerate(counts) if n}
    names = {str(label): i for i, label in enumerate(classes)}
    weights = {}
    for label, weight in chosen.items():
        if label not in names:
            shown = ", ".join(map(str, classes[:20]))
            raise ConfigError(
                f"--class-weight names class {label!r}, which the model does not have; its classes are {shown}"
            )
        weights[names[label]] = weight
    return weights


def sample_weights(indices, weights: dict[int, float]):
    """Each sample's weight from its class index, as Keras turns `class_weight` into sample weights."""
    import numpy as np

    lookup = np.ones(max(max(weights, default=0), int(indices.max(initial=0))) + 1, dtype=np.float32)
    for index, weight in weights.items():
        lookup[index] = weight
    return lookup[indices]


def class_metrics(true, predicted, classes: list, majority: int) -> dict[str, float]:
    """The majority-class baseline's accuracy and each class's recall.

    Args:
        true: Each sample's true class index.
        predicted: Each sample's predicted class index.
        classes: The model's classes, in output order (they name the recalls).
        majority: The class a majority baseline always predicts: the
            training data's most common class.

    Returns:
        {"majority_accuracy": …, "recall_<label>": …} with a recall for each
        class that has samples in the data (a class without any has none).
    """
    import numpy as np

    if len(true) == 0:
        raise DataError("there are no samples to evaluate")
    metrics = {MAJORITY_ACCURACY: float(np.mean(true == majority))}
    for index, label in enumerate(classes):
        mine = true == index
        if mine.any():
            metrics[f"{RECALL_PREFIX}{label}"] = float(np.mean(predicted[mine] == index))
    return metrics


def for_training(task, train, learned: dict, chosen_weights) -> tuple[dict, object]:
    """A classifier's class counts and weights for the summary, and the per-sample weights they give."""
    if not task.classification:
        return {}, None
    import numpy as np

    from lstmcli.data.parsing import class_indices

    indices = class_indices(train.y)
    counts = [int(n) for n in np.bincount(indices, minlength=len(learned["classes"]))]
    weights = class_weights(chosen_weights, learned["classes"], counts)
    sample_weight = sample_weights(indices, weights) if weights else None
    return {
        "class_counts": counts,
        "class_weight": {str(learned["classes"][i]): w for i, w in (weights or {}).items()},
    }, sample_weight
