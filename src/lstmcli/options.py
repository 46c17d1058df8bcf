"""Typed options: each step's settings are a frozen dataclass whose fields carry their own metadata.

A field is declared once, with `option(...)`: its default, help, choices, range, aliases and
*role* (an input the step reads, an output it writes, or neither). Everything else is derived
from the fields: the command line's flags (`lstmcli.cli.bridge`), the keys of a `--config`
TOML table and their checks (`resolve`), `--print-config` (`to_toml`), the checkpoint
fingerprint (`fingerprinted`) and the lists of inputs and outputs a step must keep apart
(`inputs_of`, `outputs_of`). A value given on the command line, in a config or to the Python
API passes the same checks, with the same messages.

This module is light (standard library only), so `--help` and usage errors never wait for
numpy, pandas or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstmcli.errors import ConfigError
from lstmcli.model.tasks import did_you_mean
from lstmcli.optionvalues import INT_LIMIT
from lstmcli.optionvalues import number as _number
from lstmcli.optionvalues import split as _split
from lstmcli.outputs import Output

ALL = "all"  # batch_size = "all": one batch holding every sample
SEED_RANGE = 2**32  # what keras.utils.set_random_seed and numpy accept
INPUT, OUTPUT = "input", "output"  # an option's role: a file the step reads, or a place it writes


@dataclass(frozen=True)
class Option:
    """The metadata of one field of a step's options.

    Args:
        name: The field's name and the key in a config table; the flag is `--` + name with dashes.
        kind: One of "int", "float", "str", "bool", "path", "ints", "floats", "strs", "batch", "rows", or
            "sets" (`TABLE.KEY=VALUE` assignments, kept whole: see `assignments`).
        default: The value when neither flag nor config sets it.
        help: What it does, for `--help`; choices, range and default are added.
        choices: Allowed values, if the set is closed.
        low: Smallest allowed number (inclusive).
        above: A bound every number must exceed (exclusive), where `low` is too loose (a level in (0, 1)).
        high: Largest allowed number (exclusive). Whole numbers are below
            INT_LIMIT unless a `high` says otherwise.
        metavar: The value's name in `--help`.
        aliases: Other flags for it (`-o`, `--lr`).
        off: The flag that sets a bool option false (`--no-shuffle`).
        required: The command cannot run without it.
        role: INPUT (a file the step reads), OUTPUT (a place it writes), or None.
        directory: An OUTPUT that is a folder the step writes into.
        manages: For such a folder, the entries the step writes or removes (none: all of it).
        fingerprint: Part of what decides a fit's result (see `fingerprinted`).
        hidden: Not a flag or config key: set by the command line itself (--config).
    """

    name: str
    kind: str
    default: Any = None
    help: str = ""
    choices: tuple = ()
    low: float | None = None
    above: float | None = None
    high: float | None = None
    metavar: str | None = None
    aliases: tuple = ()
    off: str | None = None
    required: bool = False
    role: str | None = None
    directory: bool = False
    manages: tuple = ()
    fingerprint: bool = True
    hidden: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """The help text with its default and range, as Click shows them: `… [default: 32; x>=1]`."""
        extra = []
        if self.default is not None and self.default is not False:
            extra.append(f"default: {self.flag.removeprefix('--') if self.default is True else self.default}")
        if self.above is not None:
            extra.append(f"{self.above}<x" + ("" if self.high is None else f"<{self.high}"))
        elif self.low is not None or self.high is not None:
            low = "" if self.low is None else f"{self.low}<=" if self.high is not None else f"x>={self.low}"
            extra.append(low + ("" if self.high is None else f"x<{self.high}"))
        return self.help + (f" [{'; '.join(extra)}]" if extra else "")


_META = "lstmcli"


def option(default: Any = None, help: str = "", *, kind: str | None = None, required: bool = False, **meta) -> Any:
    """A field of a step's options, with its metadata (see `Option` for the keywords).

    `kind` is derived from the field's type where it is one of int, float, str,
    bool, Path, list[int], list[float] or list[str] (optionally `| None`).
    """
    info = {"help": help, "kind": kind, "required": required, **meta}
    if required:
        return dataclasses.field(metadata={_META: info})
    return dataclasses.field(default=default, metadata={_META: info})


_KINDS = {int: "int", float: "float", str: "str", bool: "bool", Path: "path"}
_KINDS |= {list[int]: "ints", list[float]: "floats", list[str]: "strs"}
LISTS = ("ints", "floats", "strs", "sets")  # the kinds whose value is a list (repeatable flags)


def _kind(hint: Any) -> str:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    if len(args) == 1 and args[0] in _KINDS:
        return _KINDS[args[0]]
    raise TypeError(f"say the kind of an option of type {hint}")


@functools.cache
def options_of(cls: type) -> tuple[Option, ...]:
    """Every option of an options class, in field order (hidden ones included)."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        info = dict(f.metadata[_META])
        kind = info.pop("kind") or _kind(hints[f.name])
        default = None if f.default is dataclasses.MISSING else f.default
        found.append(Option(f.name, kind, default, **info))
    return tuple(found)


