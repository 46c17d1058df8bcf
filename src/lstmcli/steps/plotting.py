"""`lstmcli plot`: figures for reports (PNG, SVG or PDF), drawn by `figures`.

The training curves come from the artifact's record alone; with data, the
model's predictions are drawn against the actual values (regression) or as
confusion matrices (classification). Everything is checked and drawn before
anything is written: no figure may be one of the inputs, unreadable data is
refused with nothing written, and the figures are written to temporary files
renamed into place together.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import replace
from pathlib import Path

from lstmcli import commits, outputs
from lstmcli.errors import ConfigError
from lstmcli.model import artifact
from lstmcli.model.recordvalues import epoch_numbers
from lstmcli.options import carried, inputs_of
from lstmcli.scoring import intervals
from lstmcli.steps import predicting
from lstmcli.steps.figures import (  # noqa: F401  (the figures' names, for the Python API and tests)
    ACTUAL_COLOR,
    BEST_COLOR,
    DPI,
    PREDICTED_COLOR,
    SIZE,
    TRAIN_COLOR,
    VALIDATION_COLOR,
    Band,
    Curve,
    confusion_figure,
    history_figure,
    predictions_figure,
    pyplot,
    step_color,
)
from lstmcli.steps.options import PredictOptions

HISTORY = "history"
PREDICTIONS = "predictions"
CONFUSION = "confusion"


def plot(source: Path, opts) -> list[Path]:
    """Write the training curves and, given data, predictions against actuals.

    Args:
        source: A fitted `.keras` artifact.
        opts: A `PlotOptions`: `out_dir` for the figures (made if missing), and
            `data` (with its `format` and `rows`) to draw predictions against,
            or None for the curves alone; `step`, `steps`, `normalize`,
            `image_format`, `dpi` (see their help).

    Returns:
        The files written: history.EXT, then predictions.EXT (regression: the
        forecasts of the chosen step against the actual values along the
        index, the split at --rows' START, and for a series the forecast past
        its end, dashed) or confusion.EXT (classification).

    Raises:
        StageError: if the artifact was never fitted.
        ArtifactError: if a figure would overwrite an input.
        ConfigError, DataError: for options or data that cannot be drawn; nothing is written.
    """
    opened = artifact.read_artifact(source)  # read once: the curves and the predictions come from these bytes
    record = opened.record
    artifact.require_stage(record, "fitted", source, "plot")
    out_dir = Path(opts.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out-dir {out_dir} is a file; give a folder for the figures")
    classifier = bool(record.preprocessing and record.preprocessing.get("classes") is not None)
    names = [HISTORY] + ([] if opts.data is None else [CONFUSION if classifier else PREDICTIONS])
    paths = [out_dir / f"{name}.{opts.image_format}" for name in names]
    outputs.check([outputs.Output("--out-dir", path) for path in paths], inputs_of(opts, source))
    if opts.normalize != "none" and opts.data is not None and not classifier:
        raise ConfigError("--normalize scales a classifier's confusion matrix; this model is a regression")
    if opts.interval and opts.data is None:
        raise ConfigError("--interval shades the bands around the forecasts, which plot draws with --data FILE")
    levels = intervals.levels_for(record, opts.interval) if opts.data is not None else []
    plt = pyplot()
    figures = []
    try:
        figures.append(history_figure(record.history, opts.dpi, epoch_numbers(record.history, record.fit)))
        if opts.data is not None:
            from lstmcli.data import readers

            with readers.held(opts.data), tempfile.TemporaryDirectory(prefix="lstmcli-plot-") as scratch:
                # stdin or a FIFO is read once, and so is the artifact: every drawing loads the bytes read above,
                # even if the file is replaced meanwhile (as backtest's folds do)
                model = Path(scratch) / Path(source).name
                model.write_bytes(opened.content)
                figures.append(_classes(model, opts, record) if classifier else _predictions(model, opts, levels))
        _save_all(figures, paths, opts)
    finally:
        for figure in figures:
            plt.close(figure)
    return paths


def _save_all(figures: list, paths: list[Path], opts) -> None:
    """Save every figure to a temporary file beside its path; rename them into place once all are written.

    The renames are one commit (`commits`): a signal before them leaves every old figure, one during
    them waits until all are in place, so a Ctrl-C never leaves a new history beside an old prediction.
    """
    with contextlib.ExitStack() as stack:
        for figure, path in zip(figures, paths):
            tmp = stack.enter_context(outputs.committed(path))
            figure.savefig(tmp, format=opts.image_format, dpi=opts.dpi)
        commits.abort_if_signalled()
        with commits.held():
            stack.close()


def chosen_steps(step: str, horizon: int) -> list[int]:
    """The horizon steps `--step` names: one (1..horizon) or all."""
    if step == "all":
        return list(range(1, horizon + 1))
    if not step.isdigit() or not 1 <= int(step) <= horizon:
        raise ConfigError(f"--step takes a step from 1 to the horizon ({horizon}) or 'all'. Received: {step!r}")
    return [int(step)]


def _predictions(source: Path, opts, levels: list[float] | tuple = ()):
    """A regression's figure: the actual values of the whole file, the chosen steps' forecasts for
    the selected rows, the split at START, and a series' forecast past the end; each of the `levels`'
    intervals shaded around a single step's forecasts and around the forecast past the end, up to the horizon."""
    base = carried(PredictOptions, opts, steps=None, interval=None)  # bounds only where asked for below
    actual = predicting.actuals(source, base)
    horizon, k, names = actual.horizon, len(actual.target_names), actual.target_names
    steps = chosen_steps(opts.step, horizon)
    series = actual.step_keys is not None
    whole = actual if opts.rows is None else predicting.actuals(source, replace(base, rows=None))
    truth = _actual_curve(whole, k)
    predicted = predicting.predict(source, replace(base, wide=series, interval=levels or None))
    curves = []
    for h in steps:
        suffix = f"_step{h}" if horizon > 1 else ""
        keys = actual.step_keys[:, h - 1] if series else actual.keys
        label = "predicted" + (f" ({h} step{'s' if h > 1 else ''} ahead)" if horizon > 1 else "")
        if h not in (steps[0], steps[-1]):
            label = "_nolegend_"  # every step: the legend names the first and last, the colours fade between
        values = [predicted[f"predicted_{name}{suffix}"].to_numpy() for name in names]
        bands = _bands(predicted, [f"predicted_{name}{suffix}" for name in names], levels if len(steps) == 1 else [])
        curves.append(
            Curve(label, keys, values, color=step_color(h, horizon), width=1.5 if len(steps) == 1 else 1.0, bands=bands)
        )
    if series:
        ahead = predicting.predict(source, replace(base, future=True, steps=opts.steps))
        values = [ahead[f"predicted_{name}"].to_numpy() for name in names]
        bands = []
        if levels:  # calibrated for the model's own steps only: none past the horizon
            within = min(opts.steps or horizon, horizon)
            bounded = predicting.predict(source, replace(base, future=True, steps=within, interval=levels))
            bands = _bands(bounded, [f"predicted_{name}" for name in names], levels)
        curves.append(Curve("forecast", ahead[actual.key_name].to_numpy(), values, style="--", marker=".", bands=bands))
    split = None
    if opts.rows is not None and len(actual):
        split = actual.step_keys[0, 0] if series else actual.keys[0]
    return predictions_figure(truth, curves, actual.key_name, names, split=split, dpi=opts.dpi)


