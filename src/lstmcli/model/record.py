"""lstmcli's record of an artifact (`lstmcli.json`): its fields, and the schema every record is checked against.

The schema is the Record and DataSpec dataclasses themselves (each field's type
and whether it has a default), plus the few facts a type cannot say: the allowed
values of a field, and what each stage must carry. A new field is checked the
moment it is declared. This module is light: no numpy, pandas or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmcli.errors import ArtifactError, UsageError
from lstmcli.model import recordvalues, tasks
from lstmcli.model.tasks import TASKS

FORMAT_VERSION = 3  # 2: scaling is part of the saved model (see predictor); 3: the record has a digest
DIGESTED_SINCE = 3  # records of older formats were written without one
STAGES = ("defined", "compiled", "fitted")
STEP_FOR_STAGE = {"defined": "define", "compiled": "compile", "fitted": "fit"}


@dataclass
class Record:
    """lstmcli's own record of an artifact, stored as `lstmcli.json`.

    Args:
        stage: "defined", "compiled" or "fitted".
        task: "regression", "binary" or "multiclass".
        data_spec: Which columns, which layout, which target (see `dataspec`).
        architecture: The layers define built, as given.
        compile: Optimizer, loss and metrics as compiled, or None.
        preprocessing: What fit learned: scaling statistics, class labels.
        fit: The last fit's summary: epochs, losses, time, batch size.
        history: Per-epoch history, all fits appended, keyed like Keras's.
        seed: The seed used by the step that last set one.
        lineage: One entry per step: its name, parent artifact and data hashes.
        versions: lstmcli, Keras and TensorFlow versions that wrote the file.
        members: sha256 of every other member of the archive.
        format_version: The record's format; newer than ours is refused.
    """

    stage: str
    task: str
    data_spec: dict
    architecture: dict
    compile: dict | None = None
    preprocessing: dict | None = None
    fit: dict | None = None
    history: dict[str, list] = field(default_factory=dict)
    seed: int | None = None
    lineage: list[dict] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    members: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def epochs(self) -> int:
        """Epochs trained so far, over every fit."""
        return len(next(iter(self.history.values()), []))


def smoke_fit(record: Record) -> str | None:
    """How a smoke run fitted this artifact ("1 epoch on 9 samples"), or None if none did.

    Any smoke fit in the lineage counts: training a smoke artifact further
    does not make it a real one.
    """
    if not any(entry.get("smoke") for entry in record.lineage if isinstance(entry, dict)):
        return None
    fit = record.fit or {}
    if fit.get("smoke"):
        return f"fit --smoke: {fit.get('epochs')} epoch on {fit.get('samples')} samples"
    return "an earlier fit in its lineage was a smoke run"


# The record's schema comes from the dataclasses themselves (each field's type
# and whether it has a default), plus the few facts a type cannot say: the
# allowed values of a field, and what each stage must carry. A new Record or
# DataSpec field is checked the moment it is declared.
CHOICES = {"stage": STAGES, "task": tuple(TASKS), "data_spec.layout": ("series", "samples")}
NEEDED_BY_STAGE = {"defined": (), "compiled": ("compile",), "fitted": ("compile", "preprocessing")}
# (applies when the record has these values, field, key inside it, its type):
# the keys the steps read from the free-form tables.
REQUIRED_KEYS = [
    ({}, "architecture", "units", int),
    ({}, "architecture", "activation", str),
    ({}, "compile", "loss", str),
    ({"stage": "fitted", "task": "binary"}, "preprocessing", "classes", list),
    ({"stage": "fitted", "task": "multiclass"}, "preprocessing", "classes", list),
]


def record_from_json(raw: Any, path: Path) -> Record:
    """A Record from its JSON, checked against the schema (see CHOICES, REQUIRED_KEYS).

    Raises:
        ArtifactError: naming the first field that is unknown, missing, of the
            wrong type or out of its allowed values.
    """
    from lstmcli.data.dataspec import DataSpec

    def refuse(field_name: str, problem: str) -> ArtifactError:
        return ArtifactError(
            f"{path} has an invalid lstmcli record: {field_name} {problem}; write it again with lstmcli"
        )

    def check_fields(obj: Any, cls, prefix: str) -> None:
        if not isinstance(obj, dict):
            raise refuse(prefix.rstrip(".") or "the record", f"must be a JSON object, not {_json_type(obj)}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key in obj:
            if key not in fields:
                raise refuse(f"{prefix}{key}", "is not a field lstmcli knows")
        for name, f in fields.items():
            where = prefix + name
            if name not in obj:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise refuse(where, "is missing")
                continue
            if not _conforms(obj[name], hints[name]):
                raise refuse(
                    where, f"must be {_describe(hints[name])}, not {_json_type(obj[name])} {_short(obj[name])}"
                )
            if where in CHOICES and obj[name] not in CHOICES[where]:
                raise refuse(where, f"must be one of {', '.join(CHOICES[where])}, not {_short(obj[name])}")

    check_fields(raw, Record, "")
    check_fields(raw["data_spec"], DataSpec, "data_spec.")
    for name in NEEDED_BY_STAGE[raw["stage"]]:
        if raw.get(name) is None:
            raise refuse(name, f"is missing, but a {raw['stage']} model needs it")
    for when, name, key, kind in REQUIRED_KEYS:
        if (
            raw.get(name) is not None
            and all(raw.get(k) == v for k, v in when.items())
            and not _conforms(raw[name].get(key), kind)
        ):
            raise refuse(f"{name}.{key}", f"must be {_describe(kind)}, not {_short(raw[name].get(key))}")
    try:
        tasks.check_output(tasks.get_task(raw["task"]), raw["architecture"]["units"], raw["architecture"]["activation"])
    except UsageError as exc:
        raise refuse("task", f"{raw['task']!r} does not fit the model's output ({exc})") from None
    try:
        recordvalues.check_values(raw)
    except recordvalues.Invalid as exc:
        where, value, problem = exc.args
        raise refuse(where, f"{problem}, not {_short(value)}") from None
    return Record(**raw)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a type hint (int, str, list[str], dict | None, …)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list or hint is list:
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value if args)
    if origin is dict or hint is dict:
        return isinstance(value, dict) and (not args or all(_conforms(v, args[1]) for v in value.values()))
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    names = {
        int: "a whole number",
        float: "a number",
        str: "a string",
        bool: "true or false",
        type(None): "null",
        list: "a list",
        dict: "an object",
    }
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    return names.get(origin or hint, getattr(hint, "__name__", str(hint)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."
