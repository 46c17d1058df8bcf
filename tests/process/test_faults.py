"""Faults at the process boundary: SIGKILL in the middle of a step, and make -j.

A step writes its output to a temporary file beside the target and renames it
into place, so a killed process leaves the old file (here: none) or the whole
new one, and never touches its inputs. And because each step is a process that
reads files and writes one, make may run independent branches side by side and
get what it gets one at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
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

from lstmcli.model.artifact import read_record

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
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(),
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
                "absent": 0,
                "complete": 0,
                "running": 0,
                "finished": 0,
                "in_write": {"absent": 0, "complete": 0, "running": 0},
                "litter": 0,
                "T": round(duration, 2),
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
                        assert json.loads(out.read_text()) == json.loads(reference.read_text()), (
                            f"{where}: {out.read_text()!r}"
                        )
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
            plain["lineage"] = [
                {k: without(v, "sha256") if k == "parent" else v for k, v in e.items()} for e in plain["lineage"]
            ]
            del plain["members"]
        assert plain_a == plain_b, name
        assert record_a.members["model.weights.h5"] == record_b.members["model.weights.h5"], name
        assert set(record_a.members) == set(record_b.members), name
        assert without(member(a, "config.json"), "shared_object_id") == without(
            member(b, "config.json"), "shared_object_id"
        ), name
        assert without(member(a, "metadata.json"), "date_saved") == without(member(b, "metadata.json"), "date_saved"), (
            name
        )

    for run in (one, four):
        proc = subprocess.run(["make", "-q"], cwd=run, capture_output=True, text=True, env=environment())
        assert proc.returncode == 0, f"make -q in {run.name}: exit {proc.returncode}, something is out of date"


# --------------------------------------------------------------------------- round two (issue 12)
# Outputs that are not regular files, inputs that can be read only once, and
# signals at any moment, in process on one tiny model so that dozens of trials
# stay fast; a few real processes check what only a process boundary shows.

from corpus_helpers import FULL_DEVICE, device, fifo, invoke, snapshot  # noqa: E402
from corpus_helpers import series_csv as tiny_series  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 12-row series and a tiny model at the compiled and fitted stages, built in process."""
    root = tmp_path_factory.mktemp("tiny")
    data = tiny_series(root / "series.csv", rows=12)
    defined, compiled, fitted = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    for argv in (
        ["define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", defined],
        ["compile", defined, "--out", compiled],
        ["fit", compiled, "--data", data, "--epochs", "2", "--verbose", "0", "--seed", "0", "--out", fitted],
    ):
        outcome = invoke(argv)
        assert outcome.exit_code == 0, outcome
    return {"data": data, "compiled": compiled, "fitted": fitted, "root": root}


def leftovers(*folders: Path) -> list[str]:
    """Temporary files a step left: hidden `.NAME.PID.*.tmp*` names, here or in the temp folder."""
    import tempfile

    found = []
    for folder in (*folders, Path(tempfile.gettempdir())):
        found += [
            p.name
            for p in Path(folder).iterdir()
            if p.name.startswith(".") and ".tmp" in p.name and f".{os.getpid()}." in p.name
        ]
    return found


def device_numbers(path: Path) -> tuple[int, int, bool]:
    st = os.lstat(path)
    import stat as stat_module

    return os.major(st.st_rdev), os.minor(st.st_rdev), stat_module.S_ISCHR(st.st_mode)


def writes(tiny, tmp_path, where: Path) -> dict[str, list]:
    """Each kind of output, pointed at `where`."""
    return {
        "predict --out": ["predict", tiny["fitted"], "--data", tiny["data"], "--out", where],
        "evaluate --out": ["evaluate", tiny["fitted"], "--data", tiny["data"], "--json", "--out", where],
        "fit --out": ["fit", tiny["compiled"], "--data", tiny["data"], "--verbose", "0", "--out", where],
        "fit --history": [
            "fit",
            tiny["compiled"],
            "--data",
            tiny["data"],
            "--verbose",
            "0",
            "--history",
            where,
            "--out",
            tmp_path / "o.keras",
        ],
    }


