"""The lifecycle end to end through the CLI, in process: the classic example and classifiers."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, classification_csv, sequence_csv

CONFIG = REPO / "configs" / "sequence.toml"


@pytest.fixture(scope="module")
def classic(tmp_path_factory, cli):
    """The classic example's three artifacts, built with configs/sequence.toml."""
    root = tmp_path_factory.mktemp("classic")
    paths = {stage: root / f"{stage}.keras" for stage in ("defined", "compiled", "fitted")}
    assert cli("define", "--config", CONFIG, "--out", paths["defined"]).exit_code == 0
    assert cli("compile", paths["defined"], "--config", CONFIG, "--out", paths["compiled"]).exit_code == 0
    run = cli("fit", paths["compiled"], "--config", CONFIG, "--out", paths["fitted"])
    assert run.exit_code == 0, run
    return paths


def test_classic_example_learns_the_sequence(classic, cli):
    run = cli("evaluate", classic["fitted"], "--config", CONFIG, "--json")
    assert run.exit_code == 0, run
    assert json.loads(run.stdout)["loss"] < 1e-3
    run = cli("predict", classic["fitted"], "--config", CONFIG)
    frame = pd.read_csv(io.StringIO(run.stdout))
    assert list(frame.columns) == ["row", "predicted_value"]
    np.testing.assert_allclose(frame["predicted_value"], np.arange(1, 10) / 10, atol=0.05)


def test_row_keys_count_from_0_as_rows_does_and_future_steps_continue_them(classic, cli):
    """One convention, pandas': `--rows 2:4` is keyed 2 and 3, and the forecast past row 9 is rows 10, 11, …"""
    run = cli("predict", classic["fitted"], "--config", CONFIG)
    assert pd.read_csv(io.StringIO(run.stdout))["row"].tolist() == list(range(1, 10))  # row 0 has no window before it
    run = cli("predict", classic["fitted"], "--config", CONFIG, "--rows", "2:4")
    assert pd.read_csv(io.StringIO(run.stdout))["row"].tolist() == [2, 3], run
    run = cli("predict", classic["fitted"], "--config", CONFIG, "--future", "--steps", "3")
    assert run.exit_code == 0, run  # beyond the horizon of 1 without --index: the row numbers continue
    future = pd.read_csv(io.StringIO(run.stdout))
    assert future["row"].tolist() == [10, 11, 12] and future["step"].tolist() == [1, 2, 3]
    run = cli("predict", classic["fitted"], "--config", CONFIG, "--rows", ":5", "--future", "--steps", "2")
    assert pd.read_csv(io.StringIO(run.stdout))["row"].tolist() == [5, 6], run


def test_every_artifact_opens_with_plain_keras(classic):
    import keras

    for path in classic.values():
        model = keras.saving.load_model(path)
        assert model.input_shape == (None, 1, 1)
        assert model.layers[0].units == 10


def test_keras_predicts_what_lstmcli_predicts(classic, cli):
    import keras

    model = keras.saving.load_model(classic["fitted"])
    x = (np.arange(9) / 10).reshape(9, 1, 1).astype("float32")
    direct = model.predict(x, verbose=0)[:, 0]
    run = cli("predict", classic["fitted"], "--config", CONFIG)
    via_cli = pd.read_csv(io.StringIO(run.stdout))["predicted_value"].to_numpy()
    np.testing.assert_allclose(via_cli, direct, rtol=1e-6, atol=1e-7)


def test_fit_record_keeps_history_and_lineage(classic):
    from lstmcli.model.artifact import read_record, sha256_file

    record = read_record(classic["fitted"])
    assert record.stage == "fitted"
    assert len(record.history["loss"]) == 1000
    assert record.history["loss"][-1] == record.fit["final_loss"]
    assert record.lineage[-1]["parent"]["sha256"] == sha256_file(classic["compiled"])
    assert record.lineage[-1]["data"]["sha256"] == sha256_file(REPO / "data" / "sequence.csv")
    assert set(record.versions) == {"lstmcli", "keras", "tensorflow"}


def test_fused_loop_matches_plain_keras_fit(classic):
    """Same start weights, same data: the per-epoch losses equal model.fit's to rounding."""
    import keras

    from lstmcli.model.artifact import read_record

    model = keras.saving.load_model(classic["compiled"])
    x = (np.arange(9) / 10).reshape(9, 1, 1).astype("float32")
    y = (np.arange(1, 10) / 10).reshape(9, 1).astype("float32")
    history = model.fit(x, y, epochs=1000, batch_size=9, shuffle=False, verbose=0).history["loss"]
    ours = read_record(classic["fitted"]).history["loss"]
    np.testing.assert_allclose(ours, history, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "task, classes, extra",
    [
        ("binary", ["no", "yes"], ["--lstm", "8,4"]),
        ("multiclass", ["cat", "dog", "eel"], ["--num-classes", "3", "--lstm", "8"]),
    ],
)
def test_classifiers_go_through_all_five_steps(tmp_path, cli, task, classes, extra):
    data = classification_csv(tmp_path / "train.csv", classes=classes)
    features = ",".join(f"x{i}" for i in range(6))
    steps = [
        (
            "define",
            "--task",
            task,
            "--layout",
            "samples",
            "--reshape",
            "timesteps",
            "--features",
            features,
            "--target",
            "label",
            "--seed",
            1,
            *extra,
            "--out",
            tmp_path / "d.keras",
        ),
        ("compile", tmp_path / "d.keras", "--learning-rate", "0.01", "--out", tmp_path / "c.keras"),
        (
            "fit",
            tmp_path / "c.keras",
            "--data",
            data,
            "--epochs",
            30,
            "--seed",
            1,
            "--verbose",
            0,
            "--out",
            tmp_path / "f.keras",
        ),
    ]
    for step in steps:
        run = cli(*step)
        assert run.exit_code == 0, run
    run = cli("evaluate", tmp_path / "f.keras", "--data", data, "--json")
    metrics = json.loads(run.stdout)
    assert metrics["accuracy"] > 1.0 / len(classes) + 0.3
    run = cli("predict", tmp_path / "f.keras", "--data", data, "--classes")
    frame = pd.read_csv(io.StringIO(run.stdout))
    assert list(frame.columns) == ["row", "label"]
    truth = pd.read_csv(data)["label"]
    assert (frame["label"] == truth).mean() > 1.0 / len(classes) + 0.3
    run = cli("predict", tmp_path / "f.keras", "--data", data)
    probabilities = pd.read_csv(io.StringIO(run.stdout))
    assert list(probabilities.columns) == ["row", "label", *classes]
    np.testing.assert_allclose(probabilities[classes].sum(axis=1), 1.0, atol=1e-5)