def visible(cls: type) -> tuple[Option, ...]:
    """The options a user sets: the flags and config keys of the command."""
    return tuple(o for o in options_of(cls) if not o.hidden)


@dataclass(frozen=True, kw_only=True)
class Options:
    """Base of every step's options: each value is checked (and paths made Paths) when made.

    The command line and configs go through `resolve`, which checks with
    messages naming the flag or config key; the Python API gets the same
    checks here, naming the field.
    """

    def __post_init__(self):
        for opt in options_of(type(self)):
            value = getattr(self, opt.name)
            if value is not None and not (isinstance(value, (list, tuple)) and not value and opt.kind in LISTS):
                object.__setattr__(self, opt.name, check(opt, value, f"{type(self).__name__}.{opt.name}", Path()))

    def to_dict(self) -> dict[str, Any]:
        return {o.name: getattr(self, o.name) for o in options_of(type(self))}


def carried(cls: type, source: Options, **changes) -> Options:
    """An options object of `cls` with the fields it shares with `source`, then `changes`.

    Composite commands (backtest's folds, plot's predictions) make their inner
    steps' options this way.
    """
    names = {o.name for o in options_of(cls)}
    shared = {k: v for k, v in source.to_dict().items() if k in names}
    return cls(**{**shared, **changes})


def inputs_of(opts: Options, model: Path | str | None = None) -> dict[str, Path | str | None]:
    """Every file a step reads, by the name its messages use; its outputs must not touch any of them."""
    found = {"MODEL": model}
    for o in options_of(type(opts)):
        if o.role == INPUT:
            found[o.flag] = getattr(opts, o.name)
    return found


def outputs_of(opts: Options, **given: Path | None) -> list[Output]:
    """Every place a step writes, from its OUTPUT options; `given` overrides a value (a checked --out)."""
    chosen = []
    for o in options_of(type(opts)):
        if o.role == OUTPUT:
            path = given.get(o.name, getattr(opts, o.name))
            if path is not None:
                chosen.append(Output(o.flag, Path(path), directory=o.directory, manages=o.manages))
    return chosen


def fingerprinted(cls: type) -> tuple[str, ...]:
    """The options that decide a fit's result: every one not an output nor marked otherwise.

    A new option is fingerprinted unless its declaration says it is not, so a
    checkpoint can never be resumed by a fit that differs in it.
    """
    return tuple(o.name for o in options_of(cls) if o.fingerprint and o.role != OUTPUT)


def resolve(
    cls: type,
    table: str,
    flags: dict[str, Any],
    config: Path | None,
    fixed: dict | None = None,
    overrides: dict[str, Any] | None = None,
) -> Options:
    """Merge flags over `overrides` over the `[table]` of a config over the defaults, check them, and make `cls`.

    Args:
        cls: The step's options class.
        table: The config table the step reads (its command's name).
        flags: Values given on the command line; None (or an empty list) means "not given".
        config: A TOML file whose `[table]` sets options, or None.
        fixed: Values the caller sets (a hidden `config`).
        overrides: Values that replace the config's (`run --set`, see `overrides.assignments`),
            checked as the config's are; their paths are relative to the current folder.

    Raises:
        ConfigError: for an unknown key, a wrong type or an out-of-range value.
    """
    options = {o.name: o for o in visible(cls)}
    merged: dict[str, Any] = {}
    if config is not None:
        values, base = read_config(config, table)
        for key, value in values.items():
            _known(key, options, f"{config}: [{table}]")
            where = f"{config}: [{table}] {key}"
            merged[key] = check(options[key], typed(options[key], value, where), where, base)
    for key, value in (overrides or {}).items():
        _known(key, options, f"--set {table}.{key}: [{table}]")
        where = f"--set {table}.{key}"
        merged[key] = check(options[key], typed(options[key], value, where), where, Path())
    for key, value in flags.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        merged[key] = check(options[key], value, options[key].flag, Path())
    missing = [o for o in options.values() if o.required and o.name not in merged]
    if missing:
        raise ConfigError(f"missing option {missing[0].flag}")
    return cls(**merged, **(fixed or {}))


