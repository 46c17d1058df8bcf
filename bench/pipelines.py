"""Pipelines and CI, timed against their baselines in the same run (issue 14).

Three measurements, each a ratio of wall times of fresh processes, the sides
alternating so a busy machine slows both alike, the median of `--reps`:

- inspect: `lstmcli inspect MODEL` (no layer table) against `python -c "import keras"`.
  Target < 0.25×.
- smoke: the classic pipeline (define, compile, fit, evaluate, predict: five
  processes, configs/sequence.toml) with LSTMCLI_SMOKE=1, against the import
  floor: five `lstmcli --version` processes that import TensorFlow the way
  every step does (`load_tensorflow`, then `main(["--version"])`, which ends
  with the same `os._exit` a step does). Target < 1.5×.
- run: `lstmcli run --config configs/sequence.toml` (one process) against
  `plain_classic.py` (the same example as one plain Keras script) and against
  the five processes of `make demo` (the Makefile's five recipes, run
  directly). Target ≤ 0.25× the plain script.

Usage: python bench/pipelines.py [--reps 3] [--only inspect,smoke,run] [--out bench/PIPELINES.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONFIG = REPO / "configs" / "sequence.toml"
ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
}
IMPORT_KERAS = [sys.executable, "-c", "import keras"]
VERSION_WITH_TF = [
    sys.executable,
    "-c",
    "from lstmcli.quiet import load_tensorflow; load_tensorflow(); from lstmcli.cli import main; main(['--version'])",
]


def lstmcli(*args) -> list[str]:
    return [sys.executable, "-m", "lstmcli", *map(str, args)]


def timed(commands: list[list[str]], env=None, cwd=None) -> float:
    """Wall seconds of running `commands` one after another, each in a fresh process."""
    start = time.perf_counter()
    for command in commands:
        proc = subprocess.run(command, env=env or ENV, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr}")
    return time.perf_counter() - start


def pipeline(root: Path) -> list[list[str]]:
    """The classic example as five commands, as `make demo` runs them."""
    d, c, f = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    return [
        lstmcli("define", "--config", CONFIG, "--out", d),
        lstmcli("compile", d, "--config", CONFIG, "--out", c),
        lstmcli("fit", c, "--config", CONFIG, "--out", f),
        lstmcli("evaluate", f, "--config", CONFIG, "--out", root / "metrics.txt"),
        lstmcli("predict", f, "--config", CONFIG, "--out", root / "predictions.csv"),
    ]


def alternate(reps: int, sides: dict) -> dict[str, float]:
    """The median wall time of each side, the sides alternating rep by rep."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(reps):
        for name, measure in sides.items():
            times[name].append(measure())
    return {name: statistics.median(values) for name, values in times.items()}


def measure_inspect(reps: int, tmp: Path) -> list[tuple]:
    model = tmp / "inspect" / "fitted.keras"
    timed(pipeline(model.parent)[:3])
    inspect = lstmcli("inspect", model)
    medians = alternate(reps, {"keras": lambda: timed([IMPORT_KERAS]), "inspect": lambda: timed([inspect])})
    return [
        (
            '`lstmcli inspect MODEL` vs `python -c "import keras"`',
            medians["keras"],
            medians["inspect"],
            "< 0.25×",
            0.25,
            True,
        )
    ]


def measure_smoke(reps: int, tmp: Path) -> list[tuple]:
    smoke_env = {**ENV, "LSTMCLI_SMOKE": "1"}
    count = iter(range(10**6))
    medians = alternate(
        reps,
        {
            "floor": lambda: timed([VERSION_WITH_TF] * 5),
            "smoke": lambda: timed(pipeline(tmp / f"smoke{next(count)}"), env=smoke_env),
        },
    )
    return [
        (
            "smoke pipeline (5 processes, LSTMCLI_SMOKE=1) vs 5 `lstmcli --version` importing TensorFlow",
            medians["floor"],
            medians["smoke"],
            "< 1.5×",
            1.5,
            True,
        )
    ]


def measure_run(reps: int, tmp: Path) -> list[tuple]:
    count = iter(range(10**6))
    medians = alternate(
        reps,
        {
            "plain": lambda: timed([[sys.executable, str(BENCH / "plain_classic.py")]], cwd=BENCH),
            "run": lambda: timed([lstmcli("run", "--config", CONFIG, "--workdir", tmp / f"run{next(count)}")]),
            "demo": lambda: timed(pipeline(tmp / f"demo{next(count)}")),
        },
    )
    return [
        (
            "`lstmcli run` (classic, 1,000 epochs) vs `plain_classic.py`",
            medians["plain"],
            medians["run"],
            "≤ 0.25×",
            0.25,
            False,
        ),
        ("`lstmcli run` vs `make demo`'s five processes", medians["demo"], medians["run"], "—", None, False),
    ]


MEASURES = {"inspect": measure_inspect, "smoke": measure_smoke, "run": measure_run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=",".join(MEASURES))
    parser.add_argument("--out", type=Path, default=BENCH / "PIPELINES.md")
    args = parser.parse_args(argv)
    started = time.time()
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            rows += MEASURES[name](args.reps, Path(tmp))
    lines = [
        "# Pipelines and CI: timings",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}; {os.cpu_count()} CPUs; load average {load:.2f} at start",
        f"- Run: `bench/pipelines.py --reps {args.reps} --only {args.only}`; each value is the median of {args.reps}, "
        "the sides alternating, every command a fresh process",
        "",
        "| Measurement | Baseline (median) | lstmcli (median) | Ratio | Target | Result |",
        "|---|---|---|---|---|---|",
    ]
    failed = 0
    for label, base, ours, target, bound, strict in rows:
        ratio = ours / base
        verdict = "—" if bound is None else ("pass" if (ratio < bound if strict else ratio <= bound) else "miss")
        failed += verdict == "miss"
        lines.append(f"| {label} | {base:.2f} s | {ours:.2f} s | {ratio:.3f}× | {target} | {verdict} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    sys.stdout.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
