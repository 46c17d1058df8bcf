"""Plain Keras models that lstmcli did not write: adopted with a record inferred from their layers.

compile and fit accept a `.keras` file saved by Keras itself; every other step
needs an artifact lstmcli wrote (see `artifact.ForeignModel`).
"""

from __future__ import annotations

from pathlib import Path

from lstmcli.errors import ArtifactError
from lstmcli.model.artifact import load_keras, sha256_file
from lstmcli.model.record import Record


def adopt(path: Path, *, unsafe: bool = False, sha256: str | None = None, content: bytes | None = None):
    """Load a Keras model saved outside lstmcli and give it a record.

    The task is inferred from the output layer (one sigmoid unit: binary;
    softmax: multiclass; anything else: regression). A regression model reads
    a series of its input width; a classifier reads samples with the label in
    the last column. The stage is "compiled" when the archive carries an
    optimizer, else "defined".

    Args:
        sha256: The file's sha256, when `read_artifact` read it (raising
            ForeignModel, its sizes checked): the file is not read again.
        content: The bytes `read_artifact` read, with `sha256`: the model is loaded from them.

    Returns:
        (model, record)
    """
    from lstmcli.model.architecture import output_of

    model = load_keras(path, unsafe=unsafe, compile=True, checked=sha256 is not None, content=content)
    shape = model.input_shape
    if not isinstance(shape, tuple) or len(shape) != 3 or None in shape[1:]:
        raise ArtifactError(
            f"{path} takes input of shape {shape}; lstmcli adopts models with one (timesteps, features) input"
        )
    check_output_shape(model, path)
    units, activation = output_of(model)
    task = (
        "binary"
        if units == 1 and activation == "sigmoid"
        else "multiclass"
        if activation == "softmax"
        else "regression"
    )
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
            raise ArtifactError(
                f"{path} is compiled with a loss lstmcli cannot name; compile it with 'lstmcli compile'"
            )
        record.compile = {
            "optimizer": type(model.optimizer).__name__.lower(),
            "loss": loss,
            "metrics": [],
            "jit_compile": None,
        }
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
