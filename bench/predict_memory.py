"""Peak memory of `lstmcli predict` on a long series: timesteps 200 against timesteps 2.

Windows are gathered from the series a batch at a time inside the graph, so
the window length should cost almost nothing in memory. Each predict runs in a
fresh process whose peak RSS (ru_maxrss) its parent reports. The issue's target:
timesteps=200 uses less than 100 MB more than timesteps=2 on 200,000 rows.

    .venv/bin/python bench/predict_memory.py [--rows 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

# A fresh wrapper runs one lstmcli process as its only child and reports that
# child's peak RSS (the step itself ends with os._exit, so it cannot report).
MEASURE = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "lstmcli", *sys.argv[1:]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def lstmcli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "lstmcli", *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return proc.stdout


def peak_rss_mb(*args: str) -> float:
    proc = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = np.arange(args.rows)
        pd.DataFrame({"y": np.sin(t / 20).astype("float32")}).to_csv(root / "long.csv", index=False)
        pd.DataFrame({"y": np.sin(t[:1000] / 20)}).to_csv(root / "short.csv", index=False)
        peaks = {}
        for steps in (2, 200):
            d, c, f = (str(root / f"{name}{steps}.keras") for name in ("d", "c", "f"))
            lstmcli("define", "--timesteps", str(steps), "--features", "y", "--lstm", "2", "--seed", "0", "--out", d)
            lstmcli("compile", d, "--out", c)
            lstmcli("fit", c, "--data", str(root / "short.csv"), "--epochs", "1", "--verbose", "0", "--out", f)
            peaks[steps] = peak_rss_mb(
                "predict", f, "--data", str(root / "long.csv"), "--out", str(root / f"p{steps}.csv")
            )
            rows = sum(1 for _ in open(root / f"p{steps}.csv")) - 1
            print(f"timesteps {steps:>3}: {rows} predictions, peak RSS {peaks[steps]:.0f} MB")
        extra = peaks[200] - peaks[2]
        verdict = "pass" if extra < 100 else "FAIL"
        print(f"timesteps 200 uses {extra:+.0f} MB against timesteps 2 (target < 100 MB): {verdict}")


if __name__ == "__main__":
    main()
