"""`verify`: check an artifact's archive, record and model, and summarise it."""

from __future__ import annotations

from pathlib import Path

from lstmcli.data import dataspec
from lstmcli.errors import ArtifactError
from lstmcli.model import adoption, architecture, artifact, predictor, seal
from lstmcli.model.record import smoke_fit
from lstmcli.quiet import load_tensorflow


def verify(source: Path, opts=None) -> dict:
    """Check an artifact's archive, record and model, and summarise it.

    Every step runs the archive and record checks on its input; verify also
    loads the model and checks it against the record.

    Raises:
        ArtifactError: naming what is wrong.
    """
    opened = artifact.read_artifact(source)  # once: the record and the model below come from these bytes
    record = opened.record
    missing = {"lstmcli", "keras", "tensorflow"} - set(record.versions)
    if missing:
        raise ArtifactError(
            f"{source}'s record does not say which {', '.join(sorted(missing))} wrote it; write it again with lstmcli"
        )
    keras = load_tensorflow()
    if record.versions["keras"].split(".")[0] != keras.__version__.split(".")[0]:
        raise ArtifactError(
            f"{source} was written by Keras {record.versions['keras']}; this is Keras {keras.__version__}"
        )
    predictor.require_in_graph(record, source)
    model, _ = artifact.load(source, unsafe=bool(opts and opts.unsafe), record=record, content=opened.content)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    history = (record.preprocessing or {}).get("context", 0) if record.stage == "fitted" else 0
    expected = (spec.timesteps + history, spec.n_features)
    if tuple(model.input_shape[1:]) != expected:
        raise ArtifactError(
            f"{source}: the model takes {model.input_shape[1:]} but its record says {expected}; write it again with lstmcli"
        )
    if record.stage == "fitted":
        predictor.check_agrees(model, record, source)
    adoption.check_output_shape(model, source)
    units, _ = architecture.output_of(predictor.network_of(model))
    if units != record.architecture.get("units"):
        raise ArtifactError(
            f"{source}: the model has {units} outputs but its record says {record.architecture.get('units')}; write it again with lstmcli"
        )
    return {
        "path": str(source),
        "stage": record.stage,
        "task": record.task,
        "input_shape": list(expected),  # what the model (and its SavedModel export) takes: rows × features
        "timesteps": spec.timesteps,
        "context": history,  # the rows before a window's time steps that the differencing needs
        "outputs": units,
        "parameters": int(model.count_params()),
        "epochs": record.epochs,
        "seed": record.seed,
        "steps": [entry["step"] for entry in record.lineage],
        "smoke": smoke_fit(record) or False,
        "written_by": record.versions,
        "signature": _signature(source),
    }


def _signature(source: Path) -> str:
    """Whether the artifact is signed, and whether this run checked it (`artifact.open_artifact` did, with a key)."""
    import zipfile

    with zipfile.ZipFile(source) as archive:
        signed = seal.SIGNATURE_MEMBER in archive.namelist()
    if not signed:
        return "none (set LSTMCLI_SIGNING_KEY when writing to sign)"
    return "valid" if seal.signing_key() is not None else "present, not checked (LSTMCLI_SIGNING_KEY is unset)"
