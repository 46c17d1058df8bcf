"""Prediction intervals end to end: predict's bounds, evaluate's coverage, backtest's folds, export's
signature and plot's bands, from the residuals of held-out windows a fitted model carries."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from calibration_helpers import calibrate, held_out_residuals

from lstmcli.data.dataspec import DataSpec
from lstmcli.errors import ConfigError
from lstmcli.model import artifact
from lstmcli.model.tasks import get_task
from lstmcli.scoring import intervals
from lstmcli.steps import predicting
from lstmcli.steps.options import PredictOptions

pytestmark = pytest.mark.slow
HORIZON = 2
TRAIN = ":2019-12"  # 48 months to fit on; the 12 after them are the test
TEST = "2020-01:"


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


def csv_of(run) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(run.stdout))


def seasonal(rows=60):
    t = np.arange(rows)
    rng = np.random.default_rng(3)
    y = 100 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.0, rows)
    return pd.DataFrame({"month": pd.period_range("2016-01", periods=rows, freq="M").strftime("%Y-%m"), "sales": y})


@pytest.fixture(scope="module")
def kit(tmp_path_factory, cli):
    """A tiny forecaster of two steps, fitted on 2016–2019, as fitted (f.keras) and calibrated (cal.keras)
    on the residuals of the windows of its last 24 training rows."""
    root = tmp_path_factory.mktemp("intervals")
    data = root / "s.csv"
    seasonal().to_csv(data, index=False)
    spec = ["--timesteps", 3, "--horizon", HORIZON, "--features", "sales", "--index", "month", "--lstm", 4]
    run_ok(cli, "define", *spec, "--seed", 0, "--out", root / "d.keras")
    run_ok(cli, "compile", root / "d.keras", "--learning-rate", "0.05", "--out", root / "c.keras")
    fit = ["--data", data, "--rows", TRAIN, "--epochs", 30, "--seed", 0, "--verbose", 0, "--out", root / "f.keras"]
    run_ok(cli, "fit", root / "c.keras", *fit)
    residuals = held_out_residuals(root / "f.keras", data, "2018-01:2019-12")
    calibrate(root / "f.keras", root / "cal.keras", residuals, "the windows of the last 24 training rows")
    few = calibrate(root / "f.keras", root / "few.keras", residuals[:, -5:], "the last 5 training windows")
    model, record = artifact.load(root / "f.keras")
    record.fit = {k: v for k, v in (record.fit or {}).items() if k != "calibration"}  # should fit have kept some
    bare = artifact.save(model, record, root / "bare.keras")
    paths = {"root": root, "data": data, "cal": root / "cal.keras", "few": few, "bare": bare}
    return type("Kit", (), {**paths, "residuals": residuals})


# -- predict -------------------------------------------------------------------------------------------


def test_predict_writes_each_levels_bounds_after_its_column_from_the_step_s_residuals(cli, kit):
    long = csv_of(
        run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--interval", "0.8", "--interval", "0.95")
    )
    assert list(long.columns) == [
        "month",
        "step",
        "predicted_sales",
        "predicted_sales_lower_80",
        "predicted_sales_upper_80",
        "predicted_sales_lower_95",
        "predicted_sales_upper_95",
    ]
    cal = {"residuals": kit.residuals.tolist()}
    for level in (0.8, 0.95):
        widths = intervals.half_widths(cal, level).widths
        name = intervals.label(level)
        for step in (1, 2):
            rows = long[long.step == step]
            np.testing.assert_allclose(
                rows.predicted_sales - rows[f"predicted_sales_lower_{name}"], widths[step - 1], atol=1e-4
            )
            np.testing.assert_allclose(
                rows[f"predicted_sales_upper_{name}"] - rows.predicted_sales, widths[step - 1], atol=1e-4
            )
    assert (long.predicted_sales_lower_95 <= long.predicted_sales_lower_80).all()
    plain = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST))
    assert list(plain.columns) == ["month", "step", "predicted_sales"]  # no --interval: the table as before
    np.testing.assert_allclose(plain.predicted_sales, long.predicted_sales)


def test_predict_wide_and_future_carry_the_bounds_of_each_step(cli, kit):
    wide = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--wide", "--interval", "0.8"))
    assert list(wide.columns) == [
        "month",
        "predicted_sales_step1",
        "predicted_sales_step1_lower_80",
        "predicted_sales_step1_upper_80",
        "predicted_sales_step2",
        "predicted_sales_step2_lower_80",
        "predicted_sales_step2_upper_80",
    ]
    long = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--interval", "0.8"))
    np.testing.assert_allclose(wide.predicted_sales_step2_upper_80, long[long.step == 2].predicted_sales_upper_80)
    ahead = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--future", "--interval", "0.8"))
    assert ahead.month.tolist() == ["2021-01", "2021-02"] and ahead.step.tolist() == [1, 2]
    widths = intervals.half_widths({"residuals": kit.residuals.tolist()}, 0.8).widths
    np.testing.assert_allclose(ahead.predicted_sales_upper_80 - ahead.predicted_sales, widths, atol=1e-4)
    first = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--future", "--steps", 1, "--interval", "0.8"))
    np.testing.assert_allclose(first.iloc[0].to_numpy()[2:].astype(float), ahead.iloc[0].to_numpy()[2:].astype(float))
    assert len(first) == 1


def test_predict_refuses_intervals_past_the_horizon_on_classifiers_and_without_calibration(cli, kit):
    far = cli("predict", kit.cal, "--data", kit.data, "--future", "--steps", 5, "--interval", "0.8")
    assert far.exit_code == 2
    assert "--interval is calibrated on the model's own 2-step forecasts; --steps 5 forecasts further" in far.stderr
    assert "ask for at most 2 steps with --interval, or define the model with --horizon 5" in far.stderr
    bare = cli("predict", kit.bare, "--data", kit.data, "--interval", "0.8")
    assert bare.exit_code == 2
    assert bare.stderr == (
        "error: this model has no held-out residuals to calibrate intervals; fit it with validation "
        "(the default guard, --validation-split or --validation-data)\n"
    )
    spec = DataSpec("samples", 4, 1)
    with pytest.raises(ConfigError, match="this is a binary classifier, whose probabilities already say"):
        predicting.check(PredictOptions(interval=[0.8]), get_task("binary"), spec)


def test_a_level_too_high_for_the_held_out_windows_is_warned_about(cli, kit):
    run = run_ok(cli, "predict", kit.few, "--data", kit.data, "--rows", TEST, "--interval", "0.8,0.95")
    assert run.stderr.count("warning:") == 1  # 5 windows: enough for 80% (4), not for 95% (19)
    assert "the 95% interval rests on 5 held-out windows, fewer than the 19 it needs" in " ".join(run.stderr.split())
    table = csv_of(run)
    np.testing.assert_allclose(
        table.predicted_sales_upper_95[table.step == 1] - table.predicted_sales[table.step == 1],
        np.abs(kit.residuals[0, -5:]).max(),
        atol=1e-4,
    )


# -- evaluate ------------------------------------------------------------------------------------------


def test_evaluate_reports_coverage_width_and_winkler_of_the_default_levels(cli, kit):
    metrics = json.loads(run_ok(cli, "evaluate", kit.cal, "--data", kit.data, "--rows", TEST, "--json").stdout)
    table = csv_of(
        run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--wide", "--interval", "0.8,0.95")
    )
    from lstmcli.steps import predicting as core

    truth = core.actuals(kit.cal, PredictOptions(data=kit.data, rows=TEST, wide=True)).y_raw
    predicted = table[["predicted_sales_step1", "predicted_sales_step2"]].to_numpy()
    expected = intervals.scores(predicted, truth, {"residuals": kit.residuals.tolist()}, [0.8, 0.95])
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-5), name
    assert metrics["calibration_windows"] == kit.residuals.shape[1] == 23  # the windows whose 2 steps lie in 24 rows
    assert 0.0 <= metrics["coverage_80"] <= metrics["coverage_95"] <= 1.0
    assert metrics["width_80"] < metrics["width_95"]
    text = run_ok(cli, "evaluate", kit.cal, "--data", kit.data, "--rows", TEST).stdout
    assert any(line.split()[0] == "coverage_95" for line in text.splitlines())


def test_evaluate_interval_chooses_the_levels_and_gates_on_coverage(cli, kit):
    args = ("evaluate", kit.cal, "--data", kit.data, "--rows", TEST, "--json", "--interval", "0.5")
    metrics = json.loads(run_ok(cli, *args).stdout)
    assert {k for k in metrics if k.startswith(("coverage", "width", "winkler"))} == {
        "coverage_50",
        "width_50",
        "winkler_50",
    }
    gated = cli(*args, "--fail-if", "coverage_50>=0")
    assert gated.exit_code == 3 and "gate failed: coverage_50 is" in gated.stderr
    unknown = cli(*args, "--fail-if", "coverage_80<0.7")
    assert unknown.exit_code == 2 and "evaluate reports no metric 'coverage_80'" in unknown.stderr


def test_evaluate_of_an_uncalibrated_model_has_no_intervals_and_refuses_them(cli, kit):
    bare = kit.bare
    metrics = json.loads(run_ok(cli, "evaluate", bare, "--data", kit.data, "--rows", TEST, "--json").stdout)
    assert not [k for k in metrics if k.startswith("coverage_")] and "calibration_windows" not in metrics
    refused = cli("evaluate", bare, "--data", kit.data, "--rows", TEST, "--interval", "0.9")
    assert refused.exit_code == 2 and "no held-out residuals to calibrate intervals" in refused.stderr


# -- backtest: each fold's evaluate ---------------------------------------------------------------------


def test_backtest_reports_each_folds_coverage_when_its_fit_is_calibrated(cli, kit, monkeypatch):
    """Until fit writes its calibration itself, each fold's fit is calibrated here on its last 12 windows."""
    from lstmcli.steps import backtesting, fitting

    real = fitting.fit
    windows = []

    def calibrated_fit(source, opts, **kwargs):
        written = real(source, opts, **kwargs)
        first, end = opts.rows
        residuals = held_out_residuals(opts.out, opts.data, (end - 12, end))
        calibrate(opts.out, opts.out, residuals)
        windows.append(residuals.shape[1])
        return written

    monkeypatch.setattr(backtesting.fitting, "fit", calibrated_fit)
    compiled = kit.root / "c.keras"
    args = ("backtest", compiled, "--data", kit.data, "--folds", 2, "--fold-size", 6, "--epochs", 3, "--seed", 0)
    result = json.loads(run_ok(cli, *args, "--json", "--interval", "0.8").stdout)
    assert [sorted(k for k in f if k.startswith("coverage_")) for f in result["folds"]] == [["coverage_80"]] * 2
    assert [f["calibration_windows"] for f in result["folds"]] == windows and windows[0] >= 4
    for fold in result["folds"]:
        assert 0.0 <= fold["coverage_80"] <= 1.0 and fold["width_80"] > 0
    assert result["mean"]["coverage_80"] == pytest.approx(np.mean([f["coverage_80"] for f in result["folds"]]))
    text = run_ok(cli, *args, "--verbose", "1")
    assert "coverage_80" in text.stdout.splitlines()[0] and "coverage_80:" in text.stderr


