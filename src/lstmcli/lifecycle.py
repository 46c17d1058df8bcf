"""The five lifecycle steps: define, compile, fit, evaluate, predict.

Each function reads the artifact the step before it wrote, checks its stage,
does its one job and returns a result; the steps that produce a model write
a new artifact atomically and never touch their input. Nothing here prints,
exits or knows about the terminal: the CLI renders what these return.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from lstmcli import (
    architecture, artifact, callbacks, checkpoints, compiling, dataspec, distribution, forecasting, imbalance, outputs, predictor, tasks,
    trainingdata,
)
from lstmcli.artifact import Record
from lstmcli.errors import ArtifactError, ConfigError, DataError, Interrupted
from lstmcli.quiet import load_tensorflow
from lstmcli.settings import ALL, SPEC_KEYS

SMOKE_ENV = "LSTMCLI_SMOKE"
SMOKE_BATCHES = 3  # a smoke fit trains one epoch on at most this many batches …
SMOKE_FULL_BATCH = 32  # … of this many samples when the batch size is 'all'

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Written:
    """A step that wrote an artifact: where, at which stage, and a summary."""

    path: Path
    stage: str
    summary: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def define(opts, *, debug: bool = False) -> Written:
    """Build an untrained model from a task, a data spec and layers."""
    task = tasks.get_task(opts.task)
    out = artifact.check_out_path(opts.out, "define")
    outputs.check([outputs.Output("--out", out)], outputs.step_inputs(None, opts))
    spec = dataspec.spec_from_options(opts)
    stack = architecture.parse_layers(opts.lstm, opts.layers, opts.dropout)
    if task.name == "multiclass" and not (opts.num_classes or opts.output_units):
        raise ConfigError("a multiclass task needs the number of classes; give --num-classes N")
    if task.classification and opts.horizon > 1:
        raise ConfigError(f"--horizon {opts.horizon} forecasts {opts.horizon} steps of a regression target; a {task.name} model predicts one label per sample")
    if opts.num_classes and task.name != "multiclass":
        raise ConfigError(f"--num-classes is for the multiclass task; the task is {task.name}")
    n_targets = len(spec.target) if spec.target else (spec.n_features if spec.layout == "series" else 1)
    if not task.classification and spec.layout == "series":
        n_targets *= spec.horizon  # direct multi-output: one unit per (step, target), step-major
    units = opts.output_units or task.output_units(n_targets, opts.num_classes)
    activation = opts.output_activation or task.activation
    tasks.check_output(task, units, activation)
    if not task.classification and units != n_targets and (spec.target or spec.layout == "series"):
        raise ConfigError(
            f"a regression model has one output per target and step; the spec has {n_targets} but "
            f"--output-units is {units}: drop --output-units or name the targets with --target"
        )
    keras = load_tensorflow(debug)
    if opts.seed is not None:
        keras.utils.set_random_seed(opts.seed)
    mask_value = dataspec.MASK_VALUE if spec.mask else None
    model = architecture.build_model(stack, spec.input_shape, units, activation, opts.recurrent_dropout, mask_value)
    record = Record(
        stage="defined",
        task=task.name,
        data_spec=spec.to_dict(),
        architecture={"layers": stack, "units": units, "activation": activation, "recurrent_dropout": opts.recurrent_dropout},
        seed=opts.seed,
        lineage=[artifact.lineage_entry("define", None)],
    )
    artifact.save(model, record, out)
    return Written(out, "defined", {"parameters": int(model.count_params()), "input_shape": list(spec.input_shape), "units": units})


def compile(source: Path, opts, *, debug: bool = False) -> Written:
    """Attach an optimizer, a loss and metrics; defaults follow the task."""
    record, model = _open(source, opts, debug)
    out = artifact.check_out_path(opts.out, "compile", source=source)
    outputs.check([outputs.Output("--out", out)], outputs.step_inputs(source, opts))
    task = tasks.get_task(record.task)
    units, activation = record.architecture["units"], record.architecture["activation"]
    loss = opts.loss or task.loss
    metrics = list(opts.metrics or task.metrics)
    tasks.check_loss(task, loss, units, activation)
    keras = load_tensorflow(debug)
    compiling.check_name(keras.losses.get, loss, "loss", compiling.known(keras.losses))
    for metric in metrics:
        if metric not in ("accuracy", "acc"):
            compiling.check_name(keras.metrics.get, metric, "metric", compiling.known(keras.metrics))
    optimizer = compiling.optimizer(keras, opts.optimizer, opts.learning_rate, opts.momentum)
    if model is None:
        model, _ = artifact.load(source, unsafe=opts.unsafe, compile=False)
    # Keras's own "auto" resolves to no XLA for LSTMs on CPU; lstmcli decides per fit (see training.use_xla).
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None, jit_compile=bool(opts.jit_compile))
    record.stage = "compiled"
    record.compile = {
        "optimizer": keras.optimizers.serialize(optimizer)["class_name"].lower(),
        "optimizer_config": {k: v for k, v in optimizer.get_config().items() if isinstance(v, (int, float, str, bool, type(None)))},
        "loss": loss,
        "metrics": metrics,
        "jit_compile": opts.jit_compile,
    }
    record.lineage.append(artifact.lineage_entry("compile", source))
    artifact.save(model, record, out)
    return Written(out, "compiled", {"optimizer": record.compile["optimizer"], "loss": loss, "metrics": metrics})


def fit(
    source: Path,
    opts,
    *,
    debug: bool = False,
    callbacks: Sequence = (),
    should_stop: Callable[..., str | None] | None = None,
    on_stuck: Callable[[str], None] | None = None,
) -> Written:
    """Train the model on a data file and keep the per-epoch history.

    Args:
        callbacks: Keras callbacks to drive with the fit's own (see
            `training.Trainer.fit`), or functions that make one when called
            with no arguments once TensorFlow is loaded (the CLI's progress
            display, whose module must not import Keras).
        should_stop: Polled at every chunk's end for a reason to stop (a Keras
            callback asks it, see `callbacks.stop_when_asked`); polled once
            more as `should_stop(final=True)` when training has ended, before
            anything is written: from then on there is no step left to finish,
            so the caller should treat a stop request as an immediate abort.
        on_stuck: Ends the process with the message it is given when a
            multi-worker peer stops answering inside TensorFlow (see
            `distribution.Watchdog`). Not a callback: it must act while a
            call into TensorFlow has not returned, from the watchdog's thread.
    """
    if opts.strategy != "multi-worker":
        return _fit(source, opts, debug=debug, given=callbacks, should_stop=should_stop, on_stuck=on_stuck)
    if not debug:
        distribution.quiet_peer_errors()
    with distribution.peer_errors(opts.timeout):
        return _fit(source, opts, debug=debug, given=callbacks, should_stop=should_stop, on_stuck=on_stuck)


def _fit(source: Path, opts, *, debug, given, should_stop, on_stuck) -> Written:
    record, adopted = _open(source, opts, debug)
    artifact.require_stage(record, "compiled", source, "fit")
    predictor.require_in_graph(record, source)
    out = artifact.check_out_path(opts.out, "fit", source=source)
    data_path = _need_data(opts.data, "fit")
    outputs.check(outputs.fit_outputs(out, opts), outputs.step_inputs(source, opts))
    if opts.validation_data is not None and opts.validation_split:
        raise ConfigError("give --validation-split or --validation-data, not both")
    chosen_weights = imbalance.parse_class_weight(opts.class_weight)
    task = tasks.get_task(record.task)
    if chosen_weights != imbalance.NONE and not task.classification:
        raise ConfigError(f"--class-weight weighs the classes of a classifier; the model's task is {task.name}")
    validated = opts.validation_data is not None or bool(opts.validation_split)
    callbacks.check_options(opts, callbacks.logged_metrics((record.compile or {}).get("metrics"), validated))
    source_sha256 = artifact.sha256_file(source)
    spec, learned, train, validation, digests, relearn = trainingdata.read(record, source, data_path, opts)
    smoke = smoke_requested(opts)
    epochs = 1 if smoke else opts.epochs
    monitor = opts.monitor or ("val_loss" if validated else "loss")
    keras = load_tensorflow(debug)
    dist = distribution.start(opts.strategy, devices=opts.devices, timeout=opts.timeout, on_stuck=on_stuck)
    checkpoint = None
    if opts.checkpoint_dir:
        checkpoint = checkpoints.Checkpoint(opts.checkpoint_dir, checkpoints.fingerprint(source_sha256, digests, opts))
    resumed = checkpoint.find() if checkpoint else None
    base_epochs = record.epochs
    with dist.scope():
        if resumed is not None:
            model, record = artifact.load(resumed, unsafe=opts.unsafe)
            seed = record.seed
        elif adopted is not None and dist.strategy is not None:
            model = artifact.adopt(source, unsafe=opts.unsafe)[0]  # again, its variables made in the scope
            seed = _seed(opts.seed, record.seed)
        else:
            model = adopted if adopted is not None else artifact.load(source, unsafe=opts.unsafe)[0]
            seed = _seed(opts.seed, record.seed)
    seed = distribution.agree_on_start(dist, seed, record.epochs if resumed is not None else 0, opts.timeout)
    keras.utils.set_random_seed(seed)
    import numpy as np

    train, validation, how, trained_rows = trainingdata.split(train, validation, opts, spec, task, learned, seed)
    if relearn is not None:
        learned, train, validation = relearn(trained_rows, train, validation)
    with dist.scope():
        # The views around the model make layers and compiled metrics: variables, so in the scope too.
        if record.stage == "fitted":
            views = predictor.views(model, spec, learned)
        else:
            views = predictor.assemble(model, learned, spec)
        _compile_views(views, record, model)
    if smoke:  # after the split, so the validation samples are the ones a full fit would hold out
        keep = SMOKE_BATCHES * (SMOKE_FULL_BATCH if opts.batch_size is ALL else opts.batch_size)
        train = train.head(keep)
        validation = validation.head(keep) if validation is not None else None
    class_summary, sample_weight = {}, None
    if task.classification:
        from lstmcli.windowing import class_indices

        indices = class_indices(train.y)
        counts = [int(n) for n in np.bincount(indices, minlength=len(learned["classes"]))]
        weights = imbalance.class_weights(chosen_weights, learned["classes"], counts)
        sample_weight = imbalance.sample_weights(indices, weights) if weights else None
        class_summary = {"class_counts": counts, "class_weight": {str(learned["classes"][i]): w for i, w in (weights or {}).items()}}
    from lstmcli.training import Trainer

    record.stage = "fitted"
    record.preprocessing = learned
    record.data_spec = spec.to_dict()
    record.seed = seed
    history_before = {k: list(v) for k, v in record.history.items()}
    done = record.epochs

    def snapshot(epochs_done: int, result) -> None:
        if dist.is_chief:
            _merge_history(record, history_before, done, result.history)
            checkpoint.save(views.predictor, record, epochs_done)

    from lstmcli.training import use_xla

    # XLA compiles no collectives on CPU; a distributed fit runs its steps as graphs.
    xla = use_xla(record.compile.get("jit_compile"), len(train) * spec.timesteps) and dist.strategy is None
    chosen_callbacks = callbacks.chosen(opts, views.training, monitor, writes=dist.is_chief, first_epoch=base_epochs, epochs=epochs)
    extra = [cb if hasattr(cb, "set_model") else cb() for cb in given]  # factories make theirs now TensorFlow is loaded
    if should_stop is not None:
        extra.append(callbacks.stop_when_asked(should_stop))
    trainer = Trainer(views.training, jit_compile=xla, distribution=dist)
    batch_size = None if opts.batch_size is ALL else opts.batch_size
    with dist.watch("training"):
        result = trainer.fit(
            train,
            epochs=base_epochs + epochs,
            batch_size=batch_size,
            initial_epoch=done,
            shuffle=opts.shuffle,
            seed=seed,
            validation=validation,
            callbacks=[*extra, *chosen_callbacks],
            on_chunk_end=snapshot if checkpoint else None,
            sample_weight=sample_weight,
        )
    if should_stop is not None and should_stop(final=True) == "interrupted":
        result.stopped = "interrupted"  # Ctrl-C after the last step: still no --out
    if result.stopped == "interrupted":
        resume = ""
        if checkpoint:
            resume = (f"; run the same command again to resume from epoch {checkpoint.epochs_done}"
                      if checkpoint.epochs_done else "; no checkpoint was written yet")
        raise Interrupted(
            f"interrupted after {done - base_epochs + result.epochs_run} of {epochs} epochs; nothing was "
            f"written to {out} and {source} is unchanged{resume}"
        )
    _merge_history(record, history_before, done, result.history)
    losses = record.history.get("loss", [])[base_epochs:]
    restored = callbacks.restored_epoch(chosen_callbacks, record, done)
    record.fit = {
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
        "resumed_from_epoch": done if resumed is not None else None,
        "transforms": {"chosen": learned["transforms"], "reasons": learned.get("transform_reasons", [])}
        if "transforms" in learned else None,
        **restored,
        **class_summary,
        "smoke": smoke,
    }
    if train.history is not None:
        from lstmcli.baselines import naive_scale

        rows = train.history if trained_rows is None else train.history[trained_rows]
        record.fit["naive_scale"] = naive_scale(rows)  # MASE's scale, from the training rows only
    data_roles = {role: (path, digests[role]) for role, path in
                  (("data", data_path), ("validation_data", opts.validation_data)) if path is not None}
    record.lineage.append(artifact.lineage_entry("fit", source, data_roles, parent_sha256=source_sha256))
    if smoke:
        record.lineage[-1]["smoke"] = True
    if dist.is_chief:
        try:
            if opts.history is not None and str(opts.history) != "-":
                write_history(record.history, opts.history)
            artifact.save(views.predictor, record, out)  # the last write: once --out exists, the fit is complete
            if checkpoint:
                checkpoint.clear()
        except BaseException:
            distribution.chief_wrote(dist, False, out, opts.timeout)
            raise
    distribution.chief_wrote(dist, True, out, opts.timeout)
    return Written(out, "fitted", record.fit, record.history)


def smoke_requested(opts) -> bool:
    """A smoke fit: `--smoke`, `smoke = true` in the config, or LSTMCLI_SMOKE=1 in the environment.

    The environment turns a whole pipeline (a Makefile, a CI job) into a smoke
    test without editing it; `LSTMCLI_SMOKE=0` (or empty) leaves it alone.
    """
    return bool(opts.smoke) or os.environ.get(SMOKE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def check_out(source: Path, opts) -> None:
    """Refuse an evaluate or predict `--out` that would harm an input (before any work).

    Raises:
        ArtifactError: naming the input it would replace.
    """
    outputs.check([outputs.Output("--out", opts.out)], outputs.step_inputs(source, opts))


def _compile_views(views, record: Record, loaded) -> None:
    """Compile the views made around the `loaded` model with its optimizer, loss and metrics.

    They share their variables, so the optimizer's state (saved with the
    predictor) is the training view's; the predictor's loss is in the data's
    units, for users who call `evaluate` on it with plain Keras.
    """
    settings = record.compile
    optimizer = loaded.optimizer
    for model in {id(v): v for v in (views.predictor, views.training)}.values():
        if model is not loaded:
            model.compile(optimizer=optimizer, loss=settings["loss"], metrics=list(settings.get("metrics") or []) or None)
    network = predictor.network_of(views.predictor)
    if network is not views.predictor and network.compiled:
        # The optimizer now belongs to the predictor. Left on the nested network
        # too, Keras would save its state there (once per object) and the
        # predictor's own copy would load empty: continued training would
        # restart Adam's moments.
        network.compiled = False
        network.optimizer = None


def _open(source: Path, opts, debug: bool):
    """The artifact's record, and the model if it had to be loaded to adopt it.

    A Keras model saved outside lstmcli has no record; compile and fit adopt it
    with its task inferred from its output layer (see `artifact.adopt`).
    """
    try:
        return artifact.read_record(source), None
    except artifact.ForeignModel:
        load_tensorflow(debug)
        model, record = artifact.adopt(source, unsafe=opts.unsafe)
        return record, model


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


def evaluate(source: Path, opts, *, debug: bool = False) -> dict[str, float]:
    """Loss and every compiled metric on a data file, as the model sees it.

    A classifier's metrics also hold the majority-class baseline's accuracy
    (`majority_accuracy`: always predicting the training part's most common
    class) and each class's recall (`recall_<label>`).
    """
    import numpy as np

    model, record, data, frame, dist = _load_with_data(source, opts, "evaluate", need_target=True, debug=debug)
    from lstmcli.training import Trainer

    with dist.scope():  # the views' compiled metrics are variables too
        views = predictor.views(model, dataspec.DataSpec.from_dict(record.data_spec), record.preprocessing)
        _compile_views(views, record, model)
    jit = bool(record.compile.get("jit_compile")) and dist.strategy is None
    batch_size = None if opts.batch_size is ALL else opts.batch_size
    scaled, predicted = views.split(Trainer(views.evaluation or views.predictor, jit_compile=jit, distribution=dist).predict(data, batch_size))
    metrics = Trainer(views.training, distribution=dist).score(data, scaled)
    if tasks.get_task(record.task).classification:
        metrics.update(_class_metrics(scaled, record, data))
    elif data.history is not None:
        from lstmcli import baselines

        scale = (record.fit or {}).get("naive_scale")
        metrics.update(baselines.forecast_metrics(
            predicted, data.y_raw, data.history, data.target_rows,
            season=_season(opts.season, record, frame), scale=scale,
        ))
    else:
        error = predicted - data.y_raw
        metrics["original_rmse"] = float(np.sqrt(np.mean(error.astype(np.float64) ** 2)))
        metrics["original_mae"] = float(np.mean(np.abs(error.astype(np.float64))))
    metrics["samples"] = len(data)
    return metrics


def _season(explicit: int | None, record: Record, frame) -> int | None:
    """The seasonal naive's period: --season at evaluate, else define's, else the
    period of a seasonal difference fit chose, else the season of the index's frequency."""
    if explicit is not None:
        return explicit
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    if spec.season:
        return spec.season
    from lstmcli import rowindex, transforms

    seasonal = [lag for lag in transforms.lags((record.preprocessing or {}).get("transforms") or []) if lag > 1]
    return seasonal[0] if seasonal else rowindex.index_season(frame, spec)


