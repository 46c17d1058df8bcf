"""Scaling out with tf.distribute: mirrored over logical CPUs, two workers on 127.0.0.1, a missing peer.

A distributed fit must give the per-epoch losses of a single-process fit on the
same global batch; only the chief writes, and a peer that is not there is one
error line within --timeout, never a hang.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

WINDOWS = 256  # 8 batches of 32: every global batch splits evenly over 2 replicas
TIMESTEPS = 30
EPOCHS = 2


def series_csv(path):
    t = np.arange(WINDOWS + TIMESTEPS)
    values = np.sin(2 * np.pi * t / 50) + 0.1 * np.random.default_rng(0).standard_normal(len(t))
    pd.DataFrame({"value": np.round(values, 6)}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mid_size(tmp_path_factory, cli):
    """The bench's mid-size model (LSTM(32) over 30 steps), compiled, its data, and a single-process fit."""
    root = tmp_path_factory.mktemp("distributed")
    data = series_csv(root / "series.csv")
    assert (
        cli(
            "define",
            "--features",
            "value",
            "--timesteps",
            TIMESTEPS,
            "--lstm",
            32,
            "--seed",
            7,
            "--out",
            root / "defined.keras",
        ).exit_code
        == 0
    )
    assert cli("compile", root / "defined.keras", "--out", root / "compiled.keras").exit_code == 0
    single = root / "single.keras"
    run = cli(
        "fit",
        root / "compiled.keras",
        "--data",
        data,
        "--epochs",
        EPOCHS,
        "--seed",
        3,
        "--batch-size",
        32,
        "--strategy",
        "default",
        "--verbose",
        0,
        "--out",
        single,
    )
    assert run.exit_code == 0, run
    return root / "compiled.keras", data, single


def record(path):
    from lstmcli.model.artifact import read_record

    return read_record(path)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports, index):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def lstmcli(*args, env=None):
    environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the tool must silence TensorFlow itself
    return subprocess.Popen(
        [sys.executable, "-m", "lstmcli", *map(str, args)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, limit=240):
    out, err = proc.communicate(timeout=limit)
    return proc.returncode, out, err


def assert_same_losses(got, want):
    np.testing.assert_allclose(got.history["loss"], want.history["loss"], rtol=1e-5)
    assert len(got.history["loss"]) == EPOCHS
    assert set(got.history) == set(want.history)


# --- usage: refused before any cluster is joined ---------------------------------------------------


def test_multi_worker_without_tf_config_is_a_usage_error(cli, mid_size, tmp_path, monkeypatch):
    model, data, _ = mid_size
    monkeypatch.delenv("TF_CONFIG", raising=False)
    run = cli("fit", model, "--data", data, "--strategy", "multi-worker", "--out", tmp_path / "f.keras")
    assert run.exit_code == 2, run
    assert "TF_CONFIG" in run.stderr and "not set" in run.stderr
    assert not (tmp_path / "f.keras").exists()


def test_tf_config_that_does_not_name_this_task_is_refused(cli, mid_size, tmp_path, monkeypatch):
    model, data, _ = mid_size
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}})
    )
    run = cli("fit", model, "--data", data, "--strategy", "multi-worker", "--out", tmp_path / "f.keras")
    assert run.exit_code == 2, run
    assert "cluster has 1 worker(s)" in run.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--strategy", "mirorred"], "did you mean 'mirrored'"),
        (["--strategy", "default", "--devices", "2"], "--devices is for --strategy mirrored"),
        (["--timeout", "0"], "--timeout must be at least 1"),
    ],
)
def test_bad_strategy_options_are_usage_errors(cli, mid_size, tmp_path, args, words):
    model, data, _ = mid_size
    run = cli("fit", model, "--data", data, *args, "--out", tmp_path / "f.keras")
    assert run.exit_code == 2, run
    assert words in run.stderr


def test_evaluate_and_predict_refuse_multi_worker(cli, mid_size):
    _, data, single = mid_size
    run = cli("predict", single, "--data", data, "--strategy", "multi-worker")
    assert run.exit_code == 2
    assert "auto, default, mirrored" in run.stderr


# --- mirrored -------------------------------------------------------------------------------------


