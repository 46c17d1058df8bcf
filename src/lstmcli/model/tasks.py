"""The task table: what regression, binary and multiclass mean by default.

define, compile and predict all read this one table instead of branching on
the task name, so a new task is a new row.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from lstmcli.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """Defaults for one kind of problem.

    Args:
        name: The task's name as users type it.
        activation: Output layer activation.
        loss: Default loss.
        metrics: Default compiled metrics.
        classification: Whether targets are class labels.
    """

    name: str
    activation: str
    loss: str
    metrics: tuple[str, ...]
    classification: bool

    def output_units(self, n_targets: int, num_classes: int | None) -> int:
        """Units of the output Dense layer for this task."""
        if self.name == "binary":
            return 1
        if self.name == "multiclass":
            return num_classes or 0
        return n_targets


TASKS: dict[str, Task] = {
    "regression": Task("regression", "linear", "mean_squared_error", (), False),
    "binary": Task("binary", "sigmoid", "binary_crossentropy", ("accuracy",), True),
    "multiclass": Task("multiclass", "softmax", "categorical_crossentropy", ("accuracy",), True),
}

CATEGORICAL_LOSSES = frozenset({"categorical_crossentropy", "categorical_focal_crossentropy"})
SPARSE_LOSSES = frozenset({"sparse_categorical_crossentropy"})
BINARY_LOSSES = frozenset({"binary_crossentropy", "binary_focal_crossentropy"})
CLASSIFICATION_LOSSES = (
    CATEGORICAL_LOSSES | SPARSE_LOSSES | BINARY_LOSSES | {"hinge", "squared_hinge", "categorical_hinge"}
)
PROBABILITY_ACTIVATIONS = frozenset({"sigmoid", "softmax"})


def get_task(name: str) -> Task:
    """Return the task called `name`, or raise ConfigError naming the choices."""
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; use one of {', '.join(TASKS)}" + did_you_mean(name, TASKS)) from None


def did_you_mean(name: str, choices) -> str:
    """A ' (did you mean …?)' suffix for a misspelt name, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_output(task: Task, units: int, activation: str) -> None:
    """Refuse an output layer that cannot work for `task`.

    Raises:
        ConfigError: with the reason and what to use instead.
    """
    if units < 1:
        raise ConfigError(
            f"the output layer needs at least one unit; for a multiclass task "
            f"give --num-classes N. Received: units={units}"
        )
    if activation == "softmax" and units == 1:
        raise ConfigError(
            "softmax on a single unit always outputs 1.0; use sigmoid for a "
            "binary task, or give the output one unit per class"
        )
    if task.name == "binary" and units != 1:
        raise ConfigError(
            f"a binary task has one sigmoid output unit; use the multiclass task "
            f"for {units} classes. Received: units={units}"
        )
    if task.name == "multiclass" and units < 2:
        raise ConfigError(
            f"a multiclass task needs at least 2 classes; use the binary task "
            f"for two-way labels. Received: num_classes={units}"
        )


def check_loss(task: Task, loss: str, units: int, activation: str) -> None:
    """Refuse a loss that cannot work with the model's output.

    Raises:
        ConfigError: with the reason and what to use instead.
    """
    if loss in CATEGORICAL_LOSSES | SPARSE_LOSSES and units == 1:
        raise ConfigError(
            f"{loss} needs one output unit per class, but the model has 1; use binary_crossentropy for a binary target"
        )
    if loss in BINARY_LOSSES and task.name == "multiclass":
        raise ConfigError(
            f"{loss} treats each of the {units} outputs as its own yes/no label; "
            f"use categorical_crossentropy (or sparse_categorical_crossentropy) "
            f"for one class per sample"
        )
    if loss in CLASSIFICATION_LOSSES and not task.classification:
        raise ConfigError(
            f"{loss} is a classification loss but the task is regression; use "
            f"mean_squared_error or mean_absolute_error, or define the model "
            f"with --task binary/multiclass"
        )
    if task.classification and loss not in CLASSIFICATION_LOSSES:
        raise ConfigError(f"{loss} is a regression loss but the task is {task.name}; use {task.loss}")
    if loss in CATEGORICAL_LOSSES | SPARSE_LOSSES | BINARY_LOSSES and activation not in PROBABILITY_ACTIVATIONS:
        raise ConfigError(
            f"{loss} expects probabilities but the output activation is "
            f"{activation!r}; define the model with --output-activation "
            f"{'sigmoid' if units == 1 else 'softmax'}"
        )
