"""Real processes: the product is five commands chained through files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

CONFIG = REPO / "configs" / "sequence.toml"


def lstmcli(*args, env=None, check=True):
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the tool must silence TensorFlow itself
    proc = subprocess.run(
        [sys.executable, "-m", "lstmcli", *map(str, args)], capture_output=True, text=True, env=environment
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_five_processes_chain_the_classic_example(tmp_path):
    d, c, f = (tmp_path / f"{n}.keras" for n in ("defined", "compiled", "fitted"))
    for step in (
        ("define", "--config", CONFIG, "--out", d),
        ("compile", d, "--config", CONFIG, "--out", c),
        ("fit", c, "--config", CONFIG, "--out", f),
    ):
        proc = lstmcli(*step)
        assert proc.stdout == ""
        assert "oneDNN" not in proc.stderr and "cuda" not in proc.stderr.lower()
        assert "Traceback" not in proc.stderr
    metrics = json.loads(lstmcli("evaluate", f, "--config", CONFIG, "--json").stdout)
    assert metrics["loss"] < 1e-3
    predictions = pd.read_csv(io.StringIO(lstmcli("predict", f, "--config", CONFIG).stdout))
    np.testing.assert_allclose(predictions["predicted_value"], np.arange(1, 10) / 10, atol=0.05)


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["fit", "--help"], 0),
        (["define", "--help"], 0),
        (["backtest", "--help"], 0),
        (["backtest", "no-such.keras", "--data", "x.csv", "--folds", "3"], 2),
        (["fit", "no-such.keras", "--data", "x.csv", "--out", "y.keras"], 2),
        (["fit", "--epochs", "many"], 2),
        (["frobnicate"], 2),
        (["run", "--help"], 0),
        (["inspect", "--help"], 0),
        (["plot", "--help"], 0),
        (["evaluate", "f.keras", "--data", "x.csv", "--fail-if", "loss>>1"], 2),
        (["evaluate", "f.keras", "--data", "x.csv", "--out", "m.xlsx"], 2),
        (["run", "--config", "missing.toml", "--workdir", "w"], 2),
        (["run", "--config", "configs/sequence.toml", "--workdir", "w", "--set", "fit.epoch=5"], 2),
        (["run", "--config", "configs/sequence.toml", "--workdir", "w", "-S", "evaluate.fail_if=['accuracy<1']"], 2),
        (["run", "--config", "configs/sequence.toml", "--workdir", "w", "-S", "predict.steps=2"], 2),
    ],
)
def test_help_and_usage_errors_never_import_tensorflow(args, code):
    probe = (
        "import sys\n"
        "from lstmcli.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code or 0\n"
        "else:\n"
        "    code = 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy, code, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert f"HEAVY [] {code}" in proc.stderr, proc.stderr


def test_every_command_has_help_text():
    proc = lstmcli("--help")
    for command in (
        "define",
        "compile",
        "fit",
        "evaluate",
        "predict",
        "backtest",
        "verify",
        "inspect",
        "plot",
        "run",
        "export",
    ):
        assert command in proc.stdout
        help_text = lstmcli(command, "--help").stdout
        assert "Usage: lstmcli " + command in help_text
        assert len(help_text.splitlines()[2].strip()) > 20  # the docstring's first line


def test_loading_keras_leaves_matplotlib_unimported_and_importable():
    """Keras imports matplotlib.pyplot (0.3 s) when it can; lstmcli's steps never pay for it."""
    probe = (
        "import sys\n"
        "from lstmcli import quiet\n"
        "quiet.load_tensorflow()\n"
        "print('after keras', 'matplotlib' in sys.modules)\n"
        "import matplotlib.pyplot\n"
        "print('importable', matplotlib.pyplot.figure is not None)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.splitlines() == ["after keras False", "importable True"], proc.stderr[-2000:]
