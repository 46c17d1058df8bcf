"""`fit`: train a compiled (or fitted) model on a data file and keep the per-epoch history.

Like every step, it reads the artifact the step before it wrote, checks its
stage, and writes a new artifact atomically, never touching its input. Nothing
here prints, exits or knows about the terminal: the CLI renders what it returns.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from lstmcli import outputs, quiet
from lstmcli.data import fitdata
from lstmcli.errors import ConfigError, Interrupted
from lstmcli.model import adoption, artifact, checkpoints, predictor, tasks
from lstmcli.model.record import Record
from lstmcli.options import ALL, inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps import ensembling
from lstmcli.steps.loading import Written, compile_views, need_data, open_for_training
from lstmcli.train import callbacks, distribution, imbalance

SMOKE_ENV = "LSTMCLI_SMOKE"
SMOKE_ON, SMOKE_OFF = ("1", "true", "yes"), ("", "0", "false", "no")  # the values the README documents
SMOKE_BATCHES = 3  # a smoke fit trains one epoch on at most this many batches …
SMOKE_FULL_BATCH = 32  # … of this many samples when the batch size is 'all'

if TYPE_CHECKING:
    pass


def fit(
    source: Path,
    opts,
    *,
    callbacks: Sequence = (),
    should_stop: Callable[..., str | None] | None = None,
    on_stuck: Callable[[str], None] | None = None,
    lineage_path: Path | None = None,
) -> Written:
    """Train the model on a data file and keep the per-epoch history.

    With `opts.ensemble` N above 1, N such fits from seeds SEED … SEED+N−1,
    saved as one model that averages them (see `ensembling.fit`).

    Args:
        callbacks: Keras callbacks to drive with the fit's own (see
            `loop.Trainer.fit`), or functions that make one when called
            with no arguments once TensorFlow is loaded (the CLI's progress
            display, whose module must not import Keras).
        should_stop: Polled at every chunk's end for a reason to stop (a Keras
            callback asks it, see `callbacks.stop_when_asked`); polled once
            more as `should_stop(final=True)` when training has ended, before
            anything is written: from then on there is no step left to finish,
            so the caller should treat a stop request as an immediate abort.
        on_stuck: Ends the process with the message it is given when a
            multi-worker peer stops answering inside TensorFlow (see
            `watchdog.Watchdog`). Not a callback: it must act while a
            call into TensorFlow has not returned, from the watchdog's thread.
        lineage_path: The parent's path for the lineage, when `source` is a
            staged copy (`run` writes into a temporary folder). Defaults to `source`.
    """
    if opts.ensemble > 1:  # N single fits, averaged inside one model
        return ensembling.fit(
            source, opts, fit, callbacks=callbacks, should_stop=should_stop, lineage_path=lineage_path
        )
    if opts.strategy != "multi-worker":
        return _fit(source, opts, given=callbacks, should_stop=should_stop, on_stuck=on_stuck, named=lineage_path)
    if not quiet.debug():
        distribution.quiet_peer_errors()
    with distribution.peer_errors(opts.timeout):
        return _fit(source, opts, given=callbacks, should_stop=should_stop, on_stuck=on_stuck, named=lineage_path)


def _mase_scales(rows, data, learned: dict) -> dict:
    """MASE's scale, from the training rows only, and the seasonal MASE's for the season fit knows
    (evaluate uses it for a seasonal naive of the same season)."""
    from lstmcli.scoring.baselines import naive_scale, season_of

    scales = {"naive_scale": naive_scale(rows)}
    season = season_of(None, data.spec, learned, data.frame)
    if season and len(rows) > season:
        scales["seasonal_naive_scale"] = {"season": season, "scale": naive_scale(rows, season)}
    return scales


def _fit(source: Path, opts, *, given, should_stop, on_stuck, named) -> Written:
    record, adopted, source_sha256, content = open_for_training(source, opts)
    out, data_path, chosen_weights = check(source, opts, record)
    data = fitdata.read(record, source, data_path, opts)  # read and checked: nothing learned yet
    spec, task, smoke = data.spec, data.task, smoke_requested(opts)
    epochs = 1 if smoke else opts.epochs
    keras = load_tensorflow()
    dist = distribution.start(opts.strategy, devices=opts.devices, timeout=opts.timeout, on_stuck=on_stuck)
    fingerprint = checkpoints.fingerprint(source_sha256, data.digests, opts, smoke=smoke)
    checkpoint = checkpoints.Checkpoint(opts.checkpoint_dir, fingerprint) if opts.checkpoint_dir else None
    resumed = checkpoint.find() if checkpoint else None
    base_epochs = record.epochs
    model, record, seed = _model_and_seed(source, opts, record, adopted, (source_sha256, content), dist, resumed)
    keras.utils.set_random_seed(seed)
    # The validation samples are chosen with the seed; then the preprocessing is learned once, on the training rows.
    learned, train, validation, how, trained_rows = fitdata.split(
        data, opts, seed if opts.split_seed is None else opts.split_seed
    )
    with dist.scope():
        # The views around the model make layers and compiled metrics: variables, so in the scope too.
        views = (
            predictor.views(model, spec, learned)
            if record.stage == "fitted"
            else predictor.assemble(model, learned, spec)
        )
        compile_views(views, record, model)
    if smoke:  # after the split, so the validation samples are the ones a full fit would hold out
        train, validation = _smoke_parts(train, validation, opts.batch_size)
    class_summary, sample_weight = _class_weights(task, train, learned, chosen_weights)
    record.stage, record.preprocessing, record.data_spec, record.seed = "fitted", learned, spec.to_dict(), seed
    history_before, done = {k: list(v) for k, v in record.history.items()}, record.epochs

    def snapshot(epochs_done: int, result) -> None:
        if dist.is_chief:
            _merge_history(record, history_before, done, result.history)
            checkpoint.save(views.predictor, record, epochs_done)

    from lstmcli.train.loop import Trainer, use_xla

    # XLA compiles no collectives on CPU; a distributed fit runs its steps as graphs.
    xla = use_xla(record.compile.get("jit_compile"), len(train) * spec.timesteps) and dist.strategy is None
    monitor, chosen_callbacks, every_callback = _callbacks(
        opts, views.training, dist, base_epochs, epochs, given, should_stop
    )
    batch_size = None if opts.batch_size == ALL else opts.batch_size
    with dist.watch("training"):
        trainer = Trainer(views.training, jit_compile=xla, distribution=dist)
        result = trainer.fit(
            train,
            epochs=base_epochs + epochs,
            batch_size=batch_size,
            initial_epoch=done,
            shuffle=opts.shuffle,
            seed=seed,
            validation=validation,
            callbacks=every_callback,
            on_chunk_end=snapshot if checkpoint else None,
            sample_weight=sample_weight,
        )
    if result.stopped == "interrupted" or (should_stop is not None and should_stop(final=True) == "interrupted"):
        # (a Ctrl-C after the last step is one too: still no --out)
        raise _interrupted(done - base_epochs + result.epochs_run, epochs, out, source, checkpoint)
    _merge_history(record, history_before, done, result.history)
    restored = callbacks.restored_epoch(chosen_callbacks, record, done)
    facts = dict(
        batch_size=batch_size, train=train, validation=validation, how=how, xla=xla, dist=dist, monitor=monitor
    )
    record.fit = _summary(
        record, result, opts, base_epochs, done, resumed is not None, learned, restored, class_summary, smoke, **facts
    )
    if train.history is not None:
        rows = train.history if trained_rows is None else train.history[trained_rows]
        record.fit.update(_mase_scales(rows, data, learned))
    paths = {"data": data_path, "validation_data": opts.validation_data}
    _add_lineage(record, named or source, source_sha256, paths, data.digests, smoke)
    _commit(dist, opts, record, views.predictor, out, checkpoint)
    return Written(out, "fitted", record.fit, record.history)


def _summary(
    record: Record,
    result,
    opts,
    base_epochs: int,
    done: int,
    resumed: bool,
    learned: dict,
    restored: dict,
    classes: dict,
    smoke: bool,
    *,
    batch_size,
    train,
    validation,
    how,
    xla,
    dist,
    monitor,
) -> dict:
    """The fit's summary for the record (`record.fit`): what was trained, on what, how, and how it ended."""
    losses = record.history.get("loss", [])[base_epochs:]
    return {
        "epochs": len(losses),
        "total_epochs": record.epochs,
        "batch_size": batch_size or len(train),
        "samples": len(train),
        "validation_samples": len(validation) if validation is not None else 0,
        "validation": how,
        "final_loss": losses[-1] if losses else None,
        "best_loss": min(losses) if losses else None,
        "seconds": round(result.seconds, 3),
        "xla": xla,
        "strategy": dist.name,
        "replicas": dist.replicas,
        "workers": dist.workers,
        "stopped": result.stopped,
        **({"monitor": monitor} if opts.early_stopping or opts.reduce_lr_on_plateau else {}),
        **({"lr_schedule": opts.lr_schedule} if opts.lr_schedule else {}),
        "resumed_from_epoch": done if resumed else None,
        "transforms": {"chosen": learned["transforms"], "reasons": learned.get("transform_reasons", [])}
        if "transforms" in learned
        else None,
        **restored,
        **classes,
        "smoke": smoke,
    }


