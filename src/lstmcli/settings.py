"""Every option of every command, declared once, and how flags and configs merge.

`OPTIONS` is the only place an option is declared: the command line's flags
(cli.py builds each command's parameters from it), the keys of a `--config`
TOML table, the defaults, the help text and the checks all come from it. A
step's settings come from three places, strongest first: the command line, the
step's table in a `--config` file, and the defaults. Values from both sources
go through the same checks, so a config can set anything a flag can and is
held to the same rules.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lstmcli.distribution import DEFAULT_TIMEOUT, LOCAL_STRATEGIES, STRATEGIES
from lstmcli.errors import ConfigError
from lstmcli.exporting import FORMATS
from lstmcli.tasks import TASKS, did_you_mean

STEPS = ("define", "compile", "fit", "evaluate", "predict", "backtest")  # the commands a config file has tables for
ALL = object()  # batch_size = "all": one batch holding every sample
SCALINGS = ("none", "minmax", "standard")
DEFAULT_SCALING = "standard"
SEED_RANGE = 2**32  # what keras.utils.set_random_seed and numpy accept
INT_LIMIT = 2**31  # no count (epochs, units, timesteps, batch) is this large; beyond it TensorFlow overflows


@dataclass(frozen=True)
class Option:
    """One setting of one command.

    Args:
        name: The key in a config table; the flag is `--` + name with dashes.
        kind: One of "int", "float", "str", "bool", "path", "ints", "strs", "batch".
        default: The value when neither flag nor config sets it.
        help: What it does, for `--help`; choices, range and default are added.
        choices: Allowed values, if the set is closed.
        low: Smallest allowed number (inclusive).
        high: Largest allowed number (exclusive). Whole numbers are below
            INT_LIMIT unless a `high` says otherwise.
        metavar: The value's name in `--help`.
        aliases: Other flags for it (`-o`, `--lr`).
        off: The flag that sets a bool option false (`--no-shuffle`).
        required: The command cannot run without it.
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    aliases: tuple = ()
    off: str | None = None
    required: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """The help text with its default and range, as Click shows them: `… [default: 32; x>=1]`."""
        extra = []
        if self.default is not None and self.default is not False:
            extra.append(f"default: {self.flag.removeprefix('--') if self.default is True else self.default}")
        if self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low}<=" if self.high is not None else f"x>={self.low}"
            extra.append(low + ("" if self.high is None else f"x<{self.high}"))
        return self.help + (f" [{'; '.join(extra)}]" if extra else "")


def _opt(name, kind, default=None, help="", *, choices=(), **more) -> Option:
    return Option(name, kind, default, help, tuple(choices), **more)