@pytest.mark.parametrize("kind", ["predict --out", "evaluate --out", "fit --out", "fit --history"])
def test_an_output_on_a_null_device_is_written_through_and_the_device_survives(kind, tiny, tmp_path):
    """Issue 12 (1): renaming a file over /dev/null (as root) broke it for the whole machine."""
    null = device(tmp_path / "null")
    outcome = invoke(writes(tiny, tmp_path, null)[kind])
    assert outcome.exit_code == 0, outcome
    assert device_numbers(null) == (1, 3, True), "the device node was replaced"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("kind", ["predict --out", "evaluate --out", "fit --out", "fit --history"])
def test_an_output_on_a_full_device_fails_with_no_space_and_exit_1(kind, tiny, tmp_path):
    """Issue 12 (1): /dev/full must fail the step (exit 1, 'no space'), not be renamed over."""
    full = device(tmp_path / "full", FULL_DEVICE)
    before = snapshot(tiny["root"])
    outcome = invoke(writes(tiny, tmp_path, full)[kind])
    assert outcome.exit_code == 1, outcome
    assert outcome.stderr.count("\n") == 1 and re.match(
        r"error: cannot write \S*full: no space left", outcome.stderr
    ), outcome
    assert device_numbers(full) == (1, 7, True)
    assert not (tmp_path / "o.keras").exists(), "fit wrote --out although its --history failed"
    assert leftovers(tmp_path) == []
    assert snapshot(tiny["root"]) == before


def test_an_output_on_a_fifo_is_written_through(tiny, tmp_path):
    """Issue 12 (1): a FIFO (as `--out >(gzip > x)` gives) gets the predictions, and stays a FIFO."""
    import stat as stat_module
    import threading

    pipe = fifo(tmp_path / "pipe")
    received = []
    reader = threading.Thread(
        target=lambda: received.append(pipe.read_bytes()), daemon=True
    )  # never blocks pytest's exit
    reader.start()
    outcome = invoke(["predict", tiny["fitted"], "--data", tiny["data"], "--out", pipe])
    reader.join(timeout=60)
    assert outcome.exit_code == 0, outcome
    assert stat_module.S_ISFIFO(os.lstat(pipe).st_mode)
    to_stdout = invoke(["predict", tiny["fitted"], "--data", tiny["data"]])
    assert received == [to_stdout.stdout.encode()]
    assert leftovers(tmp_path) == []


def test_an_output_through_a_symlink_replaces_its_target_and_keeps_the_link(tiny, tmp_path):
    (tmp_path / "real.json").write_text("old\n")
    link = tmp_path / "metrics.json"
    link.symlink_to(tmp_path / "real.json")
    outcome = invoke(["evaluate", tiny["fitted"], "--data", tiny["data"], "--json", "--out", link])
    assert outcome.exit_code == 0, outcome
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "real.json")
    assert "loss" in json.loads((tmp_path / "real.json").read_text())


def lineage_data(path: Path) -> dict:
    return read_record(path).lineage[-1]["data"]


def test_data_from_a_fifo_is_read_once_and_its_bytes_are_hashed(tiny, tmp_path):
    """Issue 12 (5, 6): fit re-opened the data file to hash it, so a FIFO hung for ever."""
    import threading

    payload = tiny["data"].read_bytes()
    pipe = fifo(tmp_path / "data.csv")
    writer = threading.Thread(target=pipe.write_bytes, args=(payload,), daemon=True)
    writer.start()

    def unblock():  # had fit opened the FIFO again, this would end its wait (and fail the hash check)
        time.sleep(30)
        if writer.is_alive() or not (tmp_path / "o.keras").exists():
            with contextlib.suppress(OSError):
                fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)

    threading.Thread(target=unblock, daemon=True).start()
    outcome = invoke(["fit", tiny["compiled"], "--data", pipe, "--verbose", "0", "--out", tmp_path / "o.keras"])
    writer.join(timeout=5)
    assert outcome.exit_code == 0, outcome
    assert lineage_data(tmp_path / "o.keras")["sha256"] == hashlib.sha256(payload).hexdigest()


