"""The model artifact: a standard `.keras` archive with lstmcli's record inside.

Plain `keras.saving.load_model` opens every artifact lstmcli writes; the extra
member `lstmcli.json` (ignored by Keras) holds what the lifecycle needs: stage,
task, data spec, learned preprocessing, history, lineage and versions. Writes go
to a temporary file beside the target and are renamed into place, so a crash
leaves the old file or the whole new one, never a part of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import types
import typing
import warnings
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lstmcli import __version__, outputs, tasks
from lstmcli.errors import ArtifactError, StageError, UsageError
from lstmcli.tasks import TASKS

FORMAT_VERSION = 3  # 2: scaling is part of the saved model (see predictor); 3: the record has a digest
DIGESTED_SINCE = 3  # records of older formats were written without one
RECORD_MEMBER = "lstmcli.json"
RECORD_DIGEST_MEMBER = "lstmcli.json.sha256"  # sha256 of the record's bytes as written: a hand edit shows
KERAS_CONFIG_MEMBER = "config.json"
SUFFIX = ".keras"
STAGES = ("defined", "compiled", "fitted")
STEP_FOR_STAGE = {"defined": "define", "compiled": "compile", "fitted": "fit"}


atomic_output = outputs.atomic_output  # where steps and the CLI have always found it


class ForeignModel(ArtifactError):
    """A Keras archive that lstmcli did not write (no lstmcli record)."""


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


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_out_path(out: Path | None, step: str, *, source: Path | None = None) -> Path:
    """Check where a step will write its artifact, before any work is done.

    Raises:
        ArtifactError: if `out` is missing, a directory, not a `.keras` name,
            under a file, or the step's own input.
    """
    if out is None:
        raise ArtifactError(f"{step} needs --out PATH.keras (or out = \"…\" in the config's [{step}] table)")
    out = Path(out)
    outputs.check([outputs.Output("--out", out)], {"MODEL": source})
    if out.suffix != SUFFIX and not outputs.is_special(out):
        raise ArtifactError(f"artifact names end in {SUFFIX}; use --out {out.with_suffix(SUFFIX)}. Received: --out {out}")
    return out


def check_output_file(out: Path, flag: str, *, protect: list[Path | str | None] = ()) -> Path:
    """Check that `out` can be written without harming an input (see `outputs.check`).

    Raises:
        ArtifactError: if `out` is a directory, lies under a file, or is one of
            the `protect`ed inputs.
    """
    out = Path(out)
    outputs.check([outputs.Output(flag, out)], {f"input {i + 1}": p for i, p in enumerate(protect)})
    return out


def check_input_file(path: Path, what: str) -> None:
    """Refuse an input that must be a regular file (it is opened more than once) but is not.

    Raises:
        ArtifactError: for a directory, a device, a FIFO or a socket.
    """
    if Path(path).is_dir():
        raise ArtifactError(f"{what} {path} is a directory; give the .keras file inside it")
    if outputs.is_special(path):
        raise ArtifactError(f"{what} {path} is not a regular file (a device, FIFO or socket); give a .keras file")


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
MAX_MEMBERS = 1000
MAX_RECORD_BYTES = 32 << 20  # a million epochs of history fit in far less
MAX_RATIO = 100  # Keras stores members uncompressed (ratio 1); a bomb inflates a thousandfold


def read_record(path: Path) -> Record:
    """Open an artifact's archive and return its record, checking its integrity (see `open_artifact`)."""
    return open_artifact(path)[0]