_UNSAFE = _opt("unsafe", "bool", False, "Load archives that carry code (Lambda layers). Only for files you trust.", off="--safe")
_FORMAT = _opt("format", "str", None, "Data format when the extension does not say.", choices=("csv", "parquet", "npy", "npz"))
_DATA = _opt("data", "path", None, "Data file: CSV, Parquet, .npy or .npz; '-' reads CSV from stdin.", aliases=("-d",))
_ROWS = _opt("rows", "str", None, "Only these rows: index values, both ends included (like .loc: ':2019-12', '2020-01:'), or 0-based row numbers, END excluded (like .iloc), without an index. evaluate and predict take a window's context from before START.", metavar="START:END")
_SEASON = _opt("season", "int", None, "The season length of the seasonal-naive baseline. Defaults to define's --season, else the period of a seasonal difference fit chose, else the index's frequency's (12 monthly, 4 quarterly, 7 daily, 24 hourly, 52 weekly), else none.", low=2, metavar="ROWS")
_OUT = _opt("out", "path", None, "Where to write the new .keras artifact (written atomically).", aliases=("-o",))
_FIT_BATCH = _opt("batch_size", "batch", 32, "Samples per step, or 'all' for one batch.", low=1, metavar="N|all")
_PREDICT_BATCH = _opt("batch_size", "batch", 4096, "Samples per step, or 'all'.", low=1, metavar="N|all")
_DEVICES = _opt("devices", "int", None, "--strategy mirrored: use N devices: the first N GPUs, or N logical CPU devices where there is no GPU. Defaults to every GPU.", low=1, metavar="N")
_LOCAL_STRATEGY = _opt("strategy", "str", "auto", "tf.distribute over the local GPUs or --devices CPUs; auto is mirrored when more than one GPU is visible.", choices=LOCAL_STRATEGIES)
# The data spec is fixed at define time; fit, evaluate, predict and backtest accept
# these only to fill in what define left open, or to refuse a contradiction.
SPEC_KEYS = ("layout", "timesteps", "horizon", "features", "target", "index")
_FIXED = "Part of the data spec fixed at define time: given here it must match it, or fills in what it left open."
_SPEC = [
    _opt("layout", "str", None, _FIXED, choices=("series", "samples")),
    _opt("timesteps", "int", None, _FIXED, low=1),
    _opt("horizon", "int", None, _FIXED, low=1),
    _opt("features", "strs", None, _FIXED, metavar="COLUMNS"),
    _opt("target", "strs", None, _FIXED, metavar="COLUMNS"),
    _opt("index", "str", None, _FIXED, metavar="COLUMN"),
]
# fit's training options, which backtest's folds share
_TRAINING = [
    _opt("epochs", "int", 1, "Epochs to train; on a fitted model, more epochs (see README, Training).", low=1),
    _FIT_BATCH,
    _opt("seed", "int", None, "Seed for shuffling and dropout; recorded in the artifact. Defaults to the artifact's seed, else a random one (recorded too).", low=0, high=SEED_RANGE),
    _opt("shuffle", "bool", True, "Reshuffle the samples every epoch.", off="--no-shuffle"),
    _opt("scaling", "str", None, "Per feature channel, learned on the training data and saved as layers of the model. Defaults to standard; continued training keeps what the model learned.", choices=SCALINGS),
    _opt("validation_split", "float", 0.0, "Fraction of samples held out for validation: series, the last ones (time's order); samples, a random draw within each class (seeded by --seed, recorded).", low=0.0, high=1.0),
    _opt("validation_data", "path", None, "A separate data file for validation."),
    _opt("class_weight", "str", "none", "Classifiers: none, balanced (each class weighs n/(classes×count)), or LABEL=W,... (others 1), as Keras's class_weight.", metavar="WEIGHTS"),
    _opt("early_stopping", "int", None, "Stop when --monitor has not improved for PATIENCE epochs, keeping the best weights (Keras's EarlyStopping).", low=1, metavar="PATIENCE"),
    _opt("reduce_lr_on_plateau", "int", None, "Multiply the learning rate by --lr-factor after PATIENCE epochs without improvement of --monitor (Keras's ReduceLROnPlateau).", low=1, metavar="PATIENCE"),
    _opt("monitor", "str", None, "The log --early-stopping and --reduce-lr-on-plateau watch: loss, a compiled metric, or its val_ twin (e.g. val_mae); accuracy-like metrics improve upwards. Defaults to val_loss with validation, else loss.", metavar="LOG"),
    _opt("min_delta", "float", 0.0, "The smallest change of --monitor that counts as an improvement.", low=0.0),
    _opt("lr_factor", "float", 0.1, "--reduce-lr-on-plateau multiplies the learning rate by this (above 0, below 1).", low=0.0, high=1.0),
    _opt("lr_cooldown", "int", 0, "Epochs --reduce-lr-on-plateau waits after a reduction before it counts epochs without improvement again.", low=0, metavar="EPOCHS"),
    _opt("min_lr", "float", 0.0, "--reduce-lr-on-plateau never takes the learning rate below this.", low=0.0),
    _opt("lr_schedule", "str", None, "The learning rate by epoch of this fit (Keras's LearningRateScheduler), from the rate it starts with: cosine (decays towards 0 over the fit's epochs), exponential:RATE (× RATE every epoch) or step:EVERY:FACTOR (× FACTOR every EVERY epochs).", metavar="SCHEDULE"),
]