def test_data_from_stdin_records_the_hash_of_what_was_read(tiny, tmp_path):
    """Issue 12 (6): with --data /dev/stdin (or -) the record held the empty file's hash."""
    from typer.testing import CliRunner

    from lstmcli.cli import app

    payload = tiny["data"].read_text()
    result = CliRunner().invoke(
        app,
        ["fit", str(tiny["compiled"]), "--data", "-", "--verbose", "0", "--out", str(tmp_path / "o.keras")],
        input=payload,
    )
    assert result.exit_code == 0, result.output
    assert lineage_data(tmp_path / "o.keras") == {"path": "-", "sha256": hashlib.sha256(payload.encode()).hexdigest()}


def test_lineage_hashes_the_bytes_trained_on_even_if_the_file_changes_during_the_fit(tiny, tmp_path, monkeypatch):
    """Issue 12 (6): a file rewritten during a long fit recorded the new file's hash."""
    from lstmcli.train import loop

    data = Path(shutil.copyfile(tiny["data"], tmp_path / "data.csv"))
    original = data.read_bytes()
    fit = loop.Trainer.fit

    def fit_then_rewrite(self, *args, **kwargs):
        result = fit(self, *args, **kwargs)
        data.write_text("value\n9.9\n" * 3)
        return result

    monkeypatch.setattr(loop.Trainer, "fit", fit_then_rewrite)
    outcome = invoke(["fit", tiny["compiled"], "--data", data, "--verbose", "0", "--out", tmp_path / "o.keras"])
    assert outcome.exit_code == 0, outcome
    assert lineage_data(tmp_path / "o.keras")["sha256"] == hashlib.sha256(original).hexdigest()


