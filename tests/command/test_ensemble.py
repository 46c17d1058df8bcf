"""Seed ensembles (issue 22, 3): `fit --ensemble N` trains N members and saves their average as one whole predictor.

Plain `keras.saving.load_model` and the exported SavedModel predict what `lstmcli predict` does;
every step that reads a fitted artifact works on an ensemble; the ensemble holds the plain fit
as member 1; what cannot work is refused in one line, and an interrupted ensemble writes nothing.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import classification_csv

from lstmcli.model.artifact import read_record

# A fresh interpreter that never imports lstmcli: plain Keras and the SavedModel on raw windows.
FRESH = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, pandas as pd, keras, tensorflow as tf
out = {}
for name, case in json.loads(sys.argv[1]).items():
    x = pd.read_csv(case["data"])[case["features"]].to_numpy(np.float32)
    t = case["rows"]
    if case["layout"] == "series":
        x = np.stack([x[i:i + t] for i in range(len(x) - t)])  # every window with a next row
    else:
        x = x.reshape(len(x), t, -1)
    out[name] = {"keras": keras.saving.load_model(case["model"]).predict(x, verbose=0).tolist()}
    serve = tf.saved_model.load(case["export"]).signatures["serve"]
    out[name]["saved_model"] = {k: v.numpy().tolist() for k, v in serve(windows=tf.constant(x)).items() if k != "label" and k != "classes"}
out["lstmcli_imported"] = "lstmcli" in sys.modules
print(json.dumps(out))
"""

SEED = 11
X6 = [f"x{i}" for i in range(6)]


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def csv_of(run) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(run.stdout))


def trend_season(path: Path, rows=72) -> Path:
    t = np.arange(rows)
    noise = np.random.default_rng(0).normal(0, 2, rows)
    months = pd.period_range("2015-01", periods=rows, freq="M").strftime("%Y-%m")
    pd.DataFrame({"month": months, "sales": 100 + 0.8 * t + 10 * np.sin(2 * np.pi * t / 12) + noise}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory, cli):
    """A differenced forecaster: its compiled artifact, an ensemble of 5 and the plain fit with the same seed."""
    root = tmp_path_factory.mktemp("ensemble")
    data = trend_season(root / "sales.csv")
    define = ["--timesteps", 6, "--features", "sales", "--index", "month", "--transform", "diff", "--lstm", 4]
    run_ok(cli, "define", *define, "--seed", 0, "--out", root / "d.keras")
    run_ok(cli, "compile", root / "d.keras", "--learning-rate", "0.01", "--out", root / "c.keras")
    fit = ["--data", data, "--epochs", 4, "--seed", SEED, "--rows", ":2019-12"]
    run_ok(
        cli, "fit", root / "c.keras", *fit, "--verbose", 0, "--history", root / "plain.csv", "--out", root / "p.keras"
    )
    run = run_ok(
        cli, "fit", root / "c.keras", *fit, "--ensemble", 5, "--verbose", 2, "--history", root / "h.csv",
        "--out", root / "e.keras",
    )  # fmt: skip
    return {"root": root, "data": data, "compiled": root / "c.keras", "plain": root / "p.keras",
            "ensemble": root / "e.keras", "fit_run": run}  # fmt: skip


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, cli):
    """A 3-class samples classifier fitted as an ensemble of 5 with a random validation split."""
    root = tmp_path_factory.mktemp("ensemble-classes")
    data = classification_csv(root / "multi.csv", classes=["a", "b", "c"], n=90)
    define = ["--task", "multiclass", "--num-classes", 3, "--layout", "samples", "--reshape", "timesteps"]
    define += ["--features", ",".join(X6), "--target", "label", "--lstm", 4, "--seed", 0]
    run_ok(cli, "define", *define, "--out", root / "d.keras")
    run_ok(cli, "compile", root / "d.keras", "--learning-rate", "0.02", "--out", root / "c.keras")
    run_ok(
        cli, "fit", root / "c.keras", "--data", data, "--epochs", 3, "--seed", SEED, "--validation-split", 0.2,
        "--guard", "none", "--ensemble", 5, "--verbose", 0, "--out", root / "e.keras",
    )  # fmt: skip
    return {"root": root, "data": data, "ensemble": root / "e.keras"}


