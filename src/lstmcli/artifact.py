"""The model artifact: a standard `.keras` archive with lstmcli's record inside.

Plain `keras.saving.load_model` opens every artifact lstmcli writes; the extra
member `lstmcli.json` (ignored by Keras) holds what the lifecycle needs: stage,
task, data spec, learned preprocessing, history, lineage and versions. Writes go
to a temporary file beside the target and are renamed into place, so a crash
leaves the old file or the whole new one, never a part of it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from lstmcli import __version__
from lstmcli.errors import ArtifactError, StageError

FORMAT_VERSION = 2  # 2: scaling is part of the saved model (see predictor)
RECORD_MEMBER = "lstmcli.json"
KERAS_CONFIG_MEMBER = "config.json"
SUFFIX = ".keras"
STAGES = ("defined", "compiled", "fitted")
STEP_FOR_STAGE = {"defined": "define", "compiled": "compile", "fitted": "fit"}


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
    out = check_output_file(Path(out), "--out", protect=[source] if source is not None else [])
    if out.suffix != SUFFIX:
        raise ArtifactError(f"artifact names end in {SUFFIX}; use --out {out.with_suffix(SUFFIX)}. Received: --out {out}")
    return out


def check_output_file(out: Path, flag: str, *, protect: list[Path | str | None] = ()) -> Path:
    """Check that `out` can be written as a new file without harming an input.

    Raises:
        ArtifactError: if `out` is a directory, lies under a file, or is one of
            the `protect`ed inputs.
    """
    out = Path(out)
    if out.is_dir():
        raise ArtifactError(f"{flag} {out} is a directory; give a file name inside it, such as {out / 'out'}")
    for other in protect:
        if other is not None and str(other) != "-" and out.exists() and out.resolve() == Path(other).resolve():
            raise ArtifactError(f"{flag} {out} is one of this step's inputs; a step never changes its input, so write to a new path")
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ArtifactError(f"cannot write {out}: {ancestor} is a file, not a directory")
    if not os.access(ancestor, os.W_OK):
        raise ArtifactError(f"cannot write {out}: {ancestor} is not writable")
    return out


def read_record(path: Path) -> Record:
    """Open an artifact's archive and return its record, checking its integrity.

    This needs no TensorFlow, so it is cheap and runs before any model loads.

    Raises:
        ArtifactError: if the file is missing, not a `.keras` archive, has no
            lstmcli record, was changed since it was written, or is newer.
    """
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact {path} does not exist; check the path, or run the step that writes it")
    if path.is_dir():
        raise ArtifactError(f"artifact {path} is a directory; give the .keras file inside it")
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path} is not a .keras archive (it is empty, truncated or another kind of file); write it again with the step that made it")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if KERAS_CONFIG_MEMBER not in names:
                raise ArtifactError(f"{path} is a zip file but not a Keras model (no {KERAS_CONFIG_MEMBER}); give an artifact written by lstmcli")
            if RECORD_MEMBER not in names:
                raise ForeignModel(f"{path} is a Keras model without an lstmcli record; compile and fit adopt such models, the other steps need one written by lstmcli")
            raw = json.loads(archive.read(RECORD_MEMBER))
            known = set(Record.__dataclass_fields__)
            record = Record(**{k: v for k, v in raw.items() if k in known})
            actual = {name: hashlib.sha256(archive.read(name)).hexdigest() for name in names if name != RECORD_MEMBER}
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ArtifactError(f"{path} is a damaged archive ({exc}); write it again with the step that made it") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(f"{path} has an unreadable lstmcli record ({exc}); write it again with the step that made it") from None
    if not isinstance(record.format_version, int) or record.format_version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} was written by a newer lstmcli (record format {record.format_version}, "
            f"this lstmcli reads up to {FORMAT_VERSION}); upgrade lstmcli"
        )
    if record.stage not in STAGES:
        raise ArtifactError(f"{path} has an unknown stage {record.stage!r}; write it again with lstmcli")
    if actual != record.members:
        changed = sorted(set(actual) ^ set(record.members) | {n for n in actual if actual[n] != record.members.get(n)})
        raise ArtifactError(
            f"{path} was changed after lstmcli wrote it ({', '.join(changed)} no longer match the record); "
            f"write it again with the step that made it"
        )
    return record


def adopt(path: Path, *, unsafe: bool = False):
    """Load a Keras model saved outside lstmcli and give it a record.

    The task is inferred from the output layer (one sigmoid unit: binary;
    softmax: multiclass; anything else: regression). A regression model reads
    a series of its input width; a classifier reads samples with the label in
    the last column. The stage is "compiled" when the archive carries an
    optimizer, else "defined".

    Returns:
        (model, record)
    """
    from lstmcli.architecture import output_of

    model = _load_keras(path, unsafe=unsafe, compile=True)
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or None in shape[1:]:
        raise ArtifactError(
            f"{path} takes input of shape {shape}; lstmcli adopts models with one (timesteps, features) input"
        )
    units, activation = output_of(model)
    task = "binary" if units == 1 and activation == "sigmoid" else "multiclass" if activation == "softmax" else "regression"
    layout = "series" if task == "regression" else "samples"
    record = Record(
        stage="compiled" if getattr(model, "optimizer", None) is not None and model.compiled else "defined",
        task=task,
        data_spec={"layout": layout, "timesteps": int(shape[1]), "n_features": int(shape[2])},
        architecture={"units": units, "activation": activation, "adopted": True},
        lineage=[{"step": "adopt", "parent": {"path": str(path), "sha256": sha256_file(path)}}],
    )
    if record.stage == "compiled":
        loss = model.loss if isinstance(model.loss, str) else getattr(model.loss, "name", None)
        if not isinstance(loss, str):
            raise ArtifactError(f"{path} is compiled with a loss lstmcli cannot name; compile it with 'lstmcli compile'")
        record.compile = {"optimizer": type(model.optimizer).__name__.lower(), "loss": loss, "metrics": [], "jit_compile": None}
    return model, record


def _load_keras(path: Path, *, unsafe: bool, compile: bool):
    """keras.saving.load_model, its errors turned into ArtifactErrors that say what to do."""
    import keras

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
            raise ArtifactError(f"{path} could not be loaded by Keras: {exc}") from None
        except (TypeError, KeyError, OSError) as exc:
            raise ArtifactError(f"{path} could not be loaded by Keras ({type(exc).__name__}: {exc})") from None


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


def load(path: Path, *, unsafe: bool = False, compile: bool = True):
    """Load an artifact's Keras model and record.

    Args:
        path: The `.keras` file.
        unsafe: Allow archives that carry code (Lambda layers). Defaults to False.
        compile: Restore the compiled state (optimizer, loss). Defaults to True.

    Returns:
        (model, record)

    Raises:
        ArtifactError: if the archive is damaged, foreign, or carries code.
    """
    record = read_record(path)
    model = _load_keras(path, unsafe=unsafe, compile=compile and record.stage != "defined")
    return model, record


def save(model, record: Record, path: Path) -> Path:
    """Write `model` and `record` to `path` atomically.

    The archive is written to a temporary file in the same directory, the
    record is added with the hashes of every other member, and the file is
    renamed over `path` only when complete.

    Returns:
        The path written.
    """
    import keras
    import tensorflow as tf

    path = Path(path)
    record.versions = {"lstmcli": __version__, "keras": keras.__version__, "tensorflow": tf.__version__}
    record.format_version = FORMAT_VERSION
    with _temporary_beside(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            record.members = {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}
            archive.writestr(RECORD_MEMBER, json.dumps(asdict(record), indent=1, default=_jsonable))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return path


def _make_temporary(path: Path, suffix: str) -> tuple[int, str]:
    """A temporary file beside `path`, named after it and this process.

    Temporary files left by a step that was killed (whose process is gone) are
    removed first. The file gets the permissions a plain open() would give
    (mkstemp's are 0600), so the renamed output is as readable as any other.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=suffix)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        return fd, tmp
    except OSError as exc:
        raise ArtifactError(f"cannot write {path}: {exc.strerror or exc}") from None


def _remove_orphans(path: Path) -> None:
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.*.tmp*"):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[str]:
    fd, tmp = _make_temporary(path, ".tmp" + SUFFIX)
    os.close(fd)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside `path` that replaces it only on success."""
    path = Path(path)
    fd, tmp = _make_temporary(path, ".tmp")
    try:
        with os.fdopen(fd, mode, newline="" if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def lineage_entry(step: str, parent: Path | None, data: dict[str, Path] | None = None) -> dict:
    """One lineage line: the step, its parent artifact's hash, each data file's hash."""
    entry: dict[str, Any] = {"step": step}
    if parent is not None:
        entry["parent"] = {"path": str(parent), "sha256": sha256_file(parent)}
    for role, data_path in (data or {}).items():
        if data_path is not None and str(data_path) != "-":
            entry[role] = {"path": str(data_path), "sha256": sha256_file(data_path)}
    return entry


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in the record")
