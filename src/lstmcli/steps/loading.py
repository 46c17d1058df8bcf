"""What the steps share: opening the input artifact (adopting a plain Keras model), loading a fitted one
with its data, the output checks, and `Written`, the result of a step that wrote an artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lstmcli import outputs
from lstmcli.data import dataspec
from lstmcli.errors import DataError
from lstmcli.model import adoption, artifact, predictor, tasks
from lstmcli.model.record import Record
from lstmcli.options import inputs_of, outputs_of
from lstmcli.quiet import load_tensorflow
from lstmcli.steps.options import SPEC_KEYS
from lstmcli.train import distribution

if TYPE_CHECKING:
    pass


@dataclass
class Written:
    """A step that wrote an artifact: where, at which stage, and a summary."""

    path: Path
    stage: str
    summary: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def open_for_training(source: Path, opts):
    """The artifact's record, the model if it had to be loaded to adopt it, the sha256 of the file and its bytes.

    The file is read once (`artifact.read_artifact`): the record, its digest
    and, later, the model (`artifact.load(content=…)`) all come from those
    bytes. A Keras model saved outside lstmcli has no record; compile and fit
    adopt it with its task inferred from its output layer (see `adoption.adopt`).
    """
    try:
        opened = artifact.read_artifact(source)
        return opened.record, None, opened.sha256, opened.content
    except artifact.ForeignModel as foreign:
        load_tensorflow()
        model, record = adoption.adopt(source, unsafe=opts.unsafe, sha256=foreign.sha256, content=foreign.content)
        return record, model, foreign.sha256, foreign.content


def check_out(source: Path, opts) -> None:
    """Refuse an evaluate or predict `--out` that would harm an input (before any work).

    Raises:
        ArtifactError: naming the input it would replace.
    """
    outputs.check(outputs_of(opts), inputs_of(opts, source))


def compile_views(views, record: Record, loaded) -> None:
    """Compile the views made around the `loaded` model with its optimizer, loss and metrics.

    They share their variables, so the optimizer's state (saved with the
    predictor) is the training view's; the predictor's loss is in the data's
    units, for users who call `evaluate` on it with plain Keras.
    """
    settings = record.compile
    optimizer = loaded.optimizer
    for model in {id(v): v for v in (views.predictor, views.training)}.values():
        if model is not loaded:
            model.compile(
                optimizer=optimizer, loss=settings["loss"], metrics=list(settings.get("metrics") or []) or None
            )
    network = predictor.network_of(views.predictor)
    if network is not views.predictor and network.compiled:
        # The optimizer now belongs to the predictor. Left on the nested network
        # too, Keras would save its state there (once per object) and the
        # predictor's own copy would load empty: continued training would
        # restart Adam's moments.
        network.compiled = False
        network.optimizer = None


def chosen_classes(outputs):
    """The class each output row predicts: sigmoid above 0.5, else the largest softmax unit."""
    return (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(axis=1)


def load_with_data(source, opts, command, *, need_target, future=False):
    """The model, its record, the prepared data and the whole table it came from (the artifact read once)."""
    opened = artifact.read_artifact(source)
    record = opened.record
    artifact.require_stage(record, "fitted", source, command)
    predictor.require_in_graph(record, source)
    data_path = need_data(opts.data, command)
    check_out(source, opts)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    dataspec.check_flags(spec, opts, SPEC_KEYS)
    from lstmcli.data import readers, rowindex, windowing  # pandas: only once the cheap checks have passed

    frame = readers.read_table(data_path, opts.format)
    task = tasks.get_task(record.task)
    data = windowing.prepare(
        frame,
        spec,
        task=task,
        prep=record.preprocessing,
        loss=record.compile["loss"],
        units=record.architecture["units"],
        need_target=need_target,
        where=dataspec.describe_source(data_path),
        future=future,
        rows=rowindex.select_rows(frame, spec, opts.rows),
    )
    load_tensorflow()
    dist = distribution.start(opts.strategy, devices=opts.devices)
    with dist.scope():
        model, _ = artifact.load(source, unsafe=opts.unsafe, record=record, content=opened.content)
    return model, record, data, frame, dist


def need_data(path, command: str) -> Path:
    if path is None:
        raise DataError(f'{command} needs --data FILE (or data = "…" in the config\'s [{command}] table)')
    return path
