"""Forecast quality on real public series: lstmcli beside naive and seasonal naive.

    .venv/bin/python bench/quality_forecast.py [--epochs N] [--only airline,co2] [--out FILE]

Each series is trained on its first ~2/3 and tested on the rest through the
command line alone (subprocesses of `lstmcli` with `--rows`), with the options
that describe the data, `--epochs`, and `--transform auto` where the installed
lstmcli has it (`lstmcli define --help` says so); everything else is lstmcli's
default. The test part's RMSE is put beside the naive (last value) and
seasonal-naive RMSE that `lstmcli evaluate` reports on exactly the same
targets, in the same run, and written to bench/QUALITY_FORECAST.md.
`make quality-forecast` runs it. The goal (issue 10): skill = naive RMSE ÷
model RMSE ≥ 1.5 on every series with a trend or a season.

The series come from the `bench` extra (`make quality-forecast` installs it):
statsmodels' datasets (Mauna Loa CO2, sunspots, Nile) and the CSV files that
ship inside aeon (airline passengers, lynx, US consumption changes), read as
files so that aeon's own imports (numba) are not needed.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent / "QUALITY_FORECAST.md"
SEED = 7
GOAL = 1.5


@dataclass
class Series:
    name: str
    kind: str  # what the series shows, for the table
    trend_or_season: bool  # where the goal applies
    index: str
    features: list[str]
    target: list[str]
    timesteps: int
    load: callable


def _aeon_csv(name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec("aeon")
    if spec is None:
        raise SystemExit("aeon is not installed: pip install --no-deps aeon (only its CSV files are read)")
    return pd.read_csv(Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name / f"{name}.csv")


def airline() -> pd.DataFrame:
    return _aeon_csv("Airline").rename(columns={"Date": "month", "Passengers": "passengers"})


def co2() -> pd.DataFrame:
    from statsmodels.datasets import co2 as source

    weekly = source.load_pandas().data
    monthly = weekly.resample("MS").mean().interpolate()  # a few weeks are missing
    return pd.DataFrame({"month": monthly.index.strftime("%Y-%m"), "co2": monthly["co2"].round(2).to_numpy()})


def sunspots() -> pd.DataFrame:
    from statsmodels.datasets import sunspots as source

    data = source.load_pandas().data
    return pd.DataFrame({"year": data["YEAR"].astype(int), "sunspots": data["SUNACTIVITY"]})


def nile() -> pd.DataFrame:
    from statsmodels.datasets import nile as source

    data = source.load_pandas().data
    return pd.DataFrame({"year": data["year"].astype(int), "volume": data["volume"]})


def lynx() -> pd.DataFrame:
    data = _aeon_csv("Lynx")
    return pd.DataFrame({"year": data.iloc[:, 0].astype(int), "lynx": data.iloc[:, 1].astype(float)})


def uschange() -> pd.DataFrame:
    data = _aeon_csv("Uschange")
    data = data.loc[:, [c for c in data.columns if not c.startswith("Unnamed")]]  # the file's own row numbers
    data["Quarter"] = data["Quarter"].str.replace(" ", "", regex=False)  # 1970Q1
    return data.rename(columns=str.lower)


SERIES = [
    Series("airline", "monthly, trend + season", True, "month", ["passengers"], ["passengers"], 12, airline),
    Series("co2", "monthly, smooth trend + season", True, "month", ["co2"], ["co2"], 12, co2),
    Series("sunspots", "yearly, stationary cycle (~11 y)", False, "year", ["sunspots"], ["sunspots"], 12, sunspots),
    Series("nile", "yearly, stationary, short", False, "year", ["volume"], ["volume"], 8, nile),
    Series("lynx", "yearly, short, cycle (~10 y)", False, "year", ["lynx"], ["lynx"], 10, lynx),
    Series(
        "uschange",
        "quarterly, multivariate (5 → consumption)",
        False,
        "quarter",
        ["consumption", "income", "production", "savings", "unemployment"],
        ["consumption"],
        8,
        uschange,
    ),
]


def lstmcli(*args) -> str:
    """Run `lstmcli ARGS…` with this Python; fail loudly with its stderr."""
    run = subprocess.run(
        [sys.executable, "-m", "lstmcli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if run.returncode != 0:
        raise SystemExit(f"lstmcli {' '.join(map(str, args[:2]))} failed ({run.returncode}): {run.stderr.strip()}")
    return run.stdout


def has_transform_auto() -> bool:
    return "--transform" in lstmcli("define", "--help")


def measure(series: Series, folder: Path, epochs: int, transform: bool, fit_options: list[str]) -> dict:
    frame = series.load()
    data = folder / f"{series.name}.csv"
    frame.to_csv(data, index=False)
    cut = round(len(frame) * 2 / 3)
    keys = frame[series.index].astype(str).tolist()
    train, test = f":{keys[cut - 1]}", f"{keys[cut]}:"
    define = [
        "--timesteps",
        series.timesteps,
        "--features",
        ",".join(series.features),
        "--target",
        ",".join(series.target),
        "--index",
        series.index,
        "--seed",
        SEED,
    ]
    if transform:
        define += ["--transform", "auto"]
    started = time.perf_counter()
    lstmcli("define", *define, "--out", folder / f"{series.name}-d.keras")
    lstmcli("compile", folder / f"{series.name}-d.keras", "--out", folder / f"{series.name}-c.keras")
    lstmcli(
        "fit",
        folder / f"{series.name}-c.keras",
        "--data",
        data,
        "--rows",
        train,
        "--epochs",
        epochs,
        "--seed",
        SEED,
        "--verbose",
        0,
        *fit_options,
        "--out",
        folder / f"{series.name}-f.keras",
    )
    metrics = json.loads(
        lstmcli("evaluate", folder / f"{series.name}-f.keras", "--data", data, "--rows", test, "--json")
    )
    return {
        "series": series,
        "rows": len(frame),
        "train": train,
        "test": test,
        "seconds": time.perf_counter() - started,
        **metrics,
    }


def table(results: list[dict]) -> str:
    def number(value) -> str:
        return "—" if value is None else f"{value:.4g}"

    lines = [
        "| series | kind | rows (train / test) | model RMSE | naive RMSE | seasonal naive RMSE (season) | skill | seasonal skill | MASE | goal skill ≥ 1.5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["series"]
        goal = ("met" if r["skill"] >= GOAL else "**not met**") if s.trend_or_season else "n/a (no trend or season)"
        seasonal = f"{number(r.get('seasonal_naive_rmse'))} ({r['season']})" if "season" in r else "— (no season)"
        lines.append(
            f"| {s.name} | {s.kind} | {r['rows']} (`{r['train']}` / `{r['test']}`) | {number(r['original_rmse'])} | "
            f"{number(r['naive_rmse'])} | {seasonal} | {number(r['skill'])} | {number(r.get('seasonal_skill'))} | "
            f"{number(r.get('mase'))} | {goal} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=150, help="Epochs of every fit (default 150).")
    parser.add_argument("--only", help="Comma-separated series names (default: all).")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Where to write the report (default {OUT.name}).")
    parser.add_argument(
        "--fit-option",
        action="append",
        default=[],
        metavar="ARG",
        help="An extra argument for every fit, e.g. --fit-option=--scaling --fit-option=standard (repeatable).",
    )
    args = parser.parse_args(argv)
    chosen = [s for s in SERIES if not args.only or s.name in args.only.split(",")]
    transform = has_transform_auto()
    results = []
    with tempfile.TemporaryDirectory(prefix="lstmcli-quality-") as folder:
        for series in chosen:
            result = measure(series, Path(folder), args.epochs, transform, args.fit_option)
            print(
                f"{series.name}: model {result['original_rmse']:.4g} naive {result['naive_rmse']:.4g} "
                f"skill {result['skill']:.3g} ({result['seconds']:.0f} s)",
                file=sys.stderr,
            )
            results.append(result)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True
    ).stdout.strip()
    goal_series = [r for r in results if r["series"].trend_or_season]
    met = [r for r in goal_series if r["skill"] >= GOAL]
    report = "\n".join(
        [
            "# Forecast quality on real series",
            "",
            f"Written by `bench/quality_forecast.py` on {datetime.date.today()}, lstmcli at {commit}, Python "
            f"{platform.python_version()}, {os.cpu_count()} CPUs. Every series: its first ~2/3 of rows trains "
            f"(`fit --rows`), the rest tests (`evaluate --rows`, which takes each window's context from before), "
            f"one step ahead, seed {SEED}, default options plus `--epochs {args.epochs}`"
            + (f" and `{' '.join(args.fit_option)}`" if args.fit_option else "")
            + (" and `--transform auto`" if transform else " (this lstmcli has no `--transform` yet)")
            + ". "
            "Naive and seasonal naive are `evaluate`'s own baselines on the same targets, in the data's units; "
            "skill = naive RMSE ÷ model RMSE (> 1: the model beats tomorrow = today).",
            "",
            table(results),
            "",
            f"Goal met on {len(met)} of the {len(goal_series)} series with a trend or a season.",
            "",
        ]
    )
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
