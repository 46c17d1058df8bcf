"""The model artifact: a standard `.keras` archive with lstmcli's record inside.

Plain `keras.saving.load_model` opens every artifact lstmcli writes; the extra
member `lstmcli.json` (ignored by Keras) holds what the lifecycle needs: stage,
task, data spec, learned preprocessing, history, lineage and versions. Writes go
to a temporary file beside the target and are renamed into place, so a crash
leaves the old file or the whole new one, never a part of it.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lstmcli import __version__, outputs
from lstmcli.errors import ArtifactError, StageError
from lstmcli.model import seal
from lstmcli.model.record import FORMAT_VERSION, STAGES, STEP_FOR_STAGE, Record, record_from_json
from lstmcli.model.recordvalues import thin_history

RECORD_MEMBER = "lstmcli.json"
RECORD_DIGEST_MEMBER = seal.DIGEST_MEMBER  # sha256 of the record's bytes as written: a hand edit shows
SEALS = (RECORD_MEMBER, seal.DIGEST_MEMBER, seal.SIGNATURE_MEMBER)  # the members the record does not list
KERAS_CONFIG_MEMBER = "config.json"
SUFFIX = ".keras"


class ForeignModel(ArtifactError):
    """A Keras archive that lstmcli did not write (no lstmcli record)."""


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
        raise ArtifactError(f'{step} needs --out PATH.keras (or out = "…" in the config\'s [{step}] table)')
    out = Path(out)
    outputs.check([outputs.Output("--out", out)], {"MODEL": source})
    if out.suffix != SUFFIX and not outputs.is_special(out):
        raise ArtifactError(
            f"artifact names end in {SUFFIX}; use --out {out.with_suffix(SUFFIX)}. Received: --out {out}"
        )
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


MAX_MEMBERS = 1000
MAX_RECORD_BYTES = 32 << 20  # a million epochs of history fit in far less
MAX_RATIO = 100  # Keras stores members uncompressed (ratio 1); a bomb inflates a thousandfold


def read_record(path: Path) -> Record:
    """Open an artifact's archive and return its record, checking its integrity (see `read_artifact`)."""
    return read_artifact(path).record


def open_artifact(path: Path) -> tuple[Record, str]:
    """An artifact's record, checked, and the sha256 of its bytes (see `read_artifact`)."""
    opened = read_artifact(path)
    return opened.record, opened.sha256


@dataclass(frozen=True)
class Opened:
    """An artifact read once: its record, the sha256 of its bytes, and the bytes, which Keras loads from."""

    record: Record
    sha256: str
    content: bytes