def test_ctrl_c_during_the_last_step_writes_no_out_and_exits_130(tiny, tmp_path, monkeypatch):
    """Issue 12 (8): 'stopping after the current step' was printed, then --out written with exit 0."""
    from lstmcli.train import loop

    fit = loop.Trainer.fit

    def fit_then_ctrl_c(self, *args, **kwargs):
        result = fit(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: arrives as the last step ends
        return result

    monkeypatch.setattr(loop.Trainer, "fit", fit_then_ctrl_c)
    outcome = invoke(["fit", tiny["compiled"], "--data", tiny["data"], "--verbose", "0", "--out", tmp_path / "o.keras"])
    assert outcome.exit_code == 130, outcome
    assert not (tmp_path / "o.keras").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_inside_the_final_write_leaves_no_out_and_no_temporary_file(signum, code, tiny, tmp_path, monkeypatch):
    """Issue 12 (7, 8): SIGTERM during the write left `.o.keras.PID.*.tmp.keras`; Ctrl-C wrote --out."""
    from lstmcli.model import artifact

    hash_member = artifact._member_sha256

    def hash_then_signal(archive, name):
        if str(archive.filename).endswith(".tmp.keras"):  # inside save, between Keras's write and the rename
            os.kill(os.getpid(), signum)
        return hash_member(archive, name)

    monkeypatch.setattr(artifact, "_member_sha256", hash_then_signal)
    outcome = invoke(["fit", tiny["compiled"], "--data", tiny["data"], "--verbose", "0", "--out", tmp_path / "o.keras"])
    assert outcome.exit_code == code, outcome
    assert re.fullmatch(r"error: (interrupted|terminated); no output was written\n", outcome.stderr), outcome
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert leftovers(tmp_path) == []


SIGTERMS = 20  # at uniform random moments of an in-process fit, the final write included


@pytest.mark.slow
# A SIGTERM that lands in a finaliser is reported by Python as unraisable; the step then ends with 143 anyway.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sigterm_at_random_moments_leaves_no_temporary_file_and_no_or_a_whole_output(tiny, tmp_path):
    """Issue 12 (7): every time, the temporary file is removed and the output is absent or complete.

    The step runs in this process (the fit of a tiny model, a fraction of a
    second), so each moment falls in lstmcli's own work rather than in the
    import of TensorFlow, and the write is a good part of the whole.
    """
    import threading

    args = ["fit", tiny["compiled"], "--data", tiny["data"], "--verbose", "0", "--seed", "0"]
    late = []
    previous = signal.signal(signal.SIGTERM, lambda *_: late.append(1))  # one that lands after the step is harmless
    try:
        for warm in (True, False):  # the first run in a process traces; time the second
            began = time.perf_counter()
            reference = invoke([*args, "--out", tmp_path / f"reference-{warm}.keras"])
            duration = time.perf_counter() - began
            assert reference.exit_code == 0, reference
        rng = random.Random(12)
        outcomes = {"absent": 0, "complete": 0}
        for i in range(SIGTERMS):
            out = tmp_path / f"kill{i:02d}" / "o.keras"
            out.parent.mkdir()
            timer = threading.Timer(rng.uniform(0.0, 1.1 * duration), os.kill, (os.getpid(), signal.SIGTERM))
            timer.start()
            outcome = invoke([*args, "--out", out])
            timer.join()
            where = f"SIGTERM {i} after {timer.interval:.3f} s of {duration:.3f} s"
            assert outcome.exit_code in (0, 143), f"{where}: {outcome}"
            assert [p.name for p in out.parent.iterdir() if p.name != "o.keras"] == [], (
                f"{where}: a temporary file is left"
            )
            if out.exists():
                assert complete_keras(out) is None, f"{where}: {complete_keras(out)}"
                outcomes["complete"] += 1
            else:
                assert outcome.exit_code == 143, f"{where}: exit 0 without {out.name}"
                outcomes["absent"] += 1
        assert leftovers(tmp_path) == []
        assert outcomes["absent"] >= SIGTERMS // 4, outcomes  # most moments fall inside the step
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_sigterm_to_a_real_fit_exits_143_and_leaves_nothing(tiny, tmp_path):
    """The process boundary: a fit given SIGTERM mid-training exits 143 with one line and no files."""
    out = tmp_path / "a.keras"
    args = ["fit", tiny["compiled"], "--data", tiny["data"], "--epochs", "1000000", "--verbose", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmcli", *map(str, args), "--out", str(out)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    first = proc.stderr.readline()  # the first epoch's line: TensorFlow is loaded and training runs
    assert first.startswith(b"Epoch"), first
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr.decode()
    assert stderr.decode().splitlines()[-1] == "error: terminated; no output was written"
    assert "Traceback" not in stderr.decode()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("signum", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_during_start_up_imports_exits_cleanly(tmp_path, signum, code, word):
    """SIGTERM or Ctrl-C while Typer is still importing: the boundary's line and exit code, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "lstmcli", "define", "--features", "y", "--out", "d.keras"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(),
        cwd=tmp_path,
    )
    for line in proc.stderr:  # -X importtime writes a line as each import ends: Typer's own are under way
        if b"typer" in line:
            break
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr.decode()[-2000:]
    assert stderr.decode().splitlines()[-1] == f"error: {word}; no output was written"
    assert "Traceback" not in stderr.decode()
    assert list(tmp_path.iterdir()) == []


# Two processes cover the four environments (each process costs a TensorFlow import).
HOSTILE_ENVIRONMENTS = {
    "HOME unset, TMPDIR missing, LANG=C": lambda root: {
        "HOME": None,
        "TMPDIR": str(root / "no-such-dir"),
        "LANG": "C",
        "LC_ALL": "C",
    },
    "HOME unwritable": lambda root: {"HOME": str(root / "a-file" / "home")},
}


@pytest.fixture(scope="module")
def masked(tmp_path_factory):
    """A fitted samples model with --mask (its run logs TensorFlow's oneDNN DT_BOOL notice) and its data."""
    root = tmp_path_factory.mktemp("masked")
    data = root / "rows.csv"
    data.write_text("a,b,c,label\n" + "".join(f"{i % 3},{i % 2},,{'xy'[i % 2]}\n" for i in range(12)))
    defined, compiled, fitted = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    for argv in (
        [
            "define",
            "--task",
            "binary",
            "--layout",
            "samples",
            "--reshape",
            "timesteps",
            "--features",
            "a,b,c",
            "--target",
            "label",
            "--mask",
            "--lstm",
            "2",
            "--seed",
            "0",
            "--out",
            defined,
        ],
        ["compile", defined, "--out", compiled],
        ["fit", compiled, "--data", data, "--scaling", "standard", "--verbose", "0", "--out", fitted],
    ):
        outcome = invoke(argv)
        assert outcome.exit_code == 0, outcome
        assert outcome.stderr in ("", f"defined → {defined}\n", f"compiled → {compiled}\n"), outcome  # no warnings
    return {"data": data, "compiled": compiled, "fitted": fitted}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HOSTILE_ENVIRONMENTS))
def test_a_hostile_environment_changes_nothing_and_nothing_leaks_to_stderr(name, masked, tmp_path):
    """Issue 12 (17) and its environments: a masked fit and predict print nothing but their results.

    TensorFlow's runtime logs "oneDNN supports DT_BOOL only on platforms with
    AVX-512" on fit, evaluate and predict of a masked model; numpy warned
    "Mean of empty slice" learning the scaling of an always-empty column.
    """
    (tmp_path / "a-file").write_text("HOME cannot be made under a file, even by root\n")
    env = environment()
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    for key, value in HOSTILE_ENVIRONMENTS[name](tmp_path).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    # One run writes a file; the other writes to a link to its own stdout (what /dev/stdout is, made here:
    # never the machine's own, which a broken build would replace), with stdout redirected to a file as
    # `> out.csv` does (issue 12 (1): /dev/stdout was renamed over, not written through).
    through = name == "HOME unwritable"
    out = tmp_path / "predictions.csv"
    if through:
        redirected = tmp_path / "redirected"
        redirected.mkdir()
        out = symlink_to_stdout = redirected / "stdout"
        symlink_to_stdout.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "stdout.txt", "w") as stdout:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lstmcli",
                "predict",
                str(masked["fitted"]),
                "--data",
                str(masked["data"]),
                "--out",
                str(out),
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    expected = invoke(["predict", masked["fitted"], "--data", masked["data"]]).stdout
    printed = (tmp_path / "stdout.txt").read_text()
    assert (printed if through else out.read_text()) == expected
    assert (printed == "") != through
    if through:
        assert symlink_to_stdout.is_symlink() and sorted(p.name for p in redirected.iterdir()) == ["stdout"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-file",
        "predictions.csv" if not through else "redirected",
        "stdout.txt",
    ]


def test_an_error_that_sigterm_caused_inside_c_code_still_exits_143(capsys):
    """SIGTERM's exception raised inside C code can surface as another error; it is still the termination."""
    from lstmcli.cli.boundary import boundary

    with pytest.raises(SystemExit) as stopped:
        with boundary(False):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except BaseException:
                raise SystemError("Objects/listobject.c:338: bad argument to internal function") from None
    assert stopped.value.code == 143
    assert capsys.readouterr().err.strip() == "error: terminated; no output was written"


def test_evaluate_out_dev_stdout_redirected_to_a_file_writes_the_metrics(tiny, tmp_path):
    """`lstmcli evaluate m.keras --data d.csv --out /dev/stdout > m.json` writes the metrics through to m.json.

    /dev/stdout leads to the redirected (regular) file; it has no extension, so the metrics are the text table
    stdout gets, and exit 0 (it exited 2 asking for a .json extension: metrics_file had its own idea of a
    special file, blind to links to open descriptors). The link is made here, as /dev/stdout is one, so a
    broken build never replaces the machine's own.
    """
    link = tmp_path / "dev" / "stdout"
    link.parent.mkdir()
    link.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "m.json", "w") as stdout:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lstmcli",
                "evaluate",
                str(tiny["fitted"]),
                "--data",
                str(tiny["data"]),
                "--out",
                str(link),
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
            cwd=tmp_path,
        )
    assert proc.returncode == 0, proc.stderr
    written = (tmp_path / "m.json").read_text()
    assert written == invoke(["evaluate", tiny["fitted"], "--data", tiny["data"]]).stdout
    assert "loss" in written and link.is_symlink()
