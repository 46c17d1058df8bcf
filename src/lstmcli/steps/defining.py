"""`define`: build an untrained model from a task, a data spec and layers, and write a defined artifact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lstmcli import outputs
from lstmcli.data import dataspec
from lstmcli.errors import ConfigError
from lstmcli.model import architecture, artifact, tasks
from lstmcli.model.record import Record
from lstmcli.options import inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps.loading import Written

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Plan:
    """What define's options make, checked: the task, the data spec, the layers and the output layer."""

    task: tasks.Task
    spec: dataspec.DataSpec
    stack: list
    units: int
    activation: str


def plan(opts) -> Plan:
    """define's checks of its options, before any work (`run` makes them before any step writes).

    Raises:
        ConfigError: for a spec, stack or output layer that cannot work, saying why.
    """
    task = tasks.get_task(opts.task)
    spec = dataspec.spec_from_options(opts)
    stack = architecture.parse_layers(opts.lstm, opts.layers, opts.dropout)
    if task.name == "multiclass" and not (opts.num_classes or opts.output_units):
        raise ConfigError("a multiclass task needs the number of classes; give --num-classes N")
    if task.classification and opts.horizon > 1:
        raise ConfigError(
            f"--horizon {opts.horizon} forecasts {opts.horizon} steps of a regression target; a {task.name} model predicts one label per sample"
        )
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
    architecture.check_size(stack, spec.input_shape, units)
    return Plan(task, spec, stack, units, activation)


def define(opts) -> Written:
    """Build an untrained model from a task, a data spec and layers."""
    out = artifact.check_out_path(opts.out, "define")
    outputs.check(outputs_of(opts, out=out), inputs_of(opts))
    planned = plan(opts)
    task, spec, stack, units, activation = planned.task, planned.spec, planned.stack, planned.units, planned.activation
    keras = load_tensorflow()
    if opts.seed is not None:
        keras.utils.set_random_seed(opts.seed)
    mask_value = dataspec.MASK_VALUE if spec.mask else None
    model = architecture.build_model(stack, spec.input_shape, units, activation, opts.recurrent_dropout, mask_value)
    record = Record(
        stage="defined",
        task=task.name,
        data_spec=spec.to_dict(),
        architecture={
            "layers": stack,
            "units": units,
            "activation": activation,
            "recurrent_dropout": opts.recurrent_dropout,
        },
        seed=opts.seed,
        lineage=[artifact.lineage_entry("define", None)],
    )
    artifact.save(model, record, out)
    return Written(
        out, "defined", {"parameters": int(model.count_params()), "input_shape": list(spec.input_shape), "units": units}
    )
