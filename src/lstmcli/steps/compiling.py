"""`compile`: attach an optimizer, a loss and metrics (defaults follow the task) and write a compiled artifact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lstmcli import outputs
from lstmcli.model import artifact, optimizers, tasks
from lstmcli.options import inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps.loading import Written, open_for_training

if TYPE_CHECKING:
    pass


def settings(opts, task, units: int, activation: str) -> tuple[str, list[str]]:
    """The loss and metrics compile will use (the task's by default), checked against the output layer.

    Raises:
        ConfigError: for a loss that cannot work with the task's output layer.
    """
    loss = opts.loss or task.loss
    metrics = list(opts.metrics or task.metrics)
    tasks.check_loss(task, loss, units, activation)
    return loss, metrics


def optimizer_for(keras, opts, loss: str, metrics: list[str]):
    """compile's optimizer, once its loss and metrics are known to Keras.

    Raises:
        ConfigError: for an unknown loss, metric or optimizer, with the close match.
    """
    optimizers.check_name(keras.losses.get, loss, "loss", optimizers.known(keras.losses))
    for metric in metrics:
        if metric not in ("accuracy", "acc"):
            optimizers.check_name(keras.metrics.get, metric, "metric", optimizers.known(keras.metrics))
    return optimizers.optimizer(keras, opts.optimizer, opts.learning_rate, opts.momentum)


def compile(source: Path, opts, *, lineage_path: Path | None = None) -> Written:
    """Attach an optimizer, a loss and metrics; defaults follow the task.

    Args:
        lineage_path: The parent's path for the lineage, when `source` is a
            staged copy (`run` writes into a temporary folder). Defaults to `source`.
    """
    record, model, source_sha256, content = open_for_training(source, opts)
    out = artifact.check_out_path(opts.out, "compile", source=source)
    outputs.check(outputs_of(opts, out=out), inputs_of(opts, source))
    task = tasks.get_task(record.task)
    loss, metrics = settings(opts, task, record.architecture["units"], record.architecture["activation"])
    keras = load_tensorflow()
    optimizer = optimizer_for(keras, opts, loss, metrics)
    if model is None:
        model, _ = artifact.load(source, unsafe=opts.unsafe, compile=False, record=record, content=content)
    # Keras's own "auto" resolves to no XLA for LSTMs on CPU; lstmcli decides per fit (see training.use_xla).
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None, jit_compile=bool(opts.jit_compile))
    record.stage = "compiled"
    record.compile = {
        "optimizer": keras.optimizers.serialize(optimizer)["class_name"].lower(),
        "optimizer_config": {
            k: v for k, v in optimizer.get_config().items() if isinstance(v, (int, float, str, bool, type(None)))
        },
        "loss": loss,
        "metrics": metrics,
        "jit_compile": opts.jit_compile,
    }
    record.lineage.append(artifact.lineage_entry("compile", lineage_path or source, parent_sha256=source_sha256))
    artifact.save(model, record, out)
    return Written(out, "compiled", {"optimizer": record.compile["optimizer"], "loss": loss, "metrics": metrics})
