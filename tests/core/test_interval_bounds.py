"""Split-conformal intervals and their scores, the core alone: no model, no TensorFlow."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmcli.errors import ArtifactError, ConfigError
from lstmcli.scoring import gates, intervals

LEVELS = st.floats(min_value=0.01, max_value=0.99)
RESIDUALS = st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=60)


def calibration(*columns) -> dict:
    return {"method": intervals.METHOD, "held_out": "test", "windows": len(columns[0]), "residuals": list(columns)}


def test_the_half_width_is_the_kth_smallest_absolute_residual():
    # n = 9, q = 0.8: k = ceil(10 × 0.8) = 8, the 8th smallest |r| of 1..9
    found = intervals.half_widths(calibration([-1, 2, -3, 4, -5, 6, -7, 8, -9]), 0.8)
    assert found.widths.tolist() == [8.0] and found.windows == 9 and not found.short
    # n = 19, q = 0.95: k = ceil(20 × 0.95) = 19 exactly (not 20 from 19.000000000000004)
    assert intervals.half_widths(calibration(list(range(1, 20))), 0.95).widths.tolist() == [19.0]
    assert not intervals.half_widths(calibration(list(range(1, 20))), 0.95).short


def test_too_few_residuals_take_the_largest_and_say_the_level_is_short():
    found = intervals.half_widths(calibration([0.5, -3.0, 1.0], [1.0, 2.0, 0.1]), 0.8)  # needs 4
    assert found.short and found.widths.tolist() == [3.0, 2.0]
    assert intervals.needed_windows(0.8) == 4 and intervals.needed_windows(0.95) == 19
    assert intervals.needed_windows(0.5) == 1 and intervals.needed_windows(0.9) == 9
    assert "rests on 3 held-out windows, fewer than the 4 it needs" in intervals.short_note(0.8, 3)
    assert intervals.short_note(0.8, 4) is None


@given(level=LEVELS, n=st.integers(min_value=1, max_value=500))
def test_needed_windows_is_where_the_rank_fits(level, n):
    assert (intervals.rank(n, level) <= n) == (n >= intervals.needed_windows(level))


def test_bounds_are_per_column_around_the_prediction_and_keep_the_output_order():
    cal = calibration([1.0] * 9, [10.0] * 9)  # column 0: step 1, column 1: step 2
    lower, upper = intervals.bounds(np.array([[5.0, 50.0], [6.0, 60.0]]), cal, 0.8)
    assert lower.tolist() == [[4.0, 40.0], [5.0, 50.0]] and upper.tolist() == [[6.0, 60.0], [7.0, 70.0]]
    lower, _ = intervals.bounds(np.array([[5.0]]), cal, 0.8)  # a forecast cut to its first step
    assert lower.tolist() == [[4.0]]
    with pytest.raises(ConfigError, match="residuals for 2 outputs but the forecast has 3"):
        intervals.bounds(np.zeros((1, 3)), cal, 0.8)


@given(residuals=RESIDUALS, low=LEVELS, high=LEVELS)
def test_a_higher_level_is_never_narrower(residuals, low, high):
    low, high = sorted((low, high))
    cal = calibration(residuals)
    assert intervals.half_widths(cal, low).widths[0] <= intervals.half_widths(cal, high).widths[0]


@given(residuals=RESIDUALS, level=LEVELS)
def test_the_calibration_windows_themselves_are_covered_at_least_at_the_level(residuals, level):
    """In-sample: at least k of the n residuals are within the k-th smallest (all n when the level is short)."""
    cal = calibration(residuals)
    found = intervals.half_widths(cal, level)
    inside = np.mean(np.abs(residuals) <= found.widths[0])
    assert inside >= min(intervals.rank(len(residuals), level), len(residuals)) / len(residuals) - 1e-12
    if found.short:
        assert inside == 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), level=st.sampled_from([0.5, 0.8, 0.9, 0.95]))
def test_exchangeable_data_is_covered_near_the_level(seed, level):
    """Split conformal's guarantee: for exchangeable residuals, P(covered) ∈ [q, q + 1/(n+1)].

    Averaged over many calibration draws the test coverage must sit in that band (with sampling slack).
    """
    rng = np.random.default_rng(seed)
    n, trials, tests = 99, 200, 50
    covered = []
    for _ in range(trials):
        noise = rng.standard_t(3, size=n + tests) * rng.uniform(0.5, 2.0)
        cal = calibration(noise[:n].tolist())
        lower, upper = intervals.bounds(np.zeros((tests, 1)), cal, level)
        covered.append(intervals.coverage(noise[n:, None], lower, upper))
    mean = float(np.mean(covered))
    slack = 4 * math.sqrt(level * (1 - level) / (trials * tests)) + 0.01  # draws within a trial are correlated
    assert level - slack <= mean <= level + 1 / (n + 1) + slack, (level, mean)


def test_scores_coverage_width_and_winkler_by_hand():
    truth = np.array([[0.0], [3.0], [-4.0], [0.5]])
    lower, upper = np.full((4, 1), -1.0), np.full((4, 1), 1.0)
    assert intervals.coverage(truth, lower, upper) == 0.5
    assert intervals.mean_width(lower, upper) == 2.0
    # α = 0.2: 2/α = 10; misses by 2 (above) and by 3 (below): (4×2 + 10×2 + 10×3) / 4
    assert intervals.winkler(truth, lower, upper, 0.8) == pytest.approx((8 + 20 + 30) / 4)


@given(residuals=RESIDUALS, level=LEVELS, shift=st.floats(-100, 100))
def test_the_winkler_score_is_the_width_when_everything_is_covered_and_more_otherwise(residuals, level, shift):
    cal = calibration(residuals)
    predicted = np.zeros((1, 1))
    lower, upper = intervals.bounds(predicted, cal, level)
    truth = np.array([[shift]])
    score = intervals.winkler(truth, lower, upper, level)
    width = intervals.mean_width(lower, upper)
    assert score == pytest.approx(width) if intervals.coverage(truth, lower, upper) == 1.0 else score > width


def test_scores_name_each_level_and_can_be_gated():
    cal = calibration([1.0] * 20)
    metrics = intervals.scores(np.zeros((4, 1)), np.array([[0.0], [0.5], [2.0], [-0.2]]), cal, [0.8, 0.975])
    assert list(metrics) == intervals.metric_names([0.8, 0.975])
    assert metrics["coverage_80"] == 0.75 and metrics["width_97.5"] == 2.0 and metrics["calibration_windows"] == 20
    gates.check([gates.parse("coverage_80<0.7"), gates.parse("winkler_97.5>100")], metrics)  # neither fails
    with pytest.raises(Exception, match="coverage_80 is 0.75"):
        gates.check([gates.parse("coverage_80<0.8")], metrics)


@pytest.mark.parametrize("level, name", [(0.8, "80"), (0.95, "95"), (0.975, "97.5"), (0.5, "50"), (0.999, "99.9")])
def test_levels_are_named_as_percentages(level, name):
    assert intervals.label(level) == name


def record(task="regression", fit=None, units=1):
    return SimpleNamespace(task=task, fit=fit, architecture={"units": units})


def test_which_levels_a_step_reports():
    cal = calibration([1.0] * 20)
    assert intervals.levels_for(record(fit={"calibration": cal}), None) == [0.8, 0.95]
    assert intervals.levels_for(record(fit={"calibration": cal}), [0.9]) == [0.9]
    assert intervals.levels_for(record(fit={}), None) == []
    assert intervals.levels_for(record("binary", fit={}), None) == []
    with pytest.raises(ConfigError, match=r"no held-out residuals to calibrate intervals; fit it with validation"):
        intervals.levels_for(record(fit={}), [0.8])
    with pytest.raises(ConfigError, match=r"this is a binary classifier.*drop --interval"):
        intervals.levels_for(record("binary", fit={}), [0.8])
    with pytest.raises(ConfigError, match=r"calibrated by 'quantile'"):
        intervals.levels_for(record(fit={"calibration": {**cal, "method": "quantile"}}), [0.8])
    with pytest.raises(ArtifactError, match=r"residuals for 1 outputs, but the model has 2; fit it again"):
        intervals.levels_for(record(fit={"calibration": cal}, units=2), None)


def test_the_tables_bounds_follow_their_column_for_every_target_and_step():
    """Outputs are step-major (column h*k + j: step h+1 of target j); the wide table is target-major."""
    from lstmcli.data import forecasting

    data = SimpleNamespace(key_name="month", keys=None, target_names=["a", "b"])
    predicted = np.array([[10.0, 20.0, 11.0, 21.0], [12.0, 22.0, 13.0, 23.0]])  # a1, b1, a2, b2
    cal = calibration([1.0] * 9, [2.0] * 9, [3.0] * 9, [4.0] * 9)
    bounds = {0.8: intervals.bounds(predicted, cal, 0.8)}
    keys = np.array([["m1", "m2"], ["m2", "m3"]])
    wide = forecasting.table(predicted, keys, data, wide=True, future=False, bounds=bounds)
    assert list(wide.columns)[1:4] == ["predicted_a_step1", "predicted_a_step1_lower_80", "predicted_a_step1_upper_80"]
    assert wide["predicted_b_step2"].tolist() == [21.0, 23.0]
    assert wide["predicted_b_step2_upper_80"].tolist() == [25.0, 27.0]  # step 2 of b: column 3, half-width 4
    assert wide["predicted_a_step2_lower_80"].tolist() == [8.0, 10.0]  # step 2 of a: column 2, half-width 3
    long = forecasting.table(predicted, keys, data, wide=False, future=False, bounds=bounds)
    assert long["predicted_b_upper_80"].tolist() == [22.0, 25.0, 24.0, 27.0]  # (window, step) rows
    samples = forecasting.table(
        predicted[:, :2],
        None,
        SimpleNamespace(**{**vars(data), "keys": [0, 1]}),
        wide=False,
        future=False,
        bounds={0.8: intervals.bounds(predicted[:, :2], cal, 0.8)},
    )
    assert list(samples.columns) == [
        "month",
        "predicted_a",
        "predicted_a_lower_80",
        "predicted_a_upper_80",
        "predicted_b",
        "predicted_b_lower_80",
        "predicted_b_upper_80",
    ]
    assert samples["predicted_b_lower_80"].tolist() == [18.0, 20.0]
