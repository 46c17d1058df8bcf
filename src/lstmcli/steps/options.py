"""Every step's options: one frozen dataclass per command, built from shared groups.

These classes are the Python API's arguments (`steps.fit(model, FitOptions(...))`) and the
only declaration of each option: the command line's flags, the config keys, `--help`,
`--print-config`, the checks, the checkpoint fingerprint and the input/output lists all come
from their fields (see `lstmcli.options`). Light: no numpy, pandas or TensorFlow.

This module is longer on purpose: it is the table of every option of every command, about a
hundred fields with their help text, and the shared groups are what keep them declared once.
"""

from dataclasses import dataclass
from pathlib import Path

from lstmcli.model.checkpoints import CHECKPOINT_NAME
from lstmcli.model.tasks import TASKS
from lstmcli.options import CONFIG_TABLES, INPUT, OUTPUT, SEED_RANGE, Options, option, resolve
from lstmcli.train.distribution import DEFAULT_TIMEOUT, LOCAL_STRATEGIES, STRATEGIES

SCALINGS = ("none", "minmax", "standard")
GUARDS = ("auto", "best", "none")  # see steps.guarding
MAX_FUTURE_STEPS = 100_000  # predict --future --steps: one model call per horizon, errors compounding
EXPORT_FORMATS = ("saved-model",)  # see lstmcli.steps.exporting for why not ONNX or LiteRT
DEFAULT_SCALING = "standard"
FIXED = "Part of the data spec fixed at define time: given here it must match it, or fills in what it left open."
VERBOSE = ("auto", "0", "1", "2")
DATA_FORMATS = ("csv", "parquet", "npy", "npz")
IMAGE_FORMATS = ("png", "svg", "pdf")
DEVICES_HELP = (
    "--strategy mirrored: use N devices: the first N GPUs, or N logical CPU devices where there is no GPU. "
    "Defaults to every GPU."
)


def interval(help: str):
    """A list of prediction-interval levels, each strictly between 0 and 1 (0.8: an 80% interval)."""
    return option(None, help, above=0.0, high=1.0, metavar="LEVEL")


CALIBRATED = (
    "Defaults to 0.8 and 0.95 where the model is calibrated (fit kept the residuals of held-out windows), else none."
)


@dataclass(frozen=True, kw_only=True)
class StepOptions(Options):
    """What every step has: the config its options came from (an input no output may overwrite)."""

    config: Path | None = option(
        None, "The TOML file the options were read from.", role=INPUT, hidden=True, fingerprint=False
    )


@dataclass(frozen=True, kw_only=True)
class UnsafeOption(Options):
    unsafe: bool = option(
        False,
        "Load archives that carry code (Lambda layers). Only for files you trust.",
        off="--safe",
        fingerprint=False,
    )


@dataclass(frozen=True, kw_only=True)
class DataFileOptions(Options):
    """The data file a step reads."""

    data: Path | None = option(
        None,
        "Data file: CSV, Parquet, .npy or .npz; '-' reads CSV from stdin.",
        aliases=("-d",),
        role=INPUT,
        fingerprint=False,  # the bytes' sha256 is fingerprinted instead
    )
    format: str | None = option(None, "Data format when the extension does not say.", choices=DATA_FORMATS)


@dataclass(frozen=True, kw_only=True)
class DataOptions(DataFileOptions):
    """The data file a step reads, and which of its rows."""

    rows: str | None = option(
        None,
        "Only these rows: index values, both ends included (like .loc: ':2019-12', '2020-01:'), or 0-based row numbers, "
        "END excluded (like .iloc), without an index. evaluate and predict take a window's context from before START.",
        kind="rows",
        metavar="START:END",
    )


@dataclass(frozen=True, kw_only=True)
class SpecOptions(Options):
    """The data spec is fixed at define time; later steps accept it only to fill in what define left open, or to refuse a contradiction."""

    layout: str | None = option(None, FIXED, choices=("series", "samples"))
    timesteps: int | None = option(None, FIXED, low=1)
    horizon: int | None = option(None, FIXED, low=1)
    features: list[str] | None = option(None, FIXED, metavar="COLUMNS")
    target: list[str] | None = option(None, FIXED, metavar="COLUMNS")
    index: str | None = option(None, FIXED, metavar="COLUMN")


SPEC_KEYS = tuple(f for f in SpecOptions.__dataclass_fields__)


