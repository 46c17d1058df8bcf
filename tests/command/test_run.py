"""`lstmcli run` checked whole before any work, written whole or not at all, and its `--set` overrides."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import REPO
from corpus_helpers import snapshot

from lstmcli.errors import TrainingError

CONFIG = REPO / "configs" / "sequence.toml"
DATA = REPO / "data" / "sequence.csv"


def config(tmp_path: Path, *, lstm: int = 10, extra: str = "") -> Path:
    """The classic example's config, fast: 20 epochs, its data by absolute path."""
    path = tmp_path / f"c{lstm}.toml"
    path.write_text(
        f"[define]\ntimesteps = 1\nfeatures = ['value']\nlstm = [{lstm}]\nseed = 7\n"
        f"[compile]\noptimizer = 'adam'\n"
        f"[fit]\ndata = '{DATA}'\nepochs = 20\nbatch_size = 'all'\nscaling = 'none'\nverbose = '0'\nseed = 7\n" + extra
    )
    return path


@pytest.fixture(scope="module")
def first(tmp_path_factory, cli):
    """A workdir written by one successful run, and its snapshot."""
    root = tmp_path_factory.mktemp("first")
    run = cli("run", "--config", config(root), "--workdir", root / "w", "-q")
    assert run.exit_code == 0, run
    return root / "w", snapshot(root / "w")


def test_a_run_whose_fit_fails_leaves_an_earlier_runs_workdir_as_it_was(first, cli, tmp_path, monkeypatch):
    """Issue 21 (2): the earlier fitted/metrics/predictions stayed beside the new defined/compiled."""
    from lstmcli.steps import fitting

    workdir, before = first
    work = tmp_path / "w"
    os.system(f"cp -a {workdir} {work}")

    def failing(*args, **kwargs):
        raise TrainingError("the loss became NaN at epoch 1")

    monkeypatch.setattr(fitting, "fit", failing)
    run = cli("run", "--config", config(tmp_path, lstm=3), "--workdir", work, "-q")
    assert run.exit_code == 1 and "loss became NaN" in run.stderr, run
    assert snapshot(work) == before  # nothing replaced, nothing added (no staging folder left)


def test_a_run_whose_predict_fails_writes_nothing_and_makes_no_folder(cli, tmp_path, monkeypatch):
    from lstmcli.steps import predicting

    def failing(*args, **kwargs):
        raise TrainingError("predict broke")

    monkeypatch.setattr(predicting, "predict", failing)
    run = cli("run", "--config", config(tmp_path), "--workdir", tmp_path / "new" / "w", "-q")
    assert run.exit_code == 1, run
    assert not (tmp_path / "new").exists()  # the folders it made for the outputs are gone too


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(cli, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    (work / f".run.{dead}.abc.tmp").mkdir()
    (work / f".run.{dead}.abc.tmp" / "defined.keras").write_text("half")
    run = cli("run", "--config", config(tmp_path), "--workdir", work, "-q")
    assert run.exit_code == 0, run
    assert sorted(p.name for p in work.iterdir()) == sorted(
        ["defined.keras", "compiled.keras", "fitted.keras", "metrics.json", "predictions.csv"]
    )


def test_run_reads_stdin_once_for_fit_evaluate_and_predict(cli, tmp_path):
    """Issue 21 (2): `data = "-"` fitted on stdin, then evaluate found it empty (exit 2 after writing)."""
    path = tmp_path / "c.toml"
    path.write_text(config(tmp_path).read_text().replace(f"data = '{DATA}'", "data = '-'"))
    run = cli("run", "--config", path, "--workdir", tmp_path / "w", input=DATA.read_text())
    assert run.exit_code == 0, run
    assert json.loads((tmp_path / "w" / "metrics.json").read_text())["samples"] == 9
    assert len((tmp_path / "w" / "predictions.csv").read_text().splitlines()) == 10


def test_a_failed_gate_leaves_every_output_written_and_exits_3(cli, tmp_path):
    path = config(tmp_path, extra="[evaluate]\nfail_if = ['loss>0']\n")
    run = cli("run", "--config", path, "--workdir", tmp_path / "w", "-q")
    assert run.exit_code == 3 and "gate failed: loss is" in run.stderr, run
    assert len(list((tmp_path / "w").iterdir())) == 5


def test_set_replaces_config_values_as_the_config_would_set_them(cli, tmp_path):
    """Issue 23: `run` took no overrides of its config's values."""
    run = cli(
        "run",
        "--config",
        config(tmp_path),
        "--workdir",
        tmp_path / "w",
        "--set",
        "fit.epochs=3",
        "-S",
        "define.lstm=[4, 2]",
        "--set",
        "compile.optimizer=sgd",
        "--set",
        "fit.batch-size=4",
        "-q",
    )
    assert run.exit_code == 0, run
    from lstmcli.model.artifact import read_record

    record = read_record(tmp_path / "w" / "fitted.keras")
    assert record.fit["epochs"] == 3 and record.fit["batch_size"] == 4
    assert record.architecture["layers"] == [{"kind": "lstm", "units": 4}, {"kind": "lstm", "units": 2}]
    assert record.compile["optimizer"] == "sgd"
    assert record.lineage[1]["parent"]["path"] == str(tmp_path / "w" / "defined.keras")  # not the staging folder


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("fit.epoch=5", r"--set fit\.epoch: \[fit\] has no option 'epoch' \(did you mean 'epochs'\?\)"),
        ("fitt.epochs=5", r"'fitt' is not a table of this command; the tables are define, .* \(did you mean 'fit'\?\)"),
        ("fit.epochs=0", r"--set fit\.epochs must be at least 1\. Received: 0"),
        ("fit.epochs=five", r"--set fit\.epochs must be a whole number\. Received: 'five'"),
        ("define.lstm=[1.5]", r"--set define\.lstm must be a list of whole numbers"),
        ("epochs=5", r"--set takes TABLE\.KEY=VALUE, such as fit\.epochs=5\. Received: 'epochs=5'"),
        ("fit.epochs", r"--set takes TABLE\.KEY=VALUE"),
        ("fit.out=x.keras", r"--set fit\.out: run writes every output into --workdir"),
        ("compile.optimizer=adamm", r"adamm"),
    ],
)
def test_a_bad_set_is_refused_before_any_work(given, expected, cli, tmp_path):
    import re

    run = cli("run", "--config", config(tmp_path), "--workdir", tmp_path / "w", "--set", given)
    assert run.exit_code == 2, run
    assert re.search(expected, run.stderr), run.stderr
    assert not (tmp_path / "w").exists()


