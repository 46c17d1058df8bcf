"""What `fit --ensemble 5` costs and buys against one model, on the Mauna Loa CO2 series (README's recipe).

The README's forecasting walkthrough (`data/co2_monthly.csv`: 24 months in, the next 12 out,
`--transform auto`, trained up to December 1989, tested from January 1990) is fitted through the
CLI, as a user would, with `--ensemble 1` and `--ensemble 5`, `--repeats` times each with
disjoint seeds: the single fit of repeat r uses seed 1+5r, the ensemble seeds 1+5r … 5+5r, so the
single fit is the ensemble's member 1 and the two columns differ by the four other members alone.
For each fit it reports the wall time of the `lstmcli fit` process, the training seconds fit
recorded (for an ensemble, the members' summed) and evaluate's test RMSE in ppm, then the means,
the run-to-run spread (standard deviation over the repeats) and the ratios.

Last, it checks the promise an ensemble keeps: plain `keras.saving.load_model` of the ensemble
artifact, in a fresh interpreter that never imports lstmcli, predicts what `lstmcli predict` writes
(relative 1e-5: the predictions are near 350 ppm, where float32 holds about 7 digits).

    python bench/ensemble_cost.py [--epochs 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "co2_monthly.csv"
DEFINE = ("--timesteps", 24, "--horizon", 12, "--features", "co2", "--index", "month", "--transform", "auto")
TRAIN, TEST = ":1989-12", "1990-01:"
MEMBERS = 5

# Plain Keras on the raw windows, in a process without lstmcli: window i is rows i … i+R−1 for
# every i whose 12 targets lie in the file, as `lstmcli predict --wide` writes them.
FRESH = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, pandas as pd, keras
model_path, data, horizon = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = keras.saving.load_model(model_path)
rows = model.input_shape[1]
x = pd.read_csv(data)[["co2"]].to_numpy(np.float32)
windows = np.stack([x[i:i + rows] for i in range(len(x) - rows - horizon + 1)])
print(json.dumps({"lstmcli_imported": "lstmcli" in sys.modules, "predictions": model.predict(windows, verbose=0).tolist()}))
"""


def environment() -> dict:
    """This Python's environment, with the repository's sources first (a checkout need not be installed)."""
    path = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}


def lstmcli(*args) -> tuple[str, float]:
    """Run `lstmcli ARGS…` with this Python; its stdout and wall seconds. Fails loudly with its stderr."""
    began = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "lstmcli", *map(str, args)], capture_output=True, text=True, env=environment()
    )
    if run.returncode != 0:
        raise SystemExit(f"lstmcli {' '.join(map(str, args[:2]))} failed ({run.returncode}): {run.stderr.strip()}")
    return run.stdout, time.perf_counter() - began


def fitted(compiled: Path, out: Path, seed: int, members: int, epochs: int) -> dict:
    """Fit, inspect and evaluate one model: wall and training seconds, test RMSE."""
    _, wall = lstmcli(
        "fit", compiled, "--data", DATA, "--rows", TRAIN, "--epochs", epochs, "--seed", seed,
        "--ensemble", members, "--verbose", 0, "--out", out,
    )  # fmt: skip
    fit = json.loads(lstmcli("inspect", out, "--json")[0])["fit"]
    metrics = json.loads(lstmcli("evaluate", out, "--data", DATA, "--rows", TEST, "--json")[0])
    trained = fit["ensemble"]["seconds"] if members > 1 else fit["seconds"]
    return {"wall": wall, "trained": trained, "rmse": metrics["original_rmse"], "naive": metrics["naive_rmse"]}


def agrees(model: Path) -> tuple[bool, float]:
    """Whether plain Keras in a fresh interpreter predicts what `lstmcli predict --wide` writes; the largest relative gap."""
    wide = pd.read_csv(io.StringIO(lstmcli("predict", model, "--data", DATA, "--wide")[0]))
    expected = wide.drop(columns="month").to_numpy(np.float64)
    run = subprocess.run(
        [sys.executable, "-c", FRESH, str(model), str(DATA), "12"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if run.returncode != 0:
        raise SystemExit(f"plain Keras failed: {run.stderr.strip()[-2000:]}")
    got = json.loads(run.stdout.strip().splitlines()[-1])
    plain = np.asarray(got["predictions"], dtype=np.float64)
    gap = float(np.max(np.abs(plain - expected) / np.abs(expected)))
    return (not got["lstmcli_imported"]) and plain.shape == expected.shape and gap <= 1e-5, gap


def table(results: dict[int, list[dict]]) -> list[str]:
    lines = [
        "| fit | test RMSE by repeat (ppm) | mean | spread (sd) | `fit` process (s) | training (s) |",
        "|---|---|---|---|---|---|",
    ]
    for members, runs in results.items():
        rmse = [r["rmse"] for r in runs]
        spread = statistics.stdev(rmse) if len(rmse) > 1 else float("nan")
        lines.append(
            f"| --ensemble {members} | {', '.join(f'{v:.3f}' for v in rmse)} | {statistics.mean(rmse):.3f} | "
            f"{spread:.3f} | {statistics.mean(r['wall'] for r in runs):.1f} | "
            f"{statistics.mean(r['trained'] for r in runs):.1f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs of every fit and member (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="fits of each kind, with disjoint seeds (default 3)")
    args = parser.parse_args(argv)
    results: dict[int, list[dict]] = {1: [], MEMBERS: []}
    with tempfile.TemporaryDirectory(prefix="ensemble-cost-") as scratch:
        root = Path(scratch)
        lstmcli("define", *DEFINE, "--seed", 1, "--out", root / "d.keras")
        lstmcli("compile", root / "d.keras", "--out", root / "c.keras")
        for repeat in range(args.repeats):
            seed = 1 + MEMBERS * repeat
            for members in results:
                out = root / f"n{members}-r{repeat}.keras"
                results[members].append(fitted(root / "c.keras", out, seed, members, args.epochs))
        ok, gap = agrees(root / f"n{MEMBERS}-r0.keras")
    one, many = results[1], results[MEMBERS]
    print(f"CO2, {args.epochs} epochs, {args.repeats} repeats; naive test RMSE {one[0]['naive']:.3f} ppm\n")
    print("\n".join(table(results)))
    mean = statistics.mean
    print(
        f"\n--ensemble {MEMBERS} vs 1: test RMSE ×{mean(r['rmse'] for r in many) / mean(r['rmse'] for r in one):.3f}, "
        f"fit process time ×{mean(r['wall'] for r in many) / mean(r['wall'] for r in one):.2f}, "
        f"training time ×{mean(r['trained'] for r in many) / mean(r['trained'] for r in one):.2f}"
    )
    print(f"plain keras.saving.load_model predicts what lstmcli predict writes: {ok} (largest relative gap {gap:.1e})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
