"""`lstmcli run`: the five steps in one process, writing the five commands' artifacts.

Each step is the lifecycle's own function (`define`, `compile`, `fit`,
`evaluate`, `predict`) with the options the separate command would resolve
from the same config, so the artifacts are the ones five processes write —
bit-identical weights for the same seed — while TensorFlow is imported once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from lstmcli import outputs
from lstmcli.errors import ConfigError
from lstmcli.scoring import gates, metrics_file
from lstmcli.steps import compiling, defining, evaluating, fitting, predicting
from lstmcli.steps.options import for_command

DEFINED = "defined.keras"
COMPILED = "compiled.keras"
FITTED = "fitted.keras"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"


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


def run(
    opts,
    *,
    on_written: Callable[[Path, str], None] | None = None,
    on_metrics: Callable[[dict], None] | None = None,
    callbacks: Sequence = (),
    should_stop: Callable[[], str | None] | None = None,
) -> RunResult:
    """Run define, compile, fit, evaluate and predict from one config into `workdir`.

    Every option comes from the config's step tables, as for the separate
    commands; the outputs are `workdir`'s defined.keras, compiled.keras,
    fitted.keras, metrics.json and predictions.csv. evaluate and predict read
    fit's data unless their own tables name a file. `[evaluate] fail_if` gates
    are checked once everything is written.

    Args:
        opts: A `RunOptions`: `config`, the TOML file with [define], [compile],
            [fit] … tables; `workdir`, the folder for the five outputs (made if
            missing); `smoke`, to make the fit a smoke run (see `fitting.smoke_requested`).
        on_written: Called with (path, what) after each output is written.
        on_metrics: Called with evaluate's metrics once they are written.
        callbacks: fit's Keras callbacks, or functions that make them (see `fitting.fit`).
        should_stop: Polled during fit for a reason to stop (see `fitting.fit`).

    Returns:
        A RunResult.

    Raises:
        ConfigError: for a missing config, a bad option or gate (before any work).
        GateFailed: if an `[evaluate] fail_if` gate fails (after everything is written).
    """
    config, workdir, smoke = opts.config, opts.workdir, opts.smoke or None
    if config is None:
        raise ConfigError("run needs --config FILE.toml with the [define], [compile] and [fit] tables")
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file; give a folder for the five outputs")
    paths = {name: workdir / name for name in (DEFINED, COMPILED, FITTED, METRICS, PREDICTIONS)}
    define_opts = for_command("define", {"out": paths[DEFINED]}, config)
    compile_opts = for_command("compile", {"out": paths[COMPILED]}, config)
    fit_opts = for_command("fit", {"out": paths[FITTED], "smoke": smoke}, config)
    evaluate_opts = for_command("evaluate", {"out": paths[METRICS]}, config)
    predict_opts = for_command("predict", {"out": paths[PREDICTIONS]}, config)
    if fit_opts.data is None:
        raise ConfigError(f'{config}: run needs the training data as data = "…" in the [fit] table')
    if evaluate_opts.data is None:
        evaluate_opts = replace(evaluate_opts, data=fit_opts.data, format=evaluate_opts.format or fit_opts.format)
    if predict_opts.data is None:
        predict_opts = replace(predict_opts, data=fit_opts.data, format=predict_opts.format or fit_opts.format)
    checks = gates.parse_all(evaluate_opts.fail_if)
    result = RunResult()

    def wrote(path: Path, what: str) -> None:
        result.written.append(path)
        if on_written is not None:
            on_written(path, what)

    wrote(defining.define(define_opts).path, "defined")
    wrote(compiling.compile(paths[DEFINED], compile_opts).path, "compiled")
    fitted = fitting.fit(paths[COMPILED], fit_opts, callbacks=callbacks, should_stop=should_stop)
    result.fit = fitted.summary
    wrote(fitted.path, "fitted")
    result.metrics = evaluating.evaluate(paths[FITTED], evaluate_opts)
    gates.check_names(checks, result.metrics)
    with outputs.atomic_output(paths[METRICS]) as handle:
        handle.write(metrics_file.dumps(result.metrics, "json"))
    wrote(paths[METRICS], "metrics")
    if on_metrics is not None:
        on_metrics(result.metrics)
    frame = predicting.predict(paths[FITTED], predict_opts)
    with outputs.atomic_output(paths[PREDICTIONS]) as handle:
        frame.to_csv(handle, index=False)
    wrote(paths[PREDICTIONS], "predictions")
    gates.check(checks, result.metrics)
    return result