def test_run_help_shows_set(cli):
    run = cli("run", "--help")
    assert "--set" in run.stdout and "-S" in run.stdout and "TABLE.KEY=VALUE" in run.stdout


def test_the_metrics_run_can_gate_are_the_ones_evaluate_reports(first):
    """`evaluating.reportable` (run's early check of its gates) names every metric evaluate wrote."""
    from lstmcli.data.dataspec import DataSpec
    from lstmcli.model.artifact import read_record
    from lstmcli.model.tasks import get_task
    from lstmcli.steps.evaluating import reportable

    workdir, _ = first
    record = read_record(workdir / "fitted.keras")
    names, prefixes = reportable(get_task(record.task), record.compile["metrics"], DataSpec.from_dict(record.data_spec))
    reported = json.loads((workdir / "metrics.json").read_text())
    assert set(reported) <= set(names) and not prefixes


def test_fits_history_is_written_with_the_five_or_not_at_all(cli, tmp_path, monkeypatch):
    """fit's --history (outside the workdir) is staged too: a run that fails after its fit leaves none."""
    from lstmcli.steps import predicting

    history = tmp_path / "elsewhere" / "history.csv"
    path = config(tmp_path)
    text = path.read_text().replace("verbose = '0'\n", f"verbose = '0'\nhistory = '{history}'\n")
    path.write_text(text)
    real = predicting.predict

    def failing(*args, **kwargs):
        raise TrainingError("predict broke")

    monkeypatch.setattr(predicting, "predict", failing)
    run = cli("run", "--config", path, "--workdir", tmp_path / "w", "-q")
    assert run.exit_code == 1 and not history.exists() and not (tmp_path / "w").exists(), run
    monkeypatch.setattr(predicting, "predict", real)
    run = cli("run", "--config", path, "--workdir", tmp_path / "w", "-q")
    assert run.exit_code == 0, run
    assert len(history.read_text().splitlines()) == 21  # a header and 20 epochs
    assert not list((tmp_path / "elsewhere").glob(".*"))


def test_run_gates_a_samples_regression_on_the_percentages_evaluate_reports(cli, tmp_path):
    """A samples-layout regression's evaluate reports original_mape and original_smape: run may gate on them."""
    data = tmp_path / "s.csv"
    data.write_text("x1,x2,y\n" + "".join(f"{i / 10},{i / 20},{1 + i / 7}\n" for i in range(20)))
    path = tmp_path / "s.toml"
    path.write_text(
        "[define]\ntask = 'regression'\nlayout = 'samples'\nfeatures = ['x1', 'x2']\ntarget = ['y']\nlstm = [2]\n"
        "[compile]\noptimizer = 'adam'\n[fit]\ndata = 's.csv'\nepochs = 1\nverbose = '0'\n"
        "[evaluate]\nfail_if = ['original_smape>1000000', 'original_mape>1000000']\n"
    )
    run = cli("run", "--config", path, "--workdir", tmp_path / "w", "-q")
    assert run.exit_code == 0, run
