"""Faults at the process boundary: SIGKILL in the middle of a step, and make -j.

A step writes its output to a temporary file beside the target and renames it
into place, so a killed process leaves the old file (here: none) or the whole
new one, and never touches its inputs. And because each step is a process that
reads files and writes one, make may run independent branches side by side and
get what it gets one at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcli.artifact import read_record

KILLS_PER_STEP = 20  # at uniform random moments
KILLS_IN_WRITE = 4  # and aimed at the write
DEFINE = ["--timesteps", "8", "--features", "y", "--lstm", "8", "--seed", "0"]


def environment() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CI", None)
    return env


def lstmcli(*args, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "lstmcli", *map(str, args)], capture_output=True, text=True, env=environment(), cwd=cwd
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def series_csv(path: Path) -> Path:
    """200 rows of a noisy sine in one column, y."""
    rng = np.random.default_rng(0)
    t = np.arange(200)
    pd.DataFrame({"y": np.sin(t / 8) + 0.1 * rng.standard_normal(200)}).to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- SIGKILL


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The read-only inputs every kill trial shares: data and the three artifacts."""
    root = tmp_path_factory.mktemp("inputs")
    data = series_csv(root / "series.csv")
    defined, compiled, fitted = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    lstmcli("define", *DEFINE, "--out", defined)
    lstmcli("compile", defined, "--out", compiled)
    lstmcli("fit", compiled, "--data", data, "--epochs", "30", "--seed", "0", "--verbose", "0", "--out", fitted)
    return {"data": data, "defined": defined, "compiled": compiled, "fitted": fitted}


def steps(inputs):
    """Each step: (its arguments less --out, the --out file name, the inputs it reads)."""
    data, defined, compiled, fitted = inputs["data"], inputs["defined"], inputs["compiled"], inputs["fitted"]
    fit_flags = ["--data", data, "--epochs", "30", "--seed", "0", "--verbose", "0"]
    return {
        "define": (["define", *DEFINE], "a.keras", []),
        "compile": (["compile", defined], "a.keras", [defined]),
        "fit": (["fit", compiled, *fit_flags], "a.keras", [compiled, data]),
        "evaluate": (["evaluate", fitted, "--data", data], "metrics.json", [fitted, data]),
        "predict": (["predict", fitted, "--data", data], "predictions.csv", [fitted, data]),
    }


def start(args, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lstmcli", *map(str, args), "--out", str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(),
    )


def complete_keras(path: Path) -> str | None:
    """None if the archive is whole and its record's hashes match, else why not."""
    try:
        read_record(path)  # checks every member's sha256 against the record
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return f"{type(exc).__name__}: {exc}"
    return None if bad is None else f"member {bad} fails its CRC"


def reference_run(args, out: Path) -> float:
    began = time.perf_counter()
    proc = start(args, out)
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr.decode()
    return time.perf_counter() - began


