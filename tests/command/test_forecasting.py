"""Forecasting: dated futures, --rows with context, horizons of H steps, recursion, baselines, backtests."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from lstmcli.data import calendar
from lstmcli.data.dataspec import DataSpec
from lstmcli.data.rowindex import select_rows
from lstmcli.errors import ConfigError, DataError
from lstmcli.model import artifact
from lstmcli.scoring import baselines


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def csv_of(run) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(run.stdout))


def trending(rows=48, start="2016-01"):
    """A monthly series with a trend and a yearly season, far from zero."""
    t = np.arange(rows)
    rng = np.random.default_rng(1)
    y = 100 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, rows)
    return pd.DataFrame({"month": pd.period_range(start, periods=rows, freq="M").strftime("%Y-%m"), "sales": y})


def pipeline(cli, tmp_path, define_args, fit_args=()):
    """define, compile and fit a tiny model on tmp_path/s.csv; returns the fitted path."""
    run_ok(cli, "define", *define_args, "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    run_ok(
        cli,
        "fit",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--epochs",
        1,
        "--seed",
        0,
        "--verbose",
        0,
        "--scaling",
        "standard",
        *fit_args,
        "--out",
        tmp_path / "f.keras",
    )
    return tmp_path / "f.keras"


# -- the calendar: future keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, following, season",
    [
        (["2023-10", "2023-11", "2023-12"], ["2024-01", "2024-02"], 12),
        (["2023-10-31", "2023-11-30", "2023-12-31"], ["2024-01-31", "2024-02-29"], 12),
        (["1959Q3", "1959Q4", "1960Q1"], ["1960Q2", "1960Q3"], 4),
        (["1970 Q3", "1970 Q4"], ["1971 Q1", "1971 Q2"], 4),
        (["1988", "1989", "1990"], ["1991", "1992"], None),
        ([1988, 1989, 1990], [1991, 1992], None),
        (["2024-02-27", "2024-02-28", "2024-02-29"], ["2024-03-01", "2024-03-02"], 7),
        (["2020-01-01 22:00", "2020-01-01 23:00", "2020-01-02 00:00"], ["2020-01-02 01:00", "2020-01-02 02:00"], 24),
        (["2024-01-01", "2024-01-08", "2024-01-15"], ["2024-01-22", "2024-01-29"], 52),
        ([1, 2, 3], [4, 5], None),
        ([10, 20, 30], [40, 50], None),
    ],
)
def test_future_keys_continue_the_index_in_its_own_format(values, following, season):
    freq = calendar.infer_frequency(values)
    assert freq.following(values[-1], 2) == following
    assert calendar.season_length(freq) == season


@pytest.mark.parametrize("values", [["2023-01", "2023-02", "2023-05"], [1, 2, 4], ["a", "b", "c"], ["2023-01"]])
def test_an_irregular_index_is_refused_not_guessed(values):
    with pytest.raises(DataError, match="index"):
        calendar.infer_frequency(values)


# -- --rows ------------------------------------------------------------------------------------------


def test_rows_select_like_loc_with_an_index_and_like_iloc_without():
    frame = trending(48)  # 2016-01 … 2019-12
    dated = DataSpec("series", 3, 1, index="month")
    assert select_rows(frame, dated, ":2016-12") == (0, 12)  # both ends included
    assert select_rows(frame, dated, "2017-01:2017-03") == (12, 15)
    assert select_rows(frame, dated, "2019:") == (36, 48)  # a partial date: all of 2019
    yearly = pd.DataFrame({"year": np.arange(1900, 1950), "v": np.arange(50.0)})
    assert select_rows(yearly, DataSpec("series", 3, 1, index="year"), ":1909") == (0, 10)
    assert select_rows(frame, DataSpec("series", 3, 1), "10:20") == (10, 20)  # end excluded
    assert select_rows(frame, DataSpec("series", 3, 1), "-5:") == (43, 48)
    with pytest.raises(ConfigError, match="START:END"):
        select_rows(frame, dated, "2019")
    with pytest.raises(DataError, match="selects no rows"):
        select_rows(frame, dated, "2030-01:")


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (
            "2016-13:",
            "'2016-13' in --rows 2016-13: is not a valid date of the index 'month' (its values run from "
            "2016-01 to 2019-12); write START and END like 2016-01, or a partial date such as 2016, or leave one empty",
        ),
        (":2016-02-30", "'2016-02-30' in --rows :2016-02-30 is not a valid date of the index 'month'"),
    ],
)
def test_a_bound_that_is_no_date_of_the_index_is_named_in_lstmclis_words(rows, said):
    """Not pandas' `cannot do slice indexing on DatetimeIndex with these indexers`."""
    with pytest.raises(DataError) as error:
        select_rows(trending(48), DataSpec("series", 3, 1, index="month"), rows)
    assert str(error.value).startswith(said) and "indexer" not in str(error.value)


