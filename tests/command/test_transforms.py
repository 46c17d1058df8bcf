"""Target transforms: exact inverses in the graph, auto's choices, and the refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmcli.data import transforms
from lstmcli.errors import ConfigError, DataError

CASES = [["log"], ["diff"], ["seasonal-diff:4"], ["log", "diff"], ["log", "seasonal-diff:4", "diff"], ["diff", "diff"]]


@pytest.mark.parametrize("chosen", CASES, ids=lambda c: "+".join(c))
def test_the_graph_inverts_each_transform_exactly(chosen):
    from lstmcli.model.predictor import _invert_targets, _transform_inputs

    rng = np.random.default_rng(len(chosen))
    series = np.exp(rng.normal(0, 0.3, (60, 2)).cumsum(axis=0)) * [50.0, 3.0]  # positive, trending, two targets
    timesteps, offsets = 6, [1, 2, 3]
    history = transforms.context(chosen)
    prep = {"transforms": chosen, "features": ["a", "b"], "target": ["a", "b"], "context": history, "steps": offsets}
    last = 40  # the window's last row
    window = series[last - timesteps - history + 1 : last + 1][None].astype(np.float32)
    forward = transforms.forward(series, chosen, "s", ["a", "b"])
    network_input, logged = _transform_inputs(window, prep)
    np.testing.assert_allclose(
        np.asarray(network_input)[0], forward[last - timesteps + 1 : last + 1], rtol=2e-4, atol=2e-4
    )
    forecast = np.concatenate([forward[last + o] for o in offsets])[None].astype(np.float32)  # step-major
    inverted = np.asarray(_invert_targets(forecast, logged, prep))[0]
    np.testing.assert_allclose(inverted, np.concatenate([series[last + o] for o in offsets]), rtol=1e-4)


def test_filter_coefficients_multiply_the_differences():
    assert transforms.filter_coefficients(["diff"]) == {1: 1.0}
    assert transforms.filter_coefficients(["diff", "seasonal-diff:12"]) == {1: 1.0, 12: 1.0, 13: -1.0}
    assert transforms.filter_coefficients(["log"]) == {}
    assert transforms.context(["diff", "seasonal-diff:12"]) == 13


def test_auto_chooses_like_auto_arima():
    t = np.arange(240)
    rng = np.random.default_rng(0)
    airline = (100 + t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, 240))
    chosen, why = transforms.choose(airline[:, None], 12)
    assert chosen[:2] == ["log", "seasonal-diff:12"]
    assert any("seasonal strength" in reason for reason in why)
    noise = rng.normal(5, 1, (300, 1))
    assert transforms.choose(noise, 12)[0] == []
    walk = rng.normal(0, 1, (300, 1)).cumsum(axis=0) + 100
    assert "diff" in transforms.choose(walk, None)[0]
    assert "seasonal" not in " ".join(transforms.choose(walk, None)[0])


def test_names_are_checked_before_anything_heavy():
    assert transforms.parse(["log", "diff"]) == ["log", "diff"]
    assert transforms.parse(["Seasonal-Diff:12"]) == ["seasonal-diff:12"]
    with pytest.raises(ConfigError, match="did you mean 'diff'"):
        transforms.parse(["dif"])
    with pytest.raises(ConfigError, match="its period"):
        transforms.parse(["seasonal-diff"])
    with pytest.raises(ConfigError, match="auto alone"):
        transforms.parse(["auto", "log"])


def test_log_refuses_non_positive_data_naming_the_row():
    with pytest.raises(DataError, match=r"row 2, column 'y' holds 0.*drop 'log'"):
        transforms.forward(np.array([[1.0], [2.0], [0.0]]), ["log"], "s.csv", ["y"])


def trending(path, rows=160):
    t = np.arange(rows)
    y = 50 + 0.8 * t + 5 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 1, rows)
    pd.DataFrame(
        {"month": pd.date_range("2000-01", periods=rows, freq="MS").strftime("%Y-%m"), "y": y, "x": np.cos(t)}
    ).to_csv(path, index=False)
    return path


def test_a_transformed_series_forecasts_in_its_own_units(tmp_path, cli):
    data = trending(tmp_path / "t.csv")
    assert (
        cli(
            "define",
            "--timesteps",
            6,
            "--features",
            "y,x",
            "--target",
            "y",
            "--index",
            "month",
            "--transform",
            "log,diff",
            "--lstm",
            8,
            "--seed",
            0,
            "--out",
            tmp_path / "d.keras",
        ).exit_code
        == 0
    )
    assert cli("compile", tmp_path / "d.keras", "--learning-rate", "0.01", "--out", tmp_path / "c.keras").exit_code == 0
    run = cli(
        "fit",
        tmp_path / "c.keras",
        "--data",
        data,
        "--epochs",
        30,
        "--seed",
        0,
        "--verbose",
        2,
        "--out",
        tmp_path / "f.keras",
    )
    assert run.exit_code == 0, run
    assert "transforms: log, diff" in run.stderr
    import io

    predicted = pd.read_csv(io.StringIO(cli("predict", tmp_path / "f.keras", "--data", data).stdout))
    frame = pd.read_csv(data)
    truth = frame.set_index("month").loc[predicted["month"], "y"].to_numpy()
    naive = frame["y"].shift(1).to_numpy()[-len(predicted) :]
    model_rmse = np.sqrt(np.mean((predicted["predicted_y"].to_numpy() - truth) ** 2))
    assert model_rmse < np.sqrt(np.mean((naive - truth) ** 2))  # the trend is learned as a difference
    assert predicted["month"].iloc[0] == "2000-08"  # 6 steps + 1 row of history for diff, then the first target
    assert cli("verify", tmp_path / "f.keras").exit_code == 0
    from test_predictor import rewrite_record

    rewrite_record(tmp_path / "f.keras", lambda r: r["preprocessing"].__setitem__("transforms", ["diff"]))
    run = cli("verify", tmp_path / "f.keras")
    assert run.exit_code == 2
    assert "transforms do not match" in run.stderr or "edited" in run.stderr


@pytest.mark.parametrize(
    "define, message",
    [
        (["--features", "x", "--target", "y", "--transform", "diff"], "needs its history"),
        (["--layout", "samples", "--features", "x", "--target", "y", "--transform", "log"], "for forecasting a series"),
        (["--features", "y", "--transform", "auto,log"], "auto alone"),
    ],
)
def test_transforms_that_cannot_work_are_refused(tmp_path, cli, define, message):
    data = trending(tmp_path / "t.csv")
    run = cli("define", *define, "--out", tmp_path / "d.keras")
    if run.exit_code == 0:
        assert cli("compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras").exit_code == 0
        run = cli("fit", tmp_path / "c.keras", "--data", data, "--epochs", 1, "--out", tmp_path / "f.keras")
    assert run.exit_code == 2, run
    assert message in run.stderr
    assert not (tmp_path / "f.keras").exists()


def test_verify_and_inspect_state_the_rows_a_raw_window_of_a_transformed_model_needs(tmp_path, cli):
    """Plain Keras and the SavedModel take the time steps and the rows the differencing needs: say so, not --timesteps."""
    import json

    import keras

    data = trending(tmp_path / "t.csv", rows=60)
    define = ["--timesteps", 4, "--features", "y", "--index", "month", "--transform", "diff,seasonal-diff:12"]
    assert cli("define", *define, "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras").exit_code == 0
    assert cli("compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras").exit_code == 0
    fit = cli("fit", tmp_path / "c.keras", "--data", data, "--epochs", 1, "--out", tmp_path / "f.keras")
    assert fit.exit_code == 0, fit
    verified = json.loads(cli("verify", tmp_path / "f.keras", "--json").stdout)
    inspected = json.loads(cli("inspect", tmp_path / "f.keras", "--json").stdout)
    model = keras.saving.load_model(tmp_path / "f.keras")
    assert verified["input_shape"] == inspected["input_shape"] == list(model.input_shape[1:]) == [4 + 13, 1]
    assert (verified["timesteps"], verified["context"]) == (4, 13)
    assert "windows of 17 rows × 1 features" in cli("inspect", tmp_path / "f.keras").stdout
