"""`lstmcli plot`: nothing written before everything is checked, and the figures' choices
(--rows with the split, --step, --steps, --image-format, --dpi, --normalize, curves that are metrics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import classification_csv

from lstmcli.model import artifact
from lstmcli.steps import plotting
from lstmcli.steps.options import for_command

HORIZON = 3


def run_ok(cli, *args):
    run = cli(*args)
    assert run.exit_code == 0, run
    return run


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, cli):
    """A tiny monthly series model with a horizon, fit with early stopping (so its history has `restored`)."""
    root = tmp_path_factory.mktemp("plot")
    t = np.arange(60)
    frame = pd.DataFrame(
        {
            "month": pd.period_range("2016-01", periods=60, freq="M").strftime("%Y-%m"),
            "sales": 100 + 0.5 * t + 8 * np.sin(2 * np.pi * t / 12),
        }
    )
    frame.to_csv(root / "s.csv", index=False)
    define = ["--timesteps", 6, "--horizon", HORIZON, "--features", "sales", "--index", "month", "--lstm", 2]
    run_ok(cli, "define", *define, "--seed", 0, "--out", root / "d.keras")
    run_ok(cli, "compile", root / "d.keras", "--out", root / "c.keras")
    fit = ["--data", root / "s.csv", "--rows", ":2018-12", "--epochs", 4, "--seed", 0, "--verbose", 0]
    run_ok(
        cli, "fit", root / "c.keras", *fit, "--validation-split", 0.3, "--early-stopping", 1, "--out", root / "f.keras"
    )
    return root, root / "f.keras", root / "s.csv", frame


def options(data, out_dir, **flags):
    return for_command("plot", dict(data=data, out_dir=out_dir, **flags), None)


def test_a_figure_never_overwrites_an_input_and_nothing_is_written(fitted, cli, tmp_path):
    root, model, data, _ = fitted
    figures = tmp_path / "figures"
    figures.mkdir()
    (figures / "history.png").write_bytes(model.read_bytes())  # a model that happens to be named history.png
    before = (figures / "history.png").read_bytes()
    run = cli("plot", figures / "history.png", "--out-dir", figures)
    assert run.exit_code == 2 and "history.png is one of this step's inputs (MODEL)" in run.stderr, run
    assert (figures / "history.png").read_bytes() == before
    (figures / "predictions.png").write_bytes(data.read_bytes())  # and data named predictions.png
    run = cli("plot", model, "--out-dir", figures, "--data", figures / "predictions.png", "--format", "csv")
    assert run.exit_code == 2 and "(--data)" in run.stderr, run
    assert (figures / "predictions.png").read_bytes() == data.read_bytes()
    assert sorted(p.name for p in figures.iterdir()) == ["history.png", "predictions.png"]  # no temporaries left


@pytest.mark.parametrize(
    "args, stdin",
    [
        (["--data", "BAD"], None),
        (["--data", "DATA", "--format", "parquet"], None),
        (["--data", "-"], ""),
        (["--data", "DATA", "--step", "4"], None),
    ],
)
def test_unreadable_data_or_a_bad_choice_is_refused_before_history_is_written(fitted, cli, tmp_path, args, stdin):
    root, model, data, _ = fitted
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"month,sales\n\xff\xfe\x00\x01,\x80\n")
    args = [{"BAD": bad, "DATA": data}.get(a, a) for a in args]
    run = cli("plot", model, "--out-dir", tmp_path / "out", *args, input=stdin)
    assert run.exit_code == 2 and run.stderr.startswith("error: "), run
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_history_draws_metrics_only_not_early_stoppings_restored_column(fitted):
    history = artifact.read_record(fitted[1]).history
    assert "restored" in history and set(history["restored"]) <= {0, 1}
    figure = plotting.history_figure(history)
    assert [ax.get_title() for ax in figure.axes] == ["loss"]


def lines_of(figure):
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


def test_rows_draw_the_test_part_after_the_split_and_step_k_at_its_own_rows(fitted, cli, tmp_path):
    root, model, data, frame = fitted
    opts = options(data, tmp_path, rows="2019-01:", step="2", steps=7)
    from lstmcli.data import readers

    with readers.held(data):
        figure = plotting._predictions(model, opts)
    lines = lines_of(figure)
    split = lines.pop("test from 2019-01")
    predicted, forecast, actual = lines["predicted (2 steps ahead)"], lines["forecast"], lines["actual"]
    import matplotlib.dates as mdates

    as_num = lambda keys: mdates.date2num(pd.to_datetime(pd.Series(keys)))  # noqa: E731
    assert mdates.date2num(split.get_xdata()[0]) == as_num(["2019-01"])[0]
    assert as_num(["2017-01"])[0] > mdates.date2num(actual.get_xdata()[0])  # the training period's actuals too
    wide = pd.read_csv(
        __import__("io").StringIO(run_ok(cli, "predict", model, "--data", data, "--rows", "2019-01:", "--wide").stdout)
    )
    np.testing.assert_allclose(predicted.get_ydata(), wide["predicted_sales_step2"], rtol=1e-5)
    step2_rows = frame["month"].tolist()[37 : 37 + len(wide)]  # step 2 of the window whose step 1 is 2019-01
    np.testing.assert_allclose(mdates.date2num(predicted.get_xdata()), as_num(step2_rows))
    assert len(forecast.get_xdata()) == 7  # --steps: the forecast past the end
    every = plotting._predictions(model, options(data, tmp_path, step="all"))
    labels = [line.get_label() for line in every.axes[0].get_lines()]
    assert "predicted (1 step ahead)" in labels and f"predicted ({HORIZON} steps ahead)" in labels
    assert len([line for line in every.axes[0].get_lines() if line.get_label().startswith("predicted")]) == 2
    assert len(every.axes[0].get_lines()) == 1 + HORIZON + 1  # actual, every step, the forecast


@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("pdf", b"%PDF"), ("png", b"\x89PNG")])
def test_image_format_and_dpi(fitted, cli, tmp_path, fmt, magic):
    root, model, data, _ = fitted
    run = run_ok(cli, "plot", model, "--out-dir", tmp_path, "--data", data, "--image-format", fmt, "--dpi", 50)
    assert run.stdout.splitlines() == [str(tmp_path / f"history.{fmt}"), str(tmp_path / f"predictions.{fmt}")]
    assert all((tmp_path / f"{name}.{fmt}").read_bytes().startswith(magic) for name in ("history", "predictions"))
    if fmt == "png":
        from PIL import Image

        assert Image.open(tmp_path / "history.png").size == (int(plotting.SIZE[0] * 50), int(plotting.SIZE[1] * 50))


def test_confusion_matrices_normalise_like_scikit_learn():
    from lstmcli.steps.figures import confusion_matrix

    actual = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "b", "b", "b", "c", "c"]
    counts = np.array([[1, 2, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(confusion_matrix(actual, predicted, ["a", "b", "c"]), counts)
    np.testing.assert_allclose(confusion_matrix(actual, predicted, ["a", "b", "c"], "true"), counts / [[3], [2], [1]])
    np.testing.assert_allclose(confusion_matrix(actual, predicted, ["a", "b", "c"], "pred"), counts / [1, 3, 2])
    np.testing.assert_allclose(confusion_matrix(actual, predicted, ["a", "b", "c"], "all"), counts / 6)
    assert confusion_matrix(["a"], ["a"], ["a", "b"], "true")[1].tolist() == [0.0, 0.0]  # no sample: no fraction


@pytest.mark.slow
def test_a_classifiers_training_and_validation_samples_get_their_own_matrices(cli, tmp_path):
    data = classification_csv(tmp_path / "c.csv", classes=["a", "b", "c"], n=90)
    features = ",".join(f"x{i}" for i in range(6))
    define = ["--task", "multiclass", "--num-classes", 3, "--layout", "samples", "--reshape", "timesteps"]
    run_ok(
        cli, "define", *define, "--features", features, "--target", "label", "--seed", 0, "--out", tmp_path / "d.keras"
    )
    run_ok(cli, "compile", tmp_path / "d.keras", "--out", tmp_path / "c.keras")
    fit = ["--data", data, "--epochs", 3, "--verbose", 0, "--validation-split", 0.3, "--seed", 3]
    run_ok(cli, "fit", "--guard", "none", tmp_path / "c.keras", *fit, "--out", tmp_path / "f.keras")
    record = artifact.read_record(tmp_path / "f.keras")
    from lstmcli.data import readers

    with readers.held(data):
        figure = plotting._classes(tmp_path / "f.keras", options(data, tmp_path, normalize="true"), record)
    titles = [ax.get_title() for ax in figure.axes if ax.images]
    n_train, n_val = record.fit["samples"], record.fit["validation_samples"]
    val_accuracy = record.history["val_accuracy"][-1]
    assert titles[0].startswith("training: ") and titles[0].endswith(f"on {n_train} samples")
    assert titles[1] == f"validation: accuracy {val_accuracy:.3f} on {n_val} samples"  # the samples fit held out
    rows = figure.axes[0].images[0].get_array().sum(axis=1)
    np.testing.assert_allclose(rows[rows > 0], 1.0)  # normalised over each actual class
    with readers.held(data):
        one = plotting._classes(tmp_path / "f.keras", options(data, tmp_path, rows="0:30"), record)
    assert [ax.get_title() for ax in one.axes if ax.images] == [
        f"rows 0:30: accuracy {float(one.axes[0].get_title().split()[3]):.3f} on 30 samples"
    ]
