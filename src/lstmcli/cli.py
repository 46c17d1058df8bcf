"""The `lstmcli` command line: five Keras verbs over the plain core.

Each command parses its options, merges them over `--config`, calls the one
core function of the same name and renders what it returns. The core's errors
become one line on stderr and an exit code in `_boundary`, the only place that
turns exceptions into exits. TensorFlow is imported only inside the commands
that need it, so `--help` and usage errors answer at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lstmcli import __version__
from lstmcli.exporting import FORMATS
from lstmcli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED, LstmcliError

app = typer.Typer(
    name="lstmcli",
    help="The Keras LSTM lifecycle - define, compile, fit, evaluate, predict - as five commands.\n\n"
    "Each step reads the artifact the step before it wrote and writes its own, so shell "
    "scripts and Makefiles can chain, cache and resume the work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Artifact = Annotated[Path, typer.Argument(metavar="MODEL", help="The .keras artifact written by the step before.", show_default=False)]
Config = Annotated[Optional[Path], typer.Option("--config", help="A TOML file whose [step] table sets any option; flags override it.", show_default=False)]
Out = Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write the new .keras artifact (written atomically).", show_default=False)]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks and TensorFlow's own log lines.")]
Unsafe = Annotated[Optional[bool], typer.Option("--unsafe/--safe", help="Load archives that carry code (Lambda layers). Only for files you trust.", show_default=False)]
Data = Annotated[Optional[Path], typer.Option("--data", "-d", help="Data file: CSV, Parquet, .npy or .npz; '-' reads CSV from stdin.", show_default=False)]
Rows = Annotated[Optional[str], typer.Option("--rows", metavar="START:END", help="Only these rows: index values, both ends included (like .loc: ':2019-12', '2020-01:'), or 0-based row numbers, END excluded (like .iloc), without an index. evaluate and predict take a window's context from before START.", show_default=False)]
Season = Annotated[Optional[int], typer.Option("--season", metavar="ROWS", help="The season length of the seasonal-naive baseline. Defaults to define's --season, else the period of a seasonal difference fit chose, else the index's frequency's (12 monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly), else none.", show_default=False)]
Format = Annotated[Optional[str], typer.Option("--format", help="Data format when the extension does not say: csv, parquet, npy, npz.", show_default=False)]
Devices = Annotated[Optional[int], typer.Option(metavar="N", help="--strategy mirrored: use N devices: the first N GPUs, or N logical CPU devices where there is no GPU. Defaults to every GPU.", show_default=False)]
LocalStrategy = Annotated[Optional[str], typer.Option(help="auto, default or mirrored (tf.distribute over the local GPUs or --devices CPUs). Defaults to auto: mirrored when more than one GPU is visible.", show_default=False)]


_FIXED = "Part of the data spec fixed at define time: given here it must match it, or fills in what it left open."
SpecLayout = Annotated[Optional[str], typer.Option("--layout", help=_FIXED, show_default=False)]
SpecTimesteps = Annotated[Optional[int], typer.Option("--timesteps", help=_FIXED, show_default=False)]
SpecHorizon = Annotated[Optional[int], typer.Option("--horizon", help=_FIXED, show_default=False)]
SpecFeatures = Annotated[Optional[list[str]], typer.Option("--features", metavar="COLUMNS", help=_FIXED, show_default=False)]
SpecTarget = Annotated[Optional[list[str]], typer.Option("--target", metavar="COLUMNS", help=_FIXED, show_default=False)]
SpecIndex = Annotated[Optional[str], typer.Option("--index", help=_FIXED, show_default=False)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    pass


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (temporary files removed), then exit 143.

    A BaseException, as KeyboardInterrupt is, so no `except Exception` on the
    way up can swallow it.
    """