def read_artifact(path: Path) -> Opened:
    """An artifact's record, checked, the sha256 of its bytes, and the bytes: one read of the file.

    The file is read once, as bytes, which are hashed (the lineage's parent
    digest, a checkpoint's fingerprint), opened as the archive, and given to
    Keras to load the model from (`load(content=…)`): a file replaced while a
    step runs cannot give it one artifact's record and another's model. This
    needs no TensorFlow, so it is cheap and runs before any model loads.
    Members are size-checked before anything is inflated and hashed in
    chunks, so a decompression bomb is refused without being inflated.

    Raises:
        ForeignModel: for a Keras archive without a record; its `sha256` and
            `content` are the file's, its sizes are checked (see `adopt(content=…)`).
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
        raise ArtifactError(
            f"{path} is not a .keras archive (it is empty, truncated or another kind of file); write it again with the step that made it"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            check_sizes(archive, path)
            names = set(archive.namelist())
            if KERAS_CONFIG_MEMBER not in names:
                raise ArtifactError(
                    f"{path} is a zip file but not a Keras model (no {KERAS_CONFIG_MEMBER}); give an artifact written by lstmcli"
                )
            if RECORD_MEMBER not in names:
                foreign = ForeignModel(
                    f"{path} is a Keras model without an lstmcli record; compile and fit adopt such models, the other steps need one written by lstmcli"
                )
                foreign.sha256, foreign.content = file_sha256, content
                raise foreign
            raw_bytes = archive.read(RECORD_MEMBER)
            raw = json.loads(raw_bytes)
            digest, signature = (
                archive.read(name).decode("ascii", "replace").strip() if name in names else None
                for name in (seal.DIGEST_MEMBER, seal.SIGNATURE_MEMBER)
            )
            actual = {name: _member_sha256(archive, name) for name in names - set(SEALS)}
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ArtifactError(f"{path} is a damaged archive ({exc}); write it again with the step that made it") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ArtifactError(
            f"{path} has an unreadable lstmcli record ({exc}); write it again with the step that made it"
        ) from None
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ArtifactError(
            f"{path} was written by a newer lstmcli (record format {version}, "
            f"this lstmcli reads up to {FORMAT_VERSION}); upgrade lstmcli"
        )
    seal.check(path, raw_bytes, version, digest, signature)
    record = record_from_json(raw, path)
    if actual != record.members:
        changed = sorted(set(actual) ^ set(record.members) | {n for n in actual if actual[n] != record.members.get(n)})
        raise ArtifactError(
            f"{path} was changed after lstmcli wrote it ({', '.join(changed)} no longer match the record); "
            f"write it again with the step that made it"
        )
    return Opened(record, file_sha256, content)


def check_sizes(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse an archive whose members would inflate past what any artifact needs, before reading them.

    Raises:
        ArtifactError: for too many members, a record too large, or a member
            whose declared size is far beyond its compressed size.
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ArtifactError(
            f"{path} holds {len(infos)} members; an artifact has a handful, so it is not one lstmcli will open"
        )
    for info in infos:
        if info.filename in (*SEALS, KERAS_CONFIG_MEMBER) and info.file_size > MAX_RECORD_BYTES:
            raise ArtifactError(
                f"{path}: {info.filename} declares {info.file_size:,} bytes, more than the {MAX_RECORD_BYTES:,} "
                f"any artifact needs; refused unread"
            )
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_RATIO * max(info.compress_size, 1) + (
            1 << 16
        ):
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


def load_keras(path: Path, *, unsafe: bool, compile: bool, checked: bool = False, content: bytes | None = None):
    """keras.saving.load_model, its errors turned into one-line ArtifactErrors that say what to do.

    Args:
        checked: `read_artifact` already checked the archive's sizes; else they are checked here.
        content: The archive's bytes as `read_artifact` read them: the model is
            loaded from these (Keras's own loader of a file object, which
            `keras.saving.load_model` calls for a path), not from the path again.
    """
    import keras

    if content is not None:
        from keras.src.saving import saving_lib

        source = io.BytesIO(content)
        source.name = str(path)
        load_model = saving_lib.load_model
    else:
        source, load_model = path, keras.saving.load_model
    if not checked:
        with zipfile.ZipFile(source) as archive:
            check_sizes(archive, path)
    with warnings.catch_warnings():
        # A compiled model that never trained has no optimizer variables yet;
        # Keras warns that it skips loading them, which is expected here.
        warnings.simplefilter("ignore")
        try:
            return load_model(source, safe_mode=not unsafe, compile=compile)
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
    """Keras's refusal as one line that says what is wrong with the artifact and what to do (see `keraserrors`)."""
    from lstmcli.model.keraserrors import explain

    return ArtifactError(f"{path}{explain(exc)}")


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
    raise StageError(f"cannot {command} {path}: the model is {record.stage} but not {missing}; run '{hint}' first")


def load(
    path: Path,
    *,
    unsafe: bool = False,
    compile: bool = True,
    record: Record | None = None,
    content: bytes | None = None,
):
    """Load an artifact's Keras model and record.

    Args:
        path: The `.keras` file.
        unsafe: Allow archives that carry code (Lambda layers). Defaults to False.
        compile: Restore the compiled state (optimizer, loss). Defaults to True.
        record: Its record, when the step already read it (`read_artifact`:
            the archive was checked then).
        content: The bytes `read_artifact` read it from, with `record`: Keras
            loads those, so record and model come from one read of the file.

    Returns:
        (model, record)

    Raises:
        ArtifactError: if the archive is damaged, foreign, or carries code.
    """
    checked = record is not None
    if not checked:
        opened = read_artifact(path)
        record, content = opened.record, opened.content
    model = load_keras(
        path, unsafe=unsafe, compile=compile and record.stage != "defined", checked=checked, content=content
    )
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
            written = json.dumps(_stored(record), indent=1, default=_jsonable).encode("utf-8")
            archive.writestr(RECORD_MEMBER, written)
            for name, content in seal.members_for(written).items():
                archive.writestr(name, content)
    return path


def _stored(record: Record) -> dict:
    """The record as written: a history too long for the record's size limit thinned (see `thin_history`)."""
    stored = asdict(record)
    epochs = len(next(iter(stored["history"].values()), []))
    stored["history"], every = thin_history(stored["history"])
    if every > 1:
        stored["fit"] = {**(stored["fit"] or {}), "history_every": every, "history_epochs": epochs}
    return stored


def lineage_entry(
    step: str, parent: Path | None, data: dict[str, tuple[Path, str]] | None = None, *, parent_sha256: str | None = None
) -> dict:
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
