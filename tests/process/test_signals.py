"""A signal at the final write: the exit code, the message and the files always agree (issue 24).

The rule (README, "Exit codes"): a SIGINT or SIGTERM that arrives before an output's
commit (its rename) aborts, leaving no temporary file and no output, with exit 130 or
143; one that arrives after it exits 130 or 143 too, and its one line names the outputs
that were written in full. Never a traceback.

Two scans check it for evaluate, predict, export, fit and run:

- in this process, deterministically: a trace of lstmcli's own lines counts each line
  run from the start of the command's last write to its end, and each trial raises the
  signal at one of them (all lines around the commit, and others spread over the rest);
- in real processes, with real delays after the temporary file appears (0-5 ms and
  more), forked from one parent that has imported TensorFlow once, so the start-up,
  the final flush and `os._exit` are covered without a TensorFlow import per trial.
"""

from __future__ import annotations

import contextlib
import dis
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_helpers import invoke
from corpus_helpers import series_csv as tiny_series

import lstmcli
from lstmcli import commits, outputs
from lstmcli.cli import process

SOURCE = str(Path(lstmcli.__file__).parent)
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
WORD = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
COMMIT = commits.commit.__code__
MOVED = COMMIT.co_firstlineno + next(  # the line of commits.commit that makes the output whole
    i for i, line in enumerate(inspect.getsource(commits.commit).splitlines()) if line.strip() == "move()"
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 12-row series, a tiny model compiled and fitted, a `run` config, and an earlier export."""
    root = tmp_path_factory.mktemp("signals")
    data = tiny_series(root / "series.csv", rows=12)
    defined, compiled, fitted = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    for argv in (
        ["define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", defined],
        ["compile", defined, "--out", compiled],
        ["fit", compiled, "--data", data, "--epochs", "2", "--verbose", "0", "--seed", "0", "--out", fitted],
        ["export", fitted, "--out", root / "export"],
    ):
        outcome = invoke(argv)
        assert outcome.exit_code == 0, outcome
    config = root / "run.toml"
    config.write_text(
        "[define]\ntimesteps = 2\nfeatures = ['value']\nlstm = [2]\nseed = 0\n"
        f"[fit]\ndata = '{data}'\nepochs = 1\nverbose = 0\nseed = 0\n"
    )
    return {"root": root, "data": data, "compiled": compiled, "fitted": fitted, "config": config}


RUN_OUTPUTS = ("defined.keras", "compiled.keras", "fitted.keras", "metrics.json", "predictions.csv")


def commands(tiny, folder: Path) -> dict[str, tuple[list, list[Path]]]:
    """Each command: its argv writing into `folder`, and the outputs it may write, as the message names them."""
    fitted, data = tiny["fitted"], tiny["data"]
    return {
        "evaluate": (["evaluate", fitted, "--data", data, "--json", "--out", folder / "m.json"], [folder / "m.json"]),
        "predict": (["predict", fitted, "--data", data, "--out", folder / "p.csv"], [folder / "p.csv"]),
        "export": (["export", fitted, "--out", folder / "exp"], [folder / "exp"]),
        "fit": (
            ["fit", tiny["compiled"], "--data", data, "--epochs", "1", "--verbose", "0", "--seed", "0"]
            + ["--out", folder / "o.keras"],
            [folder / "o.keras"],
        ),
        "run": (
            ["run", "--config", tiny["config"], "--workdir", folder / "w"],
            [folder / "w" / name for name in RUN_OUTPUTS],
        ),
    }


def prepare(name: str, tiny, folder: Path) -> None:
    """An earlier output where the command will write: evaluate's and predict's files, an earlier export."""
    folder.mkdir(parents=True, exist_ok=True)
    if name in ("evaluate", "predict"):
        commands(tiny, folder)[name][1][0].write_text("old\n")
    elif name == "export":
        shutil.copytree(tiny["root"] / "export", folder / "exp")
        (folder / "exp" / "old").write_text("old\n")


def new_outputs(name: str, paths: list[Path]) -> list[Path]:
    """The outputs this trial wrote: there, and not the earlier ones `prepare` left."""
    if name in ("evaluate", "predict"):
        return [p for p in paths if p.exists() and p.read_text() != "old\n"]
    if name == "export":
        return [p for p in paths if p.exists() and not (p / "old").exists()]
    return [p for p in paths if p.exists()]


def check_agreement(name: str, where: str, code: int, stderr: str, paths: list[Path], signum: int | None) -> str:
    """Exit code, message and files agree.

    Returns "finished" (no signal, or it came after the process ended), "aborted" (the
    last output was not written) or "after" (the signal came after its commit).
    """
    folder = paths[0].parent
    assert "Traceback" not in stderr, f"{where}: {stderr}"
    # (a run that was stopped removes the workdir it made: run's outputs are moved in together or not at all)
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []
    assert leftovers == [], f"{where}: temporaries left: {leftovers}"
    written = new_outputs(name, paths)
    for path in written:
        assert whole(path), f"{where}: {path.name} is not whole"
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if signum is None or code == 0:
        assert code == 0 and errors == [], f"{where}: exit {code}, {errors}"
        assert written == paths, f"{where}: exit 0 but only {[p.name for p in written]} written"
        return "finished"
    assert code == EXIT[signum], f"{where}: exit {code}: {stderr}"
    assert len(errors) == 1 and stderr.splitlines()[-1] == errors[0], f"{where}: {stderr!r}"
    if not written:
        assert errors == [f"error: {WORD[signum]}; no output was written"], f"{where}: {errors}"
        return "aborted"
    said = re.fullmatch(
        rf"error: {WORD[signum]}; (.+) (?:was|were) written in full before the signal took effect", errors[0]
    )
    assert said, f"{where}: {errors}"
    assert said[1] == names(written), f"{where}: the message names {said[1]}, the disk holds {names(written)}"
    return "after" if paths[-1] in written else "aborted"


def names(paths: list[Path]) -> str:
    """How the message lists outputs: one by its path; several of one folder by name, then "in FOLDER"."""
    if len(paths) == 1:
        return str(paths[0])
    assert len({p.parent for p in paths}) == 1
    return ", ".join(p.name for p in paths[:-1]) + f" and {paths[-1].name} in {paths[0].parent}"


def whole(path: Path) -> bool:
    if path.suffix == ".json":
        return "loss" in json.loads(path.read_text())
    if path.suffix == ".csv":
        return path.read_text().count("\n") > 1
    if path.suffix == ".keras":
        from lstmcli.model.artifact import read_record

        read_record(path)  # every member's hash checked
        return True
    return (path / "saved_model.pb").is_file() and (path / "variables").is_dir()


# --------------------------------------------------------------- in process, at each point


# CPython runs a Python signal handler only at certain points of the bytecode: when a
# function starts or a generator resumes, after a call returns, at a loop's jump back.
AFTER = {dis.opmap[name] for name in ("CALL", "CALL_FUNCTION_EX", "JUMP_BACKWARD") if name in dis.opmap}


class PointSignal:
    """Counts the points where a signal could land in lstmcli's own code, from the start of its `writes`-th write.

    The trace starts only there (`outputs.committed` and `committed_directory`
    are wrapped to start it), so the work before costs nothing extra; it follows
    lstmcli's frames only (a library's own points fall between two of ours).
    With `at`, it raises `signum` at the `at`-th point as the kernel would
    deliver it (`signal.raise_signal`), if lstmcli's handler is in place.
    """

    def __init__(self, writes: int = 1, at: int | None = None, signum: int = signal.SIGINT):
        self.writes, self.at, self.signum = writes, at, signum
        self.seen_writes, self.points, self.commit_point, self.fired = 0, 0, None, False
        self.sites: list[str] = []  # each point, as file:line function (for messages)
        self.previous: dict[int, int | None] = {}  # each traced frame's last opcode

    def run(self, argv: list, monkeypatch):
        from lstmcli.steps import exporting

        with monkeypatch.context() as patch:
            patch.setattr(outputs, "committed", self._counting(outputs.committed))
            patch.setattr(exporting, "committed_directory", self._counting(outputs.committed_directory))
            try:
                return invoke(argv)
            finally:
                sys.settrace(None)

    def _counting(self, write):
        @contextlib.contextmanager
        def counted(*args, **kwargs):
            self.seen_writes += 1
            if self.seen_writes == self.writes:
                sys.settrace(self._trace)
                frame = sys._getframe(2)  # the callers already running: trace them too
                while frame is not None:
                    if frame.f_code.co_filename.startswith(SOURCE):
                        frame.f_trace, frame.f_trace_opcodes = self._trace, True
                    frame = frame.f_back
            with write(*args, **kwargs) as made:
                yield made

        return counted

    def _trace(self, frame, event, arg):
        if not frame.f_code.co_filename.startswith(SOURCE):
            return None
        frame.f_trace_opcodes = True
        if event == "call":
            self.previous[id(frame)] = None
            self._point(frame)
        elif event == "opcode":
            after = self.previous.get(id(frame)) in AFTER
            self.previous[id(frame)] = frame.f_code.co_code[frame.f_lasti]
            if after:
                self._point(frame)
        return self._trace

    def _point(self, frame) -> None:
        if self.fired:
            return
        self.points += 1
        self.sites.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno} {frame.f_code.co_name}")
        if frame.f_code is COMMIT and frame.f_lineno == MOVED and self.at is None:
            self.commit_point = self.points  # the last commit: run's five outputs move in after predict's write
        if self.points == self.at and signal.getsignal(self.signum) is process._handler:
            self.fired = True
            signal.raise_signal(self.signum)


def positions(points: int, commit: int, near: tuple[int, int], spread: int) -> list[int]:
    """The points from near[0] before the rename's return to near[1] after it, and `spread` more over the stretch."""
    close = range(max(1, commit - near[0]), min(points, commit + near[1]) + 1)
    return sorted(set(close) | {1 + round(i * (points - 1) / (spread - 1)) for i in range(spread)})