def kill_trial(args, out: Path, delay: float, *, after_first_file: bool = False) -> tuple[bool, int | None]:
    """Start the step and SIGKILL it; (was it still running right before, its exit code).

    The kill comes `delay` seconds after the start, or with `after_first_file`,
    `delay` seconds after the first file (the temporary one) appears beside `out`.
    """
    proc = start(args, out)
    began = time.perf_counter()
    if after_first_file:
        while proc.poll() is None and not os.listdir(out.parent):
            time.sleep(0.0005)
        time.sleep(delay)
    else:
        time.sleep(max(0.0, delay - (time.perf_counter() - began)))
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)  # a no-op once the process has been reaped
    proc.communicate()
    return running, proc.returncode


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_no_file_or_the_whole_file_and_the_inputs_intact(inputs, tmp_path):
    plan = steps(inputs)
    before = {str(p): sha256(p) for p in inputs.values()}
    rng = random.Random(20240611)
    counts = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for step, (args, name, _) in plan.items():
            # Two complete runs side by side: the duration T under the same load
            # as the kill trials (two at a time on two cores), measured just
            # before them, and a check that the output is the same run to run.
            references = [tmp_path / step / f"reference{i}" / name for i in (0, 1)]
            for out in references:
                out.parent.mkdir(parents=True)
            duration = sum(pool.map(reference_run, [args, args], references)) / 2
            if name.endswith(".keras"):
                for out in references:
                    problem = complete_keras(out)
                    assert problem is None, problem
            elif name.endswith(".json"):
                assert json.loads(references[0].read_text()) == json.loads(references[1].read_text())
            else:
                assert references[0].read_bytes() == references[1].read_bytes()

            # The first ~60-70 % of a run is importing TensorFlow, when nothing
            # is written yet; kill in [0.4 T, 1.05 T], so a few land after the end.
            trials = [(i, rng.uniform(0.4 * duration, 1.05 * duration), False) for i in range(KILLS_PER_STEP)]
            # The write itself lasts ~20 ms of T (an archive) or less (a CSV),
            # so uniform moments rarely hit it: a few more kills come 0-25 ms
            # after the temporary file appears, inside the write or just after.
            trials += [(KILLS_PER_STEP + i, rng.uniform(0.0, 0.025), True) for i in range(KILLS_IN_WRITE)]
            outs = []
            for i, _, _ in trials:
                out = tmp_path / step / f"kill{i:02d}" / name
                out.parent.mkdir()
                outs.append(out)
            results = pool.map(lambda t, out: kill_trial(args, out, t[1], after_first_file=t[2]), trials, outs)

            count = counts[step] = {
                "absent": 0, "complete": 0, "running": 0, "finished": 0,
                "in_write": {"absent": 0, "complete": 0, "running": 0}, "litter": 0, "T": round(duration, 2),
            }
            for (i, delay, in_write), out, (running, code) in zip(trials, outs, results):
                where = f"{step} killed {delay:.3f} s after {'its first file' if in_write else 'start'} (T {duration:.2f} s)"
                tally = count["in_write"] if in_write else count
                if running or not in_write:
                    tally["running" if running else "finished"] += 1
                if running:
                    assert code in (-signal.SIGKILL, 0), f"{where}: exit {code}"
                else:
                    assert code == 0, f"{where}: it finished before the kill but exited {code}"
                if not out.exists():
                    assert code != 0, f"{where}: exited 0 without writing {out.name}"
                    tally["absent"] += 1
                else:
                    reference = references[0]
                    if out.suffix == ".keras":
                        problem = complete_keras(out)
                        assert problem is None, f"{where}: partial {out.name}: {problem}"
                    elif out.suffix == ".json":
                        assert json.loads(out.read_text()) == json.loads(reference.read_text()), f"{where}: {out.read_text()!r}"
                    else:
                        assert out.read_bytes() == reference.read_bytes(), f"{where}: {len(out.read_bytes())} bytes"
                    tally["complete"] += 1
                    out.unlink()
                # A SIGKILLed step cannot remove its temporary file; it stays
                # beside the target under a hidden name: counted, not asserted.
                count["litter"] += sum(1 for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))
                after = {path: sha256(path) for path in before}
                assert after == before, f"{where}: an input changed"

            assert count["absent"] + count["complete"] == KILLS_PER_STEP, (step, count)
            assert count["running"] >= 1, f"no kill landed while {step} was still running: {count}"
            assert count["in_write"]["running"] >= 1, f"no kill aimed at the write landed before {step} ended: {count}"

    print("\nSIGKILL outcomes per step:", json.dumps(counts))


# --------------------------------------------------------------------------- make -j

MAKEFILE = """\
LSTMCLI = {python} -m lstmcli
DATA = series.csv

all: predictions_a.csv predictions_b.csv metrics_a.json metrics_b.json

defined.keras:
\t$(LSTMCLI) define {define} --out $@

compiled.keras: defined.keras
\t$(LSTMCLI) compile $< --out $@

fitted_a.keras: compiled.keras $(DATA)
\t$(LSTMCLI) fit $< --data $(DATA) --seed 1 --epochs 5 --batch-size 16 --verbose 0 --out $@

fitted_b.keras: compiled.keras $(DATA)
\t$(LSTMCLI) fit $< --data $(DATA) --seed 2 --epochs 5 --batch-size 32 --verbose 0 --out $@

predictions_%.csv: fitted_%.keras $(DATA)
\t$(LSTMCLI) predict $< --data $(DATA) --out $@

metrics_%.json: fitted_%.keras $(DATA)
\t$(LSTMCLI) evaluate $< --data $(DATA) --json --out $@

.PHONY: all
"""