@dataclass(frozen=True, kw_only=True)
class TrainingOptions(Options):
    """How a model is trained: fit's, and each of backtest's folds'."""

    epochs: int = option(1, "Epochs to train; on a fitted model, more epochs (see README, Training).", low=1)
    batch_size: int | str = option(
        32, "Samples per step, or 'all' for one batch.", kind="batch", low=1, metavar="N|all"
    )
    seed: int | None = option(
        None,
        "Seed for shuffling and dropout; recorded in the artifact. Defaults to the artifact's seed, else a random one (recorded too).",
        low=0,
        high=SEED_RANGE,
    )
    shuffle: bool = option(True, "Reshuffle the samples every epoch.", off="--no-shuffle")
    ensemble: int = option(
        1,
        "Train N members from seeds SEED, SEED+1, … and save their average as one model (a seed ensemble): the first "
        "member is the fit --seed SEED gives alone, the others start from weights drawn afresh with their seed. Every "
        "member holds out the same validation samples; N fits cost N times the time.",
        low=1,
        metavar="N",
    )
    scaling: str | None = option(
        None,
        "Per feature channel, learned on the training data and saved as layers of the model. Defaults to standard; "
        "continued training keeps what the model learned.",
        choices=SCALINGS,
    )
    validation_split: float = option(
        0.0,
        "Fraction of samples held out for validation: series, the last ones (time's order); samples, a random draw "
        "within each class (seeded by --seed, recorded).",
        low=0.0,
        high=1.0,
    )
    validation_data: Path | None = option(
        None,
        "A separate data file for validation.",
        role=INPUT,
        fingerprint=False,  # its bytes' sha256 is fingerprinted instead
    )
    guard: str = option(
        "auto",
        "When no one chose the epochs on held-out data: auto holds out the end of a series (a stratified draw of "
        "samples; three draws on a file under 300), finds the best epoch on them, then refits on every row for "
        "that many epochs; best keeps the best epoch's weights instead; none trains --epochs as asked (README, "
        "Training).",
        choices=GUARDS,
    )
    class_weight: str = option(
        "none",
        "Classifiers: none, balanced (each class weighs n/(classes×count)), or LABEL=W,... (others 1), as Keras's class_weight.",
        metavar="WEIGHTS",
    )
    early_stopping: int | None = option(
        None,
        "Stop when --monitor has not improved for PATIENCE epochs, keeping the best weights (Keras's EarlyStopping).",
        low=1,
        metavar="PATIENCE",
    )
    reduce_lr_on_plateau: int | None = option(
        None,
        "Multiply the learning rate by --lr-factor after PATIENCE epochs without improvement of --monitor "
        "(Keras's ReduceLROnPlateau).",
        low=1,
        metavar="PATIENCE",
    )
    monitor: str | None = option(
        None,
        "The log --early-stopping and --reduce-lr-on-plateau watch: loss, a compiled metric, or its val_ twin "
        "(e.g. val_mae); accuracy-like metrics improve upwards. Defaults to val_loss with validation, else loss.",
        metavar="LOG",
    )
    min_delta: float = option(0.0, "The smallest change of --monitor that counts as an improvement.", low=0.0)
    lr_factor: float = option(
        0.1, "--reduce-lr-on-plateau multiplies the learning rate by this (above 0, below 1).", low=0.0, high=1.0
    )
    lr_cooldown: int = option(
        0,
        "Epochs --reduce-lr-on-plateau waits after a reduction before it counts epochs without improvement again.",
        low=0,
        metavar="EPOCHS",
    )
    min_lr: float = option(0.0, "--reduce-lr-on-plateau never takes the learning rate below this.", low=0.0)
    lr_schedule: str | None = option(
        None,
        "The learning rate by epoch of this fit (Keras's LearningRateScheduler), from the rate it starts with: cosine "
        "(decays towards 0 over the fit's epochs), exponential:RATE (× RATE every epoch) or step:EVERY:FACTOR (× FACTOR "
        "every EVERY epochs).",
        metavar="SCHEDULE",
    )
    strategy: str = option(
        "auto",
        "tf.distribute: mirrored over local GPUs (or --devices CPUs), multi-worker over the cluster in TF_CONFIG "
        "(only the chief writes); auto is mirrored when more than one GPU is visible.",
        choices=STRATEGIES,
        fingerprint=False,
    )
    devices: int | None = option(None, DEVICES_HELP, low=1, metavar="N", fingerprint=False)
    timeout: float = option(
        float(DEFAULT_TIMEOUT),
        "multi-worker: fail when a peer has not joined or answered for this long.",
        low=1.0,
        metavar="SECONDS",
        fingerprint=False,
    )