def test_a_bound_that_is_no_number_of_a_numeric_index_is_named():
    yearly = pd.DataFrame({"year": np.arange(1900, 1950), "v": np.arange(50.0)})
    with pytest.raises(DataError, match=r"^'19x' in --rows 19x: is not a number, and the index 'year' holds numbers"):
        select_rows(yearly, DataSpec("series", 3, 1, index="year"), "19x:")


def test_rows_split_train_and_test_and_evaluate_takes_its_context_from_before(tmp_path, cli):
    frame = trending(48)
    frame.to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(
        cli, tmp_path, ["--timesteps", 6, "--features", "sales", "--index", "month"], ["--rows", ":2018-12"]
    )
    record = artifact.read_record(fitted)
    train = frame["sales"].to_numpy()[:36]
    (offset,), (spread,) = record.preprocessing["inputs"]["offset"], record.preprocessing["inputs"]["scale"]
    assert offset == pytest.approx(train.mean(), rel=1e-6) and spread == pytest.approx(train.std(), rel=1e-6)
    predicted = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv", "--rows", "2019-01:"))
    assert predicted["month"].tolist() == frame["month"].tolist()[36:]  # the first forecast is for START itself
    whole = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv"))
    np.testing.assert_allclose(predicted["predicted_sales"], whole["predicted_sales"].to_numpy()[-12:], rtol=1e-5)
    metrics = json.loads(
        run_ok(cli, "evaluate", fitted, "--data", tmp_path / "s.csv", "--rows", "2019-01:", "--json").stdout
    )
    assert metrics["samples"] == 12
    truth = frame["sales"].to_numpy()[36:]
    rmse = np.sqrt(np.mean((predicted["predicted_sales"].to_numpy() - truth) ** 2))
    assert metrics["original_rmse"] == pytest.approx(rmse, rel=1e-4)
    naive = frame["sales"].to_numpy()[35:47]
    assert metrics["naive_rmse"] == pytest.approx(np.sqrt(np.mean((truth - naive) ** 2)), rel=1e-5)
    seasonal = frame["sales"].to_numpy()[24:36]
    assert metrics["season"] == 12
    assert metrics["seasonal_naive_rmse"] == pytest.approx(np.sqrt(np.mean((truth - seasonal) ** 2)), rel=1e-5)
    assert metrics["skill"] == pytest.approx(metrics["naive_rmse"] / metrics["original_rmse"])
    scale = np.mean(np.abs(np.diff(train)))  # MASE's scale comes from the training rows
    assert metrics["mase"] == pytest.approx(metrics["original_mae"] / scale, rel=1e-4)


# -- horizons ----------------------------------------------------------------------------------------


