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
        "fit", dict(data=data, out=out, epochs=epochs, seed=2, batch_size="16", verbose=verbose, **flags), None
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
