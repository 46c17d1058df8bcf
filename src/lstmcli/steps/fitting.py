"""`fit`: train a compiled (or fitted) model on a data file and keep the per-epoch history.

Like every step, it reads the artifact the step before it wrote, checks its
stage, and writes a new artifact atomically, never touching its input. Nothing
here prints, exits or knows about the terminal: the CLI renders what it returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from lstmcli import outputs, quiet
from lstmcli.data import fitdata
from lstmcli.errors import ConfigError, Interrupted
from lstmcli.model import adoption, artifact, checkpoints, predictor, tasks
from lstmcli.model.record import Record
from lstmcli.options import ALL, inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps import ensembling, guarding, histories, smoke
from lstmcli.steps.loading import Written, compile_views, need_data, open_for_training
from lstmcli.train import callbacks, distribution, imbalance


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
            with one argument once TensorFlow is loaded: the training
            pass's label ("trial 1/3", "refit"; None for a fit of one pass).
            The CLI's progress display is one: its module must not import Keras.
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
    kw = dict(given=callbacks, should_stop=should_stop, on_stuck=on_stuck, named=lineage_path)
    if opts.strategy != "multi-worker":
        return _guarded(source, opts, **kw)
    if not quiet.debug():
        distribution.quiet_peer_errors()
    with distribution.peer_errors(opts.timeout):
        return _commit(_train(source, opts, **kw), opts)


def _guarded(source: Path, opts, **kw) -> Written:
    """A fit under `--guard` (see `guarding`): trials on held-out samples choose the epochs, then the refit.

    Every pass reads the same bytes (`readers.kept`): a FIFO or stdin is read once.
    """
    from lstmcli.data import readers

    with readers.kept(opts.data, opts.validation_data):
        first = _train(source, opts, draw=0, **kw)
        plan = first.plan
        if plan is None or plan.mode == "best":
            return _commit(first, opts)
        # One seed for every pass: the later draws take the next ones, the refit starts as the first trial did.
        opts = replace(opts, seed=first.record.seed)
        trials = [first] + [_train(source, opts, draw=i, **kw) for i in range(1, plan.draws)]
        histories = [trial.record.history for trial in trials]
        epochs, best = guarding.chosen_epochs(plan, histories, [t.best_epochs for t in trials], opts.epochs, first.held)
        monitor = None if (opts.monitor or "").startswith("val_") else opts.monitor  # nothing is held out now
        every_row = replace(opts, epochs=epochs, validation_split=0.0, early_stopping=None, monitor=monitor)
        final = _train(source, every_row, label="refit", **kw)
    final.record.fit["guard"] = guarding.summary(
        plan,
        "",
        n=first.n,
        held=first.held,
        best_epochs=best,
        epochs=epochs,
        skill=first.record.fit.get("held_out_skill"),
    )
    if "calibration" in first.record.fit:
        final.record.fit["calibration"] = first.record.fit["calibration"]
    return _commit(final, opts)


def _mase_scales(rows, data, learned: dict) -> dict:
    """MASE's scale, from the training rows only, and the seasonal MASE's for the season fit knows
    (evaluate uses it for a seasonal naive of the same season)."""
    from lstmcli.scoring.baselines import naive_scale, season_of

    scales = {"naive_scale": naive_scale(rows)}
    season = season_of(None, data.spec, learned, data.frame)
    if season and len(rows) > season:
        scales["seasonal_naive_scale"] = {"season": season, "scale": naive_scale(rows, season)}
    return scales


@dataclass
class Trained:
    """One training pass, not yet written: what `_commit` writes, and what the guard reads of it."""

    record: Record
    model: object  # the whole predictor
    out: Path
    dist: object
    checkpoint: object
    plan: guarding.Plan | None = None
    n: int = 0  # the samples the file gave
    held: int = 0  # of which the guard held out
    best_epochs: int = 0  # the epochs (of this pass) whose weights early stopping kept


def _train(
    source: Path, opts, *, given, should_stop, on_stuck, named, draw: int | None = None, label: str | None = None
) -> Trained:
    """One pass of training; `draw` is the guard's trial number (None: train exactly as `opts` say).

    `label` names the pass to the callback factories given (a trial names itself: "trial 1/3").
    """
    record, adopted, source_sha256, content = open_for_training(source, opts)
    out, data_path, chosen_weights = check(source, opts, record)
    data = fitdata.read(record, source, data_path, opts)  # read and checked: nothing learned yet
    spec, task, smoking = data.spec, data.task, smoke.requested(opts)
    n = fitdata.sample_count(data)
    plan, why = (
        (None, "")
        if draw is None
        else guarding.plan(opts, layout=spec.layout, n=n, smoke=smoking, judge=guarding.judge(task, record))
    )
    asked, opts = opts, opts if plan is None else plan.trial_options(opts, draw)
    epochs = 1 if smoking else opts.epochs
    keras = load_tensorflow()
    dist = distribution.start(opts.strategy, devices=opts.devices, timeout=opts.timeout, on_stuck=on_stuck)
    fingerprint = checkpoints.fingerprint(source_sha256, data.digests, opts, smoke=smoking)
    checkpoint = checkpoints.Checkpoint(opts.checkpoint_dir, fingerprint) if opts.checkpoint_dir else None
    resumed = checkpoint.find() if checkpoint else None
    base_epochs = record.epochs
    model, record, seed = _model_and_seed(source, opts, record, adopted, (source_sha256, content), dist, resumed)
    keras.utils.set_random_seed(seed)
    # The validation samples are chosen with the seed; then the preprocessing is learned once, on the training rows.
    learned, train, validation, how, trained_rows = fitdata.split(data, opts, _or(opts.split_seed, seed))
    views = _views(model, record, spec, learned, dist)
    if smoking:  # after the split, so the validation samples are the ones a full fit would hold out
        train, validation = smoke.parts(train, validation, opts.batch_size)
    class_summary, sample_weight = imbalance.for_training(task, train, learned, chosen_weights)
    record.stage, record.preprocessing, record.data_spec, record.seed = "fitted", learned, spec.to_dict(), seed
    history_before, done = {k: list(v) for k, v in record.history.items()}, record.epochs

    def snapshot(epochs_done: int, result) -> None:
        if dist.is_chief:
            histories.merge(record, history_before, done, result.history)
            checkpoint.save(views.predictor, record, epochs_done)

    from lstmcli.train.loop import Trainer, use_xla

    # XLA compiles no collectives on CPU; a distributed fit runs its steps as graphs.
    xla = use_xla(record.compile.get("jit_compile"), len(train) * spec.timesteps) and dist.strategy is None
    label = f"trial {draw + 1}/{plan.draws}" if plan is not None else label
    monitor, chosen_callbacks, every_callback = _callbacks(
        opts, views.training, dist, base_epochs, epochs, (given, label), should_stop
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
    histories.merge(record, history_before, done, result.history)
    restored = callbacks.restored_epoch(chosen_callbacks, record, done)
    facts = dict(
        batch_size=batch_size, train=train, validation=validation, how=how, xla=xla, dist=dist, monitor=monitor
    )
    record.fit = _summary(
        record, result, opts, base_epochs, done, resumed is not None, learned, restored, class_summary, smoking, **facts
    )
    if train.history is not None:
        rows = train.history if trained_rows is None else train.history[trained_rows]
        record.fit.update(_mase_scales(rows, data, learned))
    best, held = guarding.judged(
        record, views, validation, how, (task, spec, dist, batch_size), restored, base_epochs, (plan, why, n, draw)
    )
    paths = {"data": data_path, "validation_data": asked.validation_data}
    _add_lineage(record, named or source, source_sha256, paths, data.digests, smoking)
    return Trained(record, views.predictor, out, dist, checkpoint, plan, n, held, best)


def _or(value, default):
    return default if value is None else value


def _views(model, record: Record, spec, learned: dict, dist):
    """The model's views (training, evaluation, the whole predictor), compiled as the record says."""
    with dist.scope():
        # The views around the model make layers and compiled metrics: variables, so in the scope too.
        views = (
            predictor.views(model, spec, learned)
            if record.stage == "fitted"
            else predictor.assemble(model, learned, spec)
        )
        compile_views(views, record, model)
    return views


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


