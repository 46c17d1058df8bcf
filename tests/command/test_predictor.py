"""The artifact is the whole predictor: plain Keras and a SavedModel give what lstmcli predict gives."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import classification_csv

# Runs in a fresh interpreter that never imports lstmcli: it builds raw windows
# with numpy alone and predicts with plain Keras and with the exported SavedModel.
FRESH = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, pandas as pd, keras, tensorflow as tf
cases = json.loads(sys.argv[1])
out = {}
for name, case in cases.items():
    frame = pd.read_csv(case["data"])
    x = frame[case["features"]].to_numpy(np.float32)
    if case["layout"] == "series":
        t = case["timesteps"]
        x = np.stack([x[i:i + t] for i in range(len(x) - t + 1 - case["drop"])])
    else:
        x = x.reshape(len(x), case["timesteps"], -1)
    out[name] = {"keras": keras.saving.load_model(case["model"]).predict(x, verbose=0).tolist()}
    if case.get("export"):
        serve = tf.saved_model.load(case["export"]).signatures["serve"]
        served = {k: v.numpy() for k, v in serve(windows=tf.constant(x)).items()}
        out[name]["saved_model"] = {k: (v.astype(str) if v.dtype == object else v).tolist() for k, v in served.items()}
out["lstmcli_imported"] = "lstmcli" in sys.modules
print(json.dumps(out))
"""


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def fitted(cli, root, name, define, data, fit=()):
    run_ok(cli, "define", *define, "--seed", 0, "--out", root / f"{name}-d.keras")
    run_ok(cli, "compile", root / f"{name}-d.keras", "--learning-rate", "0.01", "--out", root / f"{name}-c.keras")
    run_ok(
        cli,
        "fit",
        root / f"{name}-c.keras",
        "--data",
        data,
        "--epochs",
        3,
        "--seed",
        0,
        "--verbose",
        0,
        *fit,
        "--out",
        root / f"{name}.keras",
    )
    predictions = pd.read_csv(io.StringIO(run_ok(cli, "predict", root / f"{name}.keras", "--data", data).stdout))
    return root / f"{name}.keras", predictions


@pytest.fixture(scope="module")
def models(tmp_path_factory, cli):
    """Fitted artifacts of every task and shape, with scaling (and transforms) learned in the graph."""
    root = tmp_path_factory.mktemp("predictor")
    rng = np.random.default_rng(0)
    t = np.arange(120)
    series = pd.DataFrame(
        {
            "month": t,
            "sales": 500 + 50 * np.sin(t / 3) + rng.normal(0, 5, 120),
            "temp": 20 + 5 * np.cos(t / 3),
            "price": 3 + 0.01 * t,
        }
    )
    series.to_csv(root / "series.csv", index=False)
    classification_csv(root / "bin.csv", classes=["no", "yes"], n=60)
    classification_csv(root / "multi.csv", classes=["a", "b", "c"], n=60)
    cases = {}
    model, predictions = fitted(
        cli,
        root,
        "regression",
        ["--timesteps", 6, "--features", "sales", "--index", "month", "--lstm", 4],
        root / "series.csv",
    )
    cases["regression"] = dict(
        model=model,
        predictions=predictions,
        data=root / "series.csv",
        features=["sales"],
        layout="series",
        timesteps=6,
        drop=1,
        columns=["predicted_sales"],
    )
    model, predictions = fitted(
        cli,
        root,
        "multivariate",
        ["--timesteps", 4, "--features", "sales,temp,price", "--target", "sales,price", "--lstm", 4],
        root / "series.csv",
        ["--scaling", "minmax"],
    )
    cases["multivariate"] = dict(
        model=model,
        predictions=predictions,
        data=root / "series.csv",
        features=["sales", "temp", "price"],
        layout="series",
        timesteps=4,
        drop=1,
        columns=["predicted_sales", "predicted_price"],
    )
    model, predictions = fitted(
        cli,
        root,
        "transformed",
        ["--timesteps", 4, "--features", "sales,temp", "--target", "sales", "--transform", "log,diff", "--lstm", 4],
        root / "series.csv",
    )
    cases["transformed"] = dict(
        model=model,
        predictions=predictions,
        data=root / "series.csv",
        features=["sales", "temp"],
        layout="series",
        timesteps=5,
        drop=1,
        columns=["predicted_sales"],
    )  # 4 steps + 1 for diff
    x6 = [f"x{i}" for i in range(6)]
    for task, name, classes in (("binary", "bin", ["no", "yes"]), ("multiclass", "multi", ["a", "b", "c"])):
        extra = ["--num-classes", 3] if task == "multiclass" else []
        model, predictions = fitted(
            cli,
            root,
            task,
            [
                "--task",
                task,
                *extra,
                "--layout",
                "samples",
                "--reshape",
                "timesteps",
                "--features",
                ",".join(x6),
                "--target",
                "label",
                "--lstm",
                4,
            ],
            root / f"{name}.csv",
        )
        cases[task] = dict(
            model=model,
            predictions=predictions,
            data=root / f"{name}.csv",
            features=x6,
            layout="samples",
            timesteps=6,
            drop=0,
            columns=classes,
        )
    return root, cases


