"""What a step will use for each option left unset, so `--print-config` pins a replay.

`--print-config` (and `-v`, which prints the same table before the step runs) writes the
step's table with the defaults it would derive filled in: define's one time step, its
32-unit LSTM and the task's output layer, compile's loss and metrics for the task,
fit's scaling (standard, or what a fitted model already learned). A seed left unset is
drawn here (fit and backtest: the artifact's seed first), and the run that prints it
(`-v`) uses that seed, so the printed table replays the very run that printed it.
A value that depends on the data (a season, a samples file's label column) stays unset.
"""

from __future__ import annotations

import dataclasses
import random

from lstmcli.errors import LstmcliError
from lstmcli.steps.options import DEFAULT_SCALING


def resolved(name: str, opts, model=None):
    """`opts` with every default the step `name` derives filled in (`model`: the artifact it reads)."""
    if name == "define":
        return _define(opts)
    record = _record(model)
    if name == "compile" and record is not None:
        return _compile(opts, record)
    if name in ("fit", "backtest"):
        return _fit(opts, record)
    return opts


def draw_seed() -> int:
    """A fresh seed, in the range fit has always drawn from."""
    return random.SystemRandom().randrange(2**31)


def _record(model):
    if model is None:
        return None
    from lstmcli.model import artifact

    try:
        return artifact.read_record(model)
    except LstmcliError:  # the step itself will say what is wrong with it; a plain Keras model has no record
        return None


def _define(opts):
    from lstmcli.data import dataspec
    from lstmcli.model import architecture, tasks

    filled = {"seed": draw_seed() if opts.seed is None else opts.seed}
    if opts.layers is None and opts.lstm is None:
        filled["lstm"] = [architecture.DEFAULT_LSTM_UNITS]
    try:
        spec = dataspec.spec_from_options(opts)
    except LstmcliError:  # left for define to refuse
        return dataclasses.replace(opts, **filled)
    if opts.input_shape is None and (opts.layout == "series" or opts.reshape == "grid"):
        filled["timesteps"] = spec.timesteps
    task = tasks.get_task(opts.task)
    if opts.output_activation is None:
        filled["output_activation"] = task.activation
    if opts.output_units is None and (task.name != "multiclass" or opts.num_classes):
        n_targets = len(spec.target) if spec.target else (spec.n_features if spec.layout == "series" else 1)
        if not task.classification and spec.layout == "series":
            n_targets *= spec.horizon
        filled["output_units"] = task.output_units(n_targets, opts.num_classes)
    return dataclasses.replace(opts, **filled)


def _compile(opts, record):
    from lstmcli.model import tasks

    task = tasks.get_task(record.task)
    metrics = list(opts.metrics or task.metrics) or None  # none (regression): a config cannot say an empty list
    return dataclasses.replace(opts, loss=opts.loss or task.loss, metrics=metrics)


def _fit(opts, record):
    filled = {}
    if opts.seed is None:
        filled["seed"] = record.seed if record is not None and record.seed is not None else draw_seed()
    if getattr(opts, "scaling", None) is None and hasattr(opts, "scaling"):
        kept = record.preprocessing if record is not None else None
        filled["scaling"] = (kept or {}).get("scaling_kind") or DEFAULT_SCALING
    return dataclasses.replace(opts, **filled)
