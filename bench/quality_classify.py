"""Classification quality on public time-series sets, trained through the CLI alone.

For each set (short univariate, long univariate, multivariate, variable-length;
the small UCR/UEA archive sets that the `aeon` package ships as files) this
writes the train and test parts as CSV files sorted by class, as the archive
publishes them, then runs `lstmcli define / compile / fit / evaluate` as
subprocesses, exactly as a user would. Each set is trained twice:

- "issue": `--validation-split 0.2 --early-stopping 30 --epochs 300 --seed 0`;
- "defaults": `--epochs 300 --seed 0` and nothing else (does a user who gives
  only the data description and an epoch count get a model that learns?);
- with `--runs all`, also the candidate defaults in RUNS, each added to "issue".

Beside each accuracy stand two baselines: 1-NN DTW computed here in the same
run (bench/dtw.py) and the archive's published 1-NN DTW accuracy, and the
majority class that `evaluate` reports. The table goes to bench/QUALITY_CLASSIFY.md.

Needs aeon's data files: `make quality-classify` installs aeon with
`--no-deps` (its own pins would move pandas); aeon itself is never imported.

    python bench/quality_classify.py [--sets GunPoint,...] [--runs all] [--out bench/QUALITY_CLASSIFY.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dtw  # noqa: E402

HERE = Path(__file__).resolve().parent
ISSUE_FLAGS = ("--validation-split", "0.2", "--early-stopping", "30", "--epochs", "300", "--seed", "0")
DEFAULT_FLAGS = ("--epochs", "300", "--seed", "0")
# name: (compile flags, fit flags). The first two are the benchmark; the rest
# measure candidate defaults against "issue": no scaling (the default before
# scaling moved into the graph), a larger learning rate, an LR schedule.
RUNS = {
    "issue": ((), ISSUE_FLAGS),
    "defaults": ((), DEFAULT_FLAGS),
    "issue + scaling none": ((), (*ISSUE_FLAGS, "--scaling", "none")),
    "issue + lr 0.01": (("--learning-rate", "0.01"), ISSUE_FLAGS),
    "issue + reduce-lr 10": ((), (*ISSUE_FLAGS, "--reduce-lr-on-plateau", "10")),
}
MAIN_RUNS = ("issue", "defaults")


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


def lstmcli(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lstmcli", *map(str, args)]
    env = {**os.environ, "NO_COLOR": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(map(str, command[2:6]))} … failed ({done.returncode}): {done.stderr.strip()[-600:]}"
        )
    return done


def train_and_evaluate(work: Path, columns, steps, classes, masked, compile_flags, fit_flags) -> dict:
    """define → compile → fit → evaluate through the CLI; returns evaluate's metrics and fit's summary."""
    task = ["--task", "binary"] if len(classes) == 2 else ["--task", "multiclass", "--num-classes", len(classes)]
    lstmcli(
        "define",
        *task,
        "--layout",
        "samples",
        "--timesteps",
        steps,
        "--features",
        ",".join(columns),
        "--target",
        "label",
        *(["--mask"] if masked else []),
        "--seed",
        0,
        "--out",
        work / "defined.keras",
    )
    lstmcli("compile", work / "defined.keras", *compile_flags, "--out", work / "compiled.keras")
    started = time.perf_counter()
    lstmcli(
        "fit",
        work / "compiled.keras",
        "--data",
        work / "train.csv",
        *fit_flags,
        "--verbose",
        0,
        "--out",
        work / "fitted.keras",
    )
    seconds = time.perf_counter() - started
    metrics = json.loads(lstmcli("evaluate", work / "fitted.keras", "--data", work / "test.csv", "--json").stdout)
    from lstmcli.model.artifact import read_record

    fit = read_record(work / "fitted.keras").fit
    return {**metrics, "fit_seconds": seconds, "epochs": fit["epochs"], "restored_epoch": fit.get("restored_epoch")}


def run_set(dataset: Dataset, root: Path, runs: list[str]) -> dict:
    folder = data_dir() / dataset.name
    train, train_labels = read_ts(folder / f"{dataset.name}_TRAIN.ts")
    test, test_labels = read_ts(folder / f"{dataset.name}_TEST.ts")
    steps = max(len(s) for s in train + test)
    masked = len({len(s) for s in train + test}) > 1
    work = root / dataset.name
    work.mkdir()
    columns = write_sorted_csv(work / "train.csv", train, train_labels, steps)
    write_sorted_csv(work / "test.csv", test, test_labels, steps)
    started = time.perf_counter()
    train_x, train_len = padded(train, steps)
    test_x, test_len = padded(test, steps)
    dtw_accuracy = dtw.accuracy_1nn(train_x, train_len, train_labels, test_x, test_len, test_labels)
    result = {
        "set": dataset,
        "train": len(train),
        "test": len(test),
        "classes": sorted(set(train_labels)),
        "dtw": dtw_accuracy,
        "dtw_seconds": time.perf_counter() - started,
        "runs": {},
    }
    for name in runs:
        result["runs"][name] = train_and_evaluate(work, columns, steps, result["classes"], masked, *RUNS[name])
        print(
            f"{dataset.name} [{name}]: accuracy {result['runs'][name]['accuracy']:.3f} "
            f"(1-NN DTW {dtw_accuracy:.3f} here, {dataset.published:.3f} published)",
            file=sys.stderr,
        )
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| set | shape | run | accuracy | majority class | 1-NN DTW (this run) | 1-NN DTW (published) | accuracy ÷ DTW (this run) | goal ≥ DTW | epochs (kept) | fit s |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        for name, run in r["runs"].items():
            goal = min(r["dtw"], r["set"].published)
            kept = f"{run['epochs']} ({run['restored_epoch']})" if run["restored_epoch"] else f"{run['epochs']}"
            lines.append(
                f"| {r['set'].name} | {r['set'].shape} | {name} | {run['accuracy']:.3f} | {run['majority_accuracy']:.3f} | "
                f"{r['dtw']:.3f} | {r['set'].published:.3f} | {run['accuracy'] / r['dtw']:.2f} | "
                f"{'met' if run['accuracy'] >= goal else 'not met'} | {kept} | {run['fit_seconds']:.0f} |"
            )
    return "\n".join(lines)


def recalls(results: list[dict]) -> str:
    lines = []
    for r in results:
        for name, run in r["runs"].items():
            shown = ", ".join(f"{k.removeprefix('recall_')} {v:.2f}" for k, v in run.items() if k.startswith("recall_"))
            lines.append(f"- {r['set'].name} [{name}]: {shown}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(d.name for d in DATASETS), help="Comma-separated set names.")
    parser.add_argument("--runs", default=",".join(MAIN_RUNS), help="Comma-separated run names, or 'all'.")
    parser.add_argument("--out", type=Path, default=HERE / "QUALITY_CLASSIFY.md")
    args = parser.parse_args(argv)
    chosen = [d for d in DATASETS if d.name in args.sets.split(",")]
    runs = list(RUNS) if args.runs == "all" else args.runs.split(",")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quality-classify-") as root:
        results = [run_set(d, Path(root), runs) for d in chosen]
    sources = sorted({d.source for d in chosen})
    text = (
        "# Classification quality: lstmcli on public time-series sets\n\n"
        f"Written by `bench/quality_classify.py` (`make quality-classify`) in {time.perf_counter() - started:.0f} s "
        f"on {os.cpu_count()} CPU(s). Files sorted by class; every model trained through the CLI alone "
        "(define, compile, fit, evaluate as subprocesses), default architecture (one LSTM of 32 units), "
        "default optimizer (adam), default scaling (standard, per feature channel, in the graph). Accuracy is on the archive's test split.\n\n"
        "Runs (compile flags; fit flags):\n\n"
        + "\n".join(f"- {name}: `{' '.join(RUNS[name][0]) or '-'}`; `{' '.join(RUNS[name][1])}`" for name in runs)
        + "\n\n"
        + table(results)
        + "\n\n1-NN DTW (this run): full-window DTW, dependent (DTW_D) for several channels, true lengths for "
        "variable-length series, computed by `bench/dtw.py` in the same run. Published figures:\n\n"
        + "\n".join(f"- {s}" for s in sources)
        + "\n\nPer-class recall on the test split (from `evaluate --json`):\n\n"
        + recalls(results)
        + "\n"
    )
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
