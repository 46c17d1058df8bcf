"""Handing a fitted artifact to serving systems: a TensorFlow SavedModel.

The exported graph is the artifact's whole predictor (see `predictor`), so its
serving signature takes raw windows (batch, timesteps, features) in the data's
own units and gives what `lstmcli predict` gives: values in the data's units,
or class probabilities together with the predicted label and the class names.
A calibrated regression model's signature also returns `lower_L` and `upper_L`
for each interval level (L in percent, as predict's columns): the prediction ∓
the level's split-conformal half-widths, computed here and stored as constants.

Only the SavedModel format is offered. Keras's ONNX export (tf2onnx 1.17 with
this TensorFlow) turns the scaling constants into missing graph inputs, and its
LiteRT export needs TensorFlow's Flex ops for the LSTM loop, which the LiteRT
interpreter cannot run; both were tried and produced models that do not run.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

from lstmcli.errors import ArtifactError
from lstmcli.outputs import Output, committed_directory, no_space
from lstmcli.outputs import check as check_outputs
from lstmcli.steps.options import EXPORT_FORMATS as FORMATS

ENDPOINT = "serve"
INPUT_NAME = "windows"
SAVED_MODEL_MARKER = "saved_model.pb"


@dataclass
class Exported:
    """An export that was written: where, in which format, and its signature."""

    path: Path
    format: str
    inputs: dict
    outputs: list[str]
    notes: list[str] = field(default_factory=list)


def export(source: Path, opts) -> Exported:
    """Write a fitted artifact's predictor as a SavedModel directory.

    The directory is built beside `out` and swapped into place when complete
    (`outputs.committed_directory`); an earlier SavedModel at `out` is
    replaced, anything else there is refused.

    Raises:
        ArtifactError: for an unfitted artifact or an `out` that is not a
            SavedModel directory lstmcli may replace.
        WriteError: for a full disk, however TensorFlow reports it.
    """
    from lstmcli.model import artifact, predictor
    from lstmcli.quiet import load_tensorflow

    opened = artifact.read_artifact(source)  # once: the record and the model below come from these bytes
    record = opened.record
    artifact.require_stage(record, "fitted", source, "export")
    predictor.require_in_graph(record, source)
    if opts.format not in FORMATS:
        raise ArtifactError(f"cannot export to {opts.format!r}; the formats are {', '.join(FORMATS)}")
    target = _check_directory(opts.out, source)
    from lstmcli.scoring import intervals

    levels = intervals.levels_for(record, opts.interval)
    widths = {intervals.label(q): intervals.half_widths(intervals.calibration_of(record), q) for q in levels}
    load_tensorflow()
    import tensorflow as tf

    model, _ = artifact.load(source, unsafe=opts.unsafe, compile=False, record=record, content=opened.content)
    classes = (record.preprocessing or {}).get("classes")
    timesteps, features = model.input_shape[1:]
    spec = tf.TensorSpec([None, timesteps, features], tf.float32, name=INPUT_NAME)
    serve = _serving_function(model, classes, spec, {name: found.widths for name, found in widths.items()})
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ENDPOINT, serve)
    with committed_directory(target) as tmp:
        try:
            archive.write_out(tmp, verbose=False)
        except (OSError, tf.errors.ResourceExhaustedError) as exc:
            if _no_space(exc):
                raise no_space(target) from None
            raise
    outputs = ["probabilities", "label", "classes"] if classes is not None else ["predictions"]
    outputs += [f"{side}_{name}" for name in widths for side in ("lower", "upper")]
    notes = [intervals.short_note(found.level, found.windows) for found in widths.values() if found.short]
    return Exported(target, opts.format, {INPUT_NAME: [None, timesteps, features]}, outputs, notes)


def _serving_function(model, classes, spec, widths: dict):
    """The serving signature: raw windows in; predictions (with each interval's bounds), or probabilities
    with labels, out. `widths` holds each level's half-width per output, {label: array}."""
    import tensorflow as tf

    if classes is None:
        halves = {name: tf.constant(w, dtype=tf.float32) for name, w in widths.items()}

        @tf.function(input_signature=[spec])
        def serve(windows):
            predictions = model(windows, training=False)
            served = {"predictions": predictions}
            for name, half in halves.items():
                served[f"lower_{name}"] = predictions - half
                served[f"upper_{name}"] = predictions + half
            return served

        return serve
    names = tf.constant([str(c) for c in classes])

    @tf.function(input_signature=[spec])
    def serve_classes(windows):
        outputs = model(windows, training=False)
        if outputs.shape[-1] == 1:
            outputs = tf.concat([1.0 - outputs, outputs], axis=-1)
        batch = tf.shape(outputs)[0]
        return {
            "probabilities": outputs,
            "label": tf.gather(names, tf.argmax(outputs, axis=-1)),
            "classes": tf.tile(names[None, :], [batch, 1]),
        }

    return serve_classes


def _no_space(exc: Exception) -> bool:
    """A full disk, as Python reports it (errno 28) or TensorFlow does (ResourceExhaustedError naming ENOSPC)."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


def _check_directory(out: Path | None, source: Path) -> Path:
    """The export's directory, refused where writing it would harm something."""
    if out is None:
        raise ArtifactError("export needs --out DIR (the SavedModel directory to write)")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ArtifactError(f"--out {out} is a file; a SavedModel is a directory, so give a new directory path")
    if out.is_dir() and any(out.iterdir()) and not (out / SAVED_MODEL_MARKER).exists():
        raise ArtifactError(
            f"--out {out} is a directory with other files in it; give a new or empty directory, or an earlier export to replace"
        )
    check_outputs([Output("--out", out, directory=True)], {"MODEL": source})  # reachable, and the input at any depth
    if out.resolve() == Path(source).resolve().parent and out.is_dir() and any(out.iterdir()):
        raise ArtifactError(f"--out {out} holds the input artifact; give a new directory")
    return out