@contextlib.contextmanager
def _boundary(debug: bool):
    """Turn lstmcli's errors into one line on stderr and their exit code.

    Inside it SIGTERM unwinds like Ctrl-C, and Python warnings are hidden
    unless `debug` (no library's warning reaches the terminal otherwise).
    """
    import warnings

    from lstmcli import render

    with _terminate_unwinds() as sigterm, warnings.catch_warnings(), _library_logs_hidden(not debug):
        if not debug:
            warnings.simplefilter("ignore")
        try:
            try:
                yield
            except Exception as exc:
                if sigterm.fired and not isinstance(exc, (typer.Exit, typer.Abort)):
                    # SIGTERM's exception can surface from inside C code as another
                    # error (CPython's "SystemError: bad argument to internal
                    # function", an interrupted write's OSError): still the termination.
                    raise Terminated from exc
                raise
            if sigterm.fired:  # the handler's exception was swallowed (raised inside a finaliser): the step ran on
                render.error("terminated; the step had finished, so its output is complete")
                raise typer.Exit(EXIT_TERMINATED)
        except LstmcliError as exc:
            if debug:
                traceback.print_exc()
            for line in getattr(exc, "lines", None) or [str(exc)]:
                render.error(line)
            raise typer.Exit(exc.exit_code) from None
        except (KeyboardInterrupt, Terminated) as exc:
            if debug:
                traceback.print_exc()
            terminated = isinstance(exc, Terminated)
            render.error(f"{'terminated' if terminated else 'interrupted'}; no output was written")
            raise typer.Exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED) from None
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(EXIT_FAILURE) from None  # quietly: the reader chose to stop
        except Exception as exc:
            if debug:
                traceback.print_exc()
            else:
                first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
                render.error(f"unexpected {type(exc).__name__}: {first} (run again with --debug for the traceback)")
            raise typer.Exit(EXIT_FAILURE) from None


@contextlib.contextmanager
def _library_logs_hidden(hidden: bool):
    """Drop log records of libraries that configured no handler (Python's last-resort stderr handler)."""
    import logging

    previous = logging.lastResort
    if hidden:
        logging.lastResort = logging.NullHandler()
    try:
        yield
    finally:
        logging.lastResort = previous


@contextlib.contextmanager
def _terminate_unwinds():
    """While a step runs, the first SIGTERM raises Terminated; later ones are ignored while it unwinds."""
    state = types.SimpleNamespace(fired=False)

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        state.fired = True
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield state
        return
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)


def _options(step: str, config: Path | None, **flags):
    from lstmcli import settings

    return settings.resolve(step, flags, config)


def _announce(written, console) -> None:
    console.print(f"{written.stage} → {written.path}", markup=False)


