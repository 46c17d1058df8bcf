"""Per-epoch decisions during fit, made by Keras's own callbacks.

fit's options ask for `keras.callbacks.EarlyStopping`, `ReduceLROnPlateau`,
`LearningRateScheduler`, `TensorBoard` and `TerminateOnNaN`, configured so
that they behave as lstmcli always has (see `chosen`); the fused training loop
(`lstmcli.train.loop.Trainer.fit`) drives them through one
`keras.callbacks.CallbackList` with every epoch's logs, in order, exactly as
`model.fit` would give them, and stops when one sets `model.stop_training`.

A callback that may change the model between epochs (keep the best weights,
change the learning rate) makes the loop return to Python at every epoch
boundary; one that only watches (TensorBoard, progress) lets it run many
epochs per call and replay their logs afterwards (see `each_epoch`).

Keras is imported only inside the functions: this module is imported by
commands that never load TensorFlow.
"""

from __future__ import annotations

import math
from pathlib import Path

from lstmcli.errors import ConfigError

SCHEDULES = (
    "cosine, exponential:RATE (the learning rate × RATE every epoch) or step:EVERY:FACTOR (× FACTOR every EVERY epochs)"
)


def logged_metrics(compiled_metrics, validation: bool) -> list[str]:
    """The names a fit logs every epoch: loss and the compiled metrics, then their val_ twins with validation."""
    names = ["loss", *(compiled_metrics or [])]
    return names + ["val_" + name for name in names] * validation


def check_options(opts, logged: list[str]) -> None:
    """Refuse a --monitor this fit does not log, a bad --lr-schedule or a zero --lr-factor, before any work.

    Raises:
        ConfigError: one line saying what is wrong and what would do.
    """
    if opts.monitor is not None and opts.monitor not in logged:
        raise ConfigError(
            f"--monitor {opts.monitor} is not logged by this fit; the logged metrics are {', '.join(logged)}"
        )
    if not opts.lr_factor > 0:
        raise ConfigError(
            f"--lr-factor must be above 0 (the learning rate is multiplied by it, so below 1). Received: {opts.lr_factor!r}"
        )
    if opts.lr_schedule is not None:
        parse_schedule(opts.lr_schedule)


def parse_schedule(text: str) -> tuple[str, tuple]:
    """`cosine`, `exponential:RATE` or `step:EVERY:FACTOR` as (kind, numbers).

    Raises:
        ConfigError: for anything else, in one line.
    """
    kind, *args = [part.strip() for part in str(text).split(":")]
    try:
        if kind == "cosine" and not args:
            return kind, ()
        if kind == "exponential" and len(args) == 1:
            rate = float(args[0])
            if math.isfinite(rate) and rate > 0:
                return kind, (rate,)
        if kind == "step" and len(args) == 2:
            every, factor = int(args[0]), float(args[1])
            if every >= 1 and math.isfinite(factor) and factor > 0:
                return kind, (every, factor)
    except ValueError:
        pass
    raise ConfigError(
        f"--lr-schedule {text!r} is not a schedule; give {SCHEDULES}, e.g. exponential:0.95 or step:10:0.5 "
        f"(RATE and FACTOR above 0, EVERY a whole number of epochs)"
    )


def schedule(text: str, first_epoch: int, epochs: int):
    """The learning rate by epoch for Keras's LearningRateScheduler: `(epoch, lr) -> lr`.

    The fit starts at `first_epoch` and trains `epochs` epochs; its first epoch
    keeps the learning rate it starts with. Each epoch multiplies the rate it
    is given (so a plateau's reduction carries on, and a fit resumed from a
    checkpoint, whose optimizer holds the rate, continues the same schedule):
    cosine follows 0.5 × (1 + cos(π k / epochs)) for the fit's k-th epoch,
    decaying towards 0 at the end of the fit.
    """
    kind, args = parse_schedule(text)

    def cosine(k: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * k / epochs))

    def factor(k: int) -> float:
        if k <= 0:
            return 1.0
        if kind == "cosine":
            return cosine(k) / cosine(k - 1)
        if kind == "exponential":
            return args[0]
        every, by = args
        return by if k % every == 0 else 1.0

    def rate(epoch: int, lr: float) -> float:
        return float(lr) * factor(epoch - first_epoch)

    return rate


def chosen(opts, model, monitor: str, *, writes: bool = True, first_epoch: int = 0, epochs: int | None = None) -> list:
    """The Keras callbacks fit's options ask for, watching `monitor`; TensorBoard only where this process `writes`.

    Configured to keep lstmcli's behaviour: early stopping keeps (restores at
    the end of training) the best epoch's weights whether or not it stopped;
    both it and the plateau's reduction count an epoch as better when the
    monitored log improves by more than --min-delta (default 0, where Keras's
    ReduceLROnPlateau defaults to 1e-4). TensorBoard writes the epoch logs only
    (no graph, no profile: the fused loop is not Keras's train function) under
    log_dir/train and log_dir/validation. TerminateOnNaN stops a fit whose loss
    is no longer finite (the loop then raises lstmcli's TrainingError).
    """
    import keras

    picked = [keras.callbacks.TerminateOnNaN()]
    if opts.tensorboard is not None and writes:
        # Before the plateau's reduction, so epoch_learning_rate is the rate the epoch trained with.
        picked.append(
            keras.callbacks.TensorBoard(log_dir=str(Path(opts.tensorboard)), write_graph=False, profile_batch=0)
        )
    if opts.early_stopping:
        picked.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                min_delta=opts.min_delta,
                patience=opts.early_stopping,
                restore_best_weights=True,
            )
        )
    if opts.reduce_lr_on_plateau:
        picked.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=opts.lr_factor,
                patience=opts.reduce_lr_on_plateau,
                min_delta=opts.min_delta,
                cooldown=opts.lr_cooldown,
                min_lr=opts.min_lr,
            )
        )
    if opts.lr_schedule is not None:
        picked.append(
            keras.callbacks.LearningRateScheduler(schedule(opts.lr_schedule, first_epoch, epochs or opts.epochs))
        )
    return picked