def open_artifact(path: Path) -> tuple[Record, str]:
    """An artifact's record, checked, and the sha256 of its bytes: one read of the file.

    The file is read once, as bytes, which are hashed (the lineage's parent
    digest, a checkpoint's fingerprint) and opened as the archive, so a step
    that needs both opens its input once before Keras loads the model (see
    `load(record=…)`). This needs no TensorFlow, so it is cheap and runs
    before any model loads. Members are size-checked before anything is
    inflated and hashed in chunks, so a decompression bomb is refused without
    being inflated.

    Returns:
        (record, sha256 of the file's bytes)

    Raises:
        ForeignModel: for a Keras archive without a record; its `sha256` is the
            file's, its sizes are checked (see `adopt(sha256=…)`).
        ArtifactError: if the file is missing, not a `.keras` archive, has no
            lstmcli record, was changed or edited since it was written, breaks
            the record's schema, or is newer.
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact {path} does not exist; check the path, or run the step that writes it")
    check_input_file(path, "artifact")
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise ArtifactError(f"{path} could not be read ({exc.strerror or exc})") from None
    file_sha256 = hashlib.sha256(content).hexdigest()
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise ArtifactError(f"{path} is not a .keras archive (it is empty, truncated or another kind of file); write it again with the step that made it")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            check_sizes(archive, path)
            names = set(archive.namelist())
            if KERAS_CONFIG_MEMBER not in names:
                raise ArtifactError(f"{path} is a zip file but not a Keras model (no {KERAS_CONFIG_MEMBER}); give an artifact written by lstmcli")
            if RECORD_MEMBER not in names:
                foreign = ForeignModel(f"{path} is a Keras model without an lstmcli record; compile and fit adopt such models, the other steps need one written by lstmcli")
                foreign.sha256 = file_sha256
                raise foreign
            raw_bytes = archive.read(RECORD_MEMBER)
            raw = json.loads(raw_bytes)
            digest = archive.read(RECORD_DIGEST_MEMBER).decode("ascii", "replace").strip() if RECORD_DIGEST_MEMBER in names else None
            actual = {name: _member_sha256(archive, name) for name in names - {RECORD_MEMBER, RECORD_DIGEST_MEMBER}}
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ArtifactError(f"{path} is a damaged archive ({exc}); write it again with the step that made it") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(f"{path} has an unreadable lstmcli record ({exc}); write it again with the step that made it") from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} was written by a newer lstmcli (record format {version}, "
            f"this lstmcli reads up to {FORMAT_VERSION}); upgrade lstmcli"
        )
    older = isinstance(version, int) and version < DIGESTED_SINCE
    if (digest is not None or not older) and digest != hashlib.sha256(raw_bytes).hexdigest():
        why = "has no digest" if digest is None else "no longer matches its digest"
        raise ArtifactError(
            f"{path}'s lstmcli record was edited after lstmcli wrote it ({RECORD_MEMBER} {why}); "
            f"write it again with the step that made it"
        )
    record = record_from_json(raw, path)
    if actual != record.members:
        changed = sorted(set(actual) ^ set(record.members) | {n for n in actual if actual[n] != record.members.get(n)})
        raise ArtifactError(
            f"{path} was changed after lstmcli wrote it ({', '.join(changed)} no longer match the record); "
            f"write it again with the step that made it"
        )
    return record, file_sha256


def record_from_json(raw: Any, path: Path) -> Record:
    """A Record from its JSON, checked against the schema (see CHOICES, REQUIRED_KEYS).

    Raises:
        ArtifactError: naming the first field that is unknown, missing, of the
            wrong type or out of its allowed values.
    """
    from lstmcli.dataspec import DataSpec

    def refuse(field_name: str, problem: str) -> ArtifactError:
        return ArtifactError(f"{path} has an invalid lstmcli record: {field_name} {problem}; write it again with lstmcli")

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
                raise refuse(where, f"must be {_describe(hints[name])}, not {_json_type(obj[name])} {_short(obj[name])}")
            if where in CHOICES and obj[name] not in CHOICES[where]:
                raise refuse(where, f"must be one of {', '.join(CHOICES[where])}, not {_short(obj[name])}")

    check_fields(raw, Record, "")
    check_fields(raw["data_spec"], DataSpec, "data_spec.")
    for name in NEEDED_BY_STAGE[raw["stage"]]:
        if raw.get(name) is None:
            raise refuse(name, f"is missing, but a {raw['stage']} model needs it")
    for when, name, key, kind in REQUIRED_KEYS:
        if raw.get(name) is not None and all(raw.get(k) == v for k, v in when.items()) and not _conforms(raw[name].get(key), kind):
            raise refuse(f"{name}.{key}", f"must be {_describe(kind)}, not {_short(raw[name].get(key))}")
    try:
        tasks.check_output(tasks.get_task(raw["task"]), raw["architecture"]["units"], raw["architecture"]["activation"])
    except UsageError as exc:
        raise refuse("task", f"{raw['task']!r} does not fit the model's output ({exc})") from None
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
    names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false", type(None): "null",
             list: "a list", dict: "an object"}
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    return names.get(origin or hint, getattr(hint, "__name__", str(hint)))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_sizes(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse an archive whose members would inflate past what any artifact needs, before reading them.

    Raises:
        ArtifactError: for too many members, a record too large, or a member
            whose declared size is far beyond its compressed size.
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArtifactError(f"{path} holds {len(infos)} members; an artifact has a handful, so it is not one lstmcli will open")
    for info in infos:
        if info.filename in (RECORD_MEMBER, RECORD_DIGEST_MEMBER, KERAS_CONFIG_MEMBER) and info.file_size > MAX_RECORD_BYTES:
            raise ArtifactError(
                f"{path}: {info.filename} declares {info.file_size:,} bytes, more than the {MAX_RECORD_BYTES:,} "
                f"any artifact needs; refused unread"
            )
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_RATIO * max(info.compress_size, 1) + (1 << 16):
            raise ArtifactError(
                f"{path}: {info.filename} would inflate from {info.compress_size:,} to {info.file_size:,} bytes "
                f"(a decompression bomb?); refused unread"
            )


def _member_sha256(archive: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with archive.open(name) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def adopt(path: Path, *, unsafe: bool = False, sha256: str | None = None):
    """Load a Keras model saved outside lstmcli and give it a record.

    The task is inferred from the output layer (one sigmoid unit: binary;
    softmax: multiclass; anything else: regression). A regression model reads
    a series of its input width; a classifier reads samples with the label in
    the last column. The stage is "compiled" when the archive carries an
    optimizer, else "defined".

    Args:
        sha256: The file's sha256, when `open_artifact` read it (raising
            ForeignModel, its sizes checked): the file is not read again.

    Returns:
        (model, record)
    """
    from lstmcli.architecture import output_of

    model = _load_keras(path, unsafe=unsafe, compile=True, checked=sha256 is not None)
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or None in shape[1:]:
        raise ArtifactError(
            f"{path} takes input of shape {shape}; lstmcli adopts models with one (timesteps, features) input"
        )
    check_output_shape(model, path)
    units, activation = output_of(model)
    task = "binary" if units == 1 and activation == "sigmoid" else "multiclass" if activation == "softmax" else "regression"
    layout = "series" if task == "regression" else "samples"
    record = Record(
        stage="compiled" if getattr(model, "optimizer", None) is not None and model.compiled else "defined",
        task=task,
        data_spec={"layout": layout, "timesteps": int(shape[1]), "n_features": int(shape[2])},
        architecture={"units": units, "activation": activation, "adopted": True},
        lineage=[{"step": "adopt", "parent": {"path": str(path), "sha256": sha256 or sha256_file(path)}}],
    )
    if record.stage == "compiled":
        loss = model.loss if isinstance(model.loss, str) else getattr(model.loss, "name", None)
        if not isinstance(loss, str):
            raise ArtifactError(f"{path} is compiled with a loss lstmcli cannot name; compile it with 'lstmcli compile'")
        record.compile = {"optimizer": type(model.optimizer).__name__.lower(), "loss": loss, "metrics": [], "jit_compile": None}
    return model, record


def check_output_shape(model, path: Path) -> None:
    """Refuse a model whose output is not one (batch, units) tensor, which predict could not use.

    Raises:
        ArtifactError: with the shape the model gives.
    """
    shape = getattr(model, "output_shape", None)
    if not isinstance(shape, tuple) or len(shape) != 2 or not isinstance(shape[1], int):
        raise ArtifactError(
            f"{path} gives output of shape {shape}; lstmcli uses models with one (batch, units) output, "
            f"so end the model with a Dense layer after an LSTM without return_sequences"
        )


UNKNOWN_CLASS = re.compile(r"Could not locate (?:class|function) '([^']+)'")


def _load_keras(path: Path, *, unsafe: bool, compile: bool, checked: bool = False):
    """keras.saving.load_model, its errors turned into one-line ArtifactErrors that say what to do.

    Args:
        checked: `open_artifact` already checked the archive's sizes; else they are checked here.
    """
    import keras

    if not checked:
        with zipfile.ZipFile(path) as archive:
            check_sizes(archive, path)
    with warnings.catch_warnings():
        # A compiled model that never trained has no optimizer variables yet;
        # Keras warns that it skips loading them, which is expected here.
        warnings.simplefilter("ignore")
        try:
            return keras.saving.load_model(path, safe_mode=not unsafe, compile=compile)
        except ValueError as exc:
            if "lambda" in str(exc).lower() or "safe_mode" in str(exc):
                raise ArtifactError(
                    f"{path} contains code (a Lambda layer) that would run when it loads; "
                    f"if you trust its source, pass --unsafe"
                ) from None
            raise _unloadable(path, exc) from None
        except (TypeError, KeyError, OSError, AttributeError) as exc:
            raise _unloadable(path, exc) from None


def _unloadable(path: Path, exc: Exception) -> ArtifactError:
    text = str(exc)
    custom = UNKNOWN_CLASS.search(text)
    if custom:
        return ArtifactError(
            f"{path} uses the custom class {custom.group(1)!r}, which is not part of Keras; lstmcli loads models "
            f"built from Keras's own layers, so rebuild it without {custom.group(1)}"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if len(first) > 200:
        first = first[:197] + "..."
    return ArtifactError(f"{path} could not be loaded by Keras ({type(exc).__name__}: {first})")


def require_stage(record: Record, needed: str, path: Path, command: str) -> None:
    """Refuse an artifact that has not reached `needed`, naming the step to run.

    Raises:
        StageError: with the command that would bring the artifact forward.
    """
    if STAGES.index(record.stage) >= STAGES.index(needed):
        return
    missing = STAGES[STAGES.index(record.stage) + 1]
    step = STEP_FOR_STAGE[missing]
    hint = f"lstmcli {step} {path}" + (" --data …" if step == "fit" else "") + " --out …"
    raise StageError(
        f"cannot {command} {path}: the model is {record.stage} but not {missing}; run '{hint}' first"
    )


def load(path: Path, *, unsafe: bool = False, compile: bool = True, record: Record | None = None):
    """Load an artifact's Keras model and record.

    Args:
        path: The `.keras` file.
        unsafe: Allow archives that carry code (Lambda layers). Defaults to False.
        compile: Restore the compiled state (optimizer, loss). Defaults to True.
        record: Its record, when the step already read it (`read_record`,
            `open_artifact`: the archive was checked then); only Keras opens the file again.

    Returns:
        (model, record)

    Raises:
        ArtifactError: if the archive is damaged, foreign, or carries code.
    """
    checked = record is not None
    record = record if checked else read_record(path)
    model = _load_keras(path, unsafe=unsafe, compile=compile and record.stage != "defined", checked=checked)
    return model, record


def save(model, record: Record, path: Path) -> Path:
    """Write `model` and `record` to `path` atomically.

    The archive is written to a temporary file (see `outputs.committed`), the
    record is added with the hashes of every other member and the digest of
    its own bytes, and the file becomes `path` only when complete.

    Returns:
        The path written.
    """
    import keras
    import tensorflow as tf

    path = Path(path)
    record.versions = {"lstmcli": __version__, "keras": keras.__version__, "tensorflow": tf.__version__}
    record.format_version = FORMAT_VERSION
    with outputs.committed(path, ".tmp" + SUFFIX) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            record.members = {name: _member_sha256(archive, name) for name in archive.namelist()}
            written = json.dumps(asdict(record), indent=1, default=_jsonable).encode("utf-8")
            archive.writestr(RECORD_MEMBER, written)
            archive.writestr(RECORD_DIGEST_MEMBER, hashlib.sha256(written).hexdigest() + "\n")
    return path


def lineage_entry(step: str, parent: Path | None, data: dict[str, tuple[Path, str]] | None = None,
                  *, parent_sha256: str | None = None) -> dict:
    """One lineage line: the step, its parent artifact's hash, and each data file's path and hash.

    Args:
        step: The step's name.
        parent: The artifact it read, if any.
        data: {role: (path, sha256 of the bytes that were read)}; None entries are skipped.
        parent_sha256: The parent's hash if already known. Defaults to hashing `parent`.
    """
    entry: dict[str, Any] = {"step": step}
    if parent is not None:
        entry["parent"] = {"path": str(parent), "sha256": parent_sha256 or sha256_file(parent)}
    for role, source in (data or {}).items():
        if source is not None:
            entry[role] = {"path": str(source[0]), "sha256": source[1]}
    return entry


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the record")
