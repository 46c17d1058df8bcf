"""Per-epoch decisions during fit: early stopping, learning-rate reduction, TensorBoard logs.

Each callback sees every epoch's logs, in order, exactly as Keras's callbacks
would. `per_epoch` asks the training loop to return to Python after every
epoch (the callback may change the model between epochs); otherwise the loop
may run many epochs per call and replay their logs afterwards.
"""

from __future__ import annotations

import math
from pathlib import Path


class Callback:
    per_epoch = False

    def on_epoch_end(self, epoch: int, logs: dict) -> str | None:
        """Called after each epoch; returns a reason to stop, or None."""
        return None

    def on_train_end(self) -> None:
        """Called once when training ends normally."""


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved for `patience` epochs; keep the best weights.

    Args:
        model: The model being trained.
        patience: Epochs without improvement before stopping.
        monitor: The log to watch. Defaults to "val_loss", or "loss" without validation.
        min_delta: Smallest change that counts as improvement. Defaults to 0.
    """

    per_epoch = True

    def __init__(self, model, patience: int, monitor: str = "val_loss", min_delta: float = 0.0):
        self.model, self.patience, self.monitor, self.min_delta = model, patience, monitor, min_delta
        self.best = math.inf
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0

    def on_epoch_end(self, epoch, logs):
        value = logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_weights = self.model.get_weights()
            return None
        self.wait += 1
        if self.wait >= self.patience:
            return f"early stopping: {self.monitor} did not improve for {self.patience} epochs (best {self.best:.6g} at epoch {self.best_epoch + 1})"
        return None

    def on_train_end(self):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement.

    Args:
        model: The model being trained.
        patience: Epochs without improvement before reducing.
        monitor: The log to watch. Defaults to "val_loss".
        factor: Multiplier for the learning rate. Defaults to 0.1, as in Keras.
        min_lr: Lower bound. Defaults to 0.
    """

    per_epoch = True

    def __init__(self, model, patience: int, monitor: str = "val_loss", factor: float = 0.1, min_lr: float = 0.0):
        self.model, self.patience, self.monitor, self.factor, self.min_lr = model, patience, monitor, factor, min_lr
        self.best = math.inf
        self.wait = 0

    def on_epoch_end(self, epoch, logs):
        value = logs[self.monitor]
        if value < self.best:
            self.best, self.wait = value, 0
            return None
        self.wait += 1
        if self.wait >= self.patience:
            variable = self.model.optimizer.learning_rate
            new = max(float(variable.numpy()) * self.factor, self.min_lr)
            variable.assign(new)
            self.wait = 0
        return None


class TensorBoard(Callback):
    """Write each epoch's logs as TensorBoard scalars under `log_dir`/train and /validation."""

    def __init__(self, log_dir: Path):
        import tensorflow as tf

        self.tf = tf
        self.writers = {
            "train": tf.summary.create_file_writer(str(Path(log_dir) / "train")),
            "validation": tf.summary.create_file_writer(str(Path(log_dir) / "validation")),
        }

    def on_epoch_end(self, epoch, logs):
        for name, value in logs.items():
            split = "validation" if name.startswith("val_") else "train"
            with self.writers[split].as_default():
                self.tf.summary.scalar("epoch_" + name.removeprefix("val_"), value, step=epoch)
        return None

    def on_train_end(self):
        for writer in self.writers.values():
            writer.close()


def chosen(opts, model, monitor: str, *, writes: bool = True) -> list:
    """The callbacks fit's options ask for, watching `monitor`; TensorBoard only where this process `writes`."""
    picked = []
    if opts.early_stopping:
        picked.append(EarlyStopping(model, opts.early_stopping, monitor=monitor))
    if opts.reduce_lr_on_plateau:
        picked.append(ReduceLROnPlateau(model, opts.reduce_lr_on_plateau, monitor=monitor))
    if opts.tensorboard is not None and writes:
        picked.append(TensorBoard(opts.tensorboard))
    return picked


def restored_epoch(chosen_callbacks, record, first_epoch: int) -> dict:
    """The epoch whose weights early stopping kept, its losses, and a `restored` mark in the history.

    The history's `restored` column is 1 at the kept epoch and 0 at this
    fit's other epochs (an earlier fit's marks stay).
    """
    stopper = next((cb for cb in chosen_callbacks if isinstance(cb, EarlyStopping)), None)
    if stopper is None or stopper.best_epoch is None:
        return {}
    epoch = stopper.best_epoch
    marks = record.history.get("restored", [])[:first_epoch]
    marks += [float("nan")] * (first_epoch - len(marks))
    record.history["restored"] = marks + [1.0 if i == epoch else 0.0 for i in range(first_epoch, record.epochs)]
    summary = {"restored_epoch": epoch + 1, "restored_loss": record.history["loss"][epoch]}
    if stopper.monitor != "loss":
        summary[f"restored_{stopper.monitor}"] = record.history[stopper.monitor][epoch]
    return summary