def _known(key: str, options: dict[str, Option], where: str) -> None:
    if key not in options:
        raise ConfigError(
            f"{where} has no option {key!r}" + did_you_mean(key, options) + f"; the options are {', '.join(options)}"
        )


def to_toml(table: str, opts: Options) -> str:
    """`opts` as the `[table]` of a config that `--config` replays.

    Unset options (None) are left out, as TOML has no null; paths are
    relative to the current directory, where a config read from it resolves them.
    """
    import tomli_w

    values = {}
    for o in visible(type(opts)):
        value = getattr(opts, o.name)
        if isinstance(value, Path):
            value = os.path.relpath(value)
        if isinstance(value, tuple):
            value = list(value)
        if value is not None:
            values[o.name] = value
    return tomli_w.dumps({table: values})


CONFIG_TABLES = ("define", "compile", "fit", "evaluate", "predict", "backtest")  # the tables a config file may hold
_PIPED: dict[tuple, bytes] = {}  # the configs this process read from pipes, by path and pipe


def read_config(path: Path, table: str) -> tuple[dict, Path]:
    """Read `path` and return its `[table]` and the folder paths resolve against.

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
        if key not in CONFIG_TABLES or not isinstance(value, dict):
            raise ConfigError(
                f"config file {path}: {key!r} is not a step table; put options under "
                + ", ".join(f"[{s}]" for s in CONFIG_TABLES)
                + did_you_mean(key, CONFIG_TABLES)
            )
    # A pipe (<(…) is /dev/fd/N, resolving to /proc/PID/fd) has no folder: its paths are the current folder's.
    return data.get(table, {}), path.resolve().parent if path.is_file() else Path.cwd()


def _whole(item: Any) -> bool:
    return isinstance(item, int) and not isinstance(item, bool)


_TOML_TYPES = {  # kind: what a config value must be, and the test of one value (of each item, for "ints")
    "int": ("a whole number", _whole),
    "ints": ("a list of whole numbers", _whole),
    "floats": ("a list of numbers", lambda v: _whole(v) or isinstance(v, float)),
    "float": ("a number", lambda v: _whole(v) or isinstance(v, float)),
    "batch": ("a whole number or 'all'", lambda v: _whole(v) or (isinstance(v, str) and v.strip().lower() == ALL)),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def typed(option: Option, value: Any, where: str) -> Any:
    """A config value of the option's TOML type, never coerced (`epochs = "5"`, `lstm = [1e3]` are refused).

    The command line hands `check` text to convert; a config says its types, so a mismatch is named, not guessed at.
    """
    needs, fits = _TOML_TYPES.get(option.kind, ("", lambda v: True))
    for item in value if option.kind in ("ints", "floats") and isinstance(value, list) else [value]:
        if not fits(item) and not (_whole(item) and option.choices):  # verbose = 0: Keras spells it so; check judges it
            hint = f" (write {int(item)})" if isinstance(item, float) and item.is_integer() and "whole" in needs else ""
            raise ConfigError(f"{where} must be {needs}{hint}. Received: {item!r}")  # the flag's words (`check`)
    return value


def check(option: Option, value: Any, where: str, base: Path) -> Any:
    """`value` checked against `option` and converted to its type; `where` names it in messages."""
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
        if isinstance(value, str) and value.strip().lower() == ALL:
            return ALL
        try:
            return _number(option, value, where)
        except ConfigError:
            raise ConfigError(
                f"{where} must be a positive number or 'all' (below {INT_LIMIT}). Received: {value!r}"
            ) from None
    if kind == "sets":
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if not isinstance(item, str) or "=" not in item:
                raise ConfigError(f"{where} takes TABLE.KEY=VALUE, such as fit.epochs=5. Received: {item!r}")
        return items
    if kind == "rows" and isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value  # row numbers chosen by a composite command (backtest's folds)
    if kind in ("int", "float"):
        return _number(option, value, where)
    if kind in ("ints", "floats", "strs"):
        items = _split(value, where)
        for item in items:
            if kind == "strs" and not isinstance(item, str):
                raise ConfigError(
                    f'{where} holds names, so each item must be a string; write "{item}". Received: {item!r}'
                )
        if kind == "strs":
            return items
        numbers = [_number(option, item, where) for item in items]
        return list(dict.fromkeys(numbers)) if kind == "floats" else numbers  # a level given twice is one level
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
