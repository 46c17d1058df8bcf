"""A step reads its input artifact once: record and model come from the same bytes (issue 21, 9).

A file replaced while a step runs (an atomic rename by another process) must
not give the step one artifact's record and another's model.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from corpus_helpers import run_ok, series_csv

from lstmcli.model import artifact


def replaced_after_its_record_is_read(monkeypatch, path, replacement):
    """Swap `path` for a copy of `replacement` right after a step has parsed its record, once."""
    real = artifact.record_from_json
    swapped = []

    def swapping(raw, where, *args, **kwargs):
        record = real(raw, where, *args, **kwargs)
        if not swapped and os.fspath(where) == os.fspath(path):
            spare = path.with_suffix(".swap")
            shutil.copyfile(replacement, spare)
            os.replace(spare, path)
            swapped.append(True)
        return record

    monkeypatch.setattr(artifact, "record_from_json", swapping)
    return swapped


def test_a_fit_whose_input_is_replaced_mid_run_trains_the_model_its_record_describes(tmp_path, monkeypatch):
    import keras

    data = series_csv(tmp_path / "s.csv", rows=12)
    defined = tmp_path / "d.keras"
    run_ok("define", "--lstm", "2", "--features", "value", "--seed", "0", "--out", defined)
    sgd, adam = tmp_path / "sgd.keras", tmp_path / "adam.keras"
    run_ok("compile", defined, "--optimizer", "sgd", "--out", sgd)
    run_ok("compile", defined, "--optimizer", "adam", "--out", adam)
    given = tmp_path / "given.keras"
    shutil.copyfile(sgd, given)

    swapped = replaced_after_its_record_is_read(monkeypatch, given, adam)
    run_ok(
        "fit", given, "--data", data, "--epochs", "1", "--verbose", "0", "--seed", "0", "--out", tmp_path / "f.keras"
    )
    monkeypatch.undo()

    assert swapped
    record = artifact.read_record(tmp_path / "f.keras")
    model = keras.saving.load_model(tmp_path / "f.keras")
    assert record.compile["optimizer"] == "sgd"
    assert type(model.optimizer).__name__.lower() == "sgd"  # was Adam: the file was opened again for the model


def test_a_predict_whose_input_is_replaced_mid_run_predicts_with_the_model_it_checked(tmp_path, monkeypatch):
    data = series_csv(tmp_path / "s.csv", rows=12)
    fitted = {}
    for seed in ("1", "2"):
        defined, compiled = tmp_path / f"d{seed}.keras", tmp_path / f"c{seed}.keras"
        run_ok("define", "--lstm", "2", "--features", "value", "--seed", seed, "--out", defined)
        run_ok("compile", defined, "--out", compiled)
        fitted[seed] = tmp_path / f"f{seed}.keras"
        run_ok(
            "fit", compiled, "--data", data, "--epochs", "1", "--verbose", "0", "--seed", seed, "--out", fitted[seed]
        )
    expected = tmp_path / "expected.csv"
    run_ok("predict", fitted["1"], "--data", data, "--out", expected)
    given = tmp_path / "given.keras"
    shutil.copyfile(fitted["1"], given)

    swapped = replaced_after_its_record_is_read(monkeypatch, given, fitted["2"])
    run_ok("predict", given, "--data", data, "--out", tmp_path / "p.csv")
    monkeypatch.undo()

    assert swapped
    mine, theirs = pd.read_csv(tmp_path / "p.csv"), pd.read_csv(expected)
    np.testing.assert_array_equal(mine.to_numpy(), theirs.to_numpy())


@pytest.mark.slow
def test_a_backtest_whose_input_is_replaced_mid_run_fits_every_fold_from_the_bytes_it_read(tmp_path, monkeypatch):
    import json

    from corpus_helpers import invoke

    data = series_csv(tmp_path / "s.csv", rows=30)
    defined = tmp_path / "d.keras"
    run_ok("define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", defined)
    sgd, adam = tmp_path / "sgd.keras", tmp_path / "adam.keras"
    run_ok("compile", defined, "--optimizer", "sgd", "--learning-rate", "0.5", "--out", sgd)
    run_ok("compile", defined, "--optimizer", "adam", "--out", adam)
    args = ["--data", data, "--folds", "2", "--epochs", "3", "--seed", "0", "--json", "--verbose", "0"]
    expected = json.loads(run_ok("backtest", sgd, *args).stdout)
    given = tmp_path / "given.keras"
    shutil.copyfile(sgd, given)

    swapped = replaced_after_its_record_is_read(monkeypatch, given, adam)
    outcome = invoke(["backtest", given, *args])
    monkeypatch.undo()

    assert swapped and outcome.exit_code == 0, outcome
    assert json.loads(outcome.stdout)["mean"] == expected["mean"]


def test_inspect_layers_of_an_input_replaced_mid_run_describe_the_model_its_record_does(tmp_path, monkeypatch):
    import json

    two, three = tmp_path / "two.keras", tmp_path / "three.keras"
    run_ok("define", "--lstm", "2", "--features", "value", "--seed", "0", "--out", two)
    run_ok("define", "--lstm", "3", "--features", "value", "--seed", "0", "--out", three)
    expected = json.loads(run_ok("inspect", two, "--layers", "--json").stdout)["layers"]
    given = tmp_path / "given.keras"
    shutil.copyfile(two, given)

    swapped = replaced_after_its_record_is_read(monkeypatch, given, three)
    summary = json.loads(run_ok("inspect", given, "--layers", "--json").stdout)
    monkeypatch.undo()

    assert swapped
    assert summary["layers"] == expected