_FIT_STRATEGY = [
    _opt("strategy", "str", "auto", "tf.distribute: mirrored over local GPUs (or --devices CPUs), multi-worker over the cluster in TF_CONFIG (only the chief writes); auto is mirrored when more than one GPU is visible.", choices=STRATEGIES),
    _DEVICES,
    _opt("timeout", "float", float(DEFAULT_TIMEOUT), "multi-worker: fail when a peer has not joined or answered for this long.", low=1.0, metavar="SECONDS"),
]
_FOLD_HELP = {  # backtest's words for fit's training options: each fold is a fit from the compiled weights
    "epochs": "Epochs each fold trains.",
    "seed": "Seed of every fold's fit, so a backtest repeats exactly. Defaults to the artifact's seed, else a random one (printed).",
    "scaling": "Per feature channel, learned inside each fold from its training rows. Defaults to standard.",
    "validation_split": "Fraction of each fold's training samples, from its end, held out for validation.",
    "early_stopping": "Stop a fold's fit when --monitor has not improved for PATIENCE epochs.",
}


OPTIONS: dict[str, list[Option]] = {
    "define": [
        _opt("out", "path", None, "Where to write the defined artifact (written atomically).", aliases=("-o",)),
        _opt("task", "str", "regression", "What the output predicts.", choices=tuple(TASKS)),
        _opt("num_classes", "int", None, "Classes of a multiclass task (its output units).", low=2),
        _opt("layout", "str", "series", "series: rows are time steps and samples are windows; samples: one row per sample.", choices=("series", "samples")),
        _opt("timesteps", "int", None, "Time steps per sample. Defaults to 1, or what --input-shape says.", low=1),
        _opt("horizon", "int", 1, "series: forecast the next H steps (1..H) at once, one output per step and target.", low=1),
        _opt("features", "strs", None, "Feature columns, comma-separated or repeated.", metavar="COLUMNS"),
        _opt("target", "strs", None, "Target column(s). Defaults to the features (series) or the last column (samples).", metavar="COLUMNS"),
        _opt("index", "str", None, "A key column (a date, an id) carried to the predictions, never a feature.", metavar="COLUMN"),
        _opt("reshape", "str", "grid", "samples: grid (time-major t0_f0,t0_f1,…), timesteps (columns are time steps of one feature) or features (columns are features of one step).", choices=("grid", "timesteps", "features")),
        _opt("mask", "bool", False, "samples: rows may end early; empty trailing time steps are masked."),
        _opt("transform", "strs", None, "series: target transforms, applied in order and inverted inside the model: log, diff, seasonal-diff:P, or auto (chosen at fit from the training data). Comma-separated or repeated.", metavar="NAMES"),
        _opt("season", "int", None, "series: the season length in rows (12 for monthly data), for --transform auto and seasonal baselines.", low=2, metavar="ROWS"),
        _opt("input_shape", "ints", None, "TIMESTEPS,FEATURES when the feature columns are not named.", low=1, metavar="T,F"),
        _opt("lstm", "ints", None, "Units of each stacked LSTM layer, e.g. 32,16. Defaults to 32.", low=1, metavar="UNITS"),
        _opt("layers", "strs", None, "The full stack instead of --lstm: lstm:UNITS, dense:UNITS[:ACTIVATION], dropout:RATE, activation:NAME.", metavar="SPECS"),
        _opt("dropout", "float", 0.0, "Dropout rate after each --lstm layer.", low=0.0, high=1.0),
        _opt("recurrent_dropout", "float", 0.0, "Dropout on the LSTMs' recurrent state.", low=0.0, high=1.0),
        _opt("output_units", "int", None, "Units of the output Dense layer. Defaults to the task's.", low=1),
        _opt("output_activation", "str", None, "Activation of the output layer. Defaults to the task's (linear, sigmoid, softmax).", metavar="NAME"),
        _opt("seed", "int", None, "Seed for the initial weights.", low=0, high=SEED_RANGE),
    ],
    "compile": [
        _opt("out", "path", None, "Where to write the compiled artifact (written atomically).", aliases=("-o",)),
        _opt("optimizer", "str", "adam", "sgd, adam, rmsprop, adamw, adagrad, nadam, …", metavar="NAME"),
        _opt("learning_rate", "float", None, "The optimizer's learning rate. Defaults to the optimizer's.", low=0.0, aliases=("--lr",)),
        _opt("momentum", "float", None, "Momentum, for sgd and rmsprop.", low=0.0, high=1.0),
        _opt("loss", "str", None, "Loss name. Defaults to the task's.", metavar="NAME"),
        _opt("metrics", "strs", None, "Metric names, repeatable or comma-separated. Defaults to the task's.", metavar="NAMES", aliases=("--metric",)),
        _opt("jit_compile", "bool", None, "Compile training steps with XLA. Defaults to deciding per fit: on when the fit is big enough to repay XLA's compile time.", off="--no-jit-compile"),
        _UNSAFE,
    ],
    "fit": [
        _opt("out", "path", None, "Where to write the fitted artifact (written atomically).", aliases=("-o",)),
        _DATA,
        _FORMAT,
        _ROWS,
        *_TRAINING,
        _opt("verbose", "str", "auto", "0 silent, 1 a progress bar, 2 Keras's epoch lines ('Epoch e/N', then 'n/n - … - loss: …'); auto is 1.", choices=("auto", "0", "1", "2")),
        _opt("history", "path", None, "Also write the per-epoch history to this CSV file ('-' for stdout)."),
        _opt("tensorboard", "path", None, "Write TensorBoard logs of every epoch to DIR.", metavar="DIR"),
        _opt("checkpoint_dir", "path", None, "Checkpoint to DIR at epoch ends; the same command resumes after a crash.", metavar="DIR"),
        *_FIT_STRATEGY,
        _opt("smoke", "bool", False, "A smoke test: one epoch on at most 3 batches, the artifact marked as a smoke artifact. LSTMCLI_SMOKE=1 in the environment does the same for every fit."),
        *_SPEC,
        _UNSAFE,
    ],
    "evaluate": [
        _DATA,
        _FORMAT,
        _ROWS,
        _SEASON,
        _PREDICT_BATCH,
        _opt("json", "bool", False, "Print the metrics as JSON."),
        _opt("out", "path", None, "Write the metrics to this file instead of stdout: .json, .yaml/.yml, .csv or .txt (a table), by extension.", aliases=("-o",)),
        _opt("fail_if", "strs", None, "Exit 3 if a metric meets this condition, e.g. 'loss>0.01' or 'accuracy<0.9' (<, <=, >, >=); repeatable. The metrics are still printed or written.", metavar="GATE"),
        _LOCAL_STRATEGY,
        _DEVICES,
        *_SPEC,
        _UNSAFE,
    ],
    "predict": [
        _DATA,
        _FORMAT,
        _ROWS,
        _PREDICT_BATCH,
        _opt("classes", "bool", False, "Classification: only the predicted label, as predict_classes gave."),
        _opt("future", "bool", False, "Series: only the forecast past the last (selected) row, keyed by the index continued at its frequency."),
        _opt("steps", "int", None, "With --future: forecast N steps; beyond the horizon, recursively (feeding forecasts back), where the features are the targets. Defaults to the horizon.", low=1, metavar="N"),
        _opt("wide", "bool", False, "Series: one row per window with a column per step, instead of one row per (window, step)."),
        _opt("out", "path", None, "Write the predictions CSV to this file instead of stdout.", aliases=("-o",)),
        _LOCAL_STRATEGY,
        _DEVICES,
        *_SPEC,
        _UNSAFE,
    ],
    "backtest": [
        _DATA,
        _FORMAT,
        _opt("folds", "int", 3, "Test blocks at the end of the series, each evaluated by a model fitted on every row before it.", low=1),
        _opt("fold_size", "int", None, "Rows per test block. Defaults to the folds sharing the last third of the series (at least one horizon each).", low=1, metavar="ROWS"),
        _SEASON,
        _opt("json", "bool", False, "Print the folds and their means as JSON."),
        *(replace(o, help=_FOLD_HELP.get(o.name, o.help)) for o in _TRAINING),
        *_FIT_STRATEGY,
        _opt("smoke", "bool", False, "Fit every fold as a smoke test (see fit --smoke)."),
        _opt("verbose", "str", "auto", "0 prints only the result; otherwise one line per fold on stderr.", choices=("auto", "0", "1", "2")),
        *_SPEC,
        _UNSAFE,
    ],
    "verify": [_opt("json", "bool", False, "Print the summary as JSON."), _UNSAFE],
    "export": [
        _opt("out", "path", None, "The SavedModel directory to write (built beside it, renamed into place; an earlier export there is replaced).", aliases=("-o",), metavar="DIR"),
        _opt("format", "str", FORMATS[0], "The export format: saved-model is TensorFlow Serving's SavedModel.", choices=FORMATS),
        _UNSAFE,
    ],
    "inspect": [
        _opt("layers", "bool", False, "Also show the layer table (name, type, output shape, parameters); this loads TensorFlow."),
        _opt("json", "bool", False, "Print everything as JSON, the full history included."),
        _UNSAFE,
    ],
    "plot": [
        _opt("out_dir", "path", None, "Folder for the PNG files: history.png, and predictions.png or confusion.png with --data.", metavar="DIR", required=True),
        _opt("data", "path", None, "Also draw the predictions for this data file against its actual values (a confusion matrix for classification).", aliases=("-d",)),
        _FORMAT,
        _UNSAFE,
    ],
    "run": [
        _opt("config", "path", None, "A TOML file with [define], [compile], [fit] (and [evaluate], [predict]) tables.", required=True),
        _opt("workdir", "path", None, "Folder for defined.keras, compiled.keras, fitted.keras, metrics.json and predictions.csv.", metavar="DIR", required=True),
        _opt("smoke", "bool", False, "Fit as a smoke test (see fit --smoke)."),
    ],
}