def test_mirrored_on_one_device_matches_default_in_process(cli, mid_size, tmp_path):
    """In this process TensorFlow is already running, so mirrored has its one CPU replica; the path is the same."""
    model, data, single = mid_size
    out = tmp_path / "mirrored.keras"
    run = cli(
        "fit",
        model,
        "--data",
        data,
        "--epochs",
        EPOCHS,
        "--seed",
        3,
        "--batch-size",
        32,
        "--strategy",
        "mirrored",
        "--verbose",
        0,
        "--out",
        out,
    )
    assert run.exit_code == 0, run
    assert_same_losses(record(out), record(single))
    assert record(out).fit["strategy"] == "mirrored"
    default = cli("evaluate", single, "--data", data, "--json", "--strategy", "default")
    mirrored = cli("evaluate", single, "--data", data, "--json", "--strategy", "mirrored")
    assert default.exit_code == mirrored.exit_code == 0, mirrored
    want, got = json.loads(default.stdout), json.loads(mirrored.stdout)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5)


MIRRORED_CHILD = """
import json, sys
from pathlib import Path
from lstmcli.steps import evaluating, fitting, predicting
from lstmcli.steps.options import for_command
model, data, out = map(Path, sys.argv[1:4])
opts = dict(strategy="mirrored", devices=2)
written = fitting.fit(model, for_command("fit", dict(opts, data=data, out=out, epochs={epochs}, seed=3,
                        batch_size="32", verbose="0"), None))
metrics = evaluating.evaluate(out, for_command("evaluate", dict(opts, data=data), None))
predicted = predicting.predict(out, for_command("predict", dict(opts, data=data, batch_size="100"), None))
print(json.dumps(dict(replicas=written.summary["replicas"], metrics=metrics,
                      predicted=predicted["predicted_value"].tolist())))
"""


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_process(cli, mid_size, tmp_path):
    model, data, single = mid_size
    out = tmp_path / "mirrored2.keras"
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED_CHILD.format(epochs=EPOCHS), model, data, out],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    assert child["replicas"] == 2
    assert_same_losses(record(out), record(single))
    # The mirrored fit's artifact through the default path, and the default fit's through the mirrored one (2 replicas, 3 batches).
    alone = json.loads(cli("evaluate", out, "--data", data, "--json", "--strategy", "default").stdout)
    for key in alone:
        assert child["metrics"][key] == pytest.approx(alone[key], rel=1e-5)
    plain = pd.read_csv(io.StringIO(cli("predict", out, "--data", data, "--strategy", "default").stdout))
    np.testing.assert_allclose(child["predicted"], plain["predicted_value"], rtol=1e-5, atol=1e-6)


# --- multi-worker ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_workers_on_localhost_fit_like_one_process(cli, mid_size, tmp_path):
    model, data, single = mid_size
    out = tmp_path / "two.keras"
    ports = free_ports(2)
    workers = [
        lstmcli(
            "fit",
            model,
            "--data",
            data,
            "--epochs",
            EPOCHS,
            "--seed",
            3,
            "--batch-size",
            32,
            "--verbose",
            0,
            "--strategy",
            "multi-worker",
            "--timeout",
            60,
            "--out",
            out,
            env={"TF_CONFIG": tf_config(ports, i)},
        )
        for i in range(2)
    ]
    results = [finish(proc) for proc in workers]
    for code, _, err in results:
        assert code == 0, err
        assert err == ""
    fitted = record(out)
    assert fitted.fit["workers"] == 2 and fitted.fit["replicas"] == 2
    assert_same_losses(fitted, record(single))
    assert cli("verify", out).exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["two.keras"]  # the chief's artifact, nothing half-written
    import keras

    windows = np.stack([np.sin(np.arange(i, i + TIMESTEPS) / 5) for i in range(16)])[..., None].astype("float32")
    distributed = keras.saving.load_model(out).predict(windows, verbose=0)
    alone = keras.saving.load_model(single).predict(windows, verbose=0)
    np.testing.assert_allclose(distributed, alone, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_a_peer_that_never_comes_up_is_one_error_line_within_the_timeout(mid_size, tmp_path):
    """Worker 0 leads the cluster and waits for worker 1; worker 1 waits for a leader. Neither may hang."""
    model, data, _ = mid_size
    alone = []
    for index in (0, 1):
        ports = free_ports(2)
        started = time.monotonic()
        proc = lstmcli(
            "fit",
            model,
            "--data",
            data,
            "--verbose",
            0,
            "--strategy",
            "multi-worker",
            "--timeout",
            5,
            "--out",
            tmp_path / f"never{index}.keras",
            env={"TF_CONFIG": tf_config(ports, index)},
        )
        alone.append((proc, started))
    for proc, started in alone:
        code, out, err = finish(proc, limit=120)
        took = time.monotonic() - started
        assert code == 1, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "--timeout" in lines[0] and "5 s" in lines[0]
        assert took < 5 + 60  # start-up (importing TensorFlow on a busy machine) plus the timeout
    assert list(tmp_path.iterdir()) == []
