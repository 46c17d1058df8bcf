"""fit's progress as users see it: the bar's numbers are the history's, the lines are Keras's.

Each test drives a real short fit in this process and renders to a recording
rich console, so what is checked is the text a terminal or a log would get.
"""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pandas as pd
import pytest

EPOCHS = 3


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, cli):
    root = tmp_path_factory.mktemp("progress")
    t = np.arange(80)
    data = root / "s.csv"
    pd.DataFrame({"t": t, "y": np.sin(t / 5) + 0.1 * np.random.default_rng(0).standard_normal(80)}).to_csv(
        data, index=False
    )
    assert (
        cli(
            "define",
            "--timesteps",
            4,
            "--features",
            "y",
            "--index",
            "t",
            "--lstm",
            4,
            "--seed",
            1,
            "--out",
            root / "d.keras",
        ).exit_code
        == 0
    )
    assert cli("compile", root / "d.keras", "--out", root / "c.keras").exit_code == 0
    return root, root / "c.keras", data


def fit(source, out, data, verbose, *, terminal, epochs=EPOCHS, **flags):
    """`lstmcli fit` in this process, its progress drawn on a recording console; (history, what it drew)."""
    from rich.console import Console

    from lstmcli.cli import progress
    from lstmcli.steps import fitting
    from lstmcli.steps.options import for_command

    console = Console(record=True, force_terminal=terminal, width=200, color_system=None, soft_wrap=True)
    opts = for_command(
        "fit",
        dict(data=data, out=out, epochs=epochs, seed=2, batch_size="16", verbose=verbose, guard="none", **flags),
        None,
    )
    with progress.FitReporter(int(verbose), console=console) as reporter:
        written = fitting.fit(source, opts, callbacks=[reporter.keras_callback])
    return written.history, console.export_text()


def test_the_bar_ends_with_the_epochs_training_loss_and_val_loss(compiled):
    from lstmcli.cli.render import format_number

    root, source, data = compiled
    history, drawn = fit(source, root / "bar.keras", data, "1", terminal=True, validation_split=0.25)
    assert "━" in drawn and "Epoch " not in drawn  # a bar, not lines
    last = drawn.strip().splitlines()[-1]
    assert f"epoch {EPOCHS}/{EPOCHS}" in last and "100%" in last
    shown = dict(re.findall(r"(\w+): (\S+)", last))
    assert shown == {"loss": format_number(history["loss"][-1]), "val_loss": format_number(history["val_loss"][-1])}
    assert history["loss"][-1] != history["val_loss"][-1]  # else the test could not tell them apart