def resolve(command: str, flags: dict[str, Any], config: Path | None) -> SimpleNamespace:
    """Merge flags over the command's config table over defaults, and check them.

    Args:
        command: A key of OPTIONS; only STEPS read a config table.
        flags: Values given on the command line; None means "not given".
        config: A TOML file whose `[command]` table sets options, or None.

    Returns:
        A namespace with one attribute per option of `command`, and `config`.

    Raises:
        ConfigError: for an unknown key, a wrong type or an out-of-range value.
    """
    options = {o.name: o for o in OPTIONS[command]}
    merged: dict[str, Any] = {}
    if config is not None:
        table, base = read_config(config, command)
        for key, value in table.items():
            if key not in options:
                raise ConfigError(
                    f"{config}: [{command}] has no option {key!r}" + did_you_mean(key, options)
                    + f"; the options are {', '.join(options)}"
                )
            merged[key] = _check(options[key], value, f"{config}: [{command}] {key}", base)
    for key, value in flags.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        merged[key] = _check(options[key], value, options[key].flag, Path())
    resolved = SimpleNamespace(**{name: merged.get(name, o.default) for name, o in options.items()})
    if command in STEPS:
        resolved.config = config  # an input too: no output may overwrite it
    return resolved


def to_toml(command: str, resolved: SimpleNamespace) -> str:
    """`resolved` as the `[command]` table of a config that `--config` replays.

    Unset options (None) are left out, as TOML has no null; paths are
    relative to the current directory, where a config read from it resolves them.
    """
    import tomli_w

    table = {}
    for option in OPTIONS[command]:
        value = getattr(resolved, option.name)
        if value is ALL:
            value = "all"
        elif isinstance(value, Path):
            value = str(value) if str(value) == "-" else os.path.relpath(value)
        if value is not None:
            table[option.name] = value
    return tomli_w.dumps({command: table})


