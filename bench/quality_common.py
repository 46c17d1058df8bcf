"""What the quality benches share: running a chosen lstmcli checkout, reading its JSON, and the spread of seeds.

`Lstmcli(tree)` runs `python -m lstmcli` from the checkout `tree` (its `src` goes first on
PYTHONPATH of every subprocess, the warm server is off) and checks once that the package it
imports is that checkout's: the benches measure the code under test, not whatever the venv's
console script points at. Results go to bench/results/quality_<kind>_<label>.json, written
again after every run so that a stopped bench keeps what it measured.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
INTERVAL_KINDS = ("coverage", "width", "winkler")


class Lstmcli:
    """`python -m lstmcli` run from one checkout (a folder holding src/lstmcli)."""

    def __init__(self, tree: Path | None = None):
        self.tree = (tree or HERE.parent).resolve()
        if not (self.tree / "src" / "lstmcli" / "__init__.py").exists():
            raise SystemExit(f"--lstmcli {self.tree}: no src/lstmcli there; give the root of an lstmcli checkout")
        paths = [str(self.tree / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths),
            "LSTMCLI_SERVER": "off",  # a warm server may run another checkout's code
            "NO_COLOR": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        imported = self._python("import lstmcli; print(lstmcli.__file__)").strip()
        if not Path(imported).resolve().is_relative_to(self.tree):
            raise SystemExit(f"lstmcli imports from {imported}, not from {self.tree}/src")

    def _python(self, code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise SystemExit(done.stderr.strip()[-600:])
        return done.stdout

    def __call__(self, *args) -> str:
        """Run `lstmcli ARGS…`; fail loudly with the end of its stderr."""
        command = [sys.executable, "-m", "lstmcli", *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            shown = " ".join(map(str, args[:2]))
            raise SystemExit(f"lstmcli {shown} … failed ({done.returncode}): {done.stderr.strip()[-600:]}")
        return done.stdout

    def has_option(self, command: str, option: str) -> bool:
        return re.search(rf"{re.escape(option)}\b", self(command, "--help")) is not None

    def fit_record(self, artifact: Path) -> dict:
        """The `fit` part of `inspect --json` (what fit did and why), without the history."""
        return json.loads(self("inspect", artifact, "--json")).get("fit") or {}

    def describe(self) -> dict:
        def git(*args) -> str:
            done = subprocess.run(["git", *args], cwd=self.tree, capture_output=True, text=True)
            return done.stdout.strip()

        return {
            "tree": str(self.tree),
            "commit": git("rev-parse", "--short", "HEAD"),
            "src_commit": git("log", "-1", "--format=%h", "--", "src"),  # the last commit that changed the code
            "dirty": bool(git("status", "--porcelain", "--", "src")),
        }


def split_args(text: str | None) -> list[str]:
    """'--guard none --ensemble 5' → ['--guard', 'none', '--ensemble', '5']."""
    return shlex.split(text) if text else []


def seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"--seeds {text!r}: give whole numbers separated by commas, e.g. 7,8,9") from None


def header(kind: str, label: str, lstmcli: Lstmcli, **settings) -> dict:
    """The facts a results file starts with: what ran, where, on which code."""
    bench = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
    return {
        "kind": kind,
        "label": label,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "lstmcli": lstmcli.describe(),
        "bench_commit": bench.stdout.strip(),
        "bench_dirty": bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", ".", ":!results"], cwd=HERE, capture_output=True, text=True
            ).stdout.strip()
        ),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_at_start": round(os.getloadavg()[0], 2),
        **settings,
    }


def results_path(kind: str, label: str, out: Path | None) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        raise SystemExit(f"--label {label!r}: use letters, digits, '.', '_' or '-' (it names the results file)")
    return out or RESULTS / f"quality_{kind}_{label}.json"


def save(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


def _flatten(value, prefix: str = "") -> dict:
    """Nested JSON to {'a_b_c': leaf}; a list of dicts with a 'level' key is keyed by that level."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}_{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value):
            level = item.get("level", i)
            out.update(_flatten({k: v for k, v in item.items() if k != "level"}, f"{prefix}_{level}"))
        return out
    return {prefix: value}


def _level_of(key: str, levels: list[float]) -> float | None:
    """The interval level a metric name speaks of: coverage_80, coverage_0.8, interval_95_width, …"""
    for number in re.findall(r"\d+(?:\.\d+)?", key):
        value = float(number)
        value = value / 100 if value > 1 else value
        for level in levels:
            if math.isclose(value, level, abs_tol=1e-9):
                return level
    return levels[0] if len(levels) == 1 else None


def interval_metrics(metrics: dict, levels: list[float]) -> dict:
    """{'0.8': {'coverage': …, 'width': …, 'winkler': …}, …} from evaluate's JSON, whatever the keys' exact names.

    A key counts when its flattened name (nested keys joined by '_') contains 'coverage', 'width'
    or 'winkler' and names one of the levels asked for (80, 0.8, …). Unmatched interval-like keys
    land under 'unmatched' so that nothing is lost.
    """
    found: dict = {}
    for key, value in _flatten(metrics).items():
        kind = next((k for k in INTERVAL_KINDS if k in key.lower()), None)
        if kind is None or not isinstance(value, int | float):
            continue
        level = _level_of(key, levels)
        if level is None:
            found.setdefault("unmatched", {})[key] = value
            continue
        entry = found.setdefault(str(level), {})
        entry.setdefault(kind, value)  # the first key of a kind wins (e.g. coverage before coverage_error)
        entry.setdefault("keys", []).append(key)
    return found


def spread(values: list[float]) -> dict:
    """Mean, sample standard deviation (None for one value), min and max."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return {"n": len(values), "mean": mean, "std": std, "min": min(values), "max": max(values)}


class Clock:
    def __init__(self):
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 1)