# Per command: the points scanned (before the commit, after it) and spread over the rest; evaluate in
# full around its commit, the costlier commands (a trial each) more sparsely.
PLAN = {"evaluate": (8, 16, 6), "predict": (3, 5, 4), "export": (2, 2, 3), "fit": (2, 2, 3), "run": (1, 1, 2)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PLAN))
def test_a_signal_at_any_line_of_the_final_write_gives_an_exit_code_message_and_files_that_agree(
    name, tiny, tmp_path, monkeypatch
):
    """Issue 24: exit 0 after a Ctrl-C, "no output was written" beside the written file, a traceback."""
    folder = tmp_path / "reference"
    prepare(name, tiny, folder)
    argv, paths = commands(tiny, folder)[name]
    count = PointSignal(writes=sys.maxsize)  # how many writes (run makes five): the last one is scanned
    assert count.run(argv, monkeypatch).exit_code == 0
    shutil.rmtree(folder)
    prepare(name, tiny, folder)
    counter = PointSignal(writes=count.seen_writes)
    reference = counter.run(argv, monkeypatch)
    assert reference.exit_code == 0, reference
    assert counter.commit_point is not None, "the trace never reached the commit"
    outcomes = {"aborted": 0, "after": 0, "finished": 0}
    for i, at in enumerate(positions(counter.points, counter.commit_point, PLAN[name][:2], PLAN[name][2])):
        signum = (signal.SIGINT, signal.SIGTERM)[i % 2]
        folder = tmp_path / f"{at}"
        prepare(name, tiny, folder)
        argv, paths = commands(tiny, folder)[name]
        tracer = PointSignal(counter.writes, at, signum)
        outcome = tracer.run(argv, monkeypatch)
        where = (
            f"{name}, {signal.Signals(signum).name} at line {at} of {counter.points} ({counter.sites[at - 1]}; "
            f"the commit at {counter.commit_point})"
        )
        assert outcome.exception is None or isinstance(outcome.exception, SystemExit), f"{where}: {outcome}"
        outcomes[
            check_agreement(name, where, outcome.exit_code, outcome.stderr, paths, signum if tracer.fired else None)
        ] += 1
    assert outcomes["aborted"] and outcomes["after"], outcomes