def test_horizon_h_forecasts_steps_one_to_h_end_to_end(tmp_path, cli):
    frame = trending(40)
    frame.to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(cli, tmp_path, ["--timesteps", 6, "--horizon", 3, "--features", "sales", "--index", "month"])
    long = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv"))
    windows = 40 - 6 - 3 + 1
    assert list(long.columns) == ["month", "step", "predicted_sales"] and len(long) == windows * 3
    assert long["step"].tolist()[:6] == [1, 2, 3, 1, 2, 3]
    assert long["month"].tolist()[:4] == ["2016-07", "2016-08", "2016-09", "2016-08"]  # each step's own month
    wide = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv", "--wide"))
    assert list(wide.columns) == ["month", "predicted_sales_step1", "predicted_sales_step2", "predicted_sales_step3"]
    np.testing.assert_allclose(wide.iloc[:, 1:].to_numpy().reshape(-1), long["predicted_sales"], rtol=1e-6)
    metrics = json.loads(run_ok(cli, "evaluate", fitted, "--data", tmp_path / "s.csv", "--json").stdout)
    truth = np.stack([frame["sales"].to_numpy()[6 + h : 6 + h + windows] for h in range(3)], axis=1)
    error = wide.iloc[:, 1:].to_numpy() - truth
    assert metrics["original_rmse"] == pytest.approx(np.sqrt(np.mean(error**2)), rel=1e-4)
    for h in range(3):
        assert metrics[f"step_{h + 1}_rmse"] == pytest.approx(np.sqrt(np.mean(error[:, h] ** 2)), rel=1e-4)
    last = frame["sales"].to_numpy()[5 : 5 + windows]
    assert metrics["step_3_naive_rmse"] == pytest.approx(np.sqrt(np.mean((truth[:, 2] - last) ** 2)), rel=1e-5)
    future = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv", "--future"))
    assert future["month"].tolist() == ["2019-05", "2019-06", "2019-07"] and future["step"].tolist() == [1, 2, 3]


def test_steps_beyond_the_horizon_feed_the_forecasts_back(tmp_path, cli):
    frame = trending(30)
    frame.to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(cli, tmp_path, ["--timesteps", 4, "--horizon", 2, "--features", "sales", "--index", "month"])
    recursive = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv", "--future", "--steps", 5))
    assert recursive["month"].tolist() == ["2018-07", "2018-08", "2018-09", "2018-10", "2018-11"]
    assert recursive["step"].tolist() == [1, 2, 3, 4, 5]
    grown = frame  # the same by hand: forecast two, append them, forecast again
    expected = []
    while len(expected) < 5:
        grown.to_csv(tmp_path / "g.csv", index=False)
        step = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "g.csv", "--future"))
        expected += step["predicted_sales"].tolist()
        grown = pd.concat(
            [grown, step.rename(columns={"predicted_sales": "sales"})[["month", "sales"]]], ignore_index=True
        )
    np.testing.assert_allclose(recursive["predicted_sales"], expected[:5], rtol=1e-5)
    first_two = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv", "--future", "--steps", 1))
    assert len(first_two) == 1 and first_two["predicted_sales"][0] == pytest.approx(expected[0], rel=1e-5)


def test_recursion_is_refused_when_the_features_are_not_the_targets(tmp_path, cli):
    frame = trending(30).assign(price=np.linspace(1, 2, 30))
    frame.to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(
        cli, tmp_path, ["--timesteps", 4, "--features", "sales,price", "--target", "sales", "--index", "month"]
    )
    run = cli("predict", fitted, "--data", tmp_path / "s.csv", "--future", "--steps", 3)
    assert run.exit_code == 2
    assert "needs the features to be the targets" in run.stderr and "--horizon 3" in run.stderr
    run = cli("predict", fitted, "--data", tmp_path / "s.csv", "--steps", 3)
    assert run.exit_code == 2 and "with --future" in run.stderr


# -- baselines -------------------------------------------------------------------------------------


def test_baselines_forecast_the_same_targets_and_steps():
    history = np.arange(20, dtype=np.float64)[:, None] ** 2  # one target
    rows = np.array([[10, 11, 12], [11, 12, 13]])  # two windows, three steps
    np.testing.assert_array_equal(baselines.naive(history, rows), [[81, 81, 81], [100, 100, 100]])
    np.testing.assert_array_equal(baselines.seasonal_naive(history, rows, 2), [[64, 81, 64], [81, 100, 81]])
    assert baselines.seasonal_naive(history, rows, 12) is None  # not one season of history before row 10
    truth = history[rows].reshape(2, -1)
    metrics = baselines.forecast_metrics(truth + 1.0, truth, history, rows, season=2, scale=[2.0])
    assert metrics["original_rmse"] == 1.0 and metrics["mase"] == 0.5
    naive_error = baselines.naive(history, rows) - truth
    assert metrics["naive_rmse"] == pytest.approx(np.sqrt(np.mean(naive_error**2)))
    assert metrics["skill"] == pytest.approx(metrics["naive_rmse"])
    assert metrics["step_1_naive_rmse"] == pytest.approx(np.sqrt(np.mean(naive_error[:, 0] ** 2)))