@pytest.fixture(scope="module")
def keras_lines():
    """What Keras's own `model.fit(verbose=2)` prints: a 3-epoch fit, then 3 more from `initial_epoch=3`."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((60, 4, 1)).astype("float32")
    y = x[:, -1, :]
    model = keras.Sequential([keras.Input((4, 1)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    printed = []
    for first in (0, EPOCHS):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            model.fit(x, y, batch_size=16, epochs=first + EPOCHS, initial_epoch=first, validation_split=0.25, verbose=2)
        printed.append(out.getvalue().splitlines())
    return printed


NUMBER = re.compile(r"\d+\.\d{4}(?:e[-+]\d+)?|\d+(?:s|ms|us)/step|\d+")


def shape_of(keras_line: str) -> str:
    """A regex for lines shaped like `keras_line`: its words and separators verbatim, any numbers
    written the way it writes them (4 decimals, or 4 and an exponent; a time in s, ms or us)."""

    def general(token: str) -> str:
        if token.endswith("/step"):
            return r"\d+(?:s|ms|us)/step"
        if "." in token:
            return r"-?\d+\.\d{4}(?:e[-+]\d+)?"
        return r"\d+"

    parts, end = [], 0
    for match in NUMBER.finditer(keras_line):
        parts += [re.escape(keras_line[end : match.start()]), general(match.group())]
        end = match.end()
    return "".join(parts) + re.escape(keras_line[end:])


@pytest.mark.parametrize("verbose", ["2", "1"])  # 1 without a terminal falls back to the same lines
def test_epoch_lines_are_shaped_like_keras_verbose_2(compiled, keras_lines, verbose):
    root, source, data = compiled
    history, drawn = fit(source, root / f"lines{verbose}.keras", data, verbose, terminal=False, validation_split=0.25)
    ours, theirs = drawn.splitlines(), keras_lines[0]
    assert len(ours) == len(theirs) == 2 * EPOCHS, (ours, theirs)
    for mine, keras_line in zip(ours, theirs):
        assert re.fullmatch(shape_of(keras_line), mine), (mine, keras_line)
    assert [line for line in ours if line.startswith("Epoch")] == [line for line in theirs if line.startswith("Epoch")]
    last = dict(re.findall(r"(\w+): (\S+)", ours[-1]))
    assert last == {"loss": f"{history['loss'][-1]:.4f}", "val_loss": f"{history['val_loss'][-1]:.4f}"}


def test_a_continued_fit_counts_its_epochs_like_keras_initial_epoch(compiled, keras_lines):
    root, source, data = compiled
    fit(source, root / "first.keras", data, "0", terminal=False)
    _, drawn = fit(root / "first.keras", root / "more.keras", data, "2", terminal=False)
    headers = [line for line in drawn.splitlines() if line.startswith("Epoch")]
    assert headers == [f"Epoch {e}/{2 * EPOCHS}" for e in range(EPOCHS + 1, 2 * EPOCHS + 1)]
    assert headers == [line for line in keras_lines[1] if line.startswith("Epoch")]


@pytest.mark.parametrize("seconds,steps", [(1.5, 3), (6.0, 3), (9e-5, 3), (0.02, 1)])
def test_an_epoch_line_is_keras_progbar_verbatim(monkeypatch, seconds, steps):
    """Same values and times in, the same characters out as `keras.utils.Progbar(verbose=2)`."""
    from types import SimpleNamespace

    from keras.src.utils import progbar

    from lstmcli.cli.progress import epoch_line

    clock = iter([100.0, 100.0 + seconds])
    monkeypatch.setattr(progbar, "time", SimpleNamespace(time=lambda: next(clock)))
    logs = {"loss": 0.33704, "mae": 4.2e-5, "accuracy": 1.0, "val_loss": 12.5, "val_delta": -0.5}
    bar = progbar.Progbar(target=steps, verbose=2, unit_name="step", stateless_metrics=set())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bar.update(steps, list(logs.items()), finalize=True)
    assert epoch_line(steps, seconds, logs) == out.getvalue().rstrip("\n")


def simulated(monkeypatch, verbose, epochs, *, terminal, every=None, seconds=0.0, steps=2):
    """What the reporter draws for a fit of `epochs` epochs driven through its Keras callback, each epoch
    taking `seconds` of a fake clock; the recording console's lines."""
    from types import SimpleNamespace

    from rich.console import Console

    from lstmcli.cli import progress

    clock = [0.0]
    monkeypatch.setattr(progress, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    console = Console(record=True, force_terminal=terminal, width=200, color_system=None, soft_wrap=True)
    with progress.FitReporter(verbose, console=console, every=every) as reporter:
        callback = reporter.keras_callback()
        callback.set_params({"steps": steps, "epochs": epochs})
        for epoch in range(epochs):
            callback.on_epoch_begin(epoch)
            logs = {"loss": 1.0 / (epoch + 1)}
            for batch in range(steps):
                clock[0] += seconds / steps
                callback.on_train_batch_end(batch, logs)
            callback.on_epoch_end(epoch, logs)
    return console.export_text().splitlines()


def test_a_thousand_epochs_off_a_terminal_write_a_few_dozen_lines_first_and_last_included(monkeypatch):
    from lstmcli.cli.progress import LINES_PER_FIT

    lines = simulated(monkeypatch, 1, 1000, terminal=False)
    headers = [line for line in lines if line.startswith("Epoch ")]
    assert headers[0] == "Epoch 1/1000" and headers[-1] == "Epoch 1000/1000"
    assert headers == ["Epoch 1/1000"] + [f"Epoch {e}/1000" for e in range(50, 1001, 50)]
    assert len(lines) == 2 * len(headers) <= 2 * (LINES_PER_FIT + 2)
    assert lines[-1].endswith(f"loss: {1 / 1000:.4e}")  # the last epoch's own line


def test_a_slow_fit_off_a_terminal_writes_a_line_every_few_seconds(monkeypatch):
    from lstmcli.cli.progress import LINES_PER_FIT, SECONDS_PER_LINE

    lines = simulated(monkeypatch, 1, 100, terminal=False, seconds=3.0)
    headers = [line for line in lines if line.startswith("Epoch ")]
    numbers = [int(h.split()[1].split("/")[0]) for h in headers]
    gaps = [b - a for a, b in zip(numbers, numbers[1:])]
    assert numbers[0] == 1 and numbers[-1] == 100
    assert max(gaps) * 3.0 <= SECONDS_PER_LINE + 3.0  # never silent for much longer than that
    assert len(headers) <= LINES_PER_FIT + 2 + 100 * 3.0 / SECONDS_PER_LINE < 100  # yet not every epoch


def test_verbose_2_writes_every_epoch_and_log_every_sets_the_rate(monkeypatch):
    lines = simulated(monkeypatch, 2, 1000, terminal=False)
    assert [line for line in lines if line.startswith("Epoch ")] == [f"Epoch {e}/1000" for e in range(1, 1001)]
    assert len(lines) == 2000
    lines = simulated(monkeypatch, 1, 30, terminal=False, every=7, seconds=60.0)  # no extra lines for time
    assert [line for line in lines if line.startswith("Epoch ")] == [f"Epoch {e}/30" for e in (1, 7, 14, 21, 28, 30)]


def test_on_a_terminal_the_bar_leaves_a_trail_of_epoch_lines_above_it(monkeypatch):
    lines = simulated(monkeypatch, 1, 100, terminal=True, every=25)
    # a recording console keeps the live bar's erased renders; each trail line follows one
    trail = re.findall(r"epoch (\d+)/100 - loss: (\S+)", "\n".join(lines))
    assert trail == [(str(e), f"{1 / e:.6g}") for e in (1, 25, 50, 75, 100)], lines
    assert "━" in lines[-1] and "epoch 100/100" in lines[-1]  # the bar stays below the trail


@pytest.mark.slow
def test_log_every_reaches_a_real_fit(compiled, cli):
    root, source, data = compiled
    out = cli(
        "fit", source, "--data", data, "--epochs", 6, "--log-every", 4, "--guard", "none", "--out", root / "every.keras"
    )
    assert out.exit_code == 0, out
    headers = [line for line in out.stderr.splitlines() if line.startswith("Epoch ")]
    assert headers == ["Epoch 1/6", "Epoch 4/6", "Epoch 6/6"]


@pytest.mark.slow
def test_run_takes_log_every_from_its_fit_table(cli, tmp_path):
    from conftest import REPO

    text = (REPO / "configs" / "sequence.toml").read_text().replace("../data/", f"{REPO / 'data'}/")
    text = text.replace("epochs = 1000", "epochs = 9").replace("verbose = 0", "verbose = 1\nlog_every = 4")
    (tmp_path / "c.toml").write_text(text)
    out = cli("run", "--config", tmp_path / "c.toml", "--workdir", tmp_path / "w")
    assert out.exit_code == 0, out
    assert [line for line in out.stderr.splitlines() if line.startswith("Epoch ")] == [
        "Epoch 1/9",
        "Epoch 4/9",
        "Epoch 8/9",
        "Epoch 9/9",
    ]