def _class_metrics(outputs, record: Record, data) -> dict[str, float]:
    """The majority baseline (the training part's most common class) and per-class recall."""
    import numpy as np

    from lstmcli.windowing import class_indices

    true = class_indices(data.y)
    counts = (record.fit or {}).get("class_counts") or np.bincount(true, minlength=len(record.preprocessing["classes"]))
    return imbalance.class_metrics(true, _chosen(outputs), record.preprocessing["classes"], int(np.argmax(counts)))


def _chosen(outputs):
    """The class each output row predicts: sigmoid above 0.5, else the largest softmax unit."""
    return (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)


def predict(source: Path, opts, *, debug: bool = False) -> pd.DataFrame:
    """Predictions for every sample of a data file, in the data's units or labels.

    A series forecast is written long, one row per (window, step): the key of
    the step's row, the step (1..horizon) and the predicted targets; with
    `opts.wide`, one row per window, keyed by its first step. With
    `opts.future`, only the forecast past the last (selected) row, keyed by
    the index continued at its frequency; `opts.steps` beyond the horizon
    forecasts recursively, feeding the forecasts back as inputs.
    """
    if opts.steps is not None and not opts.future:
        raise ConfigError("--steps N is the length of a forecast past the end; give it with --future")
    model, record, data, frame, dist = _load_with_data(source, opts, "predict", need_target=False, debug=debug, future=opts.future)
    from lstmcli.training import Trainer

    trainer = Trainer(model, jit_compile=bool(record.compile.get("jit_compile")) and dist.strategy is None, distribution=dist)
    batch_size = None if opts.batch_size is ALL else opts.batch_size
    task = tasks.get_task(record.task)
    if opts.wide and (task.classification or data.step_keys is None):
        raise ConfigError("--wide puts a series forecast's steps side by side; this model's predictions have no steps")
    if opts.future and opts.steps is not None and opts.steps > data.horizon:
        predicted, step_keys = forecasting.recursive_forecast(trainer, record, data, frame, opts, batch_size)
    else:
        predicted = trainer.predict(data, batch_size)  # the data's units: the model is the whole predictor
        if task.classification:
            return _labelled(predicted, record, data, opts)
        step_keys = data.step_keys
        if opts.future and opts.steps is not None:
            predicted, step_keys = predicted[:, : opts.steps * len(data.target_names)], step_keys[:, : opts.steps]
    return forecasting.table(predicted, step_keys, data, wide=opts.wide, future=opts.future)