ARTIFACTS = ["defined.keras", "compiled.keras", "fitted_a.keras", "fitted_b.keras"]


def member(path: Path, name: str):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(name))


def without(value, key: str):
    """`value` with every `key` removed at any depth."""
    if isinstance(value, dict):
        return {k: without(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [without(v, key) for v in value]
    return value


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_j4_builds_the_same_two_branches_as_make_j1_and_then_has_nothing_to_do(tmp_path):
    from lstmcli.quiet import load_tensorflow

    keras = load_tensorflow()
    makefile = MAKEFILE.format(python=sys.executable, define=" ".join(DEFINE))
    runs = {}
    for jobs in ("-j1", "-j4"):
        run = tmp_path / jobs
        run.mkdir()
        (run / "Makefile").write_text(makefile)
        series_csv(run / "series.csv")
        proc = subprocess.run(["make", jobs], cwd=run, capture_output=True, text=True, env=environment())
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count(" -m lstmcli ") == 8, proc.stdout  # every target built exactly once
        runs[jobs] = run
    one, four = runs["-j1"], runs["-j4"]

    for name in ("predictions_a.csv", "predictions_b.csv"):
        assert (four / name).read_bytes() == (one / name).read_bytes(), name
    for name in ("metrics_a.json", "metrics_b.json"):
        assert json.loads((four / name).read_text()) == json.loads((one / name).read_text()), name
    # The two branches really are different models (else the comparison proves little).
    assert (one / "predictions_a.csv").read_bytes() != (one / "predictions_b.csv").read_bytes()

    for name in ARTIFACTS:
        a, b = one / name, four / name
        weights_a, weights_b = keras.saving.load_model(a).get_weights(), keras.saving.load_model(b).get_weights()
        assert len(weights_a) == len(weights_b) and all(map(np.array_equal, weights_a, weights_b)), name
        record_a, record_b = read_record(a), read_record(b)
        # A record's lineage names each parent's sha256: it must be the file that
        # sits beside it in the same run.
        for run, record in ((one, record_a), (four, record_b)):
            for entry in record.lineage:
                for role in ("parent", "data"):
                    if role in entry:
                        assert entry[role]["sha256"] == sha256(run / entry[role]["path"]), (name, entry)
        # Across runs the parents' hashes differ although their weights are
        # equal: Keras writes the save time into metadata.json and id()s of
        # Python objects ("shared_object_id") into config.json, so no two saves
        # of one model are byte-identical. Compare the rest of the record as is,
        # the members modulo those two Keras fields.
        plain_a, plain_b = vars(record_a).copy(), vars(record_b).copy()
        for plain in (plain_a, plain_b):
            if plain["fit"] is not None:
                plain["fit"] = {k: v for k, v in plain["fit"].items() if k != "seconds"}
            plain["lineage"] = [{k: without(v, "sha256") if k == "parent" else v for k, v in e.items()} for e in plain["lineage"]]
            del plain["members"]
        assert plain_a == plain_b, name
        assert record_a.members["model.weights.h5"] == record_b.members["model.weights.h5"], name
        assert set(record_a.members) == set(record_b.members), name
        assert without(member(a, "config.json"), "shared_object_id") == without(member(b, "config.json"), "shared_object_id"), name
        assert without(member(a, "metadata.json"), "date_saved") == without(member(b, "metadata.json"), "date_saved"), name

    for run in (one, four):
        proc = subprocess.run(["make", "-q"], cwd=run, capture_output=True, text=True, env=environment())
        assert proc.returncode == 0, f"make -q in {run.name}: exit {proc.returncode}, something is out of date"
