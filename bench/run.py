"""lstmcli's benchmark: each workload done by plain Keras and by lstmcli, in the same run.

    .venv/bin/python bench/run.py [--reps N] [--only W1,W3] [--quick]

Runs the workloads of `workloads.py`, alternating the two sides over the
repetitions, and writes the medians, their ratio and each target to
bench/RESULTS.md. `make bench` runs it with the defaults. Exits 1 if a target
is missed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from report import results_table
from warmstarts import warm_starts
from workloads import FULL, LSTMCLI, QUICK, Bench, Outcome, log
from workloads import WORKLOADS as STEPS

WORKLOADS = {**STEPS, "W6": warm_starts}  # W6 uses the others' helpers, so it lives in its own module

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, help="Repetitions of each side (default 3, or 1 with --quick).")
    parser.add_argument("--only", help="Comma-separated workloads to run, e.g. W1,W3 (default: all).")
    parser.add_argument("--quick", action="store_true", help="A smoke run: one repetition and smaller data.")
    args = parser.parse_args(argv)
    args.reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    names = [name.strip().upper() for name in args.only.split(",")] if args.only else list(WORKLOADS)
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    args.names = names
    return args


def source_version() -> str:
    """The commit lstmcli's source is at, and whether src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes in src/" if git("status", "--porcelain", "--", "src") else "")


def environment(args: argparse.Namespace, load: float) -> str:
    """The lines saying where, when and how the numbers were taken, as of the run's start."""
    mode = "quick mode (smoke run, smaller data; not for comparison)" if args.quick else "full sizes"
    return "\n".join(
        [
            f"- Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
            f"- Machine: {os.cpu_count()} CPUs (os.cpu_count()), {platform.machine()}, {platform.system()}; "
            f"load average {load:.2f} at start",
            f"- Python {platform.python_version()}, TensorFlow {version('tensorflow')}, Keras {version('keras')}, "
            f"lstmcli {version('lstmcli')} at commit {source_version()}",
            f"- Run: `bench/run.py --reps {args.reps}{' --quick' if args.quick else ''} --only {','.join(args.names)}`: "
            f"{mode}; each value is the median of {args.reps} repetition(s), the two sides alternating, "
            "every measurement in its own process",
        ]
    )


def render(setting: str, outcomes: list[Outcome], seconds: float) -> str:
    """RESULTS.md: the setting, the table, then what each workload measured."""
    rows = [row for outcome in outcomes for row in outcome.rows]
    passed = sum(row.passed for row in rows)
    parts = [
        "# Benchmark results",
        setting,
        results_table(rows),
        f"{passed} of {len(rows)} targets met; the run took {seconds / 60:.1f} min. "
        "Ratio = lstmcli ÷ plain: below 1 is faster for times, above 1 is faster for rates.",
        "## What each workload measured",
        *(outcome.note for outcome in outcomes),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(LSTMCLI).is_file():
        sys.exit(f"no {LSTMCLI}: run the benchmark with the Python lstmcli is installed in (make bench)")
    setting = environment(args, os.getloadavg()[0])
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lstmcli-bench-") as workdir:
        bench = Bench(Path(workdir), args.reps, QUICK if args.quick else FULL)
        outcomes = [WORKLOADS[name](bench) for name in args.names]
    text = render(setting, outcomes, time.perf_counter() - started)
    RESULTS.write_text(text, encoding="utf-8")
    log(f"\n{text}\nwritten to {RESULTS}")
    return 0 if all(row.passed for outcome in outcomes for row in outcome.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
