"""The data a fit trains and validates on: its preprocessing learned, its validation held out.

A fit goes over its data once, in order: `read` reads and checks the data
(before TensorFlow is imported); once the fit has its seed, `split` chooses
the validation samples (a separate file, `--validation-data`, or a part of the
training data, `--validation-split`, chosen as the layout wants it), learns
the preprocessing (transforms, scaling statistics, labels) once, on the
training rows alone, and prepares both parts. A fitted artifact keeps what it
learned instead (continued training must see the data as before).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstmcli.data import dataspec
from lstmcli.errors import ConfigError, DataError
from lstmcli.model import tasks
from lstmcli.model.record import Record
from lstmcli.steps.options import DEFAULT_SCALING, SPEC_KEYS


@dataclass
class FitData:
    """A fit's data as `read` found it: read, parsed and checked, nothing learned yet.

    Args:
        kept: The fitted artifact's preprocessing (continued training), else None.
        classes: A classifier's labels: the kept ones, else the file's
            distinct labels (what the split stratifies by).
        codes: A classifier's class index of each sample (each window's label
            row for a series), in `classes`; else None.
        validation: A `--validation-data` file: (frame, parsed, where), else None.
        digests: {"data": …, "validation_data": …}: the sha256 of the bytes read.
    """

    spec: dataspec.DataSpec
    task: tasks.Task
    frame: Any
    where: str
    parsed: Any
    kept: dict | None
    scaling: str
    units: int
    loss: str
    classes: list | None
    codes: Any
    validation: tuple | None
    digests: dict


def read(record: Record, source: Path, data_path: Path, opts) -> FitData:
    """Read and check a fit's data: its spec, table(s) and sha256s; nothing is learned here.

    Every cell the fit reads is parsed and checked here, once (`parsing.parse`),
    before TensorFlow is imported; `split` learns from the same parsed arrays.
    """
    task = tasks.get_task(record.task)
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    dataspec.check_flags(spec, opts, SPEC_KEYS)
    import pandas as pd  # only once the cheap checks have passed

    from lstmcli.data import parsing, prepared, preprocessing, readers, rowindex, transforms

    units, loss = record.architecture["units"], record.compile["loss"]
    frame = readers.read_table(data_path, opts.format)
    digests = {"data": frame.attrs[readers.DIGEST]}
    where = dataspec.describe_source(data_path)
    selected = rowindex.select_rows(frame, spec, opts.rows)
    if selected is not None:
        frame = frame.iloc[selected[0] : selected[1]]  # fit learns from these rows alone; the index keeps file rows
        where = f"{where} (rows {selected[0]}:{selected[1]})"
    kept = record.preprocessing
    if kept is not None and opts.scaling not in (None, kept.get("scaling_kind")):
        raise ConfigError(
            f"{source} already learned '{kept.get('scaling_kind')}' scaling; continued training keeps it, "
            f"so drop --scaling {opts.scaling} or start again from the compiled model"
        )
    if kept is not None:
        spec.features, spec.target = kept["features"], kept["target"]
    parsed = parsing.parse(frame, spec, task=task, where=where)
    if kept is None:
        spec.features, spec.target = parsed.features, parsed.target
    context = 0
    if kept is not None:
        context = kept.get("context", 0)
    elif spec.transforms and spec.transforms != [transforms.AUTO]:
        context = transforms.context(spec.transforms)  # auto's is known once chosen: prepare checks again
    if spec.layout == "series":
        prepared.window_count(len(frame), spec, context, where)
    classes = codes = None
    if task.classification:
        labels = parsed.labels
        if spec.layout == "series":
            labels = labels[spec.timesteps + context :]  # each window's label: the row after it
        if kept is not None:
            classes = kept["classes"]
        else:
            present = parsed.labels[~pd.isna(parsed.labels)]
            classes = preprocessing.check_classes(preprocessing.distinct_labels(present), task.name, units, where)
        codes = preprocessing.label_indices(labels, classes, where, frame.index[len(frame) - len(labels) :])
    validation = None
    if opts.validation_data is not None:
        vpath = opts.validation_data
        vframe = readers.read_table(vpath)
        digests["validation_data"] = vframe.attrs[readers.DIGEST]
        vwhere = dataspec.describe_source(vpath)
        validation = (vframe, parsing.parse(vframe, spec, task=task, where=vwhere), vwhere)
    return FitData(
        spec,
        task,
        frame,
        where,
        parsed,
        kept,
        opts.scaling or DEFAULT_SCALING,
        units,
        loss,
        classes,
        codes,
        validation,
        digests,
    )


VALIDATION_BY_LAYOUT = {"series": "tail", "samples": "stratified"}


def sample_count(data: FitData) -> int:
    """The samples the training file gives: rows of a samples file, windows of a series.

    A series' windows are counted before `--transform auto` has chosen its
    context (a difference costs a row or a season more): the count a split's
    size is planned by, not the exact one.
    """
    from lstmcli.data import prepared, transforms

    if data.spec.layout != "series":
        return len(data.frame)
    chosen = data.spec.transforms or []
    context = (data.kept or {}).get("context", 0 if transforms.AUTO in chosen else transforms.context(chosen))
    try:
        return prepared.window_count(len(data.frame), data.spec, context, data.where)
    except DataError:
        return 0


def split(data: FitData, opts, seed: int):
    """Hold out the validation data, learn the preprocessing once on the training rows, prepare both parts.

    A series keeps time's order: the last samples are held out. A samples
    file is split at random with the fit's seed, within each class for a
    classifier, so a file sorted by class keeps every class in training.
    The samples are chosen before anything is learned; the transforms,
    scaling statistics and labels are then learned on the rows the training
    samples are made of (`windowing.learn`), unless the artifact already
    learned them.

    Returns:
        (learned, train, validation, how, rows): the preprocessing, both
        parts, how the validation data was chosen (for the record), and the
        rows (0-based positions) the training part is made of when a split
        chose them, else None.

    Raises:
        ConfigError: if the split leaves a class without training samples.
    """
    import numpy as np

    from lstmcli.data import prepared, transforms, windowing

    spec, task = data.spec, data.task
    rows = held = None  # the training rows, and a samples split's held-out mask
    if data.validation is not None:
        how = {"method": "file"}
    elif not opts.validation_split:
        how = {"method": "none"}
    else:
        fraction = opts.validation_split
        method = VALIDATION_BY_LAYOUT[spec.layout]
        if method == "tail":

            def tail_rows(context):  # the rows the training windows use: their inputs and targets
                cut = prepared.tail_cut(prepared.window_count(len(data.frame), spec, context, data.where), fraction)
                return np.arange(cut + spec.timesteps + context + spec.horizon - 1)

            if data.kept is None and spec.transforms == [transforms.AUTO]:
                rows = tail_rows  # the context is known once auto has chosen (see windowing.learn)
            else:
                rows = tail_rows((data.kept or {}).get("context", transforms.context(spec.transforms or [])))
            training_codes = None if data.codes is None else data.codes[: prepared.tail_cut(len(data.codes), fraction)]
        else:
            method = method if task.classification else "random"
            groups = data.codes if task.classification else np.zeros(len(data.frame), np.int64)
            held = prepared.held_out(groups, fraction, seed)
            rows = np.flatnonzero(~held)  # each sample is one row
            training_codes = None if data.codes is None else data.codes[rows]
        if task.classification:
            present = set(training_codes.tolist())
            lost = [label for i, label in enumerate(data.classes) if i not in present]
            if lost:
                where = "the held-out tail" if method == "tail" else "validation"
                raise ConfigError(
                    f"--validation-split {fraction} leaves class {lost[0]!r} without training samples "
                    f"(all of them fall in {where}); give a smaller split, more samples of that class, or --validation-data FILE"
                )
        how = {"method": method, "fraction": fraction, "seed": seed}
    learned = data.kept
    if learned is None:
        learned = windowing.learn(
            data.parsed, spec, task=task, scaling=data.scaling, units=data.units, where=data.where, rows=rows
        )
        if callable(rows):
            rows = rows(learned["context"])

    def prepared(frame, parsed, where):
        return windowing.prepare(
            frame,
            spec,
            task=task,
            prep=learned,
            loss=data.loss,
            units=data.units,
            need_target=True,
            where=where,
            parsed=parsed,
        )

    train = prepared(data.frame, data.parsed, data.where)
    validation = None
    if data.validation is not None:
        validation = prepared(*data.validation)
    elif how["method"] == "tail":
        train, validation = train.split_tail(opts.validation_split)
    elif held is not None:
        train, validation = train.subset(rows), train.subset(np.flatnonzero(held))
    return learned, train, validation, how, rows