_PIPED: dict[tuple, bytes] = {}  # the configs this process read from pipes, by path and pipe


def read_config(path: Path, step: str) -> tuple[dict, Path]:
    """Read `path` and return its `[step]` table and the folder paths resolve against.

    Raises:
        ConfigError: if the file is missing, not TOML, or has unknown tables.
    """
    path = Path(path)
    if not path.exists() or path.is_dir():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}; give the path of a .toml file")
    if path.is_file():
        raw = path.read_bytes()
    else:  # a pipe (<(…)) can be read once: `run`, which reads every step's table, shares that read
        key = (str(path), path.stat().st_ino)
        if key not in _PIPED:
            _PIPED[key] = path.read_bytes()
        raw = _PIPED[key]
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in STEPS or not isinstance(value, dict):
            raise ConfigError(
                f"config file {path}: {key!r} is not a step table; put options under "
                + ", ".join(f"[{s}]" for s in STEPS) + did_you_mean(key, STEPS)
            )
    # A pipe (<(…) is /dev/fd/N, resolving to /proc/PID/fd) has no folder: its paths are the current folder's.
    return data.get(step, {}), path.resolve().parent if path.is_file() else Path.cwd()


def _check(option: Option, value: Any, where: str, base: Path) -> Any:
    kind = option.kind
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false. Received: {value!r}")
        return value
    if kind == "path":
        if not isinstance(value, (str, Path)) or str(value) == "":
            raise ConfigError(f"{where} must be a file path. Received: {value!r}")
        return value if str(value) == "-" else base / Path(value).expanduser()
    if kind == "batch":
        if isinstance(value, str) and value.strip().lower() == "all":
            return ALL
        try:
            return _number(option, value, where)
        except ConfigError:
            raise ConfigError(f"{where} must be a positive number or 'all' (below {INT_LIMIT}). Received: {value!r}") from None
    if kind in ("int", "float"):
        return _number(option, value, where)
    if kind in ("ints", "strs"):
        items = _split(value, where)
        for item in items:
            if kind == "strs" and not isinstance(item, str):
                raise ConfigError(f"{where} holds names, so each item must be a string; write \"{item}\". Received: {item!r}")
        return [_number(option, item, where) for item in items] if kind == "ints" else items
    value = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else value
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string. Received: {value!r}")
    if option.choices and value not in option.choices:
        raise ConfigError(f"{where} must be one of {', '.join(option.choices)}" + did_you_mean(value, option.choices) + f". Received: {value!r}")
    return value


def _split(value: Any, where: str) -> list:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be a list or a comma-separated string. Received: {value!r}")
    items = []
    for item in value:
        if isinstance(item, str):
            items.extend(part.strip() for part in item.split(",") if part.strip())
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            items.append(item)
        else:
            raise ConfigError(f"{where} has an item that is not a name or number. Received: {item!r}")
    if not items:
        raise ConfigError(f"{where} is empty; name at least one value")
    return items


def _number(option: Option, value: Any, where: str):
    """`value` as the option's number (a float for "float", else a whole number), checked against its range."""
    kind = float if option.kind == "float" else int
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number. Received: {value!r}")
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{where} must be {'a whole number' if kind is int else 'a number'}. Received: {value!r}") from None
    if (kind is int and isinstance(value, float) and value != number) or (kind is float and not math.isfinite(number)):
        raise ConfigError(f"{where} must be a {'whole' if kind is int else 'finite'} number. Received: {value!r}")
    high = option.high if option.high is not None else INT_LIMIT if kind is int else None
    if option.low is not None and number < option.low:
        raise ConfigError(f"{where} must be at least {option.low}. Received: {value!r}")
    if high is not None and number >= high:
        raise ConfigError(f"{where} must be below {high}. Received: {value!r}")
    return number