@app.command()
def define(
    config: Config = None,
    out: Out = None,
    task: Annotated[Optional[str], typer.Option(help="regression, binary or multiclass. Defaults to regression.", show_default=False)] = None,
    num_classes: Annotated[Optional[int], typer.Option(help="Classes of a multiclass task (its output units).", show_default=False)] = None,
    layout: Annotated[Optional[str], typer.Option(help="series (rows are time steps, samples are windows) or samples (one row per sample). Defaults to series.", show_default=False)] = None,
    timesteps: Annotated[Optional[int], typer.Option(help="Time steps per sample. Defaults to 1.", show_default=False)] = None,
    horizon: Annotated[Optional[int], typer.Option(help="series: forecast the next H steps (1..H) at once, one output per step and target. Defaults to 1.", show_default=False)] = None,
    features: Annotated[Optional[list[str]], typer.Option(metavar="COLUMNS", help="Feature columns, comma-separated or repeated.", show_default=False)] = None,
    target: Annotated[Optional[list[str]], typer.Option(metavar="COLUMNS", help="Target column(s). Defaults to the features (series) or the last column (samples).", show_default=False)] = None,
    index: Annotated[Optional[str], typer.Option(help="A key column (a date, an id) carried to the predictions, never a feature.", show_default=False)] = None,
    reshape: Annotated[Optional[str], typer.Option(help="samples: grid (time-major t0_f0,t0_f1,…), timesteps (columns are time steps of one feature) or features (columns are features of one step). Defaults to grid.", show_default=False)] = None,
    mask: Annotated[Optional[bool], typer.Option("--mask", help="samples: rows may end early; empty trailing time steps are masked.", show_default=False)] = None,
    transform: Annotated[Optional[list[str]], typer.Option(metavar="NAMES", help="series: target transforms, applied in order and inverted inside the model: log, diff, seasonal-diff:P, or auto (chosen at fit from the training data). Comma-separated or repeated.", show_default=False)] = None,
    season: Annotated[Optional[int], typer.Option(help="series: the season length in rows (12 for monthly data), for --transform auto and seasonal baselines.", show_default=False)] = None,
    input_shape: Annotated[Optional[str], typer.Option(help="TIMESTEPS,FEATURES when the feature columns are not named.", show_default=False)] = None,
    lstm: Annotated[Optional[list[str]], typer.Option(metavar="UNITS", help="Units of each stacked LSTM layer, e.g. 32,16. Defaults to 32.", show_default=False)] = None,
    layers: Annotated[Optional[list[str]], typer.Option(metavar="SPECS", help="The full stack instead of --lstm: lstm:UNITS, dense:UNITS[:ACTIVATION], dropout:RATE, activation:NAME.", show_default=False)] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout rate after each --lstm layer. Defaults to 0.", show_default=False)] = None,
    recurrent_dropout: Annotated[Optional[float], typer.Option(help="Dropout on the LSTMs' recurrent state. Defaults to 0.", show_default=False)] = None,
    output_units: Annotated[Optional[int], typer.Option(help="Units of the output Dense layer. Defaults to the task's.", show_default=False)] = None,
    output_activation: Annotated[Optional[str], typer.Option(help="Activation of the output layer. Defaults to the task's (linear, sigmoid, softmax).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for the initial weights.", show_default=False)] = None,
    debug: Debug = False,
) -> None:
    """Build an untrained LSTM model and write a defined artifact."""
    from lstmcli import lifecycle, render

    with _boundary(debug):
        opts = _options(
            "define", config, out=out, task=task, num_classes=num_classes, layout=layout, timesteps=timesteps,
            horizon=horizon, features=features, target=target, index=index, reshape=reshape, mask=mask,
            transform=transform, season=season, input_shape=input_shape, lstm=lstm, layers=layers, dropout=dropout,
            recurrent_dropout=recurrent_dropout, output_units=output_units,
            output_activation=output_activation, seed=seed,
        )
        written = lifecycle.define(opts, debug=debug)
        _announce(written, render.stderr_console())


