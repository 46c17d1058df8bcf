"""The data a fit trains and validates on: its preprocessing learned, its validation held out.

The preprocessing (scaling statistics, labels, transforms) is learned from
the training data, or kept from a fitted artifact (continued training must see
the data as before). Validation is a separate file (`--validation-data`) or a
part of the training data (`--validation-split`) chosen as the layout wants
it; the scaling statistics are then learned on the training part alone.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lstmcli.data import dataspec
from lstmcli.model import tasks
from lstmcli.model.record import Record
from lstmcli.errors import ConfigError
from lstmcli.steps.options import DEFAULT_SCALING, SPEC_KEYS


def read(record: Record, source: Path, data_path: Path, opts):
    """The spec, learned preprocessing, training and validation data of a fit, and the data's sha256s.

    A fitted artifact keeps what it learned (continued training must see the
    data as before); otherwise scaling and labels are learned from the data.
    Scaling is learned on the training part only: when `--validation-split`
    holds samples out, which ones is known only once the fit has its seed, so
    the training targets are left unscaled here and the last value returned,
    `relearn(rows, train, validation)`, learns the statistics on the rows of
    the training part and scales both parts' targets with them (None when the
    statistics already come from the training data alone).
    """
    task = tasks.get_task(record.task)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    dataspec.check_flags(spec, opts, SPEC_KEYS)
    from lstmcli.data import readers, rowindex, windowing  # pandas: only once the cheap checks have passed

    units, loss = record.architecture["units"], record.compile["loss"]
    frame = readers.read_table(data_path, opts.format)
    digests = {"data": frame.attrs[readers.DIGEST]}
    where = dataspec.describe_source(data_path)
    selected = rowindex.select_rows(frame, spec, opts.rows)
    if selected is not None:
        frame = frame.iloc[selected[0]:selected[1]].reset_index(drop=True)  # fit learns from these rows alone
        where = f"{where} (rows {selected[0] + 1} to {selected[1]})"
    learned = record.preprocessing
    scaling = opts.scaling or DEFAULT_SCALING
    if learned is None:
        learned = windowing.learn(frame, spec, task=task, scaling=scaling, units=units, where=where)
    elif opts.scaling not in (None, learned.get("scaling_kind")):
        raise ConfigError(
            f"{source} already learned '{learned.get('scaling_kind')}' scaling; continued training keeps it, "
            f"so drop --scaling {opts.scaling} or start again from the compiled model"
        )
    spec.features, spec.target = learned["features"], learned["target"]
    relearn = None
    if record.preprocessing is None and opts.validation_split and opts.validation_data is None:
        relearn = _training_part_learner(frame, spec, task=task, scaling=scaling, units=units, where=where)

    def prepared(table, name, prep):
        return windowing.prepare(table, spec, task=task, prep=prep, loss=loss, units=units, need_target=True, where=name)

    train = prepared(frame, where, learned if relearn is None else {**learned, "targets": None})
    validation = None
    if opts.validation_data is not None:
        vpath = opts.validation_data
        vframe = readers.read_table(vpath)
        digests["validation_data"] = vframe.attrs[readers.DIGEST]
        validation = prepared(vframe, dataspec.describe_source(vpath), learned)
    return spec, learned, train, validation, digests, relearn


def _training_part_learner(frame, spec, **learning):
    """`relearn(rows, train, validation)` for `read`: scaling learned on `rows` of `frame` alone.

    Returns what `windowing.learn` learns with `rows`, and both parts with
    their (unscaled) targets scaled by its statistics.
    """

    def relearn(rows, train, validation):
        from lstmcli.data import preprocessing, windowing

        learned = windowing.learn(frame, spec, rows=rows, **learning)
        train, validation = (replace(part, y=preprocessing.scale(part.y, learned["targets"])) for part in (train, validation))
        return learned, train, validation

    return relearn


VALIDATION_BY_LAYOUT = {"series": "tail", "samples": "stratified"}


def split(train, validation, opts, spec, task, learned, seed: int):
    """Hold out `--validation-split` of the training data as the layout wants it.

    A series keeps time's order: the last samples are held out. A samples
    file is split at random with the fit's seed, within each class for a
    classifier, so a file sorted by class keeps every class in training.

    Returns:
        (train, validation, how, rows): how the validation data was chosen,
        for the record, and the rows (0-based positions) the training part is
        made of when a split chose them, else None.

    Raises:
        ConfigError: if the split leaves a class without training samples.
    """
    import numpy as np

    if validation is not None:
        return train, validation, {"method": "file"}, None
    if not opts.validation_split:
        return train, None, {"method": "none"}, None
    method = VALIDATION_BY_LAYOUT[spec.layout]
    if method == "tail":
        train, validation = train.split_tail(opts.validation_split)
        rows = np.arange(train.target_rows.max() + 1)  # the training windows' inputs and targets
    else:
        method = method if task.classification else "random"
        held = train.held_out(opts.validation_split, seed, stratify=task.classification)
        train, validation = train.subset(np.flatnonzero(~held)), train.subset(np.flatnonzero(held))
        rows = np.flatnonzero(~held)  # each sample is one row
    if task.classification:
        from lstmcli.data.windowing import class_indices

        kept = set(class_indices(train.y).tolist())
        lost = [label for i, label in enumerate(learned["classes"]) if i not in kept]
        if lost:
            where = "the held-out tail" if method == "tail" else "validation"
            raise ConfigError(
                f"--validation-split {opts.validation_split} leaves class {lost[0]!r} without training samples "
                f"(all of them fall in {where}); give a smaller split, more samples of that class, or --validation-data FILE"
            )
    return train, validation, {"method": method, "fraction": opts.validation_split, "seed": seed}, rows
