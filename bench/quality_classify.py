"""Classification quality on public time-series sets, trained through the CLI alone.

For each set (short univariate, long univariate, multivariate, variable-length;
the small UCR/UEA archive sets that the `aeon` package ships as files) this
writes the train and test parts as CSV files sorted by class, as the archive
publishes them, then runs `lstmcli define / compile / fit / evaluate` as
subprocesses, exactly as a user would. Each set is trained with two recipes:

- "defaults": `--epochs 300` and the seed, nothing else (does a user who gives
  only the data description and an epoch count get a model that learns?);
- "careful": `--validation-split 0.2 --early-stopping 30 --epochs 300` and the seed;
- with `--runs all`, also the candidate defaults in RUNS, each added to "careful".

`--fit-args "--ensemble 5"` adds flags to every fit, `--seeds 0,1,2` repeats every
run with each seed (define's and fit's) for the run-to-run spread. Beside each
accuracy stand two baselines: 1-NN DTW (bench/dtw.py, computed once per set and
cached in bench/results/dtw_1nn.json) and the archive's published 1-NN DTW
accuracy, and the majority class that `evaluate` reports.

Every run goes to bench/results/quality_classify_<label>.json (rewritten after
each run); bench/quality_render.py turns one or two such files into the
before/after table of bench/QUALITY_CLASSIFY.md. `--lstmcli CHECKOUT` picks the
lstmcli source tree under test (default: the checkout holding this script).

Needs aeon's data files: `make quality-classify` installs aeon with
`--no-deps` (its own pins would move pandas); aeon itself is never imported.

    python bench/quality_classify.py --label before [--sets GunPoint,...] [--runs all] [--seeds 0,1,2]
        [--fit-args "--ensemble 5"] [--lstmcli CHECKOUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dtw  # noqa: E402
import quality_common as common  # noqa: E402

HERE = Path(__file__).resolve().parent
CAREFUL_FLAGS = ("--validation-split", "0.2", "--early-stopping", "30", "--epochs", "300")
DEFAULT_FLAGS = ("--epochs", "300")
# name: (compile flags, fit flags), the seed added to both define and fit. The first two are the
# benchmark; the rest measure candidate defaults against "careful" (issue 10): no scaling, a
# larger learning rate, an LR schedule.
RUNS = {
    "defaults": ((), DEFAULT_FLAGS),
    "careful": ((), CAREFUL_FLAGS),
    "careful + scaling none": ((), (*CAREFUL_FLAGS, "--scaling", "none")),
    "careful + lr 0.01": (("--learning-rate", "0.01"), CAREFUL_FLAGS),
    "careful + reduce-lr 10": ((), (*CAREFUL_FLAGS, "--reduce-lr-on-plateau", "10")),
}
MAIN_RUNS = ("defaults", "careful")
DTW_CACHE = common.RESULTS / "dtw_1nn.json"


@dataclass(frozen=True)
class Dataset:
    """One archive set and its published 1-NN DTW test accuracy.

    Args:
        name: The archive's name (aeon's folder).
        shape: Which of the four shapes it stands for.
        published: Published 1-NN DTW accuracy on the default train/test split.
        source: Where the published figure comes from.
    """

    name: str
    shape: str
    published: float
    source: str


UCR = "UCR archive 2018 (Dau et al.), DataSummary: 1 − error of DTW (w=100)"
UEA = "UEA archive 2018 (Bagnall et al., arXiv:1811.00075), Table 3: DTW_D"
DATASETS = [
    Dataset("ItalyPowerDemand", "short univariate (24 steps, 67 train)", 1 - 0.050, UCR),
    Dataset("GunPoint", "long univariate (150 steps, 50 train)", 1 - 0.093, UCR),
    Dataset("BasicMotions", "multivariate (6 channels × 100 steps, 40 train)", 0.975, UEA),
    Dataset("JapaneseVowels", "variable-length multivariate (12 channels × 7–29 steps, 270 train)", 0.949, UEA),
]


def data_dir() -> Path:
    """aeon's shipped data folder, found without importing aeon (its imports are heavy)."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "bench/quality_classify.py needs the data files of the 'aeon' package: pip install --no-deps 'aeon>=1.0'"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def read_ts(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """A .ts file's series, each (steps, channels), and their labels."""
    series, labels = [], []
    in_data = False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        values = [[float(v) if v != "?" else np.nan for v in channel.split(",")] for channel in channels]
        series.append(np.array(values, dtype=np.float64).T)
        labels.append(label.strip())
    return series, labels


def write_sorted_csv(path: Path, series, labels, steps: int) -> list[str]:
    """Write one row per sample, sorted by class, time-major columns t0_f0, t0_f1, …; shorter rows end in empty cells."""
    channels = series[0].shape[1]
    order = sorted(range(len(labels)), key=lambda i: (labels[i], i))
    grid = np.full((len(series), steps, channels), np.nan)
    for row, i in enumerate(order):
        grid[row, : len(series[i])] = series[i]
    columns = [f"t{t}_f{c}" for t in range(steps) for c in range(channels)]
    frame = pd.DataFrame(grid.reshape(len(series), -1), columns=columns)
    frame["label"] = [labels[i] for i in order]
    frame.to_csv(path, index=False, float_format="%.6g")
    return columns


def padded(series, steps):
    grid = np.zeros((len(series), steps, series[0].shape[1]))
    for i, s in enumerate(series):
        grid[i, : len(s)] = s
    return grid, np.array([len(s) for s in series])


@dataclass
class Prepared:
    """One set written as CSV files, ready for the CLI."""

    work: Path
    columns: list[str]
    steps: int
    classes: list[str]
    masked: bool


def train_and_evaluate(lstmcli: common.Lstmcli, set_: Prepared, run: str, seed: int, settings: dict) -> dict:
    """define → compile → fit → evaluate through the CLI; evaluate's metrics and fit's record."""
    compile_flags, fit_flags = RUNS[run]
    classes, work = set_.classes, set_.work
    task = ["--task", "binary"] if len(classes) == 2 else ["--task", "multiclass", "--num-classes", len(classes)]
    lstmcli(
        "define",
        *task,
        *("--layout", "samples", "--timesteps", set_.steps, "--features", ",".join(set_.columns)),
        *("--target", "label", *(["--mask"] if set_.masked else []), "--seed", seed),
        *settings["define_args"],
        *("--out", work / "defined.keras"),
    )
    lstmcli("compile", work / "defined.keras", *compile_flags, "--out", work / "compiled.keras")
    clock = common.Clock()
    lstmcli(
        "fit",
        work / "compiled.keras",
        *("--data", work / "train.csv", *fit_flags, "--seed", seed, *settings["fit_args"]),
        *("--verbose", 0, "--out", work / "fitted.keras"),
    )
    fit_seconds = clock.seconds()
    metrics = json.loads(lstmcli("evaluate", work / "fitted.keras", "--data", work / "test.csv", "--json"))
    return {
        "seed": seed,
        "fit_seconds": fit_seconds,
        "metrics": metrics,
        "fit": lstmcli.fit_record(work / "fitted.keras"),
    }


def one_nn_dtw(name: str, train, train_labels, test, test_labels, steps: int, recompute: bool) -> dict:
    """1-NN DTW test accuracy, from the cache unless asked to recompute (or the set's sizes changed)."""
    cache = json.loads(DTW_CACHE.read_text()) if DTW_CACHE.exists() else {}
    key = {"train": len(train), "test": len(test), "steps": steps}
    hit = cache.get(name)
    if hit and not recompute and all(hit.get(k) == v for k, v in key.items()):
        return {**hit, "cached": True}
    clock = common.Clock()
    train_x, train_len = padded(train, steps)
    test_x, test_len = padded(test, steps)
    accuracy = dtw.accuracy_1nn(train_x, train_len, train_labels, test_x, test_len, test_labels)
    cache[name] = {**key, "accuracy": accuracy, "seconds": clock.seconds()}
    common.save(DTW_CACHE, cache)
    return {**cache[name], "cached": False}


def prepare(dataset: Dataset, root: Path, recompute_dtw: bool) -> tuple[Prepared, dict]:
    folder = data_dir() / dataset.name
    train, train_labels = read_ts(folder / f"{dataset.name}_TRAIN.ts")
    test, test_labels = read_ts(folder / f"{dataset.name}_TEST.ts")
    steps = max(len(s) for s in train + test)
    work = root / dataset.name
    work.mkdir()
    columns = write_sorted_csv(work / "train.csv", train, train_labels, steps)
    write_sorted_csv(work / "test.csv", test, test_labels, steps)
    classes = sorted(set(train_labels))
    masked = len({len(s) for s in train + test}) > 1
    entry = {
        **asdict(dataset),
        "train": len(train),
        "test": len(test),
        "classes": classes,
        "dtw": one_nn_dtw(dataset.name, train, train_labels, test, test_labels, steps, recompute_dtw),
        "runs": {},
    }
    return Prepared(work, columns, steps, classes, masked), entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="current", help="Names the results file (e.g. before, after).")
    parser.add_argument("--sets", default=",".join(d.name for d in DATASETS), help="Comma-separated set names.")
    parser.add_argument("--runs", default=",".join(MAIN_RUNS), help="Comma-separated run names, or 'all'.")
    parser.add_argument("--seeds", default="0", help="Comma-separated seeds (default 0).")
    parser.add_argument("--define-args", default="", help="Extra define flags, one string.")
    parser.add_argument("--fit-args", default="", help='Extra flags for every fit, one string: "--ensemble 5".')
    parser.add_argument("--recompute-dtw", action="store_true", help=f"Ignore the cache {DTW_CACHE.name}.")
    parser.add_argument("--lstmcli", type=Path, help="The lstmcli checkout under test (default: this one).")
    parser.add_argument("--out", type=Path, help="Results file (default bench/results/quality_classify_LABEL.json).")
    args = parser.parse_args(argv)
    chosen = [d for d in DATASETS if d.name in args.sets.split(",")]
    runs = list(RUNS) if args.runs == "all" else args.runs.split(",")
    unknown = sorted(set(runs) - set(RUNS)) + sorted(set(args.sets.split(",")) - {d.name for d in DATASETS})
    if unknown:
        raise SystemExit(f"unknown run or set: {', '.join(unknown)}; runs: {', '.join(RUNS)}")
    out = common.results_path("classify", args.label, args.out)
    lstmcli = common.Lstmcli(args.lstmcli)
    settings = {
        "seeds": common.seeds(args.seeds),
        "define_args": common.split_args(args.define_args),
        "fit_args": common.split_args(args.fit_args),
        "runs": {name: {"compile": list(RUNS[name][0]), "fit": list(RUNS[name][1])} for name in runs},
    }
    results = {**common.header("classify", args.label, lstmcli, **settings), "sets": []}
    clock = common.Clock()
    with tempfile.TemporaryDirectory(prefix="quality-classify-") as root:
        prepared = []
        for dataset in chosen:
            set_, entry = prepare(dataset, Path(root), args.recompute_dtw)
            prepared.append(set_)
            results["sets"].append(entry)
        for seed in settings["seeds"]:  # a whole pass per seed: a stopped run keeps whole seeds
            for set_, entry in zip(prepared, results["sets"], strict=True):
                for name in runs:
                    run = train_and_evaluate(lstmcli, set_, name, seed, settings)
                    entry["runs"].setdefault(name, []).append(run)
                    results["wall_seconds"] = clock.seconds()
                    common.save(out, results)
                    print(
                        f"{entry['name']} [{name}] seed {seed}: accuracy {run['metrics']['accuracy']:.3f} "
                        f"(1-NN DTW {entry['dtw']['accuracy']:.3f} here, {entry['published']:.3f} published; "
                        f"fit {run['fit_seconds']:.0f} s)",
                        file=sys.stderr,
                    )
    print(f"{out} ({clock.seconds():.0f} s)")


if __name__ == "__main__":
    main()
