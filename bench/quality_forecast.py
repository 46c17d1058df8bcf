"""Forecast quality on real public series: lstmcli beside naive and seasonal naive, with intervals.

    python bench/quality_forecast.py --label before [--epochs 300] [--seeds 7,8,9] [--only airline,co2]
        [--fit-args "--ensemble 5"] [--define-args "…"] [--lstmcli CHECKOUT] [--intervals 0.8,0.95]
    python bench/quality_render.py bench/results/quality_forecast_before.json [bench/results/quality_forecast_after.json]

Each series is trained on its first ~2/3 and tested on the rest through the command line alone
(subprocesses of `lstmcli` with `--rows`) with the issue's "defaults": the options that describe
the data, `--transform auto` (where the lstmcli under test has it) and `--epochs` (300), nothing
else unless `--define-args` / `--fit-args` add flags. The test part's RMSE is put beside the naive
(last value) and seasonal-naive RMSE that `lstmcli evaluate` reports on exactly the same targets.
Where `lstmcli predict --help` shows `--interval`, evaluate also runs with `--interval` for each
of `--intervals` and the coverage, width and Winkler score it reports are kept per level.
`--seeds 7,8,9` repeats every fit with each seed (define's and fit's) to show run-to-run spread.

Every run goes to bench/results/quality_forecast_<label>.json (rewritten after each run);
bench/quality_render.py turns one or two such files into the before/after tables and goal
checks of bench/QUALITY_FORECAST.md. `--lstmcli CHECKOUT` picks the lstmcli source tree under
test (default: the checkout holding this script); its src/ goes first on PYTHONPATH.

The series come from the `bench` extra (`make quality-forecast` installs it): statsmodels'
datasets (Mauna Loa CO2, sunspots, Nile, euro-area electrical equipment orders, El Niño sea
temperatures) and the CSV files that ship inside aeon (airline passengers, lynx, US consumption
changes), read as files so that aeon's own imports (numba) are not needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality_common as common  # noqa: E402

DEFAULT_SEEDS = "7"


@dataclass
class Series:
    name: str
    kind: str  # what the series shows, for the table
    trend_or_season: bool  # where the goal applies
    index: str
    features: list[str]
    target: list[str]
    timesteps: int
    load: Callable[[], pd.DataFrame]


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


def elec_equip() -> pd.DataFrame:
    from statsmodels.datasets import elec_equip as source

    data = source.load_pandas().data  # euro-area orders index, not seasonally adjusted
    return pd.DataFrame({"month": data.index.strftime("%Y-%m"), "orders": data.iloc[:, 0].to_numpy()})


def elnino() -> pd.DataFrame:
    from statsmodels.datasets import elnino as source

    wide = source.load_pandas().data  # one row a year, one column a month
    long = wide.melt(id_vars="YEAR", var_name="m", value_name="sst")
    long["month"] = pd.to_datetime(long["YEAR"].astype(int).astype(str) + long["m"], format="%Y%b")
    long = long.sort_values("month")
    return pd.DataFrame({"month": long["month"].dt.strftime("%Y-%m"), "sst": long["sst"].to_numpy()})


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
    Series("elec_equip", "monthly, trend + season (orders)", True, "month", ["orders"], ["orders"], 12, elec_equip),
    Series("elnino", "monthly, season + ENSO swings (sea temp.)", True, "month", ["sst"], ["sst"], 12, elnino),
]


def measure(series: Series, folder: Path, lstmcli: common.Lstmcli, seed: int, settings: dict) -> dict:
    """define → compile → fit → evaluate one series with one seed; evaluate's metrics and fit's record."""
    frame = series.load()
    data = folder / f"{series.name}.csv"
    frame.to_csv(data, index=False)
    cut = round(len(frame) * 2 / 3)
    keys = frame[series.index].astype(str).tolist()
    train, test = f":{keys[cut - 1]}", f"{keys[cut]}:"
    stem = folder / f"{series.name}-{seed}"
    define = ["--timesteps", series.timesteps, "--features", ",".join(series.features)]
    define += ["--target", ",".join(series.target), "--index", series.index, "--seed", seed]
    define += ["--transform", "auto"] if settings["transform_auto"] else []
    clock = common.Clock()
    lstmcli("define", *define, *settings["define_args"], "--out", f"{stem}-d.keras")
    lstmcli("compile", f"{stem}-d.keras", "--out", f"{stem}-c.keras")
    fit_clock = common.Clock()
    lstmcli(
        "fit",
        f"{stem}-c.keras",
        *("--data", data, "--rows", train, "--epochs", settings["epochs"], "--seed", seed, "--verbose", 0),
        *settings["fit_args"],
        *("--out", f"{stem}-f.keras"),
    )
    fit_seconds = fit_clock.seconds()
    asked = [arg for level in settings["intervals"] for arg in ("--interval", level)]
    metrics = json.loads(lstmcli("evaluate", f"{stem}-f.keras", "--data", data, "--rows", test, *asked, "--json"))
    return {
        "seed": seed,
        "seconds": clock.seconds(),
        "fit_seconds": fit_seconds,
        "rows": len(frame),
        "train": train,
        "test": test,
        "metrics": metrics,
        "intervals": common.interval_metrics(metrics, settings["intervals"]) if asked else None,
        "fit": lstmcli.fit_record(f"{stem}-f.keras"),
    }


def describe(series: Series) -> dict:
    return {"name": series.name, "kind": series.kind, "trend_or_season": series.trend_or_season, "runs": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="current", help="Names the results file (e.g. before, after).")
    parser.add_argument("--epochs", type=int, default=300, help="Epochs of every fit (default 300).")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS, help=f"Comma-separated seeds (default {DEFAULT_SEEDS}).")
    parser.add_argument("--only", help="Comma-separated series names (default: all).")
    parser.add_argument("--define-args", default="", help='Extra define flags, one string: "--units 16".')
    parser.add_argument("--fit-args", default="", help='Extra fit flags, one string: "--ensemble 5".')
    parser.add_argument(
        "--intervals", default="0.8,0.95", help="Interval levels evaluate is asked for, where predict has --interval."
    )
    parser.add_argument("--lstmcli", type=Path, help="The lstmcli checkout under test (default: this one).")
    parser.add_argument("--out", type=Path, help="Results file (default bench/results/quality_forecast_LABEL.json).")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else [s.name for s in SERIES]
    unknown = sorted(set(names) - {s.name for s in SERIES})
    if unknown:
        raise SystemExit(f"--only: no series {', '.join(unknown)}; known: {', '.join(s.name for s in SERIES)}")
    chosen = [s for s in SERIES if s.name in names]
    out = common.results_path("forecast", args.label, args.out)
    lstmcli = common.Lstmcli(args.lstmcli)
    has_intervals = lstmcli.has_option("predict", "--interval")
    settings = {
        "epochs": args.epochs,
        "seeds": common.seeds(args.seeds),
        "define_args": common.split_args(args.define_args),
        "fit_args": common.split_args(args.fit_args),
        "transform_auto": lstmcli.has_option("define", "--transform"),
        "intervals": [float(v) for v in args.intervals.split(",") if v] if has_intervals else [],
    }
    results = {**common.header("forecast", args.label, lstmcli, **settings), "series": [describe(s) for s in chosen]}
    clock = common.Clock()
    with tempfile.TemporaryDirectory(prefix="lstmcli-quality-") as folder:
        for seed in settings["seeds"]:  # a whole pass per seed: a stopped run keeps whole seeds
            for series, entry in zip(chosen, results["series"], strict=True):
                run = measure(series, Path(folder), lstmcli, seed, settings)
                entry["runs"].append(run)
                results["wall_seconds"] = clock.seconds()
                common.save(out, results)
                m = run["metrics"]
                print(
                    f"{series.name} seed {seed}: model {m['original_rmse']:.4g} naive {m['naive_rmse']:.4g} "
                    f"skill {m['skill']:.3g} ({run['seconds']:.0f} s)"
                    + (f" intervals {json.dumps(run['intervals'])}" if run["intervals"] is not None else ""),
                    file=sys.stderr,
                )
    print(f"{out} ({clock.seconds():.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