def _callbacks(opts, model, dist, base_epochs: int, epochs: int, given, should_stop):
    """The log the callbacks watch, the Keras callbacks fit's options ask for, and every callback to drive.

    `given` may hold factories (the CLI's progress display), called now that TensorFlow is loaded.
    """
    monitor = opts.monitor or ("val_loss" if opts.validation_data is not None or opts.validation_split else "loss")
    chosen = callbacks.chosen(opts, model, monitor, writes=dist.is_chief, first_epoch=base_epochs, epochs=epochs)
    extra = [cb if hasattr(cb, "set_model") else cb() for cb in given]
    if should_stop is not None:
        extra.append(callbacks.stop_when_asked(should_stop))
    return monitor, chosen, [*extra, *chosen]


def _add_lineage(record: Record, source: Path, source_sha256: str, paths: dict, digests: dict, smoke: bool) -> None:
    """fit's lineage line: the parent artifact, and each data file's path and the sha256 of the bytes read."""
    data_roles = {role: (path, digests[role]) for role, path in paths.items() if path is not None}
    record.lineage.append(artifact.lineage_entry("fit", source, data_roles, parent_sha256=source_sha256))
    if smoke:
        record.lineage[-1]["smoke"] = True


def _smoke_parts(train, validation, batch_size):
    """A smoke fit's data: at most SMOKE_BATCHES batches of each part."""
    keep = SMOKE_BATCHES * (SMOKE_FULL_BATCH if batch_size == ALL else batch_size)
    return train.head(keep), validation.head(keep) if validation is not None else None


