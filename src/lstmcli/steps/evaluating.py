"""`evaluate`: the loss and every compiled metric of a fitted model on data, beside the baselines a
practitioner checks first (naive and seasonal naive forecasts, the majority class)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lstmcli.data import dataspec
from lstmcli.model import predictor, tasks
from lstmcli.model.record import Record
from lstmcli.options import ALL
from lstmcli.steps.loading import chosen_classes, compile_views, load_with_data
from lstmcli.train import imbalance


def evaluate(source: Path, opts) -> dict[str, float]:
    """Loss and every compiled metric on a data file, as the model sees it.

    A classifier's metrics also hold the majority-class baseline's accuracy
    (`majority_accuracy`: always predicting the training part's most common
    class) and each class's recall (`recall_<label>`). A calibrated regression
    model's hold each prediction interval's coverage, mean width and Winkler
    score (`intervals.scores`: `opts.interval`, else the default levels).
    """
    import numpy as np

    from lstmcli.scoring import intervals

    model, record, data, frame, dist = load_with_data(source, opts, "evaluate", need_target=True)
    levels = intervals.levels_for(record, opts.interval)
    from lstmcli.train.loop import Trainer

    with dist.scope():  # the views' compiled metrics are variables too
        views = predictor.views(model, dataspec.DataSpec.from_dict(record.data_spec), record.preprocessing)
        compile_views(views, record, model)
    jit = bool(record.compile.get("jit_compile")) and dist.strategy is None
    batch_size = None if opts.batch_size == ALL else opts.batch_size
    scaled, predicted = views.split(
        Trainer(views.evaluation or views.predictor, jit_compile=jit, distribution=dist).predict(data, batch_size)
    )
    metrics = Trainer(views.training, distribution=dist).score(data, scaled)
    if tasks.get_task(record.task).classification:
        metrics.update(_class_metrics(scaled, record, data))
        return _counted(metrics, data)
    from lstmcli.scoring import baselines

    if views.evaluation is not None:  # percentages and logs mean nothing in the scaled, differenced space
        in_units = Trainer(views.predictor, distribution=dist).score(replace(data, y=data.y_raw), predicted)
        metrics.update([(k, in_units[k]) for k in metrics if _scale_dependent(k)])
    if data.history is not None:
        spec = dataspec.DataSpec.from_dict(record.data_spec)
        metrics.update(
            baselines.forecast_metrics(
                predicted,
                data.y_raw,
                data.history,
                data.target_rows,
                season=baselines.season_of(opts.season, spec, record.preprocessing, frame),
                scale=(record.fit or {}).get("naive_scale"),
                seasonal_scale=(record.fit or {}).get("seasonal_naive_scale"),
                transformed=predictor.transforms_forecast(
                    data.inputs.to_array(), record.preprocessing, predicted.shape[1]
                ),
            )
        )
    else:
        error = (predicted - data.y_raw).astype(np.float64)
        metrics["original_rmse"] = float(np.sqrt(np.mean(error**2)))
        metrics["original_mae"] = float(np.mean(np.abs(error)))
        metrics.update(baselines.percentage_errors(predicted, data.y_raw))
    if levels:
        metrics.update(intervals.scores(predicted, data.y_raw, intervals.calibration_of(record), levels))
    return _counted(metrics, data)


SCALE_DEPENDENT = ("mape", "mean_absolute_percentage_error", "msle", "mean_squared_logarithmic_error")


def _scale_dependent(name: str) -> bool:
    """A compiled metric that is reported in the data's units: a percentage or a log (`mape`, `msle`, `mape_1`)."""
    return name in SCALE_DEPENDENT or name.rsplit("_", 1)[0] in SCALE_DEPENDENT and name.rsplit("_", 1)[1].isdigit()


def _counted(metrics: dict, data) -> dict:
    metrics["samples"] = len(data)
    return metrics


def reportable(
    task, compiled_metrics: list[str], spec: dataspec.DataSpec, levels=None
) -> tuple[list[str], tuple[str, ...]]:
    """The metrics `evaluate` can report for a model, known before it is fitted (for `run`'s gates).

    Some appear only where the data allows (a season, MASE's scale, a class
    with samples) or the fit did (a calibrated model's intervals, at `levels`
    or the default ones); the names here are every one that can.

    Returns:
        (names, prefixes of names the data completes: each class's recall)
    """
    from lstmcli.scoring.baselines import FORECAST_METRICS, PERCENTAGE_METRICS, STEP_METRICS
    from lstmcli.scoring.intervals import DEFAULT_LEVELS, metric_names
    from lstmcli.train.imbalance import MAJORITY_ACCURACY, RECALL_PREFIX

    names = ["loss", *compiled_metrics]
    if task.classification:
        return [*names, MAJORITY_ACCURACY, "samples"], (RECALL_PREFIX,)
    bands = metric_names(levels or DEFAULT_LEVELS)
    if spec.layout != "series":
        return [*names, "original_rmse", "original_mae", *PERCENTAGE_METRICS, *bands, "samples"], ()
    steps = [name.format(h) for h in range(1, spec.horizon + 1) for name in STEP_METRICS] if spec.horizon > 1 else []
    return [*names, *FORECAST_METRICS, *steps, *bands, "samples"], ()


def _class_metrics(outputs, record: Record, data) -> dict[str, float]:
    """The majority baseline (the training part's most common class) and per-class recall."""
    import numpy as np

    from lstmcli.data.parsing import class_indices

    true = class_indices(data.y)
    counts = (record.fit or {}).get("class_counts") or np.bincount(true, minlength=len(record.preprocessing["classes"]))
    return imbalance.class_metrics(
        true, chosen_classes(outputs), record.preprocessing["classes"], int(np.argmax(counts))
    )
