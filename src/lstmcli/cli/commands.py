"""The `lstmcli` command line: the Keras LSTM lifecycle's verbs over the plain core.

Each body below gets its command's options already merged over `--config` and
checked: `bridge.command` builds the Typer parameters from the fields of the
command's options class (`lstmcli.steps.options`), the one place an option is declared. Errors become one `error:` line and an
exit code in `boundary`, usage errors too.
TensorFlow is imported only inside the bodies that need it, so `--help`, shell
completion and usage errors answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from lstmcli import __version__
from lstmcli.cli import bridge, serving
from lstmcli.cli.completion import CompletingGroup

app = typer.Typer(
    name="lstmcli",
    cls=CompletingGroup,
    help="The Keras LSTM lifecycle - define, compile, fit, evaluate, predict - as five commands.\n\n"
    "Each step reads the artifact the step before it wrote and writes its own, so shell "
    "scripts and Makefiles can chain, cache and resume the work.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


def _announce(written) -> None:
    from lstmcli.cli import render

    render.stderr_console().print(f"{written.stage} → {written.path}", markup=False)


@bridge.command(app, "define", model=False)
def define(opts, call: bridge.Call) -> None:
    """Build an untrained LSTM model and write a defined artifact."""
    from lstmcli.steps import defining

    _announce(defining.define(opts))


@bridge.command(app, "compile")
def compile(model: Path, opts, call: bridge.Call) -> None:
    """Attach an optimizer, loss and metrics and write a compiled artifact."""
    from lstmcli.steps import compiling

    _announce(compiling.compile(model, opts))


@bridge.command(app, "fit")
def fit(model: Path, opts, call: bridge.Call) -> None:
    """Train a compiled model on data and write a fitted artifact."""
    from lstmcli.cli import progress, render
    from lstmcli.cli.boundary import first_interrupt_stops, stuck
    from lstmcli.steps import fitting, histories

    level = progress.resolve_verbose(opts.verbose)
    with (
        progress.FitReporter(level, every=opts.log_every) as reporter,
        first_interrupt_stops() as stop,
    ):
        written = fitting.fit(
            model,
            opts,
            callbacks=[reporter.keras_callback],
            should_stop=stop,
            on_stuck=stuck,
        )
    if opts.history is not None and str(opts.history) == "-":
        sys.stdout.write(histories.history_csv(written.history))
    if level:
        for line in render.fit_report(written.summary, written.path):
            render.stderr_console().print(line, markup=False)


@bridge.command(app, "evaluate")
def evaluate(model: Path, opts, call: bridge.Call) -> None:
    """Print the loss and every compiled metric of a fitted model on data, beside the naive baselines (regression) or the majority class and per-class recall (classifiers)."""
    from lstmcli.scoring import gates, intervals, metrics_file
    from lstmcli.steps import evaluating, loading

    checks = gates.parse_all(opts.fail_if)
    if opts.out is not None and str(opts.out) != "-":
        loading.check_out(model, opts)  # before its extension is judged
    fmt = metrics_file.format_for(opts.out, opts.json)
    metrics = evaluating.evaluate(model, opts)
    gates.check_names(checks, metrics)
    _warn_if_smoke(model)
    _warn_all(intervals.short_notes(metrics))
    if metrics.get("mape_left_out"):
        from lstmcli.cli import render

        render.warning(
            f"original_mape leaves out the {metrics['mape_left_out']} actual values that are 0 (a percentage of 0 "
            "is undefined); original_smape counts them"
        )
    _write_metrics(metrics, fmt, opts.out)
    gates.check(checks, metrics)


def _write_metrics(metrics: dict, fmt: str, out: Path | None) -> None:
    """Write evaluate's metrics to `out` (or stdout) in `fmt`; a table on a terminal."""
    from lstmcli.cli import render
    from lstmcli.scoring import metrics_file

    text = render.metrics_text(metrics) if fmt == "text" else metrics_file.dumps(metrics, fmt)
    if out is not None and str(out) != "-":
        _write_text(out, text)
    elif fmt != "text" or not sys.stdout.isatty():
        sys.stdout.write(text)
    else:
        render.stdout_console().print(render.metrics_table(metrics))


def _warn_all(notes: list[str]) -> None:
    from lstmcli.cli import render

    for note in notes:
        render.warning(note)


def _warn_if_smoke(model: Path) -> None:
    """One line on stderr when an artifact was fitted by a smoke run."""
    from lstmcli.cli import render
    from lstmcli.model import artifact
    from lstmcli.model.record import smoke_fit

    smoke = smoke_fit(artifact.read_record(model))
    if smoke:
        render.warning(f"{model} is a smoke artifact ({smoke}); its results only show that the pipeline runs")