def test_stacked_lstm_returns_sequences_on_all_but_last(tmp_path, cli):
    import keras

    out = tmp_path / "d.keras"
    run = cli("define", "--input-shape", "5,2", "--lstm", "8", "--lstm", "6,4", "--out", out)
    assert run.exit_code == 0, run
    model = keras.saving.load_model(out)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [layer.units for layer in lstms] == [8, 6, 4]
    assert [layer.return_sequences for layer in lstms] == [True, True, False]
    assert model.output_shape == (None, 2)  # a series with no --target forecasts every feature


def test_a_failing_step_leaves_no_output(tmp_path, cli, classic):
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n0.1\nfoo\n0.3\n")
    out = tmp_path / "fitted.keras"
    run = cli("fit", classic["compiled"], "--data", bad, "--out", out)
    assert run.exit_code == 2
    assert "bad.csv, row 1, column 'value'" in run.stderr  # 0-based, as pandas counts: bad.iloc[1]
    run = cli("fit", classic["compiled"], "--data", bad, "--rows", "1:", "--out", out)
    assert run.exit_code == 2 and "row 1, column 'value'" in run.stderr, run  # the file's row, not the selection's
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_history_csv_counts_epochs(tmp_path, cli, classic):
    history = tmp_path / "history.csv"
    run = cli(
        "fit",
        classic["fitted"],
        "--data",
        sequence_csv(tmp_path / "s.csv"),
        "--epochs",
        3,
        "--batch-size",
        "all",
        "--verbose",
        0,
        "--history",
        history,
        "--out",
        tmp_path / "more.keras",
    )
    assert run.exit_code == 0, run
    frame = pd.read_csv(history)
    assert frame["epoch"].tolist()[-3:] == [1001, 1002, 1003]
    assert len(frame) == 1003


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_evaluate_reports_what_keras_evaluate_reports(tmp_path, cli, task):
    import keras

    from lstmcli.model.artifact import read_record

    if task == "regression":
        data = sequence_csv(tmp_path / "s.csv")
        define = ["--features", "value", "--timesteps", 2, "--lstm", 4]
        compile_ = ["--metric", "mae,mse"]
    else:
        data = classification_csv(tmp_path / "s.csv", classes=["a", "b", "c"], n=50)
        define = [
            "--task",
            "multiclass",
            "--num-classes",
            3,
            "--layout",
            "samples",
            "--features",
            ",".join(f"x{i}" for i in range(6)),
            "--target",
            "label",
            "--lstm",
            4,
        ]
        compile_ = []
    assert cli("define", *define, "--seed", 0, "--out", tmp_path / "d.keras").exit_code == 0
    assert cli("compile", tmp_path / "d.keras", *compile_, "--out", tmp_path / "c.keras").exit_code == 0
    assert (
        cli(
            "fit",
            tmp_path / "c.keras",
            "--data",
            data,
            "--epochs",
            3,
            "--batch-size",
            8,
            "--verbose",
            0,
            "--out",
            tmp_path / "f.keras",
        ).exit_code
        == 0
    )
    ours = json.loads(cli("evaluate", tmp_path / "f.keras", "--data", data, "--json", "--batch-size", 7).stdout)
    from lstmcli.data import dataspec, readers, windowing
    from lstmcli.model import tasks

    record = read_record(tmp_path / "f.keras")
    spec = dataspec.DataSpec.from_dict(record.data_spec)
    prepared = windowing.prepare(
        readers.read_table(data),
        spec,
        task=tasks.get_task(task),
        prep=record.preprocessing,
        loss=record.compile["loss"],
        units=record.architecture["units"],
        need_target=True,
        where="s",
    )
    model = keras.saving.load_model(tmp_path / "f.keras")
    # Plain Keras sees the whole predictor: raw windows in, the data's units out.
    truth = prepared.y_raw if task == "regression" else prepared.y
    theirs = model.evaluate(prepared.inputs.to_array(), truth, batch_size=7, verbose=0, return_dict=True)
    assert set(theirs) <= set(ours)
    # lstmcli reports the loss and metrics as trained, in scaled units: one target
    # scaled by s has its squared errors scaled by s² and its absolute errors by s.
    s = record.preprocessing["targets"]["scale"][0] if task == "regression" else 1.0
    power = {"loss": 2, "mse": 2, "mae": 1, "accuracy": 0}
    for name, value in theirs.items():
        assert ours[name] * s ** power[name] == pytest.approx(value, rel=1e-4, abs=1e-7), name
    if task == "regression":
        assert ours["original_rmse"] ** 2 == pytest.approx(theirs["mse"], rel=1e-4)
