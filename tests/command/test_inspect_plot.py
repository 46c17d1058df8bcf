"""`lstmcli inspect` and `lstmcli plot`: what an artifact holds, and figures read back pixel by pixel."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, classification_csv

CONFIG = REPO / "configs" / "sequence.toml"


@pytest.fixture(scope="module")
def classic(tmp_path_factory, cli):
    """The classic example's five outputs, from `lstmcli run`."""
    workdir = tmp_path_factory.mktemp("classic")
    run = cli("run", "--config", CONFIG, "--workdir", workdir)
    assert run.exit_code == 0, run
    return workdir


def test_inspect_json_reads_the_record(classic, cli):
    from lstmcli.model.artifact import read_record, sha256_file

    run = cli("inspect", classic / "fitted.keras", "--json")
    assert run.exit_code == 0, run
    summary = json.loads(run.stdout)
    record = read_record(classic / "fitted.keras")
    losses = record.history["loss"]
    assert (summary["stage"], summary["task"], summary["seed"], summary["smoke"]) == ("fitted", "regression", 7, False)
    assert summary["data_spec"]["features"] == ["value"] and summary["compile"]["loss"] == "mean_squared_error"
    assert summary["history"]["best_epoch"] == int(np.argmin(losses)) + 1 and summary["history"]["best"] == min(losses)
    assert summary["history"]["values"]["loss"] == losses and summary["history"]["epochs"] == 1000
    assert [e["step"] for e in summary["lineage"]] == ["define", "compile", "fit"]
    assert summary["lineage"][-1]["data"]["sha256"] == sha256_file(REPO / "data" / "sequence.csv")
    assert summary["versions"] == record.versions
    assert "layers" not in summary


def test_inspect_text_shows_sparkline_best_epoch_and_lineage(classic, cli):
    run = cli("inspect", classic / "fitted.keras")
    assert run.exit_code == 0, run
    lines = {line.split("  ")[0]: line for line in run.stdout.splitlines()}
    assert "best epoch     1000 of 1000 (loss" in lines["best epoch"]
    spark = lines["history loss"].split()[2]
    assert len(spark) == 40 and spark[0] == "█" and spark[-1] == "▁"
    assert "features [value]" in run.stdout and "compile ← parent" in run.stdout and "sha256" in run.stdout


def test_inspect_layers_is_the_model_summary_as_a_table(classic, cli):
    import keras

    model = keras.saving.load_model(classic / "fitted.keras")
    summary = json.loads(cli("inspect", classic / "fitted.keras", "--layers", "--json").stdout)
    assert summary["layers"] == [
        {
            "name": layer.name,
            "type": type(layer).__name__,
            "output_shape": list(layer.output.shape),
            "parameters": layer.count_params(),
        }
        for layer in model.layers
    ]
    assert [row["parameters"] for row in summary["layers"]] == [480, 11]
    text = cli("inspect", classic / "fitted.keras", "--layers").stdout
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    assert rows == [
        [model.layers[0].name, "LSTM", "(None, 10)", "480"],
        [model.layers[1].name, "Dense", "(None, 1)", "11"],
        ["total", "", "", "491"],
    ]


def test_inspect_without_layers_imports_no_tensorflow(classic):
    code = (
        "import sys; from lstmcli.cli import app\n"
        f"app(args=['inspect', {str(classic / 'fitted.keras')!r}], standalone_mode=False)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "[]"
    assert "best epoch" in proc.stdout


def test_inspect_of_a_missing_file_is_a_usage_error(cli, tmp_path):
    run = cli("inspect", tmp_path / "nope.keras")
    assert run.exit_code == 2 and "does not exist" in run.stderr


@pytest.mark.parametrize(
    "values, expected",
    [([3, 2, 1], "█▅▁"), ([1, 1, 1], "▁▁▁"), ([1, float("nan"), 3], "▁ █"), ([100, 10, 1, 0.1, 0.01], "█▆▅▃▁")],
)
def test_sparkline_draws_the_values(values, expected):
    from lstmcli.cli.render import sparkline

    assert sparkline(values) == expected


def test_sparkline_keeps_bucket_minima_within_its_width():
    from lstmcli.cli.render import sparkline

    line = sparkline(list(range(1000, 0, -1)), width=40)
    assert len(line) == 40 and line[0] == "█" and line[-1] == "▁"


def png(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def rgb(hex_color):
    return np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])


def save(figure, path):
    from lstmcli.steps import plotting

    figure.savefig(path, format="png", dpi=plotting.DPI)
    return path


def pixel_near(image, x, y, color, radius=2):
    """Whether a pixel within `radius` of display point (x, y) (origin bottom left) has `color`."""
    row, column = image.shape[0] - int(round(y)), int(round(x))
    patch = image[max(row - radius, 0) : row + radius + 1, max(column - radius, 0) : column + radius + 1]
    return bool((np.abs(patch - color).sum(axis=-1) < 40).any())


