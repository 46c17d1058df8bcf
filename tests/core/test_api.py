"""The Python API: the steps are importable, take typed options, and write what the commands write."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmcli import steps
from lstmcli.errors import ConfigError, StageError

REPO = Path(__file__).resolve().parents[2]


def weights(path: Path) -> list:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


@pytest.mark.slow
def test_the_readme_python_example_writes_what_the_commands_write(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("d.csv").write_text("value\n" + "\n".join(str(i / 10) for i in range(10)) + "\n")
    assert cli("define", "--features", "value", "--lstm", "4", "--seed", "1", "--out", "cli-d.keras").exit_code == 0
    assert cli("compile", "cli-d.keras", "--out", "cli-c.keras").exit_code == 0
    assert (
        cli(
            "fit",
            "cli-c.keras",
            "--data",
            "d.csv",
            "--epochs",
            "5",
            "--seed",
            "3",
            "--verbose",
            "0",
            "--out",
            "cli-f.keras",
        ).exit_code
        == 0
    )

    steps.define(steps.DefineOptions(features=["value"], lstm=[4], seed=1, out="d.keras"))
    steps.compile("d.keras", steps.CompileOptions(out="c.keras"))
    fitted = steps.fit("c.keras", steps.FitOptions(data="d.csv", epochs=5, seed=3, out="f.keras"))

    assert fitted.path == Path("f.keras") and fitted.stage == "fitted"
    for name in ("d", "c", "f"):
        for mine, theirs in zip(weights(Path(f"{name}.keras")), weights(Path(f"cli-{name}.keras")), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    assert fitted.history == steps.inspect("cli-f.keras")["history"]["values"]
    metrics = steps.evaluate("f.keras", steps.EvaluateOptions(data="d.csv"))
    assert metrics["loss"] == pytest.approx(
        float(cli("evaluate", "cli-f.keras", "--data", "d.csv", "--json").stdout.split('"loss": ')[1].split(",")[0])
    )
    frame = steps.predict("f.keras", steps.PredictOptions(data="d.csv"))
    assert frame.to_csv(index=False) == cli("predict", "cli-f.keras", "--data", "d.csv").stdout


def test_options_check_their_values_when_made_with_the_commands_messages():
    with pytest.raises(ConfigError, match=r"FitOptions.epochs must be at least 1\. Received: 0"):
        steps.FitOptions(epochs=0)
    with pytest.raises(ConfigError, match=r"DefineOptions.task must be one of regression, binary, multiclass"):
        steps.DefineOptions(task="regresion")
    opts = steps.FitOptions(data="d.csv", batch_size="all", features="a,b")
    assert opts.data == Path("d.csv") and opts.batch_size == "all" and opts.features == ["a", "b"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.epochs = 3
    assert dataclasses.replace(opts, epochs=4).epochs == 4


def test_a_step_raises_the_error_its_command_prints(tmp_path):
    steps.define(steps.DefineOptions(features=["value"], lstm=[2], out=tmp_path / "d.keras"))
    with pytest.raises(StageError, match="compile"):
        steps.fit(tmp_path / "d.keras", steps.FitOptions(data=tmp_path / "d.csv", out=tmp_path / "f.keras"))
    assert not (tmp_path / "f.keras").exists()


def test_importing_the_steps_and_their_options_stays_light():
    probe = "import sys; from lstmcli import steps; steps.FitOptions; print(sorted(m for m in ('numpy', 'pandas', 'tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src")}
    )
    assert out.stdout == "[]\n", out