@dataclass(frozen=True, kw_only=True)
class LocalDevices(Options):
    """evaluate's and predict's devices."""

    strategy: str = option(
        "auto",
        "tf.distribute over the local GPUs or --devices CPUs; auto is mirrored when more than one GPU is visible.",
        choices=LOCAL_STRATEGIES,
    )
    devices: int | None = option(None, DEVICES_HELP, low=1, metavar="N")


@dataclass(frozen=True, kw_only=True)
class DefineOptions(StepOptions):
    """Options of `define`: the task, the data spec and the layers."""

    out: Path | None = option(
        None, "Where to write the defined artifact (written atomically).", aliases=("-o",), role=OUTPUT
    )
    task: str = option("regression", "What the output predicts.", choices=tuple(TASKS))
    num_classes: int | None = option(None, "Classes of a multiclass task (its output units).", low=2)
    layout: str = option(
        "series",
        "series: rows are time steps and samples are windows; samples: one row per sample.",
        choices=("series", "samples"),
    )
    timesteps: int | None = option(None, "Time steps per sample. Defaults to 1, or what --input-shape says.", low=1)
    horizon: int = option(1, "series: forecast the next H steps (1..H) at once, one output per step and target.", low=1)
    features: list[str] | None = option(None, "Feature columns, comma-separated or repeated.", metavar="COLUMNS")
    target: list[str] | None = option(
        None, "Target column(s). Defaults to the features (series) or the last column (samples).", metavar="COLUMNS"
    )
    index: str | None = option(
        None, "A key column (a date, an id) carried to the predictions, never a feature.", metavar="COLUMN"
    )
    reshape: str = option(
        "grid",
        "samples: grid (time-major t0_f0,t0_f1,…), timesteps (columns are time steps of one feature) or features "
        "(columns are features of one step).",
        choices=("grid", "timesteps", "features"),
    )
    mask: bool = option(False, "samples: rows may end early; empty trailing time steps are masked.")
    transform: list[str] | None = option(
        None,
        "series: target transforms, applied in order and inverted inside the model: log, diff, seasonal-diff:P, or auto "
        "(chosen at fit from the training data). Comma-separated or repeated.",
        metavar="NAMES",
    )
    season: int | None = option(
        None,
        "series: the season length in rows (12 for monthly data), for --transform auto and seasonal baselines.",
        low=2,
        metavar="ROWS",
    )
    input_shape: list[int] | None = option(
        None, "TIMESTEPS,FEATURES when the feature columns are not named.", low=1, metavar="T,F"
    )
    lstm: list[int] | None = option(
        None, "Units of each stacked LSTM layer, e.g. 32,16. Defaults to 32.", low=1, metavar="UNITS"
    )
    layers: list[str] | None = option(
        None,
        "The full stack instead of --lstm: lstm:UNITS, dense:UNITS[:ACTIVATION], dropout:RATE, activation:NAME.",
        metavar="SPECS",
    )
    dropout: float = option(0.0, "Dropout rate after each --lstm layer.", low=0.0, high=1.0)
    recurrent_dropout: float = option(0.0, "Dropout on the LSTMs' recurrent state.", low=0.0, high=1.0)
    output_units: int | None = option(None, "Units of the output Dense layer. Defaults to the task's.", low=1)
    output_activation: str | None = option(
        None, "Activation of the output layer. Defaults to the task's (linear, sigmoid, softmax).", metavar="NAME"
    )
    seed: int | None = option(None, "Seed for the initial weights.", low=0, high=SEED_RANGE)