def test_mape_and_smape_are_in_the_data_units_and_zeros_are_left_out_of_mape_with_a_count():
    truth = np.array([[100.0, 0.0], [50.0, 0.0]])
    predicted = np.array([[110.0, 0.0], [40.0, 5.0]])
    found = baselines.percentage_errors(predicted, truth)
    assert found["original_mape"] == pytest.approx(100 * (10 / 100 + 10 / 50) / 2)  # the zeros left out
    assert found["mape_left_out"] == 2
    assert found["original_smape"] == pytest.approx(100 * (20 / 210 + 20 / 90 + 0 + 10 / 5) / 4)  # 0 for 0 is no error
    assert "mape_left_out" not in baselines.percentage_errors(truth[:, :1] + 1, truth[:, :1])
    assert "original_mape" not in baselines.percentage_errors(np.ones((2, 1)), np.zeros((2, 1)))


def test_seasonal_mase_and_the_transforms_baseline_sit_beside_the_others():
    history = np.arange(20, dtype=np.float64)[:, None] ** 2
    rows = np.array([[10, 11, 12], [11, 12, 13]])
    truth = history[rows].reshape(2, -1)
    metrics = baselines.forecast_metrics(
        truth + 1.0,
        truth,
        history,
        rows,
        season=2,
        scale=[2.0],
        seasonal_scale={"season": 2, "scale": [4.0]},
        transformed=truth + 3.0,
    )
    assert metrics["seasonal_mase"] == 0.25 and metrics["mase"] == 0.5
    assert metrics["transforms_rmse"] == 3.0 and metrics["transforms_mae"] == 3.0 and metrics["transforms_skill"] == 3.0
    other = baselines.forecast_metrics(
        truth + 1.0, truth, history, rows, season=3, scale=[2.0], seasonal_scale={"season": 2, "scale": [4.0]}
    )
    assert "seasonal_mase" not in other and "transforms_rmse" not in other  # another season's scale is not this one's
    assert baselines.naive_scale(history[:5], 2) == [np.mean([4 - 0, 9 - 1, 16 - 4])]


def test_the_transforms_alone_forecast_seasonal_naive_plus_last_seasons_change():
    from lstmcli.model import predictor

    rng = np.random.default_rng(0)
    series = 50 + np.cumsum(rng.normal(1, 1, 40))
    prep = {
        "transforms": ["seasonal-diff:4", "diff"],
        "features": ["y"],
        "target": ["y"],
        "steps": [1, 2, 3, 4, 5],
        "context": 5,
        "targets": {"offset": [0.25], "scale": [3.0]},
    }
    windows = np.stack([series[s : s + 8 + 5] for s in range(10)])[:, :, None]  # 8 timesteps and 5 of context
    got = predictor.transforms_forecast(windows, prep, 5)
    for w, window in enumerate(windows[:, :, 0]):
        extended = list(window)
        for h in range(1, 6):  # zero out of the network is the scaling's offset: one more 0.25 of change a step
            extended.append(extended[-4] + extended[-1] - extended[-5] + 0.25)
            assert got[w, h - 1] == pytest.approx(extended[-1], rel=1e-5)
    assert predictor.transforms_forecast(windows, {"targets": prep["targets"]}, 5) is None


def test_actual_zeros_are_counted_out_of_mape_with_a_warning(tmp_path, cli):
    pd.DataFrame({"y": np.arange(40) % 5}).to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(cli, tmp_path, ["--timesteps", 3, "--features", "y"])
    run = run_ok(cli, "evaluate", fitted, "--data", tmp_path / "s.csv", "--json")
    metrics = json.loads(run.stdout)
    zeros = int(np.count_nonzero(np.arange(3, 40) % 5 == 0))  # the targets: rows 3…39
    assert metrics["mape_left_out"] == zeros and metrics["samples"] == 37
    assert f"warning: original_mape leaves out the {zeros} actual values that are 0" in run.stderr


