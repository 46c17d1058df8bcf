"""Every option of every step, in one table, and how flags and configs merge.

A step's settings come from three places, strongest first: the command line,
the step's table in a `--config` TOML file, and the defaults below. Values from
both sources go through the same checks, so a config can set anything a flag
can and is held to the same rules.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lstmcli.distribution import DEFAULT_TIMEOUT, LOCAL_STRATEGIES, STRATEGIES
from lstmcli.errors import ConfigError
from lstmcli.tasks import TASKS, did_you_mean

STEPS = ("define", "compile", "fit", "evaluate", "predict", "backtest")
ALL = object()  # batch_size = "all": one batch holding every sample
SCALINGS = ("none", "minmax", "standard")
DEFAULT_SCALING = "standard"
SEED_RANGE = 2**32  # what keras.utils.set_random_seed and numpy accept
INT_LIMIT = 2**31  # no count (epochs, units, timesteps, batch) is this large; beyond it TensorFlow overflows


@dataclass(frozen=True)
class Option:
    """One setting: its name, kind, default and allowed range.

    Args:
        name: The key in a config table; the flag is `--` + name with dashes.
        kind: One of "int", "float", "str", "bool", "path", "ints", "strs".
        default: The value when neither flag nor config sets it.
        choices: Allowed values, if the set is closed.
        low: Smallest allowed number (inclusive).
        high: Largest allowed number (exclusive). Whole numbers are below
            INT_LIMIT unless a `high` says otherwise.
    """

    name: str
    kind: str
    default: Any = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def _opt(name, kind, default=None, *, choices=(), low=None, high=None) -> Option:
    return Option(name, kind, default, tuple(choices), low, high)


_COMMON = [_opt("unsafe", "bool", False)]
# The data spec is fixed at define time; fit, evaluate and predict accept these
# only to refuse a value that contradicts the artifact's spec.
SPEC_KEYS = ("layout", "timesteps", "horizon", "features", "target", "index")
_SPEC = [
    _opt("layout", "str", choices=("series", "samples")),
    _opt("timesteps", "int", low=1),
    _opt("horizon", "int", low=1),
    _opt("features", "strs"),
    _opt("target", "strs"),
    _opt("index", "str"),
]
_DATA = [_opt("data", "path"), _opt("format", "str", choices=("csv", "parquet", "npy", "npz"))]
_ROWS = _opt("rows", "str")  # START:END, read against the file by windowing.select_rows
_SEASON = _opt("season", "int", low=2)  # seasonal naive's period; None: the index's frequency decides
# tf.distribute (see lstmcli.distribution): fit scales out to other machines, evaluate and predict to local devices.
_FIT_STRATEGY = [
    _opt("strategy", "str", "auto", choices=STRATEGIES),
    _opt("devices", "int", low=1),
    _opt("timeout", "float", float(DEFAULT_TIMEOUT), low=1.0),
]
_LOCAL_STRATEGY = [_opt("strategy", "str", "auto", choices=LOCAL_STRATEGIES), _opt("devices", "int", low=1)]

OPTIONS: dict[str, list[Option]] = {
    "define": [
        _opt("out", "path"),
        _opt("task", "str", "regression", choices=tuple(TASKS)),
        _opt("num_classes", "int", low=2),
        _opt("layout", "str", "series", choices=("series", "samples")),
        _opt("timesteps", "int", low=1),  # None: 1, or what --input-shape / --reshape decide
        _opt("horizon", "int", 1, low=1),
        _opt("features", "strs"),
        _opt("target", "strs"),
        _opt("index", "str"),
        _opt("reshape", "str", "grid", choices=("grid", "timesteps", "features")),
        _opt("mask", "bool", False),
        _opt("transform", "strs"),
        _opt("season", "int", low=2),
        _opt("input_shape", "ints"),
        _opt("lstm", "ints"),
        _opt("layers", "strs"),
        _opt("dropout", "float", 0.0, low=0.0, high=1.0),
        _opt("recurrent_dropout", "float", 0.0, low=0.0, high=1.0),
        _opt("output_units", "int", low=1),
        _opt("output_activation", "str"),
        _opt("seed", "int", low=0, high=SEED_RANGE),
    ],
    "compile": [
        _opt("out", "path"),
        _opt("optimizer", "str", "adam"),
        _opt("learning_rate", "float", low=0.0),
        _opt("momentum", "float", low=0.0, high=1.0),
        _opt("loss", "str"),
        _opt("metrics", "strs"),
        _opt("jit_compile", "bool", None),  # None: fit decides (training.use_xla)
        *_COMMON,
    ],
    "fit": [
        _opt("out", "path"),
        *_DATA,
        _ROWS,
        _opt("epochs", "int", 1, low=1),
        _opt("batch_size", "batch", 32),
        _opt("verbose", "str", "auto", choices=("auto", "0", "1", "2")),
        _opt("seed", "int", low=0, high=SEED_RANGE),
        _opt("shuffle", "bool", True),
        _opt("scaling", "str", choices=SCALINGS),  # None: "standard", or what a fitted model learned
        _opt("validation_split", "float", 0.0, low=0.0, high=1.0),
        _opt("validation_data", "path"),
        _opt("class_weight", "str", "none"),
        _opt("history", "path"),
        _opt("early_stopping", "int", low=1),
        _opt("reduce_lr_on_plateau", "int", low=1),
        _opt("tensorboard", "path"),
        _opt("checkpoint_dir", "path"),
        *_FIT_STRATEGY,
        _opt("smoke", "bool", False),
        *_SPEC,
        *_COMMON,
    ],
    "evaluate": [
        *_DATA,
        _ROWS,
        _SEASON,
        _opt("batch_size", "batch", 4096),
        _opt("json", "bool", False),
        _opt("out", "path"),
        *_LOCAL_STRATEGY,
        _opt("fail_if", "strs"),
        *_SPEC,
        *_COMMON,
    ],
    "predict": [
        *_DATA,
        _ROWS,
        _opt("batch_size", "batch", 4096),
        _opt("classes", "bool", False),
        _opt("future", "bool", False),
        _opt("steps", "int", low=1),
        _opt("wide", "bool", False),
        _opt("out", "path"),
        *_LOCAL_STRATEGY,
        *_SPEC,
        *_COMMON,
    ],
}
# backtest: fit's options (each fold is a fit) and its own; --rows is each fold's to choose
OPTIONS["backtest"] = [
    *(o for o in OPTIONS["fit"] if o.name not in ("out", "rows", "checkpoint_dir", "history", "tensorboard")),
    _opt("folds", "int", 3, low=1),
    _opt("fold_size", "int", low=1),
    _SEASON,
    _opt("json", "bool", False),
]


def resolve(step: str, flags: dict[str, Any], config: Path | None) -> SimpleNamespace:
    """Merge flags over the step's config table over defaults, and check them.

    Args:
        step: One of STEPS.
        flags: Values given on the command line; None means "not given".
        config: A TOML file whose `[step]` table sets options, or None.

    Returns:
        A namespace with one attribute per option of `step`.

    Raises:
        ConfigError: for an unknown key, a wrong type or an out-of-range value.
    """
    options = {o.name: o for o in OPTIONS[step]}
    merged: dict[str, Any] = {}
    if config is not None:
        table, base = read_config(config, step)
        for key, value in table.items():
            if key not in options:
                raise ConfigError(
                    f"{config}: [{step}] has no option {key!r}"
                    + did_you_mean(key, options)
                    + f"; the options are {', '.join(options)}"
                )
            merged[key] = _check(options[key], value, f"{config}: [{step}] {key}", base)
    for key, value in flags.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        merged[key] = _check(options[key], value, options[key].flag, Path())
    resolved = SimpleNamespace(**{name: merged.get(name, o.default) for name, o in options.items()})
    resolved.config = config  # an input too: no output may overwrite it
    return resolved


def read_config(path: Path, step: str) -> tuple[dict, Path]:
    """Read `path` and return its `[step]` table and the folder paths resolve against.

    Raises:
        ConfigError: if the file is missing, not TOML, or has unknown tables.
    """
    path = Path(path)
    if not path.exists() or path.is_dir():  # a FIFO is fine: <(…) hands a config through one
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {what}; give the path of a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in STEPS or not isinstance(value, dict):
            raise ConfigError(
                f"config file {path}: {key!r} is not a step table; put options "
                f"under [define], [compile], [fit], [evaluate], [predict] or [backtest]"
                + did_you_mean(key, STEPS)
            )
    return data.get(step, {}), path.resolve().parent


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
    if kind in ("ints", "strs"):
        items = _split(value, where)
        if kind == "strs":
            for item in items:
                if not isinstance(item, str):
                    raise ConfigError(f"{where} holds names, so each item must be a string; write \"{item}\". Received: {item!r}")
        if kind == "ints":
            items = [_number(int, item, where) for item in items]
            for item in items:
                if item < 1:
                    raise ConfigError(f"{where} values must be positive. Received: {item}")
                if item >= INT_LIMIT:
                    raise ConfigError(f"{where} values must be below {INT_LIMIT}. Received: {item}")
        return items
    if kind == "batch":
        if isinstance(value, str) and value.strip().lower() == "all":
            return ALL
        number = _number(int, value, where)
        if number < 1 or number >= INT_LIMIT:
            raise ConfigError(f"{where} must be a positive number or 'all' (below {INT_LIMIT}). Received: {value!r}")
        return number
    if kind in ("int", "float"):
        number = _number(int if kind == "int" else float, value, where)
        if option.low is not None and number < option.low:
            raise ConfigError(f"{where} must be at least {option.low}. Received: {value!r}")
        high = option.high if option.high is not None else INT_LIMIT if kind == "int" else None
        if high is not None and number >= high:
            raise ConfigError(f"{where} must be below {high}. Received: {value!r}")
        return number
    value = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else value
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string. Received: {value!r}")
    if option.choices and value not in option.choices:
        raise ConfigError(
            f"{where} must be one of {', '.join(option.choices)}"
            + did_you_mean(value, option.choices)
            + f". Received: {value!r}"
        )
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


def _number(kind: type, value: Any, where: str):
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number. Received: {value!r}")
    try:
        number = kind(value) if not isinstance(value, str) else kind(value.strip())
    except (TypeError, ValueError, OverflowError):
        name = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where} must be {name}. Received: {value!r}") from None
    if kind is int and isinstance(value, float) and value != number:
        raise ConfigError(f"{where} must be a whole number. Received: {value!r}")
    if kind is float and not math.isfinite(number):
        raise ConfigError(f"{where} must be a finite number. Received: {value!r}")
    return number