@bridge.command(app, "predict")
def predict(model: Path, opts, call: bridge.Call) -> None:
    """Write a fitted model's predictions for data as CSV."""
    from lstmcli.steps import predicting

    frame = predicting.predict(model, opts)
    _warn_if_smoke(model)
    _warn_all(frame.attrs.get(predicting.NOTES, []))
    if opts.out is not None and str(opts.out) != "-":
        _write_text(opts.out, frame.to_csv(index=False))
    else:
        frame.to_csv(sys.stdout, index=False)


@bridge.command(app, "backtest")
def backtest(model: Path, opts, call: bridge.Call) -> None:
    """Rolling-origin evaluation: each fold fits a compiled model on the rows before its origin and evaluates the next block."""
    import json

    from lstmcli.cli import render
    from lstmcli.steps import backtesting

    def announce(fold: dict) -> None:
        if opts.verbose != "0":
            render.stderr_console().print(render.fold_line(fold), markup=False)

    result = backtesting.backtest(model, opts, on_fold=announce)
    sys.stdout.write(
        json.dumps(result.to_dict(), indent=2) + "\n" if opts.json else render.backtest_text(result.to_dict())
    )


@bridge.command(app, "verify")
def verify(model: Path, opts, call: bridge.Call) -> None:
    """Check an artifact's integrity, record and model; exit 0 if sound, 2 with the reason if not."""
    import json

    from lstmcli.cli import render
    from lstmcli.steps import verifying

    summary = verifying.verify(model, opts)
    sys.stdout.write(
        json.dumps(summary, indent=2) + "\n"
        if opts.json
        else render.metrics_text({k: render.plain(v) for k, v in summary.items()})
    )


@bridge.command(app, "export")
def export(model: Path, opts, call: bridge.Call) -> None:
    """Export a fitted artifact for serving: raw windows in, the data's units (or class probabilities) out."""
    from lstmcli.cli import render
    from lstmcli.steps import exporting

    done = exporting.export(model, opts)
    render.stderr_console().print(
        f"exported {done.format} → {done.path} (signature '{exporting.ENDPOINT}': "
        f"{', '.join(f'{k} {v}' for k, v in done.inputs.items())} → {', '.join(done.outputs)})",
        markup=False,
    )
    _warn_all(done.notes)


@bridge.command(app, "inspect")
def inspect_(model: Path, opts, call: bridge.Call) -> None:
    """Show what an artifact holds: stage, task, data spec, preprocessing, history, lineage, versions."""
    import json

    from lstmcli.cli import render
    from lstmcli.steps import inspecting

    summary = inspecting.inspect(model, opts)
    if opts.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        for view in render.inspect_view(summary):
            render.stdout_console().print(view)


@bridge.command(app, "plot")
def plot(model: Path, opts, call: bridge.Call) -> None:
    """Draw PNG figures for reports: training curves, and predictions against actuals."""
    from lstmcli.steps import plotting

    for path in plotting.plot(model, opts):
        sys.stdout.write(f"{path}\n")


@bridge.command(app, "run", model=False)
def run(opts, call: bridge.Call) -> None:
    """Run define, compile, fit, evaluate and predict in one process, writing the same five outputs."""
    from lstmcli.cli import progress, render
    from lstmcli.cli.boundary import first_interrupt_stops
    from lstmcli.steps import running

    fit_opts = running.step_options(opts)["fit"]
    verbose = "0" if call.quiet else "2" if call.detail else fit_opts.verbose
    console = render.stderr_console()
    with (
        progress.FitReporter(progress.resolve_verbose(verbose), every=fit_opts.log_every) as reporter,
        first_interrupt_stops() as stop,
    ):
        running.run(
            opts,
            on_written=lambda path, what: console.print(f"{what} → {path}", markup=False),
            on_metrics=_report_run,
            callbacks=[reporter.keras_callback],
            should_stop=stop,
        )


def _report_run(metrics: dict, fitted: Path) -> None:
    """run's metrics on stdout, after the smoke warning about the (staged) fitted artifact."""
    from lstmcli.cli import render

    _warn_if_smoke(fitted)
    sys.stdout.write(render.metrics_text(metrics))


def _write_text(path: Path, text: str) -> None:
    from lstmcli.outputs import atomic_output

    with atomic_output(path) as handle:
        handle.write(text)


def _entry(argv: list[str]) -> None:
    """The cold entry point, which a warm server's child runs as its whole process."""
    from lstmcli.cli import main

    main(argv)


serving.attach(app, _entry)