@pytest.mark.slow
def test_evaluate_reports_mape_in_data_units_the_seasonal_mase_and_the_transforms_baseline(tmp_path, cli):
    frame = trending(60)
    frame.to_csv(tmp_path / "s.csv", index=False)
    define = ["--timesteps", 6, "--features", "sales", "--index", "month", "--transform", "seasonal-diff:12,diff"]
    run_ok(cli, "define", *define, "--lstm", 2, "--seed", 0, "--out", tmp_path / "d.keras")
    run_ok(cli, "compile", tmp_path / "d.keras", "--metric", "mape", "--out", tmp_path / "c.keras")
    fit = ["--data", tmp_path / "s.csv", "--rows", ":2018-12", "--epochs", 2, "--seed", 0, "--verbose", 0]
    run_ok(cli, "fit", tmp_path / "c.keras", *fit, "--out", tmp_path / "f.keras")
    test = ["--data", tmp_path / "s.csv", "--rows", "2019-01:"]
    metrics = json.loads(run_ok(cli, "evaluate", tmp_path / "f.keras", *test, "--json").stdout)
    predicted = csv_of(run_ok(cli, "predict", tmp_path / "f.keras", *test))["predicted_sales"].to_numpy()
    y = frame["sales"].to_numpy()
    truth = y[36:]
    mape = 100 * np.mean(np.abs(predicted - truth) / truth)
    assert metrics["mape"] == pytest.approx(mape, rel=1e-3) and metrics["original_mape"] == pytest.approx(
        mape, rel=1e-4
    )
    smape = 100 * np.mean(2 * np.abs(predicted - truth) / (np.abs(truth) + np.abs(predicted)))
    assert metrics["original_smape"] == pytest.approx(smape, rel=1e-4)
    train = y[:36]
    assert metrics["season"] == 12
    assert metrics["seasonal_mase"] == pytest.approx(
        metrics["original_mae"] / np.mean(np.abs(train[12:] - train[:-12])), rel=1e-4
    )
    (drift,) = artifact.read_record(tmp_path / "f.keras").preprocessing["targets"]["offset"]
    t = np.arange(36, 60)  # seasonal naive plus last year's change (and the training rows' mean change of it)
    alone = y[t - 12] + y[t - 1] - y[t - 13] + drift
    dd = y[13:36] - y[12:35] - y[1:24] + y[:23]  # the training rows' double differences (rows 13…35)
    assert drift == pytest.approx(dd.mean(), rel=1e-4)
    assert metrics["transforms_rmse"] == pytest.approx(np.sqrt(np.mean((alone - truth) ** 2)), rel=1e-4)
    assert metrics["transforms_skill"] == pytest.approx(metrics["transforms_rmse"] / metrics["original_rmse"])