@pytest.mark.slow
def test_plain_keras_and_the_saved_model_predict_what_lstmcli_predicts(models, cli):
    root, cases = models
    for name in ("regression", "multiclass", "transformed"):
        run = run_ok(cli, "export", cases[name]["model"], "--out", root / f"{name}-serving")
        assert "exported saved-model" in run.stderr
        cases[name]["export"] = root / f"{name}-serving"
    payload = {
        name: {
            k: str(v) if k in ("model", "data", "export") else v
            for k, v in case.items()
            if k not in ("predictions", "columns")
        }
        for name, case in cases.items()
    }
    proc = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(payload)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got.pop("lstmcli_imported") is False
    for name, case in cases.items():
        expected = case["predictions"][case["columns"]].to_numpy(np.float64)
        keras_out = np.asarray(got[name]["keras"], dtype=np.float64)
        if name == "binary":
            keras_out = np.concatenate([1 - keras_out, keras_out], axis=1)
        np.testing.assert_allclose(keras_out, expected, rtol=1e-5, atol=1e-5, err_msg=name)
    regression = cases["regression"]["predictions"]["predicted_sales"]
    assert 400 < regression.mean() < 600  # the data's units, not scaled ones
    served = got["regression"]["saved_model"]["predictions"]
    np.testing.assert_allclose(np.asarray(served)[:, 0], regression, rtol=1e-5, atol=1e-5)
    served = got["transformed"]["saved_model"]["predictions"]
    np.testing.assert_allclose(
        np.asarray(served)[:, 0], cases["transformed"]["predictions"]["predicted_sales"], rtol=1e-5
    )
    served = got["multiclass"]["saved_model"]
    np.testing.assert_allclose(
        served["probabilities"], cases["multiclass"]["predictions"][["a", "b", "c"]], rtol=1e-5, atol=1e-5
    )
    assert served["label"] == cases["multiclass"]["predictions"]["label"].tolist()
    assert served["classes"][0] == ["a", "b", "c"]


def test_the_graph_applies_the_scaling_the_record_states(models):
    from lstmcli.model.artifact import load
    from lstmcli.model.predictor import learned_in_graph

    _, cases = models
    model, record = load(cases["multivariate"]["model"])
    frame = pd.read_csv(cases["multivariate"]["data"])
    graph = learned_in_graph(model)
    x = frame[["sales", "temp", "price"]].to_numpy()
    np.testing.assert_allclose(graph["inputs"]["offset"], x.min(axis=0), rtol=1e-5)
    np.testing.assert_allclose(graph["inputs"]["scale"], x.max(axis=0) - x.min(axis=0), rtol=1e-5)
    np.testing.assert_allclose(graph["targets"]["offset"], frame[["sales", "price"]].min(), rtol=1e-5)
    assert record.preprocessing["inputs"]["offset"] == pytest.approx(list(x.min(axis=0)))
    model, record = load(cases["multiclass"]["model"])
    assert learned_in_graph(model)["targets"] is None  # probabilities are not rescaled


def test_samples_are_scaled_per_channel_over_every_step_ignoring_padding():
    from lstmcli.data.preprocessing import learn_scaling

    rng = np.random.default_rng(4)
    x = rng.normal([1.0, 50.0], [2.0, 7.0], size=(40, 9, 2))
    x[rng.random((40, 9)) < 0.3] = np.nan  # padded steps
    stats = learn_scaling("standard", x)
    flat = x.reshape(-1, 2)
    np.testing.assert_allclose(stats["offset"], np.nanmean(flat, axis=0))
    np.testing.assert_allclose(stats["scale"], np.nanstd(flat, axis=0))
    assert len(stats["offset"]) == 2  # one per channel, not one per column
    empty = learn_scaling("minmax", np.full((3, 2, 1), np.nan))
    assert empty == {"offset": [0.0], "scale": [1.0]}


