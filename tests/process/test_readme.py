"""The README's examples run as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil

import pytest
from conftest import REPO

README = (REPO / "README.md").read_text()


def commands(section: str) -> list[list[str]]:
    """Every `lstmcli …` command in the sh blocks of a README section, continuation lines joined."""
    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for block in re.findall(r"```sh\n(.*?)```", body, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "lstmcli":
                found.append(words[1:])
    return found


def test_the_five_commands_walkthrough_runs(tmp_path, cli, monkeypatch):
    steps = commands("The five commands, on the classic example")
    assert [s[0] for s in steps] == ["define", "compile", "fit", "evaluate", "predict"]
    shutil.copytree(REPO / "data", tmp_path / "data")
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    for step in steps:
        redirect = step.index(">") if ">" in step else None
        run = cli(*(step[:redirect] if redirect else step))
        assert run.exit_code == 0, (step, run)
        if redirect:
            (tmp_path / step[redirect + 1]).write_text(run.stdout)
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert lines[0] == "row,predicted_value" and len(lines) == 10


@pytest.mark.parametrize("step", commands("Data"), ids=lambda s: " ".join(s[:3]))
def test_the_data_layout_examples_define_models(tmp_path, cli, monkeypatch, step):
    monkeypatch.chdir(tmp_path)
    run = cli(*step)
    assert run.exit_code == 0, run
    out = step[step.index("--out") + 1]
    assert os.path.exists(out)


@pytest.mark.slow
def test_the_forecasting_walkthrough_runs(tmp_path, cli, monkeypatch):
    import pandas as pd

    steps = commands("Forecasting")
    assert [s[0] for s in steps] == ["define", "compile", "fit", "evaluate", "predict", "predict", "backtest"]
    shutil.copytree(REPO / "data", tmp_path / "data")
    (tmp_path / "build").mkdir()
    monkeypatch.chdir(tmp_path)
    for step in steps:
        step = [("1" if prev == "--epochs" else word) for prev, word in zip([None, *step], step)]  # a quick run
        redirect = step.index(">") if ">" in step else None
        run = cli(*(step[:redirect] if redirect else step))
        assert run.exit_code == 0, (step, run)
        if redirect:
            (tmp_path / step[redirect + 1]).write_text(run.stdout)
        if step[0] == "evaluate":
            assert {"naive_rmse", "seasonal_naive_rmse", "skill", "mase", "step_12_skill"} <= {
                line.split()[0] for line in run.stdout.splitlines()
            }
        if step[0] == "backtest":
            assert run.stdout.splitlines()[-2].startswith("mean")
    test = pd.read_csv(tmp_path / "build/co2-test.csv")
    assert list(test.columns) == ["month", "step", "predicted_co2"] and test["month"].iloc[0] == "1990-01"
    future = pd.read_csv(tmp_path / "build/co2-future.csv")
    assert future["month"].tolist()[:2] == ["2002-01", "2002-02"] and future["month"].iloc[-1] == "2004-12"


def test_the_classification_example_runs(tmp_path, cli, monkeypatch):
    import json

    import numpy as np
    import pandas as pd

    steps = commands("Classification")
    assert [s[0] for s in steps] == ["define", "compile", "fit", "evaluate"]
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 7, 45)
    words = np.array(["yes", "no", "maybe"])[np.arange(45) % 3]
    x = (np.arange(45) % 3)[:, None] + 0.2 * rng.standard_normal((45, 6))
    x[np.arange(6)[None, :] >= lengths[:, None]] = np.nan
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(6)])
    frame["word"] = words
    frame.to_csv(tmp_path / "words.csv", index=False)
    monkeypatch.chdir(tmp_path)
    for step in steps:
        run = cli(*step)
        assert run.exit_code == 0, (step, run)
    metrics = json.loads(run.stdout)
    assert {"majority_accuracy", "recall_yes", "recall_no", "recall_maybe"} <= set(metrics)


def yaml_blocks(section: str) -> list[dict]:
    import yaml

    body = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", body, re.S)]


def in_a_copy_of_the_repo(tmp_path, monkeypatch):
    shutil.copytree(REPO / "data", tmp_path / "data")
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)


def test_the_dvc_pipeline_and_the_pipeline_examples_run(tmp_path, cli, monkeypatch):
    """dvc.yaml's stages, each `cmd` in order (as `dvc repro` would), then the section's sh examples."""
    import json

    import pandas as pd

    dvc = next(block for block in yaml_blocks("Pipelines and CI") if "stages" in block)
    in_a_copy_of_the_repo(tmp_path, monkeypatch)
    made = set()
    for name, stage in dvc["stages"].items():
        words = shlex.split(stage["cmd"])
        assert words[0] == "lstmcli" and words[1] == name
        for dep in stage["deps"]:
            assert os.path.exists(dep) and (dep in made or not dep.startswith("build/")), (name, dep)
        run = cli(*words[1:])
        assert run.exit_code == 0, (name, run)
        outputs = stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", [])
        for out in outputs:
            path, props = next(iter(out.items())) if isinstance(out, dict) else (out, {})
            assert os.path.exists(path), (name, path)
            made.add(path)
            if "x" in props:
                assert {props["x"], props["y"]} <= set(pd.read_csv(path).columns), (name, path)
    assert json.loads(open("build/metrics.json").read())["loss"] < 0.01
    steps = commands("Pipelines and CI")
    assert [s[0] for s in steps] == ["evaluate", "run", "run", "inspect", "plot"]
    for step in steps:
        run = cli(*step)
        assert run.exit_code == 0, (step, run)
    for workdir in ("build/run", "build/quick"):
        assert sorted(os.listdir(workdir)) == [
            "compiled.keras",
            "defined.keras",
            "fitted.keras",
            "metrics.json",
            "predictions.csv",
        ]
    from lstmcli.model.artifact import read_record

    quick = read_record("build/quick/fitted.keras")  # the README's --set example took effect
    assert quick.fit["epochs"] == 50 and quick.architecture["layers"] == [{"kind": "lstm", "units": 16}]
    assert sorted(os.listdir("build/figures")) == ["history.png", "predictions.png"]


def test_the_github_actions_job_runs_the_pipeline_as_a_smoke_test(tmp_path, cli, monkeypatch):
    from lstmcli.model.artifact import read_record

    workflow = next(block for block in yaml_blocks("Pipelines and CI") if "jobs" in block)
    (job,) = workflow["jobs"].values()
    in_a_copy_of_the_repo(tmp_path, monkeypatch)
    for name, value in job["env"].items():
        monkeypatch.setenv(name, str(value))
    ran = []
    for step in job["steps"]:
        if "uses" in step:
            assert step["uses"].split("@")[0] in ("actions/checkout", "actions/setup-python", "actions/upload-artifact")
            continue
        for line in step["run"].strip().splitlines():
            words = shlex.split(line)
            if words[0] == "pip":
                assert words == ["pip", "install", "."]  # this test runs the checkout's lstmcli already
                continue
            assert words[0] == "lstmcli"
            run = cli(*words[1:])
            assert run.exit_code == 0, (line, run)
            ran.append(words[1])
    assert ran == ["run", "evaluate", "inspect"]
    assert read_record(tmp_path / "build" / "fitted.keras").fit["smoke"] is True
    assert os.path.exists(job["steps"][-1]["with"]["path"])
    gate = next(line for step in job["steps"] for line in step.get("run", "").splitlines() if "--fail-if" in line)
    failing = shlex.split(gate.replace("'loss>1'", "'loss>1e-9'"))
    assert cli(*failing[1:]).exit_code == 3  # the job's gate does gate


@pytest.mark.slow
def test_the_python_api_example_prints_what_the_readme_shows(tmp_path):
    import subprocess
    import sys

    body = README.split("## Python API\n", 1)[1].split("\n## ", 1)[0]
    code, shown = re.findall(r"```python\n(.*?)```", body, re.S)[0], re.findall(r"```text\n(.*?)```", body, re.S)[0]
    shutil.copytree(REPO / "data", tmp_path / "data")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == shown
