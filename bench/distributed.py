"""fit --strategy mirrored over 2 logical CPUs against the default strategy, in the same run.

    .venv/bin/python bench/distributed.py [--windows 4000] [--epochs 2] [--reps 3]

Both sides are W2's lstmcli side (`lstmcli_forecast.py fit`: LSTM(32) over 30
timesteps, adam/mse, batch 32, unshuffled, seed 7), each in a fresh process,
alternating default, mirrored, default, mirrored, … so a busy machine slows
both alike. Mirrored splits each global batch of 32 over two logical CPU
devices of one machine (`--devices 2`) and all-reduces the gradients; on a
machine with few cores no speed-up is expected: this measures what the path
costs, and checks that it trains the same (per-epoch losses within 1e-5).
At this size the default side compiles its step with XLA (training.use_xla)
and the mirrored side cannot (no collectives under XLA on CPU), so the ratio
includes that difference.
Prints a markdown table: median samples/s of each side and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import write_series
from workloads import child, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--windows", type=int, default=4000, help="Training windows (a multiple of 64 splits every batch evenly)."
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    sides = {
        "default": ["--strategy", "default"],
        "mirrored, 2 logical CPUs": ["--strategy", "mirrored", "--devices", "2"],
    }
    results: dict[str, list[dict]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as scratch:
        data = write_series(Path(scratch) / "series.csv", args.windows)
        for rep in range(args.reps):
            for name, flags in sides.items():
                workdir = Path(tempfile.mkdtemp(dir=scratch))
                result = child("lstmcli_forecast.py", "fit", data, workdir, "--epochs", str(args.epochs), *flags)
                log(f"rep {rep + 1} {name}: {result['samples_per_s']:.0f} samples/s, {result['replicas']} replica(s)")
                results[name].append(result)
    (base, base_runs), (mirrored, mirrored_runs) = results.items()
    rate = {name: statistics.median(r["samples_per_s"] for r in runs) for name, runs in results.items()}
    worst = max(abs(a - b) / abs(b) for m, d in zip(mirrored_runs, base_runs) for a, b in zip(m["losses"], d["losses"]))
    print(f"| strategy | replicas | samples/s (median of {args.reps}) | ratio to default |")
    print("|---|---|---|---|")
    for name, runs in results.items():
        print(f"| {name} | {runs[0]['replicas']} | {rate[name]:.0f} | {rate[name] / rate[base]:.2f} |")
    print(
        f"\n{args.windows:,} windows × 30 timesteps, batch 32, {args.epochs} epochs; largest relative "
        f"difference between the two sides' per-epoch losses: {worst:.1e}; default uses XLA, mirrored does not"
    )
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