def check(source: Path, opts, record: Record):
    """fit's checks before anything is read: the stage, the outputs, the options that must agree.

    `run` makes them before any step writes, with the record compile will write.

    Returns:
        (out, data path, the parsed --class-weight).
    """
    artifact.require_stage(record, "compiled", source, "fit")
    predictor.require_in_graph(record, source)
    ensembling.check(source, opts, record)
    out = artifact.check_out_path(opts.out, "fit", source=source)
    data_path = need_data(opts.data, "fit")
    smoke_requested(opts)  # a value of LSTMCLI_SMOKE it does not know is refused before any work
    outputs.check(outputs_of(opts, out=out), inputs_of(opts, source))
    if opts.validation_data is not None and opts.validation_split:
        raise ConfigError("give --validation-split or --validation-data, not both")
    chosen_weights = imbalance.parse_class_weight(opts.class_weight)
    task = tasks.get_task(record.task)
    if chosen_weights != imbalance.NONE and not task.classification:
        raise ConfigError(f"--class-weight weighs the classes of a classifier; the model's task is {task.name}")
    validated = opts.validation_data is not None or bool(opts.validation_split)
    callbacks.check_options(opts, callbacks.logged_metrics((record.compile or {}).get("metrics"), validated))
    return out, data_path, chosen_weights


def _model_and_seed(source: Path, opts, record: Record, adopted, read: tuple, dist, resumed: Path | None):
    """The model to train (made in the strategy's scope), its record, and the seed every worker agreed on.

    `read` is (sha256, bytes) of the source as it was read once; a resumed fit
    takes the checkpoint's model, record and seed.
    """
    source_sha256, content = read
    with dist.scope():
        if resumed is not None:
            model, record = artifact.load(resumed, unsafe=opts.unsafe)
            seed = record.seed
        elif adopted is not None and dist.strategy is not None:
            # again, its variables made in the scope
            model = adoption.adopt(source, unsafe=opts.unsafe, sha256=source_sha256, content=content)[0]
            seed = _seed(opts.seed, record.seed)
        else:
            model = (
                adopted
                if adopted is not None
                else artifact.load(source, unsafe=opts.unsafe, record=record, content=content)[0]
            )
            seed = _seed(opts.seed, record.seed)
    seed = distribution.agree_on_start(dist, seed, record.epochs if resumed is not None else 0, opts.timeout)
    return model, record, seed