def _bands(table, columns: list[str], levels: list[float]) -> list[Band]:
    """Each level's band from predict's bounds columns (`COLUMN_lower_L`, `COLUMN_upper_L`), one array per target."""
    found = []
    for level in levels:
        name = intervals.label(level)
        lower = [table[f"{column}_lower_{name}"].to_numpy() for column in columns]
        found.append(Band(name, lower, [table[f"{column}_upper_{name}"].to_numpy() for column in columns]))
    return found


def _actual_curve(data, k: int) -> Curve:
    """The actual values along the keys: step 1 of every window, then the last window's later steps."""
    import numpy as np

    if data.step_keys is None:
        return Curve("actual", data.keys, [data.y_raw[:, j] for j in range(k)])
    keys = np.concatenate([data.step_keys[:, 0], data.step_keys[-1, 1:]])
    last = data.y_raw[-1].reshape(-1, k)[1:]
    return Curve("actual", keys, [np.concatenate([data.y_raw[:, j], last[:, j]]) for j in range(k)])


def _classes(source: Path, opts, record):
    """A classifier's confusion matrices: the fit's training and validation samples apart when
    the data is the file fit read, in full (its sha256 and sample counts agree); else one."""
    from lstmcli.steps.loading import load_with_data

    base = carried(PredictOptions, opts, steps=None)
    _, _, data, frame, _ = load_with_data(source, base, "plot", need_target=True)
    predicted = [str(v) for v in predicting.predict(source, base)["label"]]
    actual = [str(v) for v in data.y_raw.ravel()]
    classes = [str(c) for c in record.preprocessing["classes"]]
    held = _fit_validation(record, data, frame, classes, actual) if opts.rows is None else None
    if held is None:
        parts = [("samples" if opts.rows is None else f"rows {opts.rows}", actual, predicted)]
    else:
        pick = lambda values, mask: [v for v, m in zip(values, mask) if m]  # noqa: E731
        parts = [
            ("training", pick(actual, ~held), pick(predicted, ~held)),
            ("validation", pick(actual, held), pick(predicted, held)),
        ]
    return confusion_figure(parts, classes, opts.normalize, opts.dpi)


def _fit_validation(record, data, frame, classes: list[str], actual: list[str]):
    """Which samples fit held out for validation, as a boolean mask, when `data` is all of fit's data; else None."""
    import numpy as np

    from lstmcli.data import prepared, readers

    fit = record.fit or {}
    how = fit.get("validation") or {}
    read = [e for e in record.lineage if e.get("step") == "fit"]
    same_file = read and (read[-1].get("data") or {}).get("sha256") == frame.attrs.get(readers.DIGEST)
    if not same_file or how.get("method") in (None, "none", "file"):
        return None
    if fit.get("samples", 0) + fit.get("validation_samples", 0) != len(actual):
        return None  # fit read part of the file (--rows): which part is not recorded
    if how["method"] == "tail":
        return np.arange(len(actual)) >= prepared.tail_cut(len(actual), how["fraction"])
    codes = (
        np.array([classes.index(a) for a in actual])
        if how["method"] == "stratified"
        else np.zeros(len(actual), np.int64)
    )
    return prepared.held_out(codes, how["fraction"], how["seed"])