def _callbacks(opts, model, dist, base_epochs: int, epochs: int, given_and_label: tuple, should_stop):
    """The log the callbacks watch, the Keras callbacks fit's options ask for, and every callback to drive.

    The given callbacks may be factories (the CLI's progress display), called
    now that TensorFlow is loaded, with the pass's label (or None).
    """
    given, label = given_and_label
    monitor = opts.monitor or ("val_loss" if opts.validation_data is not None or opts.validation_split else "loss")
    chosen = callbacks.chosen(opts, model, monitor, writes=dist.is_chief, first_epoch=base_epochs, epochs=epochs)
    extra = [cb if hasattr(cb, "set_model") else cb(label) for cb in given]
    if should_stop is not None:
        extra.append(callbacks.stop_when_asked(should_stop))
    return monitor, chosen, [*extra, *chosen]


def _add_lineage(record: Record, source: Path, source_sha256: str, paths: dict, digests: dict, smoke: bool) -> None:
    """fit's lineage line: the parent artifact, and each data file's path and the sha256 of the bytes read."""
    data_roles = {role: (path, digests[role]) for role, path in paths.items() if path is not None}
    record.lineage.append(artifact.lineage_entry("fit", source, data_roles, parent_sha256=source_sha256))
    if smoke:
        record.lineage[-1]["smoke"] = True


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
    smoke.requested(opts)  # a value of LSTMCLI_SMOKE it does not know is refused before any work
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


def _commit(trained: Trained, opts) -> Written:
    """The chief writes the history and, last, the artifact; every worker learns whether it did."""
    dist, record, out, checkpoint = trained.dist, trained.record, trained.out, trained.checkpoint
    predictor_model = trained.model
    if dist.is_chief:
        try:
            if opts.history is not None and str(opts.history) != "-":
                histories.write_history(record.history, opts.history)
            artifact.save(predictor_model, record, out)  # the last write: once --out exists, the fit is complete
            if checkpoint:
                checkpoint.clear()
        except BaseException:
            distribution.chief_wrote(dist, False, out, opts.timeout)
            raise
    distribution.chief_wrote(dist, True, out, opts.timeout)
    return Written(out, "fitted", record.fit, record.history)


def _seed(explicit: int | None, recorded: int | None) -> int:
    """The fit's seed: the flag, else the artifact's, else a fresh one (recorded afterwards)."""
    if explicit is not None:
        return explicit
    if recorded is not None:
        return recorded
    return random.SystemRandom().randrange(2**31)