def test_history_png_draws_the_curves_where_the_data_says(tmp_path):
    from lstmcli.steps import plotting

    epochs = 30
    history = {
        "loss": list(np.linspace(1.0, 0.2, epochs)),
        "val_loss": [0.9 - 0.02 * e if e < 20 else 0.5 + 0.03 * (e - 20) for e in range(epochs)],
    }
    figure = plotting.history_figure(history)
    ax = figure.axes[0]
    path = save(figure, tmp_path / "h.png")
    image = png(path)
    assert image.shape == (int(plotting.SIZE[1] * plotting.DPI), int(plotting.SIZE[0] * plotting.DPI), 3)
    best = int(np.argmin(history["val_loss"])) + 1
    assert best == 21
    for epoch in (1, 10, 25, 30):
        assert pixel_near(
            image, *ax.transData.transform((epoch, history["loss"][epoch - 1])), rgb(plotting.TRAIN_COLOR)
        )
        assert pixel_near(
            image, *ax.transData.transform((epoch, history["val_loss"][epoch - 1])), rgb(plotting.VALIDATION_COLOR)
        )
    assert not pixel_near(image, *ax.transData.transform((30, history["loss"][29])), rgb(plotting.VALIDATION_COLOR))
    assert not pixel_near(image, *ax.transData.transform((30, history["val_loss"][29])), rgb(plotting.TRAIN_COLOR))
    # the best epoch's marker sits on the validation curve, and nowhere else in the plot is green at that height
    assert pixel_near(image, *ax.transData.transform((best, history["val_loss"][best - 1])), rgb(plotting.BEST_COLOR))
    x_best, _ = ax.transData.transform((best, 0.5))
    x_other, _ = ax.transData.transform((5, 0.5))
    _, y_mid = ax.transData.transform((best, 0.6))
    assert pixel_near(image, x_best, y_mid, rgb(plotting.BEST_COLOR), radius=1)  # the dashed line may gap: radius
    assert not pixel_near(image, x_other, y_mid, rgb(plotting.BEST_COLOR), radius=3)


@pytest.mark.slow
def test_plot_command_writes_curves_and_predictions(classic, cli, tmp_path):
    run = cli(
        "plot", classic / "fitted.keras", "--out-dir", tmp_path / "figures", "--data", REPO / "data" / "sequence.csv"
    )
    assert run.exit_code == 0, run
    assert run.stdout.splitlines() == [
        str(tmp_path / "figures" / "history.png"),
        str(tmp_path / "figures" / "predictions.png"),
    ]
    image = png(tmp_path / "figures" / "predictions.png")
    assert image.shape[:2] == (320, 800)
    for color in (rgb("#000000"), rgb("#d62728")):
        assert ((np.abs(image - color).sum(axis=-1) < 40).sum()) > 300  # both curves are drawn


def test_predictions_png_puts_actuals_and_dates_where_they_belong(tmp_path):
    from lstmcli.steps import plotting

    keys = np.array([f"2020-{m:02d}" for m in range(1, 13)], dtype=object)
    actual = np.arange(12, dtype=float)[:, None]
    predicted = [np.arange(12, dtype=float)[::-1]]
    ahead = np.array(["2021-01", "2021-02", "2021-03"], dtype=object)
    figure = plotting.predictions_figure(
        plotting.Curve("actual", keys, [actual[:, 0]]),
        [
            plotting.Curve("predicted", keys, predicted),
            plotting.Curve("forecast", ahead, [np.array([3.0, 6.0, 9.0])], style="--", marker="."),
        ],
        "month",
        ["sales"],
    )
    ax = figure.axes[0]
    image = png(save(figure, tmp_path / "p.png"))
    dates = pd.to_datetime(keys).to_numpy()
    import matplotlib.dates as mdates

    for when, value in zip(pd.to_datetime(ahead), (3.0, 6.0, 9.0)):  # the forecast past the end, at its dates
        assert pixel_near(image, *ax.transData.transform((mdates.date2num(when), value)), rgb(plotting.PREDICTED_COLOR))
    assert not pixel_near(
        image, *ax.transData.transform((mdates.date2num(pd.Timestamp("2021-02")), 9.0)), rgb(plotting.PREDICTED_COLOR)
    )

    for i in (0, 5, 11):
        x = mdates.date2num(dates[i])
        assert pixel_near(image, *ax.transData.transform((x, actual[i, 0])), rgb(plotting.ACTUAL_COLOR))
        assert pixel_near(image, *ax.transData.transform((x, predicted[0][i])), rgb(plotting.PREDICTED_COLOR))
    assert ax.get_xlabel() == "month" and math.isclose(ax.get_xlim()[0], mdates.date2num(dates[0]), abs_tol=40)


def test_a_classifier_gets_a_confusion_matrix(cli, tmp_path):
    data = classification_csv(tmp_path / "c.csv", classes=["a", "b"], n=60)
    d, c, f = (tmp_path / f"{n}.keras" for n in "dcf")
    assert (
        cli(
            "define",
            "--task",
            "binary",
            "--layout",
            "samples",
            "--reshape",
            "timesteps",
            "--features",
            "x0,x1,x2,x3,x4,x5",
            "--target",
            "label",
            "--lstm",
            "4",
            "--seed",
            "0",
            "--out",
            d,
        ).exit_code
        == 0
    )
    assert cli("compile", d, "--out", c).exit_code == 0
    assert cli("fit", c, "--data", data, "--epochs", "3", "--verbose", "0", "--out", f).exit_code == 0
    run = cli("plot", f, "--out-dir", tmp_path / "fig", "--data", data)
    assert run.exit_code == 0, run
    assert run.stdout.splitlines()[-1].endswith("confusion.png")
    predicted = pd.read_csv(__import__("io").StringIO(cli("predict", f, "--data", data, "--classes").stdout))["label"]
    actual = pd.read_csv(data)["label"]
    from lstmcli.steps import plotting

    figure = plotting.confusion_figure([("samples", list(actual), list(predicted))], ["a", "b"])
    counts = figure.axes[0].images[0].get_array()
    assert counts.sum() == 60 and counts[0, 0] + counts[1, 1] == (actual == predicted).sum()
    assert png(tmp_path / "fig" / "confusion.png").shape[2] == 3


def test_plot_needs_a_fitted_artifact(classic, cli, tmp_path):
    run = cli("plot", classic / "compiled.keras", "--out-dir", tmp_path)
    assert run.exit_code == 2 and "run 'lstmcli fit" in run.stderr