# -- backtest ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_backtest_learns_each_fold_from_its_past_alone_and_repeats(tmp_path, cli):
    from lstmcli.data import preprocessing
    from lstmcli.steps import backtesting
    from lstmcli.steps.options import for_command

    frame = trending(48)
    frame.to_csv(tmp_path / "s.csv", index=False)
    run_ok(
        cli,
        "define",
        "--timesteps",
        4,
        "--horizon",
        2,
        "--features",
        "sales",
        "--index",
        "month",
        "--lstm",
        2,
        "--seed",
        0,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    opts = for_command(
        "backtest",
        {"data": tmp_path / "s.csv", "folds": 3, "fold_size": 6, "epochs": 2, "scaling": "standard", "seed": 5},
        None,
    )
    result = backtesting.backtest(tmp_path / "c.keras", opts)
    assert [f["test_rows"] for f in result.folds] == [[30, 36], [36, 42], [42, 48]]
    for fold, learned in zip(result.folds, result.preprocessing):
        train = frame["sales"].to_numpy()[: fold["train_rows"][1]]  # the rows before the fold's origin, nothing after
        expected = preprocessing.learn_scaling("standard", train[:, None])
        for part in ("inputs", "targets"):
            assert learned[part]["offset"] == pytest.approx(expected["offset"], rel=1e-6)
            assert learned[part]["scale"] == pytest.approx(expected["scale"], rel=1e-6)
        assert fold["samples"] == 6 - 2 + 1 and {"naive_rmse", "seasonal_naive_rmse", "skill", "mase"} <= set(fold)
    assert result.mean["original_rmse"] == pytest.approx(np.mean([f["original_rmse"] for f in result.folds]))
    run = run_ok(
        cli,
        "backtest",
        tmp_path / "c.keras",
        "--data",
        tmp_path / "s.csv",
        "--folds",
        3,
        "--fold-size",
        6,
        "--epochs",
        2,
        "--scaling",
        "standard",
        "--seed",
        5,
        "--json",
    )
    assert json.loads(run.stdout) == json.loads(
        json.dumps(result.to_dict())
    )  # seeded: the same folds, the same numbers
    run = cli("backtest", tmp_path / "c.keras", "--data", tmp_path / "s.csv", "--folds", 30)
    assert run.exit_code == 2 and "fewer --folds" in run.stderr


def test_a_classifier_has_no_horizon(cli, tmp_path):
    run = cli(
        "define", "--task", "binary", "--timesteps", 4, "--horizon", 3, "--features", "x", "--out", tmp_path / "d.keras"
    )
    assert run.exit_code == 2 and "one label per sample" in run.stderr


def test_a_differenced_horizon_adds_each_step_back_onto_the_one_before(tmp_path, cli):
    import keras

    from lstmcli.model import predictor

    frame = trending(40)
    frame.to_csv(tmp_path / "s.csv", index=False)
    fitted = pipeline(
        cli,
        tmp_path,
        ["--timesteps", 4, "--horizon", 3, "--features", "sales", "--index", "month", "--transform", "diff"],
    )
    record = artifact.read_record(fitted)
    assert record.preprocessing["steps"] == [1, 2, 3] and record.preprocessing["context"] == 1
    model = keras.saving.load_model(fitted)
    windows = np.stack([frame["sales"].to_numpy()[i : i + 5] for i in range(3)])[..., None].astype(np.float32)
    views = predictor.views(model, DataSpec.from_dict(record.data_spec), record.preprocessing)
    scaled = np.asarray(views.training(windows))
    differences = scaled * record.preprocessing["targets"]["scale"][0] + record.preprocessing["targets"]["offset"][0]
    expected = windows[:, -1, :] + np.cumsum(differences, axis=1)  # step h = last value + the first h differences
    np.testing.assert_allclose(np.asarray(model.predict(windows, verbose=0)), expected, rtol=1e-5)
    long = csv_of(run_ok(cli, "predict", fitted, "--data", tmp_path / "s.csv"))
    np.testing.assert_allclose(long["predicted_sales"].to_numpy()[:9], expected.reshape(-1), rtol=1e-5)


def test_backtest_reads_its_data_once_so_a_fifo_works(tmp_path, cli):
    """`backtest --data <(cat file)`: every fold fits and evaluates on one reading of the FIFO."""
    import os
    import threading
    import time

    from lstmcli.steps import backtesting
    from lstmcli.steps.options import for_command

    frame = trending(24)
    frame.to_csv(tmp_path / "s.csv", index=False)
    run_ok(
        cli,
        "define",
        "--timesteps",
        3,
        "--features",
        "sales",
        "--index",
        "month",
        "--lstm",
        2,
        "--seed",
        0,
        "--out",
        tmp_path / "d.keras",
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_bytes, args=((tmp_path / "s.csv").read_bytes(),), daemon=True)
    writer.start()
    done = threading.Event()

    def answer_later_reads_with_nothing():  # a second open of the FIFO then reads an empty file instead of hanging
        while not done.is_set():
            if not writer.is_alive():
                try:
                    os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:  # no reader waiting
                    pass
            time.sleep(0.02)

    threading.Thread(target=answer_later_reads_with_nothing, daemon=True).start()
    opts = for_command("backtest", {"data": pipe, "folds": 2, "fold_size": 4, "epochs": 1, "seed": 5}, None)
    try:
        result = backtesting.backtest(tmp_path / "c.keras", opts)
    finally:
        done.set()
    assert [f["test_rows"] for f in result.folds] == [[16, 20], [20, 24]]
    for fold, learned in zip(result.folds, result.preprocessing):
        train = frame["sales"].to_numpy()[: fold["train_rows"][1]]
        assert learned["inputs"]["offset"] == pytest.approx([train.mean()], rel=1e-6)
        assert fold["samples"] == 4