@dataclass(frozen=True, kw_only=True)
class CompileOptions(UnsafeOption, StepOptions):
    """Options of `compile`: optimizer, loss and metrics; defaults follow the task."""

    out: Path | None = option(
        None, "Where to write the compiled artifact (written atomically).", aliases=("-o",), role=OUTPUT
    )
    optimizer: str = option("adam", "sgd, adam, rmsprop, adamw, adagrad, nadam, …", metavar="NAME")
    learning_rate: float | None = option(
        None, "The optimizer's learning rate. Defaults to the optimizer's.", low=0.0, aliases=("--lr",)
    )
    momentum: float | None = option(None, "Momentum, for sgd and rmsprop.", low=0.0, high=1.0)
    loss: str | None = option(None, "Loss name. Defaults to the task's.", metavar="NAME")
    metrics: list[str] | None = option(
        None,
        "Metric names, repeatable or comma-separated. Defaults to the task's.",
        metavar="NAMES",
        aliases=("--metric",),
    )
    jit_compile: bool | None = option(
        None,
        "Compile training steps with XLA. Defaults to deciding per fit: on when the fit is big enough to repay XLA's compile time.",
        kind="bool",
        off="--no-jit-compile",
    )


@dataclass(frozen=True, kw_only=True)
class FitOptions(UnsafeOption, SpecOptions, TrainingOptions, DataOptions, StepOptions):
    """Options of `fit`: the data, how to train, and what to write besides the artifact."""

    out: Path | None = option(
        None, "Where to write the fitted artifact (written atomically).", aliases=("-o",), role=OUTPUT
    )
    verbose: str = option(
        "auto",
        "0 silent, 1 a progress bar, 2 Keras's epoch lines ('Epoch e/N', then 'n/n - … - loss: …'); auto is 1.",
        choices=VERBOSE,
        fingerprint=False,
    )
    log_every: int | None = option(
        None,
        "Epoch lines (and, on a terminal, trail lines above the bar) for every N epochs, besides the first and "
        "last. Default: every epoch at --verbose 2; otherwise about 20 a fit, and one at least every 10 s.",
        low=1,
        metavar="N",
        fingerprint=False,
    )
    history: Path | None = option(
        None,
        "Also write the per-epoch history to this CSV file ('-' for stdout); with --ensemble, the first member's.",
        role=OUTPUT,
    )
    tensorboard: Path | None = option(
        None,
        "Write TensorBoard logs of every epoch to DIR (with --ensemble, the first member's).",
        metavar="DIR",
        role=OUTPUT,
        directory=True,
        manages=("train", "validation"),
    )
    checkpoint_dir: Path | None = option(
        None,
        "Checkpoint to DIR at epoch ends; the same command resumes after a crash.",
        metavar="DIR",
        role=OUTPUT,
        directory=True,
        manages=(CHECKPOINT_NAME,),
    )
    smoke: bool = option(
        False,
        "A smoke test: one epoch on at most 3 batches, the artifact marked as a smoke artifact. LSTMCLI_SMOKE=1 in the "
        "environment does the same for every fit.",
    )
    split_seed: int | None = option(
        None,
        "The seed of a --validation-split's random draw. Defaults to the fit's seed; --ensemble sets the first "
        "member's for every member, so all hold out the same samples.",
        low=0,
        high=SEED_RANGE,
        hidden=True,
    )


SEASON_HELP = (
    "The season length of the seasonal-naive baseline. Defaults to define's --season, else the period of a seasonal difference "
    "fit chose, else the index's frequency's (12 monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly), else none."
)


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions(UnsafeOption, SpecOptions, LocalDevices, DataOptions, StepOptions):
    """Options of `evaluate`: the data, where the metrics go, and the gates."""

    season: int | None = option(None, SEASON_HELP, low=2, metavar="ROWS")
    batch_size: int | str = option(4096, "Samples per step, or 'all'.", kind="batch", low=1, metavar="N|all")
    json: bool = option(False, "Print the metrics as JSON.")
    out: Path | None = option(
        None,
        "Write the metrics to this file instead of stdout: .json, .yaml/.yml, .csv or .txt (a table), by extension.",
        aliases=("-o",),
        role=OUTPUT,
    )
    fail_if: list[str] | None = option(
        None,
        "Exit 3 if a metric meets this condition, e.g. 'loss>0.01' or 'accuracy<0.9' (<, <=, >, >=); repeatable. "
        "The metrics are still printed or written.",
        metavar="GATE",
    )
    interval: list[float] | None = interval(
        "Score these prediction intervals: coverage_L (the fraction of actual values inside), width_L (their mean "
        "width) and winkler_L (the width plus 2/(1-LEVEL) × each miss's distance; lower is better), L the level in "
        "percent. Repeatable or comma-separated. " + CALIBRATED
    )