def _class_weights(task, train, learned: dict, chosen_weights) -> tuple[dict, object]:
    """A classifier's class counts and weights for the summary, and the per-sample weights they give."""
    if not task.classification:
        return {}, None
    import numpy as np

    from lstmcli.data.parsing import class_indices

    indices = class_indices(train.y)
    counts = [int(n) for n in np.bincount(indices, minlength=len(learned["classes"]))]
    weights = imbalance.class_weights(chosen_weights, learned["classes"], counts)
    sample_weight = imbalance.sample_weights(indices, weights) if weights else None
    return {
        "class_counts": counts,
        "class_weight": {str(learned["classes"][i]): w for i, w in (weights or {}).items()},
    }, sample_weight


def _interrupted(trained: int, epochs: int, out: Path, source: Path, checkpoint) -> Interrupted:
    resume = ""
    if checkpoint:
        resume = (
            f"; run the same command again to resume from epoch {checkpoint.epochs_done}"
            if checkpoint.epochs_done
            else "; no checkpoint was written yet"
        )
    return Interrupted(
        f"interrupted after {trained} of {epochs} epochs; nothing was written to {out} and {source} is unchanged{resume}"
    )


def _commit(dist, opts, record: Record, predictor_model, out: Path, checkpoint) -> None:
    """The chief writes the history and, last, the artifact; every worker learns whether it did."""
    if dist.is_chief:
        try:
            if opts.history is not None and str(opts.history) != "-":
                write_history(record.history, opts.history)
            artifact.save(predictor_model, record, out)  # the last write: once --out exists, the fit is complete
            if checkpoint:
                checkpoint.clear()
        except BaseException:
            distribution.chief_wrote(dist, False, out, opts.timeout)
            raise
    distribution.chief_wrote(dist, True, out, opts.timeout)


def smoke_requested(opts) -> bool:
    """A smoke fit: `--smoke`, `smoke = true` in the config, or LSTMCLI_SMOKE=1 in the environment.

    The environment turns a whole pipeline (a Makefile, a CI job) into a smoke
    test without editing it; `LSTMCLI_SMOKE=0` (or empty) leaves it alone.

    Raises:
        ConfigError: for any other value (`off`, `maybe`), rather than guessing which was meant.
    """
    value = os.environ.get(SMOKE_ENV, "").strip().lower()
    if value not in SMOKE_ON + SMOKE_OFF:
        raise ConfigError(
            f"{SMOKE_ENV}={value!r} is neither on (1, true, yes) nor off (0, false, no, or empty); set one of them"
        )
    return bool(opts.smoke) or value in SMOKE_ON


def _seed(explicit: int | None, recorded: int | None) -> int:
    """The fit's seed: the flag, else the artifact's, else a fresh one (recorded afterwards)."""
    if explicit is not None:
        return explicit
    if recorded is not None:
        return recorded
    return random.SystemRandom().randrange(2**31)


def _merge_history(record: Record, before: dict, done: int, new: dict) -> None:
    merged = {k: list(v) for k, v in before.items()}
    for name, values in new.items():
        merged.setdefault(name, [float("nan")] * done)
        merged[name] = merged[name][:done] + list(values)
    width = done + len(next(iter(new.values()), []))
    for name, values in merged.items():  # a log this fit did not write (val_* without validation) is NaN here
        merged[name] = (values + [float("nan")] * width)[:width]
    record.history = merged


def history_csv(history: dict[str, list]) -> str:
    """The per-epoch history as CSV, with an epoch column counting from 1."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame.to_csv(index=False)


def write_history(history: dict[str, list], path: Path) -> None:
    """Write `history_csv` to `path` atomically."""
    with outputs.atomic_output(Path(path)) as handle:
        handle.write(history_csv(history))