# -- export --------------------------------------------------------------------------------------------


def windows_of(data, rows: slice, timesteps: int = 3) -> np.ndarray:
    """Raw windows (batch, timesteps, 1) of the sales column, as a serving client builds them."""
    x = pd.read_csv(data)["sales"].to_numpy(np.float32)[rows]
    return np.stack([x[i : i + timesteps] for i in range(len(x) - timesteps + 1)])[:, :, None]


def test_the_savedmodel_returns_the_bounds_predict_writes(cli, kit, tmp_path):
    import tensorflow as tf

    done = run_ok(cli, "export", kit.cal, "--out", tmp_path / "serving", "--interval", "0.8,0.975")
    assert "→ predictions, lower_80, upper_80, lower_97.5, upper_97.5)" in " ".join(done.stderr.split())
    serve = tf.saved_model.load(str(tmp_path / "serving")).signatures["serve"]
    # the windows predict --rows 2020-01: uses: the 3 rows before January 2020, then one per month with 2 steps left
    served = {k: v.numpy() for k, v in serve(windows=tf.constant(windows_of(kit.data, slice(45, 58)))).items()}
    assert set(served) == {"predictions", "lower_80", "upper_80", "lower_97.5", "upper_97.5"}
    table = csv_of(
        run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--wide", "--interval", "0.8,0.975")
    )
    for side in ("lower", "upper"):
        for name in ("80", "97.5"):
            expected = table[[f"predicted_sales_step{h}_{side}_{name}" for h in (1, 2)]].to_numpy()
            np.testing.assert_allclose(served[f"{side}_{name}"], expected, atol=1e-3)
    np.testing.assert_allclose(
        served["predictions"], table[["predicted_sales_step1", "predicted_sales_step2"]], atol=1e-3
    )