@dataclass(frozen=True, kw_only=True)
class PredictOptions(UnsafeOption, SpecOptions, LocalDevices, DataOptions, StepOptions):
    """Options of `predict`: the data, the shape of the table, where it goes."""

    batch_size: int | str = option(4096, "Samples per step, or 'all'.", kind="batch", low=1, metavar="N|all")
    classes: bool = option(False, "Classification: only the predicted label, as predict_classes gave.")
    future: bool = option(
        False, "Series: only the forecast past the last (selected) row, keyed by the index continued at its frequency."
    )
    steps: int | None = option(
        None,
        "With --future: forecast N steps; beyond the horizon, recursively (feeding forecasts back), where the features "
        "are the targets. Defaults to the horizon. At most 100000: each step costs a model call and the "
        "errors compound, so a longer recursive forecast is noise.",
        low=1,
        high=MAX_FUTURE_STEPS + 1,
        metavar="N",
    )
    wide: bool = option(
        False, "Series: one row per window with a column per step, instead of one row per (window, step)."
    )
    interval: list[float] | None = interval(
        "Regression: after each predicted column, the lower and upper bounds of a LEVEL prediction interval "
        "(0.8: 80%; columns …_lower_80, …_upper_80) in the data's units, from the errors of the windows fit held out "
        "(split conformal). Repeatable or comma-separated; with --future, up to the horizon."
    )
    out: Path | None = option(
        None, "Write the predictions CSV to this file instead of stdout.", aliases=("-o",), role=OUTPUT
    )


@dataclass(frozen=True, kw_only=True)
class BacktestOptions(UnsafeOption, SpecOptions, TrainingOptions, DataFileOptions, StepOptions):
    """Options of `backtest`: the folds, and the training options every fold's fit shares."""

    folds: int = option(
        3, "Test blocks at the end of the series, each evaluated by a model fitted on every row before it.", low=1
    )
    fold_size: int | None = option(
        None,
        "Rows per test block. Defaults to the folds sharing the last third of the series (at least one horizon each).",
        low=1,
        metavar="ROWS",
    )
    season: int | None = option(None, SEASON_HELP, low=2, metavar="ROWS")
    json: bool = option(False, "Print the folds and their means as JSON.")
    epochs: int = option(1, "Epochs each fold trains.", low=1)
    seed: int | None = option(
        None,
        "Seed of every fold's fit, so a backtest repeats exactly. Defaults to the artifact's seed, else a random one (printed).",
        low=0,
        high=SEED_RANGE,
    )
    scaling: str | None = option(
        None,
        "Per feature channel, learned inside each fold from its training rows. Defaults to standard.",
        choices=SCALINGS,
    )
    validation_split: float = option(
        0.0, "Fraction of each fold's training samples, from its end, held out for validation.", low=0.0, high=1.0
    )
    early_stopping: int | None = option(
        None,
        "Stop a fold's fit when --monitor has not improved for PATIENCE epochs.",
        low=1,
        metavar="PATIENCE",
    )
    ensemble: int = option(
        1,
        "Fit every fold as a seed ensemble of N members (see fit --ensemble); N folds' time each.",
        low=1,
        metavar="N",
    )
    smoke: bool = option(False, "Fit every fold as a smoke test (see fit --smoke).")
    interval: list[float] | None = interval(
        "The prediction intervals each fold's evaluate scores (coverage_L, width_L, winkler_L; see evaluate "
        "--interval). Defaults to 0.8 and 0.95 where a fold's fit calibrated them."
    )
    verbose: str = option("auto", "0 prints only the result; otherwise one line per fold on stderr.", choices=VERBOSE)


@dataclass(frozen=True, kw_only=True)
class VerifyOptions(UnsafeOption):
    """Options of `verify`."""

    json: bool = option(False, "Print the summary as JSON.")


@dataclass(frozen=True, kw_only=True)
class ExportOptions(UnsafeOption):
    """Options of `export`."""

    out: Path | None = option(
        None,
        "The SavedModel directory to write (built beside it, renamed into place; an earlier export there is replaced).",
        aliases=("-o",),
        metavar="DIR",
        role=OUTPUT,
        directory=True,
    )
    format: str = option(
        EXPORT_FORMATS[0], "The export format: saved-model is TensorFlow Serving's SavedModel.", choices=EXPORT_FORMATS
    )
    interval: list[float] | None = interval(
        "Regression: the serving signature also returns lower_L and upper_L, the bounds of each LEVEL's prediction "
        "interval (L in percent), their half-widths stored in the SavedModel. " + CALIBRATED
    )


