"""Rolling-origin backtesting: fit on the past, evaluate on the block after it, move on.

Each fold is the core's own fit (from the compiled weights, on the rows before
its origin only, so scaling and everything else fit learns is learned inside
the fold) and the core's own evaluate (on the next block, with the context a
window needs from before it). Nothing of a fold's future reaches its fit.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from lstmcli.data import dataspec
from lstmcli.errors import ConfigError, DataError
from lstmcli.model import artifact
from lstmcli.options import carried
from lstmcli.steps import evaluating, fitting
from lstmcli.steps.options import SPEC_KEYS, EvaluateOptions, FitOptions

# Metrics averaged over the folds: those every fold reports.
_NOT_AVERAGED = ("season", "samples")


@dataclass
class Backtest:
    """What a backtest measured.

    Args:
        folds: One dict per fold: fold, train_rows, test_rows (0-based, end
            excluded), first_key, and every metric evaluate reported.
        mean: Each metric's mean over the folds.
        seed: The seed every fold's fit used.
        preprocessing: Each fold's learned preprocessing, as its fit recorded it.
    """

    folds: list[dict] = field(default_factory=list)
    mean: dict = field(default_factory=dict)
    seed: int | None = None
    preprocessing: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"seed": self.seed, "folds": self.folds, "mean": self.mean}


def origins(n_rows: int, spec: dataspec.DataSpec, folds: int, fold_size: int | None) -> list[tuple[int, int]]:
    """The folds' test blocks (first, end) as row positions: the last `folds` blocks of the series.

    Defaults to blocks that share the last third of the series, at least one
    horizon long each.

    Raises:
        ConfigError: if the first fold would leave too few rows to train on.
    """
    size = fold_size or max(spec.horizon, (n_rows // 3) // folds)
    if size < spec.horizon:
        raise ConfigError(
            f"--fold-size {size} is shorter than the horizon {spec.horizon}; a fold must hold one whole forecast"
        )
    first = n_rows - folds * size
    needed = spec.timesteps + spec.horizon + 1
    if first < needed:
        raise ConfigError(
            f"{folds} folds of {size} rows leave {max(first, 0)} of the {n_rows} rows to train the first fold on, "
            f"but a fit needs at least {needed}; use fewer --folds or a smaller --fold-size"
        )
    return [(first + i * size, first + (i + 1) * size) for i in range(folds)]


def backtest(source: Path, opts, *, on_fold: Callable[[dict], None] | None = None) -> Backtest:
    """Rolling-origin evaluation of a compiled model: each fold fits on the past and evaluates the next block."""
    opened = artifact.read_artifact(source)
    record = opened.record
    artifact.require_stage(record, "compiled", source, "backtest")
    if opts.data is None:
        raise DataError('backtest needs --data FILE (or data = "…" in the config\'s [backtest] table)')
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    dataspec.check_flags(spec, opts, SPEC_KEYS)
    if spec.layout != "series":
        raise ConfigError("backtest rolls a forecast origin along a series; this model's layout is samples")
    if record.stage != "compiled":
        raise ConfigError(
            f"{source} is {record.stage}; backtest starts every fold from the compiled weights, so give it the compiled artifact"
        )
    from lstmcli.data import readers

    with readers.held(opts.data, opts.validation_data):  # every fold reads them: a FIFO can be read only once
        n_rows = len(readers.read_table(opts.data, opts.format))
        blocks = origins(n_rows, spec, opts.folds, opts.fold_size)
        seed = fitting._seed(opts.seed, record.seed)
        result = Backtest(seed=seed)
        with tempfile.TemporaryDirectory(prefix="lstmcli-backtest-") as scratch:
            # Every fold starts from the bytes read above, even if the file is replaced while the folds run.
            start = Path(scratch) / "compiled.keras"
            start.write_bytes(opened.content)
            for number, (first, end) in enumerate(blocks, 1):
                fitted = Path(scratch) / f"fold{number}.keras"
                fold_opts = carried(FitOptions, opts, out=fitted, rows=(0, first), seed=seed, verbose="0")
                fitting.fit(start, fold_opts, lineage_path=source)
                metrics = evaluating.evaluate(fitted, carried(EvaluateOptions, opts, rows=(first, end), out=None))
                fold = {"fold": number, "train_rows": [0, first], "test_rows": [first, end], **metrics}
                result.folds.append(fold)
                result.preprocessing.append(artifact.read_record(fitted).preprocessing)
                if on_fold is not None:
                    on_fold(fold)
    shared = [
        k for k, v in result.folds[0].items() if isinstance(v, (int, float)) and k not in ("fold", *_NOT_AVERAGED)
    ]
    shared = [k for k in shared if all(k in f for f in result.folds)]
    result.mean = {k: sum(f[k] for f in result.folds) / len(result.folds) for k in shared}
    return result
