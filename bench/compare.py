"""Before and after in one run: `bench/run.py` on two commits, alternating, and the ratio of their medians.

    .venv/bin/python bench/compare.py BASE [--head REF] [--rounds 3] [--only W1,W2,W4]

Both commits are checked out into temporary worktrees (the working tree is not touched), and
each round runs `bench/run.py --reps 1` on BASE, then on HEAD, every measurement in fresh
processes with the same Python and virtual environment (`PYTHONPATH` picks each commit's
source). A busy machine slows both sides alike, so the ratio HEAD ÷ BASE of the lstmcli
medians is what to read; each side's own ratio to plain Keras is shown too. Writes
bench/COMPARE.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "COMPARE.md"
ROW = re.compile(r"^\| (W\d[^|]*?) \| ([^|]*) \| ([^|]*) \| ([\d.]+)× \|")


def number(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def run_once(tree: Path, only: str) -> dict[str, tuple[float, float]]:
    """One `bench/run.py --reps 1` in `tree`: {row: (lstmcli's median, ratio to plain)}."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(
        [sys.executable, "bench/run.py", "--only", only, "--reps", "1"], cwd=tree, env=env, capture_output=True
    )
    rows = {}
    for line in (tree / "bench" / "RESULTS.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1).strip()] = (number(match.group(3)), float(match.group(4)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="The commit to compare against (a ref or sha).")
    parser.add_argument("--head", default="HEAD", help="The commit measured against it. Defaults to HEAD.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds; each runs both sides once.")
    parser.add_argument("--only", default="W1,W2,W4", help="Workloads, as bench/run.py --only takes them.")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="lstmcli-compare-") as scratch:
        trees = {side: Path(scratch) / side for side in runs}
        for side, ref in (("base", args.base), ("head", args.head)):
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(trees[side]), ref], cwd=REPO, check=True)
        try:
            for round_ in range(args.rounds):
                for side in runs:
                    print(f"round {round_ + 1}/{args.rounds}: {side}", file=sys.stderr)
                    runs[side].append(run_once(trees[side], args.only))
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
    OUT.write_text(report(args, runs), encoding="utf-8")
    print(OUT.read_text())
    return 0


def report(args, runs: dict[str, list[dict]]) -> str:
    sha = {
        side: subprocess.run(
            ["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        for side, ref in (("base", args.base), ("head", args.head))
    }
    lines = [
        "# Before and after",
        "",
        f"`bench/compare.py {args.base} --head {args.head} --rounds {args.rounds} --only {args.only}`: base {sha['base']}, "
        f"head {sha['head']}, {os.cpu_count()} CPUs, the sides alternating. Medians over the rounds; below 1 is faster "
        "for times, above 1 is faster for rates (samples/s); the losses should agree exactly.",
        "",
        "| Row | base (lstmcli) | head (lstmcli) | head ÷ base | base ÷ plain | head ÷ plain |",
        "|---|---|---|---|---|---|",
    ]
    for name in runs["base"][0]:
        base = [r[name] for r in runs["base"] if name in r]
        head = [r[name] for r in runs["head"] if name in r]
        b, h = statistics.median(v for v, _ in base), statistics.median(v for v, _ in head)
        lines.append(
            f"| {name} | {b:.4g} | {h:.4g} | {h / b:.3f} | {statistics.median(r for _, r in base):.3f}× | "
            f"{statistics.median(r for _, r in head):.3f}× |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
