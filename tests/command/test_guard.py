"""fit --guard: the epochs are chosen on held-out samples and the model refitted on all of them, unless told not to."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import classification_csv

from lstmcli.model import artifact
from lstmcli.steps import guarding


def series_csv(path, rows=160, seed=0):
    t = np.arange(rows)
    noise = 0.1 * np.random.default_rng(seed).standard_normal(rows)
    pd.DataFrame({"t": t, "y": 0.02 * t + np.sin(t / 4) + noise}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def series(tmp_path_factory, cli):
    root = tmp_path_factory.mktemp("guard")
    data = series_csv(root / "s.csv")
    define = ("define", "--timesteps", 6, "--features", "y", "--index", "t", "--lstm", 8, "--seed", 3)
    assert cli(*define, "--out", root / "d.keras").exit_code == 0
    assert cli("compile", root / "d.keras", "--out", root / "c.keras").exit_code == 0
    return root, data


def fitted(cli, root, data, name, *flags):
    result = cli("fit", root / "c.keras", "--data", data, "--seed", 1, "--verbose", 1, "--out", root / name, *flags)
    assert result.exit_code == 0, result.output
    return artifact.read_record(root / name), result


def test_default_guard_refits_on_every_row_for_the_best_epoch_count(cli, series):
    root, data = series
    record, result = fitted(cli, root, data, "auto.keras", "--epochs", 60)
    guard = record.fit["guard"]
    windows = 160 - 6  # rows − timesteps − horizon + 1
    assert guard["mode"] == "auto" and guard["samples"] == windows and guard["draws"] == 1
    assert guard["held_out"] == max(round(0.2 * windows), guarding.MIN_HELD_SERIES)
    assert len(guard["best_epochs"]) == 1 and 1 <= guard["best_epochs"][0] <= 60
    # the refit trained exactly the chosen epochs, on every window, with nothing held out
    assert guard["refit_epochs"] == guard["best_epochs"][0] == record.epochs == len(record.history["loss"])
    assert record.fit["samples"] == windows and record.fit["validation_samples"] == 0
    assert guard["note"] in result.stderr  # fit says what it did
    calibration = record.fit["calibration"]
    assert calibration["windows"] == guard["held_out"] and len(calibration["residuals"]) == 1
    assert all(np.isfinite(calibration["residuals"][0]))


def test_guard_none_trains_as_asked(cli, series):
    root, data = series
    record, result = fitted(cli, root, data, "none.keras", "--epochs", 25, "--guard", "none")
    assert record.epochs == 25 and record.fit["samples"] == 160 - 6
    assert record.fit["guard"]["mode"] == "off" and "calibration" not in record.fit
    assert "guard:" not in result.stderr


def test_guard_none_keeps_the_users_split_as_asked(cli, series):
    root, data = series
    record, _ = fitted(cli, root, data, "none-split.keras", "--epochs", 5, "--guard", "none", "--validation-split", 0.2)
    assert record.fit["validation_samples"] == round(0.2 * (160 - 6)) and record.epochs == 5
    assert record.fit["calibration"]["windows"] == record.fit["validation_samples"]  # a split still calibrates


def test_guard_best_keeps_the_best_epochs_weights(cli, series):
    root, data = series
    record, result = fitted(cli, root, data, "best.keras", "--epochs", 40, "--guard", "best")
    guard = record.fit["guard"]
    assert guard["mode"] == "best" and "refit_epochs" not in guard
    assert record.fit["restored_epoch"] == guard["best_epochs"][0]
    assert record.fit["validation_samples"] == guard["held_out"] > 0
    assert "kept the best epoch" in result.stderr


def test_users_split_and_patience_are_the_trial_then_a_refit(cli, series):
    root, data = series
    record, _ = fitted(cli, root, data, "split.keras", "--epochs", 40, "--validation-split", 0.3, "--early-stopping", 7)
    guard = record.fit["guard"]
    assert guard["patience"] == 7 and guard["held_out"] == round(0.3 * (160 - 6))
    assert record.fit["validation_samples"] == 0 and record.epochs == guard["refit_epochs"]


def test_validation_file_is_judged_on_never_refitted_on(cli, series, tmp_path):
    root, data = series
    validation = series_csv(tmp_path / "v.csv", rows=60, seed=5)
    record, _ = fitted(cli, root, data, "file.keras", "--epochs", 8, "--validation-data", validation)
    assert record.fit["guard"]["mode"] == "off" and "validation-data" in record.fit["guard"]["note"]
    assert record.epochs == 8
    assert record.fit["calibration"]["windows"] == 60 - 6
    assert "--validation-data" in record.fit["calibration"]["held_out"]


def test_too_few_samples_train_as_asked(cli, tmp_path):
    data = series_csv(tmp_path / "short.csv", rows=30)
    assert (
        cli("define", "--timesteps", 6, "--features", "y", "--index", "t", "--out", tmp_path / "d.keras").exit_code == 0
    )
    assert cli("compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras").exit_code == 0
    record, _ = fitted(cli, tmp_path, data, "f.keras", "--epochs", 6)
    assert record.epochs == 6 and record.fit["guard"]["mode"] == "off"
    assert "too few" in record.fit["guard"]["note"]


def test_a_small_samples_file_is_judged_by_several_stratified_draws(cli, tmp_path):
    data = classification_csv(tmp_path / "c.csv", classes=["a", "b"], n=80, timesteps=5)
    features = [f"x{i}" for i in range(5)]
    assert (
        cli(
            "define", "--task", "binary", "--layout", "samples", "--features", ",".join(features),
            "--target", "label", "--lstm", 4, "--out", tmp_path / "d.keras",
        ).exit_code
        == 0
    )  # fmt: skip
    assert cli("compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras").exit_code == 0
    record, _ = fitted(cli, tmp_path, data, "f.keras", "--epochs", 30)
    guard = record.fit["guard"]
    assert guard["draws"] == guarding.DRAWS and len(guard["best_epochs"]) == guarding.DRAWS
    assert 1 <= guard["refit_epochs"] == record.epochs <= 30  # chosen on the draws' averaged curves
    assert "draws' curves averaged" in guard["note"] and "by val_accuracy" in guard["note"]
    assert guard["held_out"] == round(0.2 * 80) and "calibration" not in record.fit  # a classifier has no intervals
    assert sum(record.fit["class_counts"]) == 80  # the refit trained on every sample


def test_the_classic_config_trains_as_asked(cli, tmp_path):
    from conftest import REPO

    config = REPO / "configs" / "sequence.toml"
    for step, args in (("define", ()), ("compile", ("d.keras",)), ("fit", ("c.keras",))):
        out = {"define": "d.keras", "compile": "c.keras", "fit": "f.keras"}[step]
        assert cli(step, *[tmp_path / a for a in args], "--config", config, "--out", tmp_path / out).exit_code == 0
    record = artifact.read_record(tmp_path / "f.keras")
    assert record.epochs == 1000 and record.fit["guard"] == {
        "mode": "off",
        "note": "guard: --guard none: trained as asked",
    }


def test_plan_floors():
    class Opts:
        guard, strategy, validation_data, monitor = "auto", "auto", None, None
        validation_split, early_stopping, epochs = 0.0, None, 300

    plan, _ = guarding.plan(Opts, layout="series", n=80, smoke=False)
    assert round(plan.fraction * 80) == guarding.MIN_HELD_SERIES and plan.patience == 30
    plan, _ = guarding.plan(Opts, layout="samples", n=40, smoke=False)
    assert round(plan.fraction * 40) == guarding.MIN_HELD and plan.draws == guarding.DRAWS
    plan, why = guarding.plan(Opts, layout="samples", n=29, smoke=False)
    assert plan is None and "29 samples" in why
    plan, why = guarding.plan(Opts, layout="samples", n=500, smoke=True)
    assert plan is None and "smoke" in why
    one = guarding.Plan("auto", 0.2, 10, 1, False, "series")
    assert guarding.chosen_epochs(one, [{}], [7], 30, 20) == (7, [7])  # one draw: early stopping's epoch
    accuracy = guarding.Plan("auto", 0.2, 10, 3, False, "samples", judge="val_accuracy")
    curves = [
        {"val_accuracy": [0.5, 0.9, 0.8, 0.9]},
        {"val_accuracy": [0.6, 0.8, 0.9, 0.9]},
        {"val_accuracy": [0.5] * 4},
    ]
    # mean curve 0.533, 0.733, 0.733, 0.767: epoch 4; each draw's own best: 2, 3, 1
    assert guarding.chosen_epochs(accuracy, curves, [4, 4, 4], 4, 10) == (4, [2, 3, 1])
    ties = [{"val_accuracy": [0.5, 1.0, 1.0, 1.0]}] * 3
    assert guarding.chosen_epochs(accuracy, ties, [4] * 3, 4, 10)[0] == 4  # every epoch, when the end is as good
    falling = [{"val_accuracy": [0.5, 1.0, 1.0, 0.6]}] * 3  # ends 0.4 below its best: far beyond 30 samples' noise
    assert guarding.chosen_epochs(accuracy, falling, [4] * 3, 4, 10)[0] == 3  # the latest epoch at the best
    dipping = [{"val_accuracy": [0.5, 0.9, 0.9, 0.82]}] * 3  # 0.08 below: within 2√(0.9·0.1/30) ≈ 0.11
    assert guarding.chosen_epochs(accuracy, dipping, [4] * 3, 4, 10)[0] == 4
    loss = guarding.Plan("auto", 0.2, 10, 3, False, "samples")
    assert guarding.chosen_epochs(loss, [{"val_loss": [3.0, 1.0, 1.0, 2.0]}] * 3, [4] * 3, 4, 10)[0] == 2
    json.dumps(guarding.summary(None, "x", n=1))


def test_a_default_fit_is_calibrated_for_intervals_end_to_end(cli, series):
    """No injected residuals: the guard's held-out windows calibrate predict's and evaluate's intervals."""
    root, data = series
    fitted(cli, root, data, "calibrated.keras", "--epochs", 30)
    predicted = cli("predict", root / "calibrated.keras", "--data", data, "--interval", "0.8")
    assert predicted.exit_code == 0, predicted.output
    header = predicted.stdout.splitlines()[0].split(",")
    assert "predicted_y_lower_80" in header and "predicted_y_upper_80" in header
    metrics = cli("evaluate", root / "calibrated.keras", "--data", data, "--json")
    assert metrics.exit_code == 0, metrics.output
    values = json.loads(metrics.stdout)
    assert 0.0 <= values["coverage_80"] <= 1.0 and values["calibration_windows"] > 0