# --------------------------------------------------------------- real processes, real delays

MS = 0.001
# Per command: which write the delays count from, and the delays; evaluate's also from the fork
# (write 0), landing in start-up. (run's last write is predict's: the scan in process covers it.)
REAL = {
    "evaluate": (1, [0, 0.5 * MS, 1 * MS, 1.25 * MS, 1.5 * MS, 1.75 * MS, 2 * MS, 3 * MS, 5 * MS]),
    "evaluate at start-up": (0, [0, 0.1]),
    "predict": (1, [0, 2 * MS]),
    "export": (1, [300 * MS]),
    "export to the end": (1, [60.0]),  # no signal: autograph's files must still go with the process
    "fit": (1, [50 * MS]),
}


@pytest.mark.slow
def test_a_signal_at_real_moments_around_the_final_write_gives_an_exit_code_message_and_files_that_agree(
    tiny, tmp_path
):
    """Issue 24, across the process boundary: the final flush, `os._exit`, start-up; and TensorFlow's temporaries.

    Every process ran with its own $TMPDIR, which must be empty afterwards: autograph's
    `__autograph_generated_file*.py` went to a private folder that went with the process.
    """
    plan = []
    for k, (kind, (after, delays)) in enumerate(REAL.items()):
        name = kind.split()[0]
        for i, delay in enumerate(delays):
            folder = tmp_path / f"{k}-{name}-{i}"
            prepare(name, tiny, folder)
            argv, paths = commands(tiny, folder)[name]
            (folder / "tmp").mkdir()
            plan.append(
                {
                    "kind": kind,
                    "argv": [str(a) for a in argv],
                    "paths": [str(p) for p in paths],
                    "cwd": str(tmp_path),
                    "stderr": str(tmp_path / f"{k}-{name}-{i}.stderr"),
                    "tmpdir": str(folder / "tmp"),
                    "signum": int((signal.SIGINT, signal.SIGTERM)[i % 2]),
                    "delay": delay,
                    "after": after,
                }
            )
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    forker = Path(__file__).with_name("forked_trials.py")
    proc = subprocess.run(
        [sys.executable, str(forker), str(tmp_path / "plan.json"), str(tmp_path / "results.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "100"},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    outcomes = {"aborted": 0, "after": 0, "finished": 0}
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(plan)
    for result in results:
        name, signum, paths = (
            result["kind"].split()[0],
            signal.Signals(result["signum"]),
            [Path(p) for p in result["paths"]],
        )
        where = f"{result['kind']}, {signum.name} {result['delay'] / MS:g} ms after write {result['after']}"
        tmpdir = Path(result["tmpdir"])
        assert list(tmpdir.iterdir()) == [], f"{where}: left in $TMPDIR: {[p.name for p in tmpdir.iterdir()]}"
        tmpdir.rmdir()
        stderr = Path(result["stderr"]).read_text()
        seen = check_agreement(name, where, result["code"], stderr, paths, None if result["exited_first"] else signum)
        if result["after"] == 0:
            assert seen == "aborted", f"{where}: a signal in start-up must stop the step before any work: {stderr}"
        outcomes[seen] += 1
    # Where each delay lands depends on the machine's speed and load; every trial above had to agree.
    assert outcomes["aborted"] >= 2 and outcomes["finished"] >= 1, outcomes
