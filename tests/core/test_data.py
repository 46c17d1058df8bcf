"""Data in, data out: readers, both layouts, scaling and labels that travel with the model."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmcli.data.readers import read_table
from lstmcli.errors import DataError


def monthly_series(rows=360, seed=0):
    """A seasonal monthly series far from zero: level 100, yearly cycle, noise."""
    t = np.arange(rows)
    rng = np.random.default_rng(seed)
    y = 100 + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, rows)
    return pd.DataFrame({"month": pd.date_range("1990-01-01", periods=rows, freq="MS").strftime("%Y-%m"), "sales": y})


def run_ok(cli, *args, input=None):
    run = cli(*args, input=input)
    assert run.exit_code == 0, run
    return run


def lifecycle(cli, tmp_path, define_args, data, fit_args=(), compile_args=()):
    run_ok(cli, "define", *define_args, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", *compile_args, "--out", tmp_path / "c.keras")
    run_ok(
        cli,
        "fit",
        tmp_path / "c.keras",
        "--data",
        data,
        "--seed",
        0,
        "--verbose",
        0,
        *fit_args,
        "--out",
        tmp_path / "f.keras",
    )
    metrics = json.loads(run_ok(cli, "evaluate", tmp_path / "f.keras", "--data", data, "--json").stdout)
    predictions = pd.read_csv(io.StringIO(run_ok(cli, "predict", tmp_path / "f.keras", "--data", data).stdout))
    return metrics, predictions


def test_univariate_forecast_beats_last_value_in_original_units(tmp_path, cli):
    frame = monthly_series()
    frame.to_csv(tmp_path / "sales.csv", index=False)
    metrics, predictions = lifecycle(
        cli,
        tmp_path,
        ["--timesteps", 12, "--features", "sales", "--index", "month", "--lstm", 16],
        tmp_path / "sales.csv",
        ["--epochs", 40, "--scaling", "standard", "--batch-size", 16],
        ["--learning-rate", "0.01"],
    )
    truth = frame["sales"].to_numpy()[12:]
    naive = frame["sales"].to_numpy()[11:-1]
    naive_rmse = float(np.sqrt(np.mean((truth - naive) ** 2)))
    assert list(predictions.columns) == ["month", "predicted_sales"]
    assert predictions["month"].tolist() == frame["month"].tolist()[12:]
    model_rmse = float(np.sqrt(np.mean((predictions["predicted_sales"].to_numpy() - truth) ** 2)))
    assert model_rmse == pytest.approx(metrics["original_rmse"], rel=1e-4)
    assert model_rmse < 0.6 * naive_rmse
    assert 80 < predictions["predicted_sales"].mean() < 120  # the data's own units, not scaled ones


def test_multivariate_series_with_a_leading_indicator(tmp_path, cli):
    rng = np.random.default_rng(1)
    lead = rng.normal(0, 1, 400).cumsum() * 0.1 + np.sin(np.arange(400) / 5)
    frame = pd.DataFrame({"lead": lead, "noise": rng.normal(0, 1, 400), "y": np.roll(lead, 3) * 2 + 5})
    frame = frame.iloc[3:].reset_index(drop=True)
    frame.to_parquet(tmp_path / "multi.parquet")
    metrics, predictions = lifecycle(
        cli,
        tmp_path,
        ["--timesteps", 6, "--horizon", 1, "--features", "lead,noise,y", "--target", "y", "--lstm", 16],
        tmp_path / "multi.parquet",
        ["--epochs", 40, "--scaling", "minmax", "--batch-size", 16],
        ["--learning-rate", "0.01"],
    )
    truth = frame["y"].to_numpy()[6:]
    naive_rmse = float(np.sqrt(np.mean((truth - frame["y"].to_numpy()[5:-1]) ** 2)))
    assert metrics["original_rmse"] < 0.7 * naive_rmse
    assert list(predictions.columns) == ["row", "predicted_y"]


def test_binary_samples_with_any_two_values_beat_the_majority(tmp_path, cli):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (300, 4))
    label = np.where(x.sum(axis=1) + 0.3 * rng.normal(0, 1, 300) > 0.8, "spam", "ham")
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["id"] = [f"m{i}" for i in range(300)]
    frame["kind"] = label
    frame.to_csv(tmp_path / "mail.csv", index=False)
    metrics, predictions = lifecycle(
        cli,
        tmp_path,
        [
            "--task",
            "binary",
            "--layout",
            "samples",
            "--reshape",
            "features",
            "--features",
            "a,b,c,d",
            "--target",
            "kind",
            "--index",
            "id",
            "--lstm",
            8,
        ],
        tmp_path / "mail.csv",
        ["--epochs", 30],
        ["--learning-rate", "0.02"],
    )
    majority = max(np.mean(label == "spam"), np.mean(label == "ham"))
    assert metrics["accuracy"] > majority + 0.1
    assert list(predictions.columns) == ["id", "label", "ham", "spam"]
    assert predictions["id"].tolist() == frame["id"].tolist()
    assert (predictions["label"] == frame["kind"]).mean() > majority + 0.1


def test_multiclass_sparse_labels_and_masked_rows(tmp_path, cli):
    rng = np.random.default_rng(3)
    n, steps = 300, 8
    labels = rng.integers(0, 3, n)
    lengths = rng.integers(4, steps + 1, n)
    x = (labels[:, None] - 1.0) + 0.4 * rng.normal(0, 1, (n, steps))
    x[np.arange(steps)[None, :] >= lengths[:, None]] = np.nan  # rows end early
    frame = pd.DataFrame(x, columns=[f"t{i}" for i in range(steps)])
    frame["grade"] = np.array([10, 20, 30])[labels]
    frame.to_csv(tmp_path / "grades.csv", index=False)
    metrics, predictions = lifecycle(
        cli,
        tmp_path,
        [
            "--task",
            "multiclass",
            "--num-classes",
            3,
            "--layout",
            "samples",
            "--reshape",
            "timesteps",
            "--mask",
            "--features",
            ",".join(frame.columns[:-1]),
            "--target",
            "grade",
            "--lstm",
            8,
        ],
        tmp_path / "grades.csv",
        ["--epochs", 30],
        ["--loss", "sparse_categorical_crossentropy", "--learning-rate", "0.02"],
    )
    assert metrics["accuracy"] > 0.7
    assert list(predictions.columns) == ["row", "label", "10", "20", "30"]
    assert set(predictions["label"]) <= {10, 20, 30}


def test_a_label_the_model_never_saw_is_refused(tmp_path, cli):
    from conftest import classification_csv

    data = classification_csv(tmp_path / "train.csv", classes=["a", "b"], n=60)
    features = ",".join(f"x{i}" for i in range(6))
    lifecycle(
        cli,
        tmp_path,
        ["--task", "binary", "--layout", "samples", "--features", features, "--target", "label", "--lstm", 2],
        data,
        ["--epochs", 1],
    )
    frame = pd.read_csv(data)
    frame.loc[4, "label"] = "zebra"
    frame.to_csv(tmp_path / "new.csv", index=False)
    for command in ("evaluate", "predict"):
        run = cli(command, tmp_path / "f.keras", "--data", tmp_path / "new.csv")
        assert run.exit_code == 2
        assert "row 4" in run.stderr and "'zebra'" in run.stderr


def test_a_flag_contradicting_the_spec_is_refused(tmp_path, cli):
    monthly_series(40).to_csv(tmp_path / "s.csv", index=False)
    lifecycle(
        cli, tmp_path, ["--timesteps", 3, "--features", "sales", "--lstm", 2], tmp_path / "s.csv", ["--epochs", 1]
    )
    run = cli("predict", tmp_path / "f.keras", "--data", tmp_path / "s.csv", "--timesteps", 5)
    assert run.exit_code == 2
    assert "timesteps=3" in run.stderr and "define a new model" in run.stderr
    assert run.stdout == ""


@pytest.mark.parametrize("kind", ["csv", "parquet", "npy", "npz", "stdin"])
def test_every_reader_gives_the_same_predictions(tmp_path, cli, kind):
    values = np.round(np.arange(10) / 10, 1)
    frame = pd.DataFrame({"0": values})
    run_ok(cli, "define", "--input-shape", "1,1", "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    frame.to_csv(tmp_path / "s.csv", index=False)
    run_ok(
        cli,
        "fit",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--epochs",
        1,
        "--verbose",
        0,
        "--out",
        tmp_path / "f.keras",
    )
    expected = run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "s.csv").stdout
    stdin = None
    if kind == "parquet":
        frame.to_parquet(path := tmp_path / "s.parquet")
    elif kind == "npy":
        np.save(path := tmp_path / "s.npy", values)
    elif kind == "npz":
        np.savez(path := tmp_path / "s.npz", values)
    elif kind == "stdin":
        path, stdin = "-", frame.to_csv(index=False)
    else:
        path = tmp_path / "s.csv"
    assert run_ok(cli, "predict", tmp_path / "f.keras", "--data", path, input=stdin).stdout == expected


def test_predict_windows_are_not_copied_per_timestep():
    from lstmcli.data.prepared import Windows

    series = np.arange(20, dtype=np.float32).reshape(10, 2)
    windows = Windows(series, np.arange(7), timesteps=4)
    array = windows.to_array()
    assert array.shape == (7, 4, 2)
    np.testing.assert_array_equal(array[3], series[3:7])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from("abc,;\n\"' 0123456789.-eE\tnaNinf"), max_size=200),
        st.lists(
            st.lists(
                st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.none()),
                min_size=1,
                max_size=4,
            ),
            max_size=6,
        ).map(lambda rows: "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows)),
    )
)
def test_readers_load_or_fail_with_a_data_error(tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    from lstmcli.data.dataspec import DataSpec
    from lstmcli.data.parsing import numeric, resolve_columns

    try:
        frame = read_table(path)
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert len(frame) > 0
    spec = DataSpec("series", 1, frame.shape[1])
    try:
        features, _ = resolve_columns(frame, spec, "fuzz.csv")
        numeric(frame, features, "fuzz.csv")
    except DataError as exc:
        assert "\n" not in str(exc)


def test_future_forecasts_past_the_end_of_the_series(tmp_path, cli):
    frame = monthly_series(60)
    frame.to_csv(tmp_path / "s.csv", index=False)
    lifecycle(
        cli,
        tmp_path,
        ["--timesteps", 12, "--horizon", 2, "--features", "sales", "--index", "month", "--lstm", 2],
        tmp_path / "s.csv",
        ["--epochs", 1],
    )
    run = run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "s.csv", "--future")
    predictions = pd.read_csv(io.StringIO(run.stdout))
    assert predictions["month"].tolist() == ["1995-01", "1995-02"]  # the file ends in 1994-12
    assert predictions["step"].tolist() == [1, 2]
    # the future of the rows up to 1994-10 is the last window's forecast over the whole file
    run = run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "s.csv", "--future", "--rows", ":1994-10")
    early = pd.read_csv(io.StringIO(run.stdout))
    plain = pd.read_csv(io.StringIO(run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "s.csv").stdout))
    assert early["month"].tolist() == plain["month"].tolist()[-2:] == ["1994-11", "1994-12"]
    np.testing.assert_allclose(early["predicted_sales"], plain["predicted_sales"].to_numpy()[-2:], rtol=1e-5)


def test_predict_needs_no_labels_on_new_samples(tmp_path, cli):
    from conftest import classification_csv

    data = classification_csv(tmp_path / "train.csv", classes=["a", "b"], n=60)
    features = ",".join(f"x{i}" for i in range(6))
    lifecycle(
        cli,
        tmp_path,
        ["--task", "binary", "--layout", "samples", "--features", features, "--target", "label", "--lstm", 2],
        data,
        ["--epochs", 1],
    )
    pd.read_csv(data).drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    predictions = pd.read_csv(
        io.StringIO(run_ok(cli, "predict", tmp_path / "f.keras", "--data", tmp_path / "new.csv").stdout)
    )
    assert list(predictions.columns) == ["row", "label", "a", "b"] and len(predictions) == 60
    run = cli("evaluate", tmp_path / "f.keras", "--data", tmp_path / "new.csv")
    assert run.exit_code == 2 and "no column 'label'" in run.stderr


def test_a_class_missing_from_the_training_data_is_refused(tmp_path, cli):
    from conftest import classification_csv

    data = classification_csv(tmp_path / "train.csv", classes=["a", "b", "c"], n=60)
    features = ",".join(f"x{i}" for i in range(6))
    run_ok(
        cli,
        "define",
        "--task",
        "multiclass",
        "--num-classes",
        4,
        "--layout",
        "samples",
        "--features",
        features,
        "--target",
        "label",
        "--lstm",
        2,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    run = cli("fit", tmp_path / "c.keras", "--data", data, "--out", tmp_path / "f.keras")
    assert run.exit_code == 2 and "has 3 classes but the model was defined with 4" in run.stderr
    assert not (tmp_path / "f.keras").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--features", "value", "--output-units", 2], "one output per target"),
        (
            ["--layout", "samples", "--reshape", "timesteps", "--features", "a,b,c", "--timesteps", 5],
            "--timesteps 5 is ignored",
        ),
        (["--input-shape", "3,1", "--timesteps", 2], "drop one of them"),
    ],
)
def test_define_refuses_options_that_would_be_ignored(tmp_path, cli, args, words):
    run = cli("define", *args, "--out", tmp_path / "d.keras")
    assert run.exit_code == 2 and words in run.stderr
    assert not (tmp_path / "d.keras").exists()


def test_history_to_stdout_and_one_validation_source(tmp_path, cli):
    monthly_series(40).to_csv(tmp_path / "s.csv", index=False)
    lifecycle(
        cli, tmp_path, ["--timesteps", 3, "--features", "sales", "--lstm", 2], tmp_path / "s.csv", ["--epochs", 2]
    )
    run = run_ok(
        cli,
        "fit",
        tmp_path / "f.keras",
        "--data",
        tmp_path / "s.csv",
        "--epochs",
        2,
        "--verbose",
        0,
        "--history",
        "-",
        "--out",
        tmp_path / "g.keras",
    )
    history = pd.read_csv(io.StringIO(run.stdout))
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    run = cli(
        "fit",
        tmp_path / "f.keras",
        "--data",
        tmp_path / "s.csv",
        "--validation-split",
        "0.2",
        "--validation-data",
        tmp_path / "s.csv",
        "--out",
        tmp_path / "h.keras",
    )
    assert run.exit_code == 2 and "not both" in run.stderr