@dataclass(frozen=True, kw_only=True)
class InspectOptions(UnsafeOption):
    """Options of `inspect`."""

    layers: bool = option(
        False, "Also show the layer table (name, type, output shape, parameters); this loads TensorFlow."
    )
    json: bool = option(False, "Print everything as JSON, the full history included.")


@dataclass(frozen=True, kw_only=True)
class PlotOptions(UnsafeOption):
    """Options of `plot`."""

    out_dir: Path = option(
        None,
        "Folder for the figures: history.png, and predictions.png or confusion.png with --data (.svg or .pdf with "
        "--image-format).",
        metavar="DIR",
        required=True,
        role=OUTPUT,
        directory=True,
    )
    data: Path | None = option(
        None,
        "Also draw the predictions for this data file against its actual values (a confusion matrix for classification).",
        aliases=("-d",),
        role=INPUT,
    )
    format: str | None = option(None, "Data format when the extension does not say.", choices=DATA_FORMATS)
    rows: str | None = option(
        None,
        "Draw the predictions for these rows only (the test part: like predict's --rows), the actual values of the "
        "whole file, and the split at START.",
        kind="rows",
        metavar="START:END",
    )
    step: str = option(
        "1",
        "Series with a horizon: draw the forecasts of step K (each at its own row), or 'all' for every step.",
        metavar="K|all",
    )
    steps: int | None = option(
        None,
        "Series: the forecast past the end, N steps long (beyond the horizon, recursively, like predict --future "
        "--steps). Defaults to the horizon; at most 100000, as for predict.",
        low=1,
        high=MAX_FUTURE_STEPS + 1,
        metavar="N",
    )
    interval: list[float] | None = interval(
        "Regression: shade each LEVEL's prediction interval around the forecasts (a single --step's, and the "
        "forecast past the end up to the horizon). " + CALIBRATED
    )
    normalize: str = option(
        "none",
        "Confusion matrix: counts, or fractions of each actual class (true), predicted class (pred) or all samples "
        "(all), as scikit-learn's normalize.",
        choices=("none", "true", "pred", "all"),
    )
    image_format: str = option("png", "The figures' file format.", choices=IMAGE_FORMATS)
    dpi: int = option(
        100, "Dots per inch of the figures (a PNG's pixels are its size in inches × dpi).", low=20, high=1201
    )


@dataclass(frozen=True, kw_only=True)
class RunOptions(Options):
    """Options of `run`: the config with every step's table, and the folder for the five outputs."""

    config: Path = option(
        None,
        "A TOML file with [define], [compile], [fit] (and [evaluate], [predict]) tables.",
        required=True,
        role=INPUT,
    )
    workdir: Path = option(
        None,
        "Folder for defined.keras, compiled.keras, fitted.keras, metrics.json and predictions.csv.",
        metavar="DIR",
        required=True,
        role=OUTPUT,
        directory=True,
    )
    set: list[str] | None = option(
        None,
        "Replace a value of the config: TABLE.KEY=VALUE, e.g. fit.epochs=5, define.lstm=[32,16] or compile.optimizer=sgd "
        "(a TOML value; a bare word is text; a path is relative to the current folder). Repeatable; checked as the "
        "config's own values.",
        kind="sets",
        metavar="TABLE.KEY=VALUE",
        aliases=("-S",),
    )
    smoke: bool = option(False, "Fit as a smoke test (see fit --smoke).")


BY_COMMAND = {
    "define": DefineOptions,
    "compile": CompileOptions,
    "fit": FitOptions,
    "evaluate": EvaluateOptions,
    "predict": PredictOptions,
    "backtest": BacktestOptions,
    "verify": VerifyOptions,
    "export": ExportOptions,
    "inspect": InspectOptions,
    "plot": PlotOptions,
    "run": RunOptions,
}


def for_command(name: str, flags: dict, config: Path | None = None, overrides: dict | None = None) -> Options:
    """Command `name`'s options: `flags` (None: not given) over `overrides` over its `--config` table over the
    defaults, checked.

    A step that reads a config table remembers the file as an input (no output may overwrite it).
    """
    fixed = {"config": config} if name in CONFIG_TABLES else {}
    return resolve(BY_COMMAND[name], name, flags, config, fixed, overrides)