@app.command()
def compile(
    model: Artifact,
    config: Config = None,
    out: Out = None,
    optimizer: Annotated[Optional[str], typer.Option(help="sgd, adam, rmsprop, adamw, adagrad, nadam, … Defaults to adam.", show_default=False)] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", "--lr", help="The optimizer's learning rate. Defaults to the optimizer's.", show_default=False)] = None,
    momentum: Annotated[Optional[float], typer.Option(help="Momentum, for sgd and rmsprop.", show_default=False)] = None,
    loss: Annotated[Optional[str], typer.Option(help="Loss name. Defaults to the task's.", show_default=False)] = None,
    metrics: Annotated[Optional[list[str]], typer.Option("--metric", "--metrics", metavar="NAME", help="Metric name, repeatable or comma-separated. Defaults to the task's.", show_default=False)] = None,
    jit_compile: Annotated[Optional[bool], typer.Option("--jit-compile/--no-jit-compile", help="Compile training steps with XLA. Defaults to deciding per fit: on when the fit is big enough to repay XLA's compile time.", show_default=False)] = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Attach an optimizer, loss and metrics and write a compiled artifact."""
    from lstmcli import lifecycle, render

    with _boundary(debug):
        opts = _options(
            "compile", config, out=out, optimizer=optimizer, learning_rate=learning_rate, momentum=momentum,
            loss=loss, metrics=metrics, jit_compile=jit_compile, unsafe=unsafe,
        )
        written = lifecycle.compile(model, opts, debug=debug)
        _announce(written, render.stderr_console())


@app.command()
def fit(
    model: Artifact,
    config: Config = None,
    data: Data = None,
    out: Out = None,
    rows: Rows = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs to train (more epochs, for a fitted model). Defaults to 1.", show_default=False)] = None,
    batch_size: Annotated[Optional[str], typer.Option(help="Samples per step, or 'all' for one batch. Defaults to 32.", show_default=False)] = None,
    verbose: Annotated[Optional[str], typer.Option(help="auto, 0 (silent), 1 (progress bar) or 2 (one line per epoch). Defaults to auto.", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for shuffling and dropout; recorded in the artifact. Defaults to the artifact's seed, else a random one.", show_default=False)] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help="Reshuffle the samples every epoch. Defaults to shuffle.", show_default=False)] = None,
    scaling: Annotated[Optional[str], typer.Option(help="none, minmax or standard, per feature channel, learned on the training data and saved as layers of the model. Defaults to standard; continued training keeps what the model learned.", show_default=False)] = None,
    validation_split: Annotated[Optional[float], typer.Option(help="Fraction of samples held out for validation: series, the last ones (time's order); samples, a random draw within each class (seeded by --seed, recorded).", show_default=False)] = None,
    validation_data: Annotated[Optional[Path], typer.Option(help="A separate data file for validation.", show_default=False)] = None,
    class_weight: Annotated[Optional[str], typer.Option(metavar="WEIGHTS", help="Classifiers: none, balanced (each class weighs n/(classes×count)), or LABEL=W,... (others 1), as Keras's class_weight. Defaults to none.", show_default=False)] = None,
    history: Annotated[Optional[Path], typer.Option(help="Also write the per-epoch history to this CSV file ('-' for stdout).", show_default=False)] = None,
    early_stopping: Annotated[Optional[int], typer.Option(metavar="PATIENCE", help="Stop when the validation loss (or loss) has not improved for PATIENCE epochs, keeping the best weights.", show_default=False)] = None,
    reduce_lr_on_plateau: Annotated[Optional[int], typer.Option(metavar="PATIENCE", help="Divide the learning rate by 10 after PATIENCE epochs without improvement.", show_default=False)] = None,
    tensorboard: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Write TensorBoard logs of every epoch to DIR.", show_default=False)] = None,
    checkpoint_dir: Annotated[Optional[Path], typer.Option(metavar="DIR", help="Checkpoint to DIR at epoch ends; the same command resumes after a crash.", show_default=False)] = None,
    strategy: Annotated[Optional[str], typer.Option(help="tf.distribute strategy: auto, default, mirrored (local GPUs, or --devices CPUs) or multi-worker (the cluster in TF_CONFIG; only the chief writes). Defaults to auto: mirrored when more than one GPU is visible.", show_default=False)] = None,
    devices: Devices = None,
    timeout: Annotated[Optional[float], typer.Option(metavar="SECONDS", help="multi-worker: fail when a peer has not joined or answered for this long. Defaults to 300.", show_default=False)] = None,
    smoke: Annotated[Optional[bool], typer.Option("--smoke", help="A smoke test: one epoch on at most 3 batches, the artifact marked as a smoke artifact. LSTMCLI_SMOKE=1 in the environment does the same for every fit.", show_default=False)] = None,
    layout: SpecLayout = None,
    timesteps: SpecTimesteps = None,
    horizon: SpecHorizon = None,
    features: SpecFeatures = None,
    target: SpecTarget = None,
    index: SpecIndex = None,
    format: Format = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Train a compiled model on data and write a fitted artifact."""
    from lstmcli import lifecycle, render

    with _boundary(debug):
        opts = _options(
            "fit", config, data=data, out=out, rows=rows, epochs=epochs, batch_size=batch_size, verbose=verbose, seed=seed,
            shuffle=shuffle, scaling=scaling, validation_split=validation_split,
            validation_data=validation_data, class_weight=class_weight, history=history, early_stopping=early_stopping,
            reduce_lr_on_plateau=reduce_lr_on_plateau, tensorboard=tensorboard, checkpoint_dir=checkpoint_dir, smoke=smoke,
            strategy=strategy, devices=devices, timeout=timeout,
            layout=layout, timesteps=timesteps, horizon=horizon, features=features, target=target, index=index, format=format, unsafe=unsafe,
        )
        level = render.resolve_verbose(opts.verbose)
        with render.FitReporter(level) as reporter, _first_interrupt_stops() as stop:
            written = lifecycle.fit(
                model, opts, debug=debug, on_epoch_end=reporter.on_epoch_end,
                on_progress=reporter.on_progress, should_stop=stop, on_stuck=_stuck,
            )
        if opts.history is not None and str(opts.history) == "-":
            sys.stdout.write(lifecycle.history_csv(written.history))
        if level:
            summary = written.summary
            if summary.get("stopped"):
                render.stderr_console().print(summary["stopped"], markup=False)
            if summary.get("transforms") is not None:
                chosen = ", ".join(summary["transforms"]["chosen"]) or "none"
                reasons = "; ".join(summary["transforms"]["reasons"])
                render.stderr_console().print(f"transforms: {chosen}" + (f" ({reasons})" if reasons else ""), markup=False)
            note = render.validation_note(summary)
            if note:
                render.stderr_console().print(note, markup=False)
            render.stderr_console().print(
                ("smoke run: " if summary.get("smoke") else "") + render.fit_summary(summary, written.path), markup=False
            )


@app.command()
def evaluate(
    model: Artifact,
    config: Config = None,
    data: Data = None,
    rows: Rows = None,
    season: Season = None,
    batch_size: Annotated[Optional[str], typer.Option(help="Samples per step, or 'all'. Defaults to 4096.", show_default=False)] = None,
    json: Annotated[Optional[bool], typer.Option("--json", help="Print the metrics as JSON.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the metrics to this file instead of stdout: .json, .yaml/.yml, .csv or .txt (a table), by extension.", show_default=False)] = None,
    fail_if: Annotated[Optional[list[str]], typer.Option("--fail-if", metavar="GATE", help="Exit 3 if a metric meets this condition, e.g. 'loss>0.01' or 'accuracy<0.9' (<, <=, >, >=); repeatable. The metrics are still printed or written.", show_default=False)] = None,
    strategy: LocalStrategy = None,
    devices: Devices = None,
    layout: SpecLayout = None,
    timesteps: SpecTimesteps = None,
    horizon: SpecHorizon = None,
    features: SpecFeatures = None,
    target: SpecTarget = None,
    index: SpecIndex = None,
    format: Format = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Print the loss and every compiled metric of a fitted model on data, beside the naive baselines (regression) or the majority class and per-class recall (classifiers)."""
    from lstmcli import lifecycle, metrics_file
    from lstmcli import gates as gate_module

    with _boundary(debug):
        opts = _options(
            "evaluate", config, data=data, rows=rows, season=season, batch_size=batch_size, json=json, out=out,
            fail_if=fail_if, strategy=strategy, devices=devices,
            layout=layout, timesteps=timesteps, horizon=horizon, features=features, target=target, index=index, format=format, unsafe=unsafe,
        )
        gates = gate_module.parse_all(opts.fail_if)
        if opts.out is not None and str(opts.out) != "-":
            lifecycle.check_out(model, opts)  # before its extension is judged
        fmt = metrics_file.format_for(opts.out, opts.json)
        metrics = lifecycle.evaluate(model, opts, debug=debug)
        gate_module.check_names(gates, metrics)
        _warn_if_smoke(model)
        _write_metrics(metrics, fmt, opts.out)
        gate_module.check(gates, metrics)


def _write_metrics(metrics: dict, fmt: str, out: Path | None) -> None:
    """Write evaluate's metrics to `out` (or stdout) in `fmt`; a table on a terminal."""
    from lstmcli import metrics_file, render

    text = render.metrics_text(metrics, False) if fmt == "text" else metrics_file.dumps(metrics, fmt)
    if out is not None and str(out) != "-":
        _write_text(out, text)
    elif fmt != "text" or not sys.stdout.isatty():
        sys.stdout.write(text)
    else:
        render.stdout_console().print(render.metrics_table(metrics))


def _warn_if_smoke(model: Path) -> None:
    """One line on stderr when an artifact was fitted by a smoke run."""
    from lstmcli import artifact, render

    smoke = artifact.smoke_fit(artifact.read_record(model))
    if smoke:
        render.warning(f"{model} is a smoke artifact ({smoke}); its results only show that the pipeline runs")


@app.command()
def predict(
    model: Artifact,
    config: Config = None,
    data: Data = None,
    classes: Annotated[Optional[bool], typer.Option("--classes", help="Classification: only the predicted label, as predict_classes gave.", show_default=False)] = None,
    rows: Rows = None,
    future: Annotated[Optional[bool], typer.Option("--future", help="Series: only the forecast past the last (selected) row, keyed by the index continued at its frequency.", show_default=False)] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", metavar="N", help="With --future: forecast N steps; beyond the horizon, recursively (feeding forecasts back), where the features are the targets. Defaults to the horizon.", show_default=False)] = None,
    wide: Annotated[Optional[bool], typer.Option("--wide", help="Series: one row per window with a column per step, instead of one row per (window, step).", show_default=False)] = None,
    batch_size: Annotated[Optional[str], typer.Option(help="Samples per step, or 'all'. Defaults to 4096.", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the predictions CSV to this file instead of stdout.", show_default=False)] = None,
    strategy: LocalStrategy = None,
    devices: Devices = None,
    layout: SpecLayout = None,
    timesteps: SpecTimesteps = None,
    horizon: SpecHorizon = None,
    features: SpecFeatures = None,
    target: SpecTarget = None,
    index: SpecIndex = None,
    format: Format = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Write a fitted model's predictions for data as CSV."""
    from lstmcli import lifecycle

    with _boundary(debug):
        opts = _options(
            "predict", config, data=data, rows=rows, classes=classes, future=future, steps=steps, wide=wide, batch_size=batch_size, out=out,
            strategy=strategy, devices=devices,
            layout=layout, timesteps=timesteps, horizon=horizon, features=features, target=target, index=index, format=format, unsafe=unsafe,
        )
        frame = lifecycle.predict(model, opts, debug=debug)
        _warn_if_smoke(model)
        if opts.out is not None and str(opts.out) != "-":
            _write_text(opts.out, frame.to_csv(index=False))
        else:
            frame.to_csv(sys.stdout, index=False)


@app.command()
def backtest(
    model: Artifact,
    config: Config = None,
    data: Data = None,
    folds: Annotated[Optional[int], typer.Option(help="Folds: test blocks at the end of the series, each evaluated by a model fitted on every row before it. Defaults to 3.", show_default=False)] = None,
    fold_size: Annotated[Optional[int], typer.Option(metavar="ROWS", help="Rows per test block. Defaults to the folds sharing the last third of the series (at least one horizon each).", show_default=False)] = None,
    season: Season = None,
    json: Annotated[Optional[bool], typer.Option("--json", help="Print the folds and their means as JSON.", show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs each fold trains. Defaults to 1.", show_default=False)] = None,
    batch_size: Annotated[Optional[str], typer.Option(help="Samples per step, or 'all' for one batch. Defaults to 32.", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of every fold's fit, so a backtest repeats exactly. Defaults to the artifact's seed, else a random one (reported).", show_default=False)] = None,
    shuffle: Annotated[Optional[bool], typer.Option("--shuffle/--no-shuffle", help="Reshuffle the samples every epoch. Defaults to shuffle.", show_default=False)] = None,
    scaling: Annotated[Optional[str], typer.Option(help="none, minmax or standard, learned inside each fold from its training rows. Defaults to standard.", show_default=False)] = None,
    validation_split: Annotated[Optional[float], typer.Option(help="Fraction of each fold's training samples, from its end, held out for validation.", show_default=False)] = None,
    validation_data: Annotated[Optional[Path], typer.Option(help="A separate data file for validation.", show_default=False)] = None,
    early_stopping: Annotated[Optional[int], typer.Option(metavar="PATIENCE", help="Stop a fold's fit when the validation loss (or loss) has not improved for PATIENCE epochs.", show_default=False)] = None,
    reduce_lr_on_plateau: Annotated[Optional[int], typer.Option(metavar="PATIENCE", help="Divide the learning rate by 10 after PATIENCE epochs without improvement.", show_default=False)] = None,
    verbose: Annotated[Optional[str], typer.Option(help="0 prints only the result; otherwise one line per fold on stderr. Defaults to auto.", show_default=False)] = None,
    layout: SpecLayout = None,
    timesteps: SpecTimesteps = None,
    horizon: SpecHorizon = None,
    features: SpecFeatures = None,
    target: SpecTarget = None,
    index: SpecIndex = None,
    format: Format = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Rolling-origin evaluation: each fold fits a compiled model on the rows before its origin and evaluates the next block."""
    import json as json_module

    from lstmcli import backtest as backtesting, render

    with _boundary(debug):
        opts = _options(
            "backtest", config, data=data, folds=folds, fold_size=fold_size, season=season, json=json,
            epochs=epochs, batch_size=batch_size, seed=seed, shuffle=shuffle, scaling=scaling,
            validation_split=validation_split, validation_data=validation_data, early_stopping=early_stopping,
            reduce_lr_on_plateau=reduce_lr_on_plateau, verbose=verbose, layout=layout, timesteps=timesteps,
            horizon=horizon, features=features, target=target, index=index, format=format, unsafe=unsafe,
        )
        console = render.stderr_console()

        def announce(fold: dict) -> None:
            if opts.verbose != "0":
                console.print(render.fold_line(fold), markup=False)

        result = backtesting.backtest(model, opts, debug=debug, on_fold=announce)
        if opts.json:
            sys.stdout.write(json_module.dumps(result.to_dict(), indent=2) + "\n")
        else:
            sys.stdout.write(render.backtest_text(result.to_dict()))


@app.command()
def verify(
    model: Artifact,
    json: Annotated[Optional[bool], typer.Option("--json", help="Print the summary as JSON.", show_default=False)] = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Check an artifact's integrity, record and model; exit 0 if sound, 2 with the reason if not."""
    import json as json_module

    from lstmcli import lifecycle, render

    with _boundary(debug):
        summary = lifecycle.verify(model, unsafe=bool(unsafe), debug=debug)
        if json:
            sys.stdout.write(json_module.dumps(summary, indent=2) + "\n")
        else:
            sys.stdout.write(render.metrics_text({k: _plain(v) for k, v in summary.items()}, False))


# The formats `export` writes, declared once in `exporting.FORMATS` (which says why only these).
ExportFormat = Enum("ExportFormat", {name.replace("-", "_"): name for name in FORMATS}, type=str)


@app.command()
def export(
    model: Artifact,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="The SavedModel directory to write (built beside it, renamed into place; an earlier export there is replaced).", show_default=False)] = None,
    format: Annotated[ExportFormat, typer.Option("--format", help="The export format: saved-model is TensorFlow Serving's SavedModel.")] = ExportFormat(FORMATS[0]),
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Export a fitted artifact for serving: raw windows in, the data's units (or class probabilities) out."""
    from lstmcli import exporting, render

    with _boundary(debug):
        done = exporting.export(model, format=format.value, out=out, unsafe=bool(unsafe), debug=debug)
        render.stderr_console().print(
            f"exported {done.format} → {done.path} (signature '{exporting.ENDPOINT}': "
            f"{', '.join(f'{k} {v}' for k, v in done.inputs.items())} → {', '.join(done.outputs)})",
            markup=False,
        )


@app.command()
def inspect(
    model: Artifact,
    layers: Annotated[Optional[bool], typer.Option("--layers", help="Also show the layer table (name, type, output shape, parameters); this loads TensorFlow.", show_default=False)] = None,
    json: Annotated[Optional[bool], typer.Option("--json", help="Print everything as JSON, the full history included.", show_default=False)] = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Show what an artifact holds: stage, task, data spec, preprocessing, history, lineage, versions."""
    import json as json_module

    from lstmcli import inspection, render

    with _boundary(debug):
        summary = inspection.inspect(model, layers=bool(layers), unsafe=bool(unsafe), debug=debug)
        if json:
            sys.stdout.write(json_module.dumps(summary, indent=2) + "\n")
        else:
            console = render.stdout_console()
            for view in render.inspect_view(summary):
                console.print(view)


@app.command()
def plot(
    model: Artifact,
    out_dir: Annotated[Path, typer.Option("--out-dir", metavar="DIR", help="Folder for the PNG files: history.png, and predictions.png or confusion.png with --data.", show_default=False)],
    data: Annotated[Optional[Path], typer.Option("--data", "-d", help="Also draw the predictions for this data file against its actual values (a confusion matrix for classification).", show_default=False)] = None,
    format: Format = None,
    unsafe: Unsafe = None,
    debug: Debug = False,
) -> None:
    """Draw PNG figures for reports: training curves, and predictions against actuals."""
    from lstmcli import plots, settings

    with _boundary(debug):
        predict_opts = None
        if data is not None:
            predict_opts = settings.resolve("predict", {"data": data, "format": format, "unsafe": unsafe}, None)
        for path in plots.plot(model, out_dir, predict_opts=predict_opts, debug=debug):
            sys.stdout.write(f"{path}\n")


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", help="A TOML file with [define], [compile], [fit] (and [evaluate], [predict]) tables.", show_default=False)],
    workdir: Annotated[Path, typer.Option("--workdir", metavar="DIR", help="Folder for defined.keras, compiled.keras, fitted.keras, metrics.json and predictions.csv.", show_default=False)],
    smoke: Annotated[Optional[bool], typer.Option("--smoke", help="Fit as a smoke test (see fit --smoke).", show_default=False)] = None,
    debug: Debug = False,
) -> None:
    """Run define, compile, fit, evaluate and predict in one process, writing the same five outputs."""
    from lstmcli import pipeline, render, settings

    with _boundary(debug):
        level = render.resolve_verbose(settings.resolve("fit", {}, config).verbose)
        console = render.stderr_console()
        with render.FitReporter(level) as reporter, _first_interrupt_stops() as stop:
            pipeline.run(
                config, workdir, smoke=smoke, debug=debug,
                on_written=lambda path, what: console.print(f"{what} → {path}", markup=False),
                on_metrics=lambda metrics: _report_run_metrics(metrics, workdir / pipeline.FITTED),
                on_epoch_end=reporter.on_epoch_end, on_progress=reporter.on_progress, should_stop=stop,
            )


def _report_run_metrics(metrics: dict, fitted: Path) -> None:
    from lstmcli import render

    _warn_if_smoke(fitted)
    sys.stdout.write(render.metrics_text(metrics, False))


def _plain(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return " → ".join(map(str, value)) if value and isinstance(value[0], str) else "×".join(map(str, value))
    return str(value)


def _write_text(path: Path, text: str) -> None:
    from lstmcli.artifact import atomic_output

    with atomic_output(path) as handle:
        handle.write(text)


class _StopFlag:
    """The first Ctrl-C asks training to stop after the current step; the second interrupts.

    Once training is over (the step polls with `final=True` before it writes)
    there is no step left to finish, so any Ctrl-C interrupts at once and no
    output is written.
    """

    def __init__(self):
        self.requested = False
        self.final = False

    def __call__(self, final: bool = False) -> str | None:
        self.final = self.final or final
        return "interrupted" if self.requested else None


@contextlib.contextmanager
def _first_interrupt_stops():
    flag = _StopFlag()

    def handler(signum, frame):
        if flag.requested or flag.final:
            raise KeyboardInterrupt
        flag.requested = True
        from lstmcli import render

        render.stderr_console().print("stopping after the current step (Ctrl-C again to abort)", markup=False)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _stuck(message: str) -> None:
    """A multi-worker peer stopped answering inside TensorFlow, where no exception reaches: end the process."""
    from lstmcli import render

    render.error(message)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_FAILURE)


def _silence_stdout() -> None:
    """The reader of stdout went away (`| head`): drop what is left, like a Unix tool."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; `argv` defaults to sys.argv[1:].

    Once a command that loaded TensorFlow has finished and its output is
    flushed, the process ends with `os._exit`: TensorFlow's interpreter
    teardown costs about 0.7 s and does nothing a finished step needs, since
    every file a step writes is complete and closed before it returns.
    """
    try:
        app(args=argv, prog_name="lstmcli")
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            _silence_stdout()
            code = code or EXIT_FAILURE
    if "tensorflow" in sys.modules:
        os._exit(code)
    sys.exit(code)