def test_export_gives_the_default_levels_to_a_calibrated_model_and_none_to_another(cli, kit, tmp_path):
    import tensorflow as tf

    run_ok(cli, "export", kit.cal, "--out", tmp_path / "calibrated")
    outputs = tf.saved_model.load(str(tmp_path / "calibrated")).signatures["serve"].structured_outputs
    assert set(outputs) == {"predictions", "lower_80", "upper_80", "lower_95", "upper_95"}
    run_ok(cli, "export", kit.bare, "--out", tmp_path / "bare")
    assert set(tf.saved_model.load(str(tmp_path / "bare")).signatures["serve"].structured_outputs) == {"predictions"}
    refused = cli("export", kit.bare, "--out", tmp_path / "refused", "--interval", "0.8")
    assert refused.exit_code == 2 and "no held-out residuals to calibrate intervals" in refused.stderr
    assert not (tmp_path / "refused").exists()


# -- plot ----------------------------------------------------------------------------------------------


def test_plot_shades_each_level_around_a_steps_forecasts_and_the_forecast_up_to_the_horizon(cli, kit, tmp_path):
    from matplotlib.collections import PolyCollection

    from lstmcli.data import readers
    from lstmcli.steps import plotting
    from lstmcli.steps.options import PlotOptions

    opts = PlotOptions(out_dir=tmp_path, data=kit.data, rows=TEST, step="2", steps=5, interval=[0.8, 0.95])
    with readers.held(kit.data):
        figure = plotting._predictions(kit.cal, opts, [0.8, 0.95])
    ax = figure.axes[0]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 4  # two levels around step 2's forecasts, two around the forecast past the end
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend.count("80% interval") == 1 and legend.count("95% interval") == 1
    wide = csv_of(run_ok(cli, "predict", kit.cal, "--data", kit.data, "--rows", TEST, "--wide", "--interval", "0.8"))
    upper = bands[0].get_paths()[0].vertices[:, 1]  # the 80% band of step 2: its lower edge, then its upper edge
    assert max(upper) == pytest.approx(wide.predicted_sales_step2_upper_80.max(), abs=1e-3)
    assert min(upper) == pytest.approx(wide.predicted_sales_step2_lower_80.min(), abs=1e-3)
    future = bands[2].get_paths()[0].vertices
    assert len({round(x, 6) for x in future[:, 0]}) == HORIZON  # the forecast's band stops at the horizon, not at 5
    written = run_ok(cli, "plot", kit.cal, "--out-dir", tmp_path / "figures", "--data", kit.data, "--steps", 5)
    assert (tmp_path / "figures" / "predictions.png").stat().st_size > 0 and written.stderr == ""
    alone = cli("plot", kit.cal, "--out-dir", tmp_path / "nothing", "--interval", "0.8")
    assert alone.exit_code == 2 and "--interval shades the bands around the forecasts" in alone.stderr
    bare = cli("plot", kit.bare, "--out-dir", tmp_path / "bare", "--data", kit.data, "--interval", "0.8")
    assert bare.exit_code == 2 and "no held-out residuals" in bare.stderr and not (tmp_path / "bare").exists()


# -- inspect -------------------------------------------------------------------------------------------


def test_inspect_summarises_the_calibration_instead_of_listing_its_residuals(cli, kit):
    shown = run_ok(cli, "inspect", kit.cal).stdout
    line = " ".join(shown.split())  # the table folds long cells
    widths = intervals.half_widths({"residuals": kit.residuals.tolist()}, 0.8).widths
    assert "intervals split conformal on 23 held-out windows (the windows of the last 24 training rows): 80% ±[" in line
    assert f"{widths[0]:.6g}" in line and "95% ±[" in line
    assert f"{kit.residuals[0, 0]:.6g}" not in shown  # the residuals themselves stay in --json
    described = json.loads(run_ok(cli, "inspect", kit.cal, "--json").stdout)
    assert described["intervals"]["half_widths"]["80"] == pytest.approx(widths.tolist())
    assert len(described["fit"]["calibration"]["residuals"][0]) == 23
