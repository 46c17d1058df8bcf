"""`lstmcli run`: the five steps in one process, writing the five commands' artifacts.

Each step is the lifecycle's own function (`define`, `compile`, `fit`,
`evaluate`, `predict`) with the options the separate command would resolve
from the same config, so the artifacts are the ones five processes write —
bit-identical weights for the same seed — while TensorFlow is imported once.

A run is checked whole before any work (`prepare`), and writes into a
temporary folder inside its workdir whose files are moved into place only
when every step has succeeded (`staging`): a failed or interrupted run leaves
the workdir as it found it, never one run's artifacts beside another's.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from lstmcli import outputs
from lstmcli.errors import ArtifactError, ConfigError, LstmcliError
from lstmcli.model.record import Record
from lstmcli.options import inputs_of, outputs_of
from lstmcli.overrides import assignments
from lstmcli.scoring import gates, metrics_file
from lstmcli.steps import compiling, defining, evaluating, fitting, predicting
from lstmcli.steps.options import SPEC_KEYS, for_command
from lstmcli.steps.staging import Staged

DEFINED = "defined.keras"
COMPILED = "compiled.keras"
FITTED = "fitted.keras"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
WRITTEN = (DEFINED, COMPILED, FITTED, METRICS, PREDICTIONS)
STEPS = ("define", "compile", "fit", "evaluate", "predict")  # the config tables run reads, and --set may change


@dataclass
class RunResult:
    """What `run` wrote and measured.

    Args:
        written: Every file written, in step order.
        metrics: evaluate's metrics.
        fit: fit's summary (epochs, losses, seconds, smoke).
    """

    written: list[Path] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """A run checked whole: each step's options (outputs at their final paths), define's plan, the gates."""

    workdir: Path
    define: object
    compile: object
    fit: object
    evaluate: object
    predict: object
    model: defining.Plan
    record: Record  # the record compile will write, as far as it is known before any work
    gates: list

    def data(self) -> list:
        """Every data file the steps read (each read once, up front)."""
        found = [self.fit.data, self.fit.validation_data, self.evaluate.data, self.predict.data]
        return list(dict.fromkeys(str(p) for p in found if p is not None))


def step_options(opts) -> dict:
    """Each step's options as `run` resolves them: the config's tables, `--set` over them, outputs in the workdir.

    Raises:
        ConfigError: for a missing config or training data, a bad value or an unknown key.
    """
    config = opts.config
    if config is None:
        raise ConfigError("run needs --config FILE.toml with the [define], [compile] and [fit] tables")
    workdir = Path(opts.workdir)
    changed = assignments(opts.set, STEPS)
    for table, values in changed.items():
        if "out" in values:
            raise ConfigError(f"--set {table}.out: run writes every output into --workdir; choose the folder there")
    paths = dict(zip(STEPS, (workdir / name for name in WRITTEN)))
    fixed = {step: {"out": paths[step]} for step in STEPS}
    fixed["fit"]["smoke"] = opts.smoke or None
    found = {step: for_command(step, fixed[step], config, changed.get(step)) for step in STEPS}
    fit = found["fit"]
    if fit.data is None:
        raise ConfigError(f'{config}: run needs the training data as data = "…" in the [fit] table')
    for step in ("evaluate", "predict"):
        if found[step].data is None:
            found[step] = replace(found[step], data=fit.data, format=found[step].format or fit.format)
    return found


def prepare(opts) -> Plan:
    """Check a whole run before any work: every step's options, inputs and outputs.

    What does not need a model is checked here, as each step would check it:
    define's layers and output, compile's loss against them, fit's options
    against the record compile will write, evaluate's gates against the
    metrics it can report, evaluate's and predict's spec flags, and every
    output against every input. The data files are read next, once (`run`).

    Raises:
        ConfigError, ArtifactError, StageError: the first problem found.
    """
    workdir = Path(opts.workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file; give a folder for the five outputs")
    found = step_options(opts)
    _check_places(workdir, found)
    model = defining.plan(found["define"])
    loss, metrics = compiling.settings(found["compile"], model.task, model.units, model.activation)
    compiled = Record(
        stage="compiled",
        task=model.task.name,
        data_spec=model.spec.to_dict(),
        architecture={"units": model.units, "activation": model.activation},
        compile={"loss": loss, "metrics": metrics},
    )
    fitting.check(workdir / COMPILED, found["fit"], compiled)
    checks = gates.parse_all(found["evaluate"].fail_if)
    gates.check_possible(checks, *evaluating.reportable(model.task, metrics, model.spec, found["evaluate"].interval))
    from lstmcli.data import dataspec

    for step in ("evaluate", "predict"):
        dataspec.check_flags(dataspec.DataSpec.from_dict(compiled.data_spec), found[step], SPEC_KEYS)
    predicting.check(found["predict"], model.task, model.spec)
    return Plan(workdir, **found, model=model, record=compiled, gates=checks)


def _check_places(workdir: Path, found: dict) -> None:
    """The workdir's five files and fit's other outputs: writable, apart from every input and each other."""
    inputs: dict = {}
    for step, opts in found.items():
        for role, path in inputs_of(opts).items():
            if path is not None:
                inputs[f"[{step}] {role.lstrip('-')}" if role != "MODEL" else role] = path
    places = [outputs.Output("--workdir", workdir, directory=True, manages=WRITTEN)]
    places += [o for o in outputs_of(found["fit"]) if o.flag != "--out"]
    outputs.check(places, inputs)
    for name in WRITTEN:
        if (workdir / name).is_dir():
            raise ArtifactError(
                f"--workdir {workdir} holds a directory named {name}, where run writes a file; "
                f"move it away or choose another --workdir"
            )
        outputs.check([outputs.Output("--workdir", workdir / name)], {})


def run(
    opts,
    *,
    on_written: Callable[[Path, str], None] | None = None,
    on_metrics: Callable[[dict, Path], None] | None = None,
    callbacks: Sequence = (),
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    """Run define, compile, fit, evaluate and predict from one config into `workdir`.

    Every option comes from the config's step tables, as for the separate
    commands, with `opts.set`'s `TABLE.KEY=VALUE` over them; the outputs are
    `workdir`'s defined.keras, compiled.keras, fitted.keras, metrics.json and
    predictions.csv. evaluate and predict read fit's data unless their own
    tables name a file; each data file is read once (stdin too), before any
    work. Everything is checked first (`prepare`); the steps write into a
    temporary folder inside `workdir`, whose files replace the workdir's only
    when all five are written, so a failed run changes nothing there.
    `[evaluate] fail_if` gates are checked once everything is in place.

    Args:
        opts: A `RunOptions`: `config`, the TOML file with [define], [compile],
            [fit] … tables; `workdir`, the folder for the five outputs (made if
            missing); `set`, overrides of the config's values; `smoke`, to make
            the fit a smoke run (see `smoke.requested`).
        on_written: Called with (path, what) for each output, once all five are in place.
        on_metrics: Called with evaluate's metrics and the fitted artifact they
            were measured on, once all five are in place (after metrics.json's `on_written`).
        callbacks: fit's Keras callbacks, or functions that make them (see `fitting.fit`).
        should_stop: Polled during fit for a reason to stop (see `fitting.fit`).

    Returns:
        A RunResult.

    Raises:
        ConfigError, DataError, ArtifactError: before any work, for a bad option, gate, input or output.
        GateFailed: if an `[evaluate] fail_if` gate fails (after everything is written).
    """
    plan = prepare(opts)
    from lstmcli.data import fitdata, readers

    with readers.held(*plan.data()):  # every data file read now, once: stdin and FIFOs can be read only once
        # every cell fit reads, checked before TensorFlow is imported
        fitdata.read(plan.record, plan.workdir / COMPILED, plan.fit.data, plan.fit)
        for extra in {str(plan.evaluate.data), str(plan.predict.data)} - {str(plan.fit.data)}:
            readers.read_table(extra, plan.evaluate.format if extra == str(plan.evaluate.data) else plan.predict.format)
        from lstmcli.quiet import load_tensorflow

        compiling.optimizer_for(
            load_tensorflow(), plan.compile, plan.record.compile["loss"], plan.record.compile["metrics"]
        )
        with Staged(plan.workdir, WRITTEN, _elsewhere(plan.fit)) as stage, _named_as(stage, plan.workdir):
            result = _steps(plan, stage, callbacks, should_stop)
            stage.commit()
    for name, what in zip(WRITTEN, ("defined", "compiled", "fitted", "metrics", "predictions")):
        result.written.append(plan.workdir / name)
        if on_written is not None:
            on_written(plan.workdir / name, what)
        if name == METRICS and on_metrics is not None:
            on_metrics(result.metrics, plan.workdir / FITTED)
    gates.check(plan.gates, result.metrics)
    return result


HISTORY = "history.csv"  # fit's --history, staged under this name (it may lie outside the workdir)


def _elsewhere(fit) -> dict[str, Path]:
    """The outputs beside the five that a run stages too: fit's history file (not stdout, not a device)."""
    history = fit.history
    if history is None or str(history) == outputs.STDIO or outputs.is_special(history):
        return {}
    return {HISTORY: Path(history)}


@contextlib.contextmanager
def _named_as(stage: Staged, workdir: Path):
    """A step's error names the files where they belong, not in the staging folder (gone when it is read)."""
    try:
        yield
    except LstmcliError as exc:
        names = [(str(stage.path(name)), str(target)) for name, target in stage.targets.items()]
        names.append((f"{stage.stage}{os.sep}", f"{workdir}{os.sep}"))

        def renamed(text: str) -> str:
            for staged, final in names:
                text = text.replace(staged, final)
            return text

        exc.args = tuple(renamed(a) if isinstance(a, str) else a for a in exc.args)
        raise


def _steps(plan: Plan, stage: Staged, callbacks, should_stop) -> RunResult:
    """The five steps, each writing into the stage."""
    result = RunResult()
    final = {name: plan.workdir / name for name in WRITTEN}
    at = stage.path
    defining.define(replace(plan.define, out=at(DEFINED)))
    compiling.compile(at(DEFINED), replace(plan.compile, out=at(COMPILED)), lineage_path=final[DEFINED])
    history = {"history": at(HISTORY)} if HISTORY in stage.names else {}
    fitted = fitting.fit(
        at(COMPILED),
        replace(plan.fit, out=at(FITTED), **history),
        callbacks=callbacks,
        should_stop=should_stop,
        lineage_path=final[COMPILED],
    )
    result.fit = fitted.summary
    result.metrics = evaluating.evaluate(at(FITTED), replace(plan.evaluate, out=at(METRICS)))
    gates.check_names(plan.gates, result.metrics)
    with outputs.atomic_output(at(METRICS)) as handle:
        handle.write(metrics_file.dumps(result.metrics, "json"))
    frame = predicting.predict(at(FITTED), replace(plan.predict, out=at(PREDICTIONS)))
    with outputs.atomic_output(at(PREDICTIONS)) as handle:
        frame.to_csv(handle, index=False)
    return result