def _labelled(outputs, record: Record, data, opts):
    import numpy as np
    import pandas as pd

    columns = {data.key_name: data.keys}
    classes = record.preprocessing["classes"]
    probabilities = np.concatenate([1.0 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs
    chosen = _chosen(outputs)
    columns["label"] = np.asarray(classes, dtype=object)[chosen]
    if not opts.classes:
        for i, label in enumerate(classes):
            columns[str(label)] = probabilities[:, i]
    return pd.DataFrame(columns)


def actuals(source: Path, opts, *, debug: bool = False):
    """The samples of a data file as predict sees them, with their actual targets (`y_raw`) and keys.

    For drawing predictions against actuals (`lstmcli plot`): sample i here is
    row i of `predict`'s output for the same options (with `wide` for a series).
    A series' `y_raw` is step-major: column h*k + j is step h+1 of target j.
    """
    return _load_with_data(source, opts, "plot", need_target=True, debug=debug)[2]


def verify(source: Path, *, unsafe: bool = False, debug: bool = False) -> dict:
    """Check an artifact's archive, record and model, and summarise it.

    Every step runs the archive and record checks on its input; verify also
    loads the model and checks it against the record.

    Raises:
        ArtifactError: naming what is wrong.
    """
    record = artifact.read_record(source)
    missing = {"lstmcli", "keras", "tensorflow"} - set(record.versions)
    if missing:
        raise ArtifactError(f"{source}'s record does not say which {', '.join(sorted(missing))} wrote it; write it again with lstmcli")
    keras = load_tensorflow(debug)
    if record.versions["keras"].split(".")[0] != keras.__version__.split(".")[0]:
        raise ArtifactError(f"{source} was written by Keras {record.versions['keras']}; this is Keras {keras.__version__}")
    predictor.require_in_graph(record, source)
    model, _ = artifact.load(source, unsafe=unsafe)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    history = (record.preprocessing or {}).get("context", 0) if record.stage == "fitted" else 0
    expected = (spec.timesteps + history, spec.n_features)
    if tuple(model.input_shape[1:]) != expected:
        raise ArtifactError(f"{source}: the model takes {model.input_shape[1:]} but its record says {expected}; write it again with lstmcli")
    if record.stage == "fitted":
        predictor.check_agrees(model, record, source)
    artifact.check_output_shape(model, source)
    units, _ = architecture.output_of(predictor.network_of(model))
    if units != record.architecture.get("units"):
        raise ArtifactError(f"{source}: the model has {units} outputs but its record says {record.architecture.get('units')}; write it again with lstmcli")
    return {
        "path": str(source),
        "stage": record.stage,
        "task": record.task,
        "input_shape": list(spec.input_shape),
        "outputs": units,
        "parameters": int(model.count_params()),
        "epochs": record.epochs,
        "seed": record.seed,
        "steps": [entry["step"] for entry in record.lineage],
        "smoke": artifact.smoke_fit(record) or False,
        "written_by": record.versions,
    }


def history_csv(history: dict[str, list]) -> str:
    """The per-epoch history as CSV, with an epoch column counting from 1."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame.to_csv(index=False)


def write_history(history: dict[str, list], path: Path) -> None:
    """Write `history_csv` to `path` atomically."""
    with artifact.atomic_output(Path(path)) as handle:
        handle.write(history_csv(history))


def _load_with_data(source, opts, command, *, need_target, debug, future=False):
    """The model, its record, the prepared data and the whole table it came from."""
    record = artifact.read_record(source)
    artifact.require_stage(record, "fitted", source, command)
    predictor.require_in_graph(record, source)
    data_path = _need_data(opts.data, command)
    check_out(source, opts)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    dataspec.check_flags(spec, opts, SPEC_KEYS)
    from lstmcli import readers, rowindex, windowing  # pandas: only once the cheap checks have passed

    frame = readers.read_table(data_path, opts.format)
    task = tasks.get_task(record.task)
    data = windowing.prepare(
        frame, spec, task=task, prep=record.preprocessing, loss=record.compile["loss"],
        units=record.architecture["units"], need_target=need_target, where=dataspec.describe_source(data_path),
        future=future, rows=rowindex.select_rows(frame, spec, opts.rows),
    )
    load_tensorflow(debug)
    dist = distribution.start(opts.strategy, devices=opts.devices)
    with dist.scope():
        model, _ = artifact.load(source, unsafe=opts.unsafe)
    return model, record, data, frame, dist


def _need_data(path, command: str) -> Path:
    if path is None:
        raise DataError(f"{command} needs --data FILE (or data = \"…\" in the config's [{command}] table)")
    return path