def test_padded_steps_do_not_move_predictions(tmp_path, cli):
    rng = np.random.default_rng(5)
    x = rng.normal(10, 3, (80, 5, 2))
    x[40:, 3:, :] = np.nan
    columns = [f"t{t}_f{f}" for t in range(5) for f in range(2)]
    frame = pd.DataFrame(x.reshape(80, -1), columns=columns)
    frame["y"] = np.nanmean(x[:, :, 0], axis=1)
    frame.to_csv(tmp_path / "p.csv", index=False)
    run_ok(
        cli,
        "define",
        "--layout",
        "samples",
        "--timesteps",
        5,
        "--features",
        ",".join(columns),
        "--target",
        "y",
        "--mask",
        "--lstm",
        4,
        "--seed",
        0,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    run_ok(
        cli,
        "fit",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "p.csv",
        "--epochs",
        2,
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    import keras

    from lstmcli.data.dataspec import MASK_VALUE

    model = keras.saving.load_model(tmp_path / "f.keras")
    short = np.where(np.isnan(x[40:41]), MASK_VALUE, x[40:41]).astype(np.float32)
    other_padding = short.copy()
    other_padding[:, 3:, :] = MASK_VALUE
    truncated = keras.saving.load_model(tmp_path / "f.keras")
    a = model.predict(short, verbose=0)
    b = truncated.predict(other_padding, verbose=0)
    np.testing.assert_array_equal(a, b)
    changed = short.copy()
    changed[:, 1, :] += 5.0  # a real step does move them
    assert not np.allclose(model.predict(changed, verbose=0), a)


def rewrite_record(path, change, *, digest: bool = True):
    """Rewrite lstmcli.json inside the archive with `change(record_dict)` applied.

    The record's digest is recomputed, as a careful forger would (so the check
    under test, not the digest, is what must catch the edit); without `digest`
    it is dropped, as in an archive written before records had one.
    """
    import hashlib

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(members["lstmcli.json"])
    change(record)
    members["lstmcli.json"] = json.dumps(record).encode()
    members.pop("lstmcli.json.sha256", None)
    if digest:
        members["lstmcli.json.sha256"] = hashlib.sha256(members["lstmcli.json"]).hexdigest().encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_verify_refuses_a_record_whose_scaling_the_graph_does_not_apply(tmp_path, cli, models):
    import shutil

    _, cases = models
    edited = tmp_path / "edited.keras"
    shutil.copy(cases["regression"]["model"], edited)
    rewrite_record(edited, lambda r: r["preprocessing"]["inputs"]["offset"].__setitem__(0, 123.0))
    run = cli("verify", edited)
    assert run.exit_code == 2
    assert "scaling does not match" in run.stderr or "edited" in run.stderr or "changed" in run.stderr
    assert run_ok(cli, "verify", cases["regression"]["model"]).stdout


def test_an_artifact_fitted_before_scaling_moved_into_the_graph_is_refused_with_the_fix(tmp_path, cli, models):
    import shutil

    _, cases = models
    old = tmp_path / "old.keras"
    shutil.copy(cases["regression"]["model"], old)

    def as_format_1(record):
        record["format_version"] = 1
        record["preprocessing"]["scaling"] = {"sales": [500.0, 35.0]}

    rewrite_record(old, as_format_1, digest=False)
    for command in ("predict", "evaluate"):
        run = cli(command, old, "--data", cases["regression"]["data"])
        assert run.exit_code == 2, run
        assert "fit its compiled artifact again" in run.stderr
    run = cli("export", old, "--out", tmp_path / "serving")
    assert run.exit_code == 2 and not (tmp_path / "serving").exists()


def test_export_refuses_what_it_cannot_write(tmp_path, cli, models):
    _, cases = models
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    run = cli("export", cases["regression"]["model"], "--out", tmp_path / "taken")
    assert run.exit_code == 2 and "other files" in run.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    run = cli("export", cases["regression"]["model"], "--out", tmp_path / "file")
    assert run.exit_code == 2 and "is a file" in run.stderr
    run = cli("export", cases["regression"]["model"], "--format", "onnx", "--out", tmp_path / "x")
    assert run.exit_code == 2 and not (tmp_path / "x").exists()
    compiled = cases["regression"]["model"].parent / "regression-c.keras"
    run = cli("export", compiled, "--out", tmp_path / "y")
    assert run.exit_code == 2 and "not fitted" in run.stderr
