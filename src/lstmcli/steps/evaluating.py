"""`evaluate`: the loss and every compiled metric of a fitted model on data, beside the baselines a
practitioner checks first (naive and seasonal naive forecasts, the majority class)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lstmcli.data import dataspec
from lstmcli.model import predictor, tasks
from lstmcli.model.record import Record
from lstmcli.options import ALL
from lstmcli.steps.loading import chosen_classes, compile_views, load_with_data
from lstmcli.train import imbalance

if TYPE_CHECKING:
    pass


def evaluate(source: Path, opts) -> dict[str, float]:
    """Loss and every compiled metric on a data file, as the model sees it.

    A classifier's metrics also hold the majority-class baseline's accuracy
    (`majority_accuracy`: always predicting the training part's most common
    class) and each class's recall (`recall_<label>`).
    """
    import numpy as np

    model, record, data, frame, dist = load_with_data(source, opts, "evaluate", need_target=True)
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
    elif data.history is not None:
        from lstmcli.scoring import baselines

        scale = (record.fit or {}).get("naive_scale")
        metrics.update(
            baselines.forecast_metrics(
                predicted,
                data.y_raw,
                data.history,
                data.target_rows,
                season=_season(opts.season, record, frame),
                scale=scale,
            )
        )
    else:
        error = predicted - data.y_raw
        metrics["original_rmse"] = float(np.sqrt(np.mean(error.astype(np.float64) ** 2)))
        metrics["original_mae"] = float(np.mean(np.abs(error.astype(np.float64))))
    metrics["samples"] = len(data)
    return metrics


def reportable(task, compiled_metrics: list[str], spec: dataspec.DataSpec) -> tuple[list[str], tuple[str, ...]]:
    """The metrics `evaluate` can report for a model, known before it is fitted (for `run`'s gates).

    Some appear only where the data allows (a season, MASE's scale, a class
    with samples); the names here are every one that can.

    Returns:
        (names, prefixes of names the data completes: each class's recall)
    """
    from lstmcli.scoring.baselines import FORECAST_METRICS, STEP_METRICS
    from lstmcli.train.imbalance import MAJORITY_ACCURACY, RECALL_PREFIX

    names = ["loss", *compiled_metrics]
    if task.classification:
        return [*names, MAJORITY_ACCURACY, "samples"], (RECALL_PREFIX,)
    if spec.layout != "series":
        return [*names, "original_rmse", "original_mae", "samples"], ()
    steps = [name.format(h) for h in range(1, spec.horizon + 1) for name in STEP_METRICS] if spec.horizon > 1 else []
    return [*names, *FORECAST_METRICS, *steps, "samples"], ()


def _season(explicit: int | None, record: Record, frame) -> int | None:
    """The seasonal naive's period: --season at evaluate, else define's, else the
    period of a seasonal difference fit chose, else the season of the index's frequency."""
    if explicit is not None:
        return explicit
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    if spec.season:
        return spec.season
    from lstmcli.data import rowindex, transforms

    seasonal = [lag for lag in transforms.lags((record.preprocessing or {}).get("transforms") or []) if lag > 1]
    return seasonal[0] if seasonal else rowindex.index_season(frame, spec)


def _class_metrics(outputs, record: Record, data) -> dict[str, float]:
    """The majority baseline (the training part's most common class) and per-class recall."""
    import numpy as np

    from lstmcli.data.parsing import class_indices

    true = class_indices(data.y)
    counts = (record.fit or {}).get("class_counts") or np.bincount(true, minlength=len(record.preprocessing["classes"]))
    return imbalance.class_metrics(
        true, chosen_classes(outputs), record.preprocessing["classes"], int(np.argmax(counts))
    )