def member_outputs(path: Path, windows: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The ensemble's predictions and each member's, each member wrapped alone in the same preprocessing."""
    import keras

    from lstmcli.data.dataspec import DataSpec
    from lstmcli.model import predictor

    record = read_record(path)
    model = keras.saving.load_model(path)
    network = predictor.network_of(model)
    members = [layer for layer in network.layers if layer.name.startswith("lstmcli_member_")]
    spec = DataSpec.from_dict(record.data_spec)
    alone = [predictor.assemble(m, record.preprocessing, spec).predictor.predict(windows, verbose=0) for m in members]
    return model.predict(windows, verbose=0), alone


def series_windows(data: Path, rows: int) -> np.ndarray:
    x = pd.read_csv(data)[["sales"]].to_numpy(np.float32)
    return np.stack([x[i : i + rows] for i in range(len(x) - rows)])


def test_the_record_names_the_members_and_member_1_is_the_plain_fit(forecaster):
    record = read_record(forecaster["ensemble"])
    plain = read_record(forecaster["plain"])
    ensemble = record.fit["ensemble"]
    assert ensemble["members"] == 5 and ensemble["seeds"] == [11, 12, 13, 14, 15]
    assert ensemble["member_epochs"] == [4] * 5 and ensemble["history_member"] == 1
    assert ensemble["member_final_loss"][0] == plain.fit["final_loss"]
    assert len(set(ensemble["member_final_loss"])) == 5  # five different fits, not one five times
    assert record.history == plain.history and record.seed == SEED
    assert (forecaster["root"] / "h.csv").read_text() == (forecaster["root"] / "plain.csv").read_text()
    assert record.lineage[-1]["ensemble"] == {"members": 5, "seeds": [11, 12, 13, 14, 15]}
    assert record.preprocessing == plain.preprocessing


def test_the_ensemble_predicts_the_mean_of_its_members_and_holds_the_plain_fit(forecaster):
    import keras

    windows = series_windows(forecaster["data"], 7)  # 6 steps and the row diff needs before them
    averaged, alone = member_outputs(forecaster["ensemble"], windows)
    assert len(alone) == 5
    np.testing.assert_allclose(averaged, np.mean(alone, axis=0), rtol=1e-5, atol=1e-4)
    plain = keras.saving.load_model(forecaster["plain"]).predict(windows, verbose=0)
    np.testing.assert_allclose(alone[0], plain, rtol=1e-5, atol=1e-4)
    assert np.abs(alone[1] - alone[0]).max() > 1e-3  # member 2 started from other weights
    assert np.abs(averaged - plain).max() > 1e-3


def test_fit_shows_which_member_trains_and_what_the_ensemble_is(forecaster):
    stderr = forecaster["fit_run"].stderr
    # each member's passes under the default guard: its trial on the held-out windows, then its refit
    assert [line for line in stderr.splitlines() if line.startswith("member ")] == [
        f"member {i}/5 {part}" for i in range(1, 6) for part in ("trial 1/1", "refit")
    ]
    assert "ensemble of 5 members (seeds 11…15)" in stderr
    assert "the history and the line below are member 1's" in stderr
    assert stderr.count("Epoch 4/4") >= 5  # every trial ran its 4 epochs (patience 10)


def test_evaluate_reports_the_ensembles_loss(forecaster, cli):
    data, rows = forecaster["data"], "2020-01:"
    metrics = json.loads(
        run_ok(cli, "evaluate", forecaster["ensemble"], "--data", data, "--rows", rows, "--json").stdout
    )
    predicted = csv_of(run_ok(cli, "predict", forecaster["ensemble"], "--data", data, "--rows", rows))
    actual = pd.read_csv(data).set_index("month").loc[predicted["month"], "sales"].to_numpy()
    record = read_record(forecaster["ensemble"])
    # mean_squared_error in the scaled space the members were trained in: the differences' standard scaling
    scale = record.preprocessing["targets"]["scale"][0]
    expected = np.mean(((predicted["predicted_sales"].to_numpy() - actual) / scale) ** 2)
    assert metrics["loss"] == pytest.approx(expected, rel=1e-4)
    plain = json.loads(run_ok(cli, "evaluate", forecaster["plain"], "--data", data, "--rows", rows, "--json").stdout)
    assert plain["loss"] != pytest.approx(metrics["loss"], rel=1e-3)


def test_predict_future_plot_inspect_and_verify_work_on_an_ensemble(forecaster, cli):
    model, data, root = forecaster["ensemble"], forecaster["data"], forecaster["root"]
    future = csv_of(run_ok(cli, "predict", model, "--data", data, "--future", "--steps", 5))
    assert (
        future["month"].tolist() == ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05"]
        and np.isfinite(future["predicted_sales"]).all()
    )
    assert 130 < future["predicted_sales"].mean() < 200  # the data's units, near the trend's end
    verify = json.loads(run_ok(cli, "verify", model, "--json").stdout)
    single = json.loads(run_ok(cli, "verify", forecaster["plain"], "--json").stdout)
    assert verify["parameters"] == 5 * single["parameters"] and verify["outputs"] == 1
    inspected = json.loads(run_ok(cli, "inspect", model, "--json").stdout)
    assert inspected["fit"]["ensemble"]["members"] == 5
    written = run_ok(
        cli, "plot", model, "--data", data, "--rows", "2020-01:", "--out-dir", root / "figures"
    ).stdout.split()
    assert sorted(Path(p).name for p in written) == ["history.png", "predictions.png"]


def test_fitting_an_ensemble_again_is_refused(forecaster, cli):
    run = cli("fit", forecaster["ensemble"], "--data", forecaster["data"], "--out", forecaster["root"] / "x.keras")
    assert run.exit_code == 2
    assert "is a seed ensemble of 5 members" in run.stderr and "--ensemble 5" in run.stderr


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--checkpoint-dir", "ckpt"], "--checkpoint-dir resumes one fit, not the members of an ensemble"),
        (["--strategy", "multi-worker"], "--ensemble trains on one machine: drop --strategy multi-worker"),
    ],
)
def test_what_an_ensemble_cannot_do_is_refused_in_one_line(forecaster, cli, tmp_path, extra, words):
    run = cli(
        "fit",
        forecaster["compiled"],
        "--data",
        forecaster["data"],
        "--ensemble",
        2,
        *extra,
        "--out",
        tmp_path / "x.keras",
    )
    assert run.exit_code == 2 and words in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.keras").exists()


def test_ensemble_on_a_fitted_model_is_refused(forecaster, cli, tmp_path):
    run = cli("fit", forecaster["plain"], "--data", forecaster["data"], "--ensemble", 3, "--out", tmp_path / "x.keras")
    assert run.exit_code == 2 and "is already fitted: give the compiled artifact" in run.stderr


def test_an_interrupted_member_leaves_no_output_and_names_the_ensembles_files(forecaster, tmp_path):
    from lstmcli.errors import Interrupted
    from lstmcli.steps import fitting
    from lstmcli.steps.options import FitOptions

    made = []

    def progress(label=None):  # a callback factory, as the CLI's display: one call per member's fit, named
        import keras

        made.append(label)
        return keras.callbacks.Callback()

    out, history = tmp_path / "e.keras", tmp_path / "h.csv"
    opts = FitOptions(data=forecaster["data"], epochs=3, seed=1, ensemble=3, out=out, history=history, guard="none")
    with pytest.raises(Interrupted) as caught:
        fitting.fit(forecaster["compiled"], opts, callbacks=[progress], should_stop=lambda final=False: (
            "interrupted" if len(made) == 2 else None))  # fmt: skip
    message = str(caught.value)
    assert message.startswith("ensemble member 2 of 3: interrupted after")
    assert f"nothing was written to {out} and {forecaster['compiled']} is unchanged" in message
    assert "lstmcli-ensemble-" not in message
    assert not out.exists() and not history.exists()
    assert made == ["member 1/3", "member 2/3"]  # each pass named after its member (no guard: one pass each)


@pytest.mark.slow
def test_ctrl_c_during_the_second_member_writes_nothing_and_exits_130(forecaster, tmp_path):
    import os
    import signal

    out, history = tmp_path / "e.keras", tmp_path / "h.csv"
    command = [sys.executable, "-m", "lstmcli", "fit", str(forecaster["compiled"]), "--data", str(forecaster["data"]),
               "--epochs", "2000", "--guard", "none", "--ensemble", "2", "--verbose", "2", "--history", str(history), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CI", None)
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    while line.strip() != "member 2/2":
        assert line, "fit ended before its second member"
        line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert (
        last.startswith("error: ensemble member 2 of 2: interrupted after") and f"nothing was written to {out}" in last
    )
    assert not out.exists() and not history.exists()


def test_the_classifier_ensemble_holds_out_the_same_samples_in_every_member(classifier):
    record = read_record(classifier["ensemble"])
    assert record.fit["validation"] == {"method": "stratified", "fraction": 0.2, "seed": SEED}
    assert record.fit["ensemble"]["seeds"] == [11, 12, 13, 14, 15]
    windows = pd.read_csv(classifier["data"])[X6].to_numpy(np.float32).reshape(-1, 6, 1)
    averaged, alone = member_outputs(classifier["ensemble"], windows)
    np.testing.assert_allclose(averaged, np.mean(alone, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-5)  # still probabilities


@pytest.mark.slow
def test_plain_keras_and_the_saved_model_predict_what_lstmcli_predicts(forecaster, classifier, cli):
    cases = {}
    for name, fixture, features, rows, layout in (
        ("forecaster", forecaster, ["sales"], 7, "series"),
        ("classifier", classifier, X6, 6, "samples"),
    ):
        export = fixture["root"] / f"{name}-serving"
        run_ok(cli, "export", fixture["ensemble"], "--out", export)
        cases[name] = dict(model=str(fixture["ensemble"]), data=str(fixture["data"]), export=str(export),
                           features=features, rows=rows, layout=layout)  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", FRESH, json.dumps(cases)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got.pop("lstmcli_imported") is False
    predicted = csv_of(run_ok(cli, "predict", forecaster["ensemble"], "--data", forecaster["data"]))
    np.testing.assert_allclose(
        np.asarray(got["forecaster"]["keras"])[:, 0], predicted["predicted_sales"], rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(got["forecaster"]["saved_model"]["predictions"])[:, 0],
        predicted["predicted_sales"],
        rtol=1e-5,
        atol=1e-5,
    )
    probabilities = csv_of(run_ok(cli, "predict", classifier["ensemble"], "--data", classifier["data"]))[
        ["a", "b", "c"]
    ]
    np.testing.assert_allclose(got["classifier"]["keras"], probabilities, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["classifier"]["saved_model"]["probabilities"], probabilities, rtol=1e-5, atol=1e-5)


def test_backtest_and_run_carry_the_option(forecaster, cli, tmp_path):
    data = forecaster["data"]
    common = ["--data", data, "--folds", 2, "--epochs", 2, "--seed", 3, "--json"]
    single = json.loads(run_ok(cli, "backtest", forecaster["compiled"], *common).stdout)
    ensemble = json.loads(run_ok(cli, "backtest", forecaster["compiled"], *common, "--ensemble", 2).stdout)
    assert len(ensemble["folds"]) == 2 and ensemble["mean"]["original_rmse"] != pytest.approx(
        single["mean"]["original_rmse"], rel=1e-4
    )
    config = tmp_path / "run.toml"
    config.write_text(
        "[define]\ntimesteps = 3\nfeatures = ['sales']\nlstm = [4]\nseed = 0\n"
        f"[fit]\ndata = '{data}'\nepochs = 2\nseed = 5\nverbose = '0'\n"
    )
    run_ok(cli, "run", "--config", config, "--workdir", tmp_path / "w", "--set", "fit.ensemble=3")
    assert read_record(tmp_path / "w" / "fitted.keras").fit["ensemble"]["seeds"] == [5, 6, 7]


def test_a_member_that_learned_other_preprocessing_is_refused():
    from lstmcli.errors import TrainingError
    from lstmcli.model.ensemble import check_shared

    same = {"inputs": {"offset": [1.0], "scale": [2.0]}}
    assert check_shared([same, dict(same)]) == same
    with pytest.raises(TrainingError, match=r"member 2 learned other preprocessing than member 1 \(inputs\)"):
        check_shared([same, {"inputs": {"offset": [1.5], "scale": [2.0]}}])


def test_the_calibration_of_an_ensemble_is_the_mean_of_its_members_signed_residuals():
    from lstmcli.model.ensemble import merge_calibration

    def calibration(residuals, windows=3):
        return {"method": "split conformal", "held_out": "tail 20%", "windows": windows, "residuals": residuals}

    members = [calibration([[1.0, -2.0, 3.0], [0.0, 0.0, 6.0]]), calibration([[3.0, 2.0, -1.0], [2.0, 4.0, 0.0]])]
    assert merge_calibration(members) == calibration([[2.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    assert merge_calibration([members[0], None]) is None
    assert merge_calibration([members[0], calibration([[1.0, 2.0], [3.0, 4.0]], windows=2)]) is None
    assert merge_calibration([members[0], calibration([[1.0, 2.0, 3.0]])]) is None  # one column, not two
    assert merge_calibration([members[0], {**members[1], "held_out": "file"}]) is None


@pytest.mark.parametrize(
    "value, words",
    [
        ({"members": 2, "seeds": [1, 2], "member_epochs": [3, 3], "member_final_loss": [0.5, 0.4]}, None),
        ({"members": 2, "seeds": [1], "member_epochs": [3, 3], "member_final_loss": [0.5, 0.4]},
         "fit.ensemble must have seeds: a list of 2 values, one per member"),
        ({"members": 1, "seeds": [1], "member_epochs": [3], "member_final_loss": [0.5]},
         "fit.ensemble must have members that is a whole number from 2"),
        ({"members": 2, "seeds": [1, -2], "member_epochs": [3, 3], "member_final_loss": [0.5, 0.4]},
         "fit.ensemble must have seeds of which each is a whole number from 0 to 4,294,967,295"),
        ({"members": 2, "seeds": [1, 2], "member_epochs": [3, 3], "member_final_loss": [0.5, float("nan")]},
         "fit.ensemble must have member_final_loss of which each is a finite number"),
        ({"members": 2, "seeds": [1, 2], "member_epochs": [3, 3], "member_final_loss": [0.5, 0.4], "history_member": 3},
         "fit.ensemble must have a history_member that is a whole number from 1 to 2"),
        ({"members": 2}, "fit.ensemble must be an object of members, seeds, member_epochs and member_final_loss"),
    ],
)  # fmt: skip
def test_a_records_ensemble_summary_is_checked_like_every_field(value, words):
    from record_fields import with_value

    from lstmcli.errors import ArtifactError
    from lstmcli.model.record import record_from_json

    raw = json.loads(json.dumps(with_value("fit.ensemble", value)))
    if words is None:
        assert record_from_json(raw, Path("m.keras")).fit["ensemble"] == value
        return
    with pytest.raises(ArtifactError, match=words):
        record_from_json(raw, Path("m.keras"))


def test_on_a_terminal_each_member_gets_its_own_bar(forecaster, tmp_path):
    from rich.console import Console

    from lstmcli.cli import progress
    from lstmcli.steps import fitting
    from lstmcli.steps.options import for_command

    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=200, color_system=None, soft_wrap=True)
    flags = dict(
        data=forecaster["data"], out=tmp_path / "e.keras", epochs=2, seed=2, ensemble=2, verbose="1", guard="none"
    )
    with progress.FitReporter(1, console=console) as reporter:
        fitting.fit(forecaster["compiled"], for_command("fit", flags, None), callbacks=[reporter.keras_callback])
    # what the terminal was sent, cut at every line end and cursor move (a live bar redraws itself)
    drawn = [
        piece.strip() for piece in re.split(r"\x1b\[[0-9;?]*[A-Za-z]|[\r\n]", terminal.getvalue()) if piece.strip()
    ]
    assert [line for line in drawn if line in ("member 1/2", "member 2/2")] == ["member 1/2", "member 2/2"]
    trail = [line.split(" - ")[0] for line in drawn if " - loss: " in line and "━" not in line]
    assert trail == ["member 1/2 epoch 1/2", "member 1/2 epoch 2/2", "member 2/2 epoch 1/2", "member 2/2 epoch 2/2"]
    last = [line for line in drawn if "━" in line][-2:]  # the bars as they were left
    assert last[0].startswith("member 1/2 epoch 2/2") and last[1].startswith("member 2/2 epoch 2/2")
    assert all("100%" in bar for bar in last)