def each_epoch(callback) -> bool:
    """Whether `callback` needs the fused loop to return to Python at every epoch boundary.

    A callback says so with a `per_epoch` attribute; otherwise only Keras's
    TensorBoard and TerminateOnNaN are known to leave the model alone, and any
    other callback (EarlyStopping keeps weights, ReduceLROnPlateau and
    LearningRateScheduler change the learning rate) gets every epoch boundary.
    """
    import keras

    declared = getattr(callback, "per_epoch", None)
    if declared is not None:
        return bool(declared)
    return not isinstance(callback, (keras.callbacks.TensorBoard, keras.callbacks.TerminateOnNaN))


def stop_reason(callbacks) -> str:
    """Why training stopped, once a callback set `model.stop_training`: fit's `stopped` text."""
    import keras

    for callback in callbacks:
        reason = getattr(callback, "stop_reason", None)
        if reason:
            return reason
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.stopped_epoch > 0:
            return (
                f"early stopping: {callback.monitor} did not improve for {callback.patience} epochs "
                f"(best {float(callback.best):.6g} at epoch {callback.best_epoch + 1})"
            )
    return "stopped by a callback"


def stop_when_asked(should_stop):
    """A Keras callback that stops training at a chunk's end when `should_stop()` gives a reason (the first Ctrl-C).

    It asks at every `on_train_batch_end`, which the fused loop calls after
    each call into the graph, several times a second.
    """
    import keras

    class StopWhenAsked(keras.callbacks.Callback):
        per_epoch = False  # it only asks; the model is left alone
        stop_reason = None

        def on_train_batch_end(self, batch, logs=None):
            reason = should_stop()
            if reason:
                self.stop_reason = reason
                self.model.stop_training = True

    return StopWhenAsked()


def restored_epoch(chosen_callbacks, record, first_epoch: int) -> dict:
    """The epoch whose weights early stopping kept, its losses, and a `restored` mark in the history.

    Read from Keras's EarlyStopping (`best_epoch`, `best_weights`). The
    history's `restored` column is 1 at the kept epoch and 0 at this fit's
    other epochs (an earlier fit's marks stay).
    """
    import keras

    stopper = next((cb for cb in chosen_callbacks if isinstance(cb, keras.callbacks.EarlyStopping)), None)
    if stopper is None or stopper.best_weights is None:
        return {}
    epoch = stopper.best_epoch
    marks = record.history.get("restored", [])[:first_epoch]
    marks += [float("nan")] * (first_epoch - len(marks))
    record.history["restored"] = marks + [1.0 if i == epoch else 0.0 for i in range(first_epoch, record.epochs)]
    summary = {"restored_epoch": epoch + 1, "restored_loss": record.history["loss"][epoch]}
    if stopper.monitor != "loss":
        summary[f"restored_{stopper.monitor}"] = record.history[stopper.monitor][epoch]
    return summary


def callback_list(callbacks, model, epochs: int, steps: int):
    """The callbacks given (with a TerminateOnNaN added when none is), Keras's CallbackList over them,
    and whether any of them makes every chunk end at an epoch boundary (see `callbacks.each_epoch`)."""
    import keras

    from lstmcli.train.callbacks import each_epoch

    given = list(callbacks.callbacks if isinstance(callbacks, keras.callbacks.CallbackList) else callbacks or [])
    if not any(isinstance(cb, keras.callbacks.TerminateOnNaN) for cb in given):
        given.append(keras.callbacks.TerminateOnNaN())
    per_epoch = any(each_epoch(cb) for cb in given)
    return given, keras.callbacks.CallbackList(given, model=model, epochs=epochs, steps=steps, verbose=0), per_epoch


def replay(rows, first_epoch: int, step: int, nb: int, names: list[str], keys: list[str], callbacks, result, model):
    """Give the callbacks the epochs that ended inside one call of the fused loop, in order, as Keras would.

    Returns (epoch, loss) where the loss stopped being finite and TerminateOnNaN
    stopped the fit, else None.
    """
    for epoch, row in enumerate(rows, start=first_epoch):
        values = dict(zip(names, (float(v) for v in row)))
        for name, value in values.items():
            result.history.setdefault(name, []).append(value)
        result.epochs_run += 1
        logs = {k: v for k, v in values.items() if k != "learning_rate"}  # Keras's epoch logs
        last = (epoch + 1) * nb == step
        finite = math.isfinite(logs["loss"])
        if last or not finite:  # the chunk's end (where the loss went wrong, for TerminateOnNaN)
            callbacks.on_train_batch_end(nb - 1, {k: logs[k] for k in keys})
        if not finite and model.stop_training:
            return epoch, logs["loss"]
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            return None
        if not last:
            callbacks.on_epoch_begin(epoch + 1)
    if step % nb and not model.stop_training:  # the chunk ended inside an epoch
        current = {k: float(v) for k, v in model.get_metrics_result().items()}
        callbacks.on_train_batch_end(step % nb - 1, current)
        if model.stop_training and not math.isfinite(current.get("loss", 0.0)):
            return step // nb, current["loss"]
    return None
