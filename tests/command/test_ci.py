"""Pipelines and CI: metric gates, metrics files, smoke runs and `lstmcli run`, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

CONFIG = REPO / "configs" / "sequence.toml"


def weights(path):
    import keras

    return keras.saving.load_model(path).get_weights()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, cli):
    """The classic example's artifacts, fitted by a smoke run."""
    root = tmp_path_factory.mktemp("smoke")
    d, c, f = (root / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    assert cli("define", "--config", CONFIG, "--out", d).exit_code == 0
    assert cli("compile", d, "--config", CONFIG, "--out", c).exit_code == 0
    run = cli("fit", c, "--config", CONFIG, "--smoke", "--verbose", "2", "--out", f)
    assert run.exit_code == 0, run
    assert "smoke run: fitted 1 epochs" in run.stderr
    return {"defined": d, "compiled": c, "fitted": f, "root": root}


def test_a_failed_gate_exits_3_after_writing_the_metrics(smoke, cli):
    out = smoke["root"] / "m.json"
    run = cli(
        "evaluate",
        smoke["fitted"],
        "--config",
        CONFIG,
        "--out",
        out,
        "--fail-if",
        "loss>1e-6",
        "--fail-if",
        "samples<5",
        "--fail-if",
        "original_mae>=0",
    )
    assert run.exit_code == 3, run
    metrics = json.loads(out.read_text())
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert f"loss is {metrics['loss']:.6g}" in errors[0] and "> 1e-06" in errors[0]
    assert "original_mae is" in errors[1] and ">= 0" in errors[1]


def test_gates_that_hold_exit_0_and_print_the_metrics(smoke, cli):
    run = cli(
        "evaluate", smoke["fitted"], "--config", CONFIG, "--json", "--fail-if", "loss>1000", "--fail-if", "samples<9"
    )
    assert run.exit_code == 0, run
    assert json.loads(run.stdout)["samples"] == 9


def test_a_gate_on_an_unknown_metric_is_a_usage_error(smoke, cli):
    out = smoke["root"] / "unknown.json"
    run = cli("evaluate", smoke["fitted"], "--config", CONFIG, "--out", out, "--fail-if", "accuracy<0.9")
    assert run.exit_code == 2, run
    assert "evaluate reports no metric 'accuracy'; the metrics are loss, original_rmse" in run.stderr
    assert not out.exists()


def gated_config(tmp_path, gate="loss>1e-9"):
    """configs/sequence.toml with an [evaluate] fail_if gate, its data paths made absolute."""
    text = CONFIG.read_text().replace("../data/", f"{REPO / 'data'}/")
    path = tmp_path / "gated.toml"
    path.write_text(text.replace("[evaluate]\n", f"[evaluate]\nfail_if = [{gate!r}]\n"))
    return path


def test_gates_come_from_the_config_too(smoke, cli, tmp_path):
    run = cli("evaluate", smoke["fitted"], "--config", gated_config(tmp_path))
    assert run.exit_code == 3, run
    assert "gate failed: loss is" in run.stderr


def test_a_bad_gate_is_refused_before_any_work(smoke, cli):
    run = cli("evaluate", smoke["fitted"], "--config", CONFIG, "--fail-if", "loss=>1")
    assert run.exit_code == 2
    assert "error: --fail-if takes METRIC<BOUND" in run.stderr


@pytest.mark.parametrize("name, load", [("m.json", json.loads), ("m.yaml", yaml.safe_load), ("m.yml", yaml.safe_load)])
def test_metrics_files_dvc_and_mlflow_read(smoke, cli, name, load):
    out = smoke["root"] / name
    assert cli("evaluate", smoke["fitted"], "--config", CONFIG, "--out", out).exit_code == 0
    printed = json.loads(cli("evaluate", smoke["fitted"], "--config", CONFIG, "--json").stdout)
    assert load(out.read_text()) == printed


def test_a_metrics_csv_is_one_row_of_named_columns(smoke, cli):
    out = smoke["root"] / "m.csv"
    assert cli("evaluate", smoke["fitted"], "--config", CONFIG, "--out", out).exit_code == 0
    frame = pd.read_csv(out)
    printed = json.loads(cli("evaluate", smoke["fitted"], "--config", CONFIG, "--json").stdout)
    assert list(frame.columns)[:3] == ["loss", "original_rmse", "original_mae"] and len(frame) == 1
    assert list(frame.columns) == list(printed) and frame.iloc[0].to_dict() == pytest.approx(printed, rel=1e-12)


def test_an_extension_evaluate_cannot_write_is_refused(smoke, cli):
    out = smoke["root"] / "metrics.xlsx"
    run = cli("evaluate", smoke["fitted"], "--config", CONFIG, "--out", out)
    assert run.exit_code == 2
    assert "evaluate writes metrics as .json, .yaml, .yml, .csv, .txt" in run.stderr
    assert not out.exists()


def test_a_smoke_artifact_says_so_everywhere(smoke, cli):
    from lstmcli.model.artifact import read_record

    record = read_record(smoke["fitted"])
    assert record.fit["smoke"] is True and record.epochs == 1 and record.lineage[-1]["smoke"] is True
    for command in ("evaluate", "predict"):
        run = cli(command, smoke["fitted"], "--config", CONFIG)
        assert run.exit_code == 0
        warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == [
            f"warning: {smoke['fitted']} is a smoke artifact (fit --smoke: 1 epoch on 9 samples); "
            "its results only show that the pipeline runs"
        ]
    summary = json.loads(cli("verify", smoke["fitted"], "--json").stdout)
    assert summary["smoke"] == "fit --smoke: 1 epoch on 9 samples"


def test_training_a_smoke_artifact_further_keeps_it_marked(smoke, cli):
    more = smoke["root"] / "more.keras"
    assert cli("fit", smoke["fitted"], "--config", CONFIG, "--epochs", "2", "--out", more).exit_code == 0
    summary = json.loads(cli("verify", more, "--json").stdout)
    assert summary["smoke"] == "an earlier fit in its lineage was a smoke run" and summary["epochs"] == 3


@pytest.mark.parametrize("env, smoked", [("1", True), ("0", False), ("", False)])
def test_the_environment_makes_every_fit_a_smoke_fit(smoke, cli, monkeypatch, tmp_path, env, smoked):
    from lstmcli.model.artifact import read_record

    rows = tmp_path / "long.csv"
    pd.DataFrame({"value": np.sin(np.arange(200) / 5)}).to_csv(rows, index=False)
    monkeypatch.setenv("LSTMCLI_SMOKE", env)
    out = tmp_path / "f.keras"
    run = cli(
        "fit", smoke["compiled"], "--data", rows, "--epochs", "3", "--batch-size", "8", "--verbose", "0", "--out", out
    )
    assert run.exit_code == 0, run
    record = read_record(out)
    assert record.fit["smoke"] is smoked
    assert (record.fit["epochs"], record.fit["samples"]) == ((1, 24) if smoked else (3, 199))


def test_smoke_caps_a_full_batch_and_the_validation_too(smoke, cli, tmp_path):
    from lstmcli.model.artifact import read_record

    rows = tmp_path / "long.csv"
    pd.DataFrame({"value": np.sin(np.arange(400) / 5)}).to_csv(rows, index=False)
    out = tmp_path / "f.keras"
    run = cli(
        "fit",
        smoke["compiled"],
        "--data",
        rows,
        "--batch-size",
        "all",
        "--validation-split",
        "0.5",
        "--smoke",
        "--verbose",
        "0",
        "--out",
        out,
    )
    assert run.exit_code == 0, run
    fit = read_record(out).fit
    assert (fit["samples"], fit["validation_samples"], fit["epochs"]) == (96, 96, 1)


def test_run_writes_the_five_outputs_of_the_five_commands(cli, tmp_path):
    """One process, the same config: bit-identical weights, metrics and predictions."""
    separate = tmp_path / "separate"
    d, c, f = (separate / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    assert cli("define", "--config", CONFIG, "--out", d).exit_code == 0
    assert cli("compile", d, "--config", CONFIG, "--out", c).exit_code == 0
    assert cli("fit", c, "--config", CONFIG, "--out", f).exit_code == 0
    assert cli("evaluate", f, "--config", CONFIG, "--out", separate / "metrics.json").exit_code == 0
    assert cli("predict", f, "--config", CONFIG, "--out", separate / "predictions.csv").exit_code == 0

    run = cli("run", "--config", CONFIG, "--workdir", tmp_path / "one")
    assert run.exit_code == 0, run
    one = tmp_path / "one"
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in separate.iterdir())
    for name in ("defined.keras", "compiled.keras", "fitted.keras"):
        for mine, theirs in zip(weights(one / name), weights(separate / name), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert (one / "metrics.json").read_text() == (separate / "metrics.json").read_text()
    assert (one / "predictions.csv").read_text() == (separate / "predictions.csv").read_text()
    assert json.loads((one / "metrics.json").read_text())["loss"] < 1e-3
    assert run.stdout.startswith("loss ")
    assert [line.split(" → ")[0] for line in run.stderr.splitlines()] == [
        "defined",
        "compiled",
        "fitted",
        "metrics",
        "predictions",
    ]


def test_run_needs_training_data_and_a_folder(cli, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[define]\ntimesteps = 1\n")
    run = cli("run", "--config", config, "--workdir", tmp_path / "w")
    assert run.exit_code == 2 and "run needs the training data" in run.stderr
    assert not (tmp_path / "w").exists()
    (tmp_path / "file").write_text("")
    run = cli("run", "--config", CONFIG, "--workdir", tmp_path / "file")
    assert run.exit_code == 2 and "is a file" in run.stderr


def lstmcli(*args, env, cwd):
    environment = {**os.environ, "NO_COLOR": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "lstmcli", *map(str, args)], capture_output=True, text=True, env=environment, cwd=cwd
    )


@pytest.mark.slow
def test_a_smoke_pipeline_of_processes_gates_like_run(tmp_path):
    """LSTMCLI_SMOKE=1 through real processes: the steps and `run` fit the same weights; run's gate exits 3."""
    env = {"LSTMCLI_SMOKE": "1"}
    d, c, f = (tmp_path / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    for step in (
        ("define", "--config", CONFIG, "--out", d),
        ("compile", d, "--config", CONFIG, "--out", c),
        ("fit", c, "--config", CONFIG, "--out", f),
    ):
        assert lstmcli(*step, env=env, cwd=tmp_path).returncode == 0
    config = gated_config(tmp_path)
    one = lstmcli("run", "--config", config, "--workdir", tmp_path / "one", env=env, cwd=tmp_path)
    assert one.returncode == 3, one.stderr
    assert one.stdout.startswith("loss ") and "error: gate failed: loss is" in one.stderr
    assert (tmp_path / "one" / "predictions.csv").exists() and "smoke artifact" in one.stderr
    for mine, theirs in zip(weights(tmp_path / "one" / "fitted.keras"), weights(f), strict=True):
        np.testing.assert_array_equal(mine, theirs)
