"""The four workloads, each the same work done by plain Keras and by lstmcli.

Every measurement runs in a fresh child process with the same Python and
TF_CPP_MIN_LOG_LEVEL=2, and the two sides alternate (plain, lstmcli, plain,
lstmcli, …) so that a machine busy with something else slows both alike.
A workload returns its table rows and a markdown note saying what it measured.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from common import write_series
from report import Row, at_least, at_most, below, format_value, table, within

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
LSTMCLI = str(Path(sys.executable).with_name("lstmcli"))
CLASSIC_CONFIG = ROOT / "configs" / "sequence.toml"
CLASSIC_STEPS = ("define", "compile", "fit", "evaluate", "predict")
# Cold processes unless a workload says otherwise (W6 sets LSTMCLI_SERVER itself), whatever the shell exports.
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "LSTMCLI_SERVER": "off"}


@dataclass(frozen=True)
class Sizes:
    """How big the forecasting workloads are."""

    fit_windows: int
    fit_epochs: int
    predict_windows: int


FULL = Sizes(fit_windows=20_000, fit_epochs=3, predict_windows=200_000)
QUICK = Sizes(fit_windows=4_000, fit_epochs=3, predict_windows=40_000)


@dataclass
class Outcome:
    """What a workload reports: rows for the main table and a markdown note."""

    rows: list[Row]
    note: str


@dataclass
class Bench:
    """One benchmark run: a scratch folder, the repetitions and the sizes."""

    workdir: Path
    reps: int
    sizes: Sizes

    def series(self, windows: int) -> Path:
        """The synthetic series with `windows` windows, written once per run."""
        path = self.workdir / f"series-{windows}.csv"
        return path if path.exists() else write_series(path, windows)

    def scratch(self) -> Path:
        """A new empty folder for one repetition's artifacts."""
        return Path(tempfile.mkdtemp(dir=self.workdir))

    def alternate(self, name: str, *sides: Callable[[], dict]) -> list[list[dict]]:
        """Run the sides in turn, `reps` times over; every side's results, in order."""
        results: list[list[dict]] = [[] for _ in sides]
        for rep in range(1, self.reps + 1):
            for side, out in zip(sides, results):
                out.append(side())
            log(f"{name} {rep}/{self.reps}: " + " | ".join(_brief(side[-1]) for side in results))
        return results


def log(message: str) -> None:
    """Progress on stderr, so that a long run shows what it is doing."""
    print(message, file=sys.stderr, flush=True)


def _brief(result: dict) -> str:
    """One repetition's numbers, for the progress line."""
    return ", ".join(f"{k} {v:.4g}" for k, v in result.items() if isinstance(v, float))


def timed(command: list, *, expect: int = 0, cwd: Path = ROOT) -> tuple[float, str]:
    """Run a command; its wall time in seconds and its stdout.

    Raises:
        RuntimeError: if it exits with anything but `expect`, with its stderr's tail.
    """
    started = time.perf_counter()
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != expect:
        raise RuntimeError(
            f"{' '.join(map(str, command))} exited {done.returncode} (expected {expect}):\n{done.stderr[-3000:]}"
        )
    return seconds, done.stdout


def child(script: str, *args) -> dict:
    """Run a bench script in a fresh process and return the JSON it prints last."""
    _, stdout = timed([PYTHON, BENCH / script, *args])
    return json.loads(stdout.strip().splitlines()[-1])


def values(results: list[dict], key: str) -> list[float]:
    """One quantity from every repetition's result."""
    return [r[key] for r in results]


def classic(bench: Bench) -> Outcome:
    """W1: the classic example, one plain script against the five lstmcli commands."""

    def plain() -> dict:
        seconds, stdout = timed([PYTHON, BENCH / "plain_classic.py"])
        return {"wall": seconds, "loss": json.loads(stdout.strip().splitlines()[-1])["loss"]}

    def pipeline() -> dict:
        out = bench.scratch()
        artifacts = {step: out / f"{step}.keras" for step in ("define", "compile", "fit")}
        commands = {
            "define": ["define", "--out", artifacts["define"]],
            "compile": ["compile", artifacts["define"], "--out", artifacts["compile"]],
            "fit": ["fit", artifacts["compile"], "--out", artifacts["fit"]],
            "evaluate": ["evaluate", artifacts["fit"], "--json"],
            "predict": ["predict", artifacts["fit"], "--out", out / "predictions.csv"],
        }
        result, stdout = {}, {}
        for step in CLASSIC_STEPS:
            result[step], stdout[step] = timed([LSTMCLI, *commands[step], "--config", CLASSIC_CONFIG])
        result["wall"] = sum(result[step] for step in CLASSIC_STEPS)
        result["loss"] = json.loads(stdout["evaluate"])["loss"]
        return result

    plains, pipelines = bench.alternate("W1", plain, pipeline)
    rows = [
        Row(
            "W1 classic example, end to end (wall time)",
            "s",
            values(plains, "wall"),
            values(pipelines, "wall"),
            at_most(0.6),
        ),
        Row(
            "W1 `lstmcli fit` process alone (wall time)",
            "s",
            values(plains, "wall"),
            values(pipelines, "fit"),
            at_most(0.2),
        ),
        Row(
            "W1 final loss (evaluate)",
            "loss",
            values(plains, "loss"),
            values(pipelines, "loss"),
            at_most(1.01, "≤ 1.01× (no worse)"),
        ),
    ]
    steps = table(
        ["Process", "Wall time (median)"],
        [
            [f"`lstmcli {step}`", format_value(statistics.median(values(pipelines, step)), "s")]
            for step in CLASSIC_STEPS
        ],
    )
    note = (
        "**W1** — plain: `bench/plain_classic.py`, one process that builds LSTM(10) on (1, 1) + Dense(1), "
        "compiles adam/mse, fits 1,000 epochs with batch_size=9 on 0.0…0.8 → 0.1…0.9, evaluates and predicts. "
        "lstmcli: `define`, `compile`, `fit`, `evaluate --json`, `predict` with `--config configs/sequence.toml`, "
        "five processes chained through .keras files in a temp dir; its wall time is the sum of the five. "
        "Both sides seed 7. Loss: plain `model.evaluate`, lstmcli `evaluate --json` key `loss`. "
        "The 1% in the loss target is room for float round-off.\n\n"
        "W1, each lstmcli process:\n\n" + steps
    )
    return Outcome(rows, note)


def forecast_fit(bench: Bench) -> Outcome:
    """W2: training throughput on a mid-size series, model.fit against lstmcli's Trainer.fit."""
    sizes = bench.sizes
    data = bench.series(sizes.fit_windows)
    epochs = str(sizes.fit_epochs)
    plains, ours = bench.alternate(
        "W2",
        lambda: child("plain_forecast.py", "fit", data, "--epochs", epochs),
        lambda: child("lstmcli_forecast.py", "fit", data, bench.scratch(), "--epochs", epochs),
    )
    rows = [
        Row(
            "W2 forecasting fit, training throughput",
            "samples/s",
            values(plains, "samples_per_s"),
            values(ours, "samples_per_s"),
            at_least(1.3),
        ),
        Row("W2 final epoch loss", "loss", values(plains, "loss"), values(ours, "loss"), within(0.01)),
    ]
    note = (
        f"**W2** — {sizes.fit_windows:,} windows × 30 timesteps × 1 feature of a noisy sine "
        f"({sizes.fit_windows + 30:,}-row CSV), LSTM(32) + Dense(1), adam/mse, batch 32, {sizes.fit_epochs} epochs, "
        "unshuffled on both sides (so both see the same batches in the same order and the losses are comparable), seed 7. Measured in-process, in each side's own child process: "
        "plain times the `model.fit` call (windows built with NumPy beforehand, `bench/plain_forecast.py`); "
        "lstmcli runs `steps.define/compile/fit` with options from `steps.options.for_command` and times the "
        "`Trainer.fit` call inside `steps.fit` (`bench/lstmcli_forecast.py`). Samples/s = windows × epochs ÷ "
        "seconds; both timings include the first call's tracing. Loss is the last epoch's training loss: "
        "same initial weights and same batches, so it should agree to float rounding (lstmcli's own shuffle is "
        "keyed on (seed, epoch) for resumability and is not Keras's random stream)."
    )
    return Outcome(rows, note)


def scaling_cost(bench: Bench) -> Outcome:
    """W5: what standard scaling inside the graph costs lstmcli's training throughput."""
    sizes = bench.sizes
    data = bench.series(sizes.fit_windows)
    epochs = str(sizes.fit_epochs)
    bare, scaled = bench.alternate(
        "W5",
        lambda: child("lstmcli_forecast.py", "fit", data, bench.scratch(), "--epochs", epochs, "--scaling", "none"),
        lambda: child("lstmcli_forecast.py", "fit", data, bench.scratch(), "--epochs", epochs, "--scaling", "standard"),
    )
    rows = [
        Row(
            "W5 fit throughput, scaling in the graph vs none",
            "samples/s",
            values(bare, "samples_per_s"),
            values(scaled, "samples_per_s"),
            at_least(0.97),
        ),
    ]
    note = (
        "**W5** — the W2 fit through lstmcli twice: `--scaling none` (the network alone) against "
        "`--scaling standard` (a Normalization layer on the inputs, the network, the targets scaled for the "
        "loss; the saved predictor unscales its outputs). Same data, epochs, batches and seed; only the "
        "`Trainer.fit` call is timed."
    )
    return Outcome(rows, note)


def forecast_predict(bench: Bench) -> Outcome:
    """W3: prediction throughput, model.predict at batch 32 and 4096 (lstmcli's default) against lstmcli's Trainer.predict."""
    sizes = bench.sizes
    data = bench.series(sizes.predict_windows)
    log("W3 setup: training the W2 model for 1 epoch")
    model = child("lstmcli_forecast.py", "fit", bench.series(sizes.fit_windows), bench.scratch(), "--epochs", "1")[
        "model"
    ]
    at_32, at_4096, ours = bench.alternate(
        "W3",
        lambda: child("plain_forecast.py", "predict", model, data),
        lambda: child("plain_forecast.py", "predict", model, data, "--batch-size", "4096"),
        lambda: child("lstmcli_forecast.py", "predict", model, data),
    )
    lstmcli_rate = values(ours, "windows_per_s")
    rows = [
        Row(
            "W3 predict throughput vs plain batch 32",
            "windows/s",
            values(at_32, "windows_per_s"),
            lstmcli_rate,
            at_least(1.0),
        ),
        Row(
            "W3 predict throughput vs plain batch 4096",
            "windows/s",
            values(at_4096, "windows_per_s"),
            lstmcli_rate,
            at_least(1.0),
        ),
    ]
    note = (
        f"**W3** — {sizes.predict_windows:,} windows ({sizes.predict_windows + 30:,}-row series, timesteps 30) "
        "through the W2 model (trained 1 epoch by lstmcli once, untimed; plain Keras loads the same .keras file). "
        "Plain times `model.predict` at Keras's default batch size (32) and at 4096, the batch size lstmcli uses; lstmcli runs `steps.predict` "
        "at its default batch size (4096) and times the `Trainer.predict` call. In-process timing, first call "
        "(tracing included) on both sides."
    )
    return Outcome(rows, note)


def latency(bench: Bench) -> Outcome:
    """W4: how fast the commands that need no TensorFlow answer, against `import keras`."""
    commands = {
        "`lstmcli --help`": (["--help"], 0),
        "`lstmcli fit --help`": (["fit", "--help"], 0),
        "usage error, exit 2": (["fit", "missing.keras", "--data", "x.csv", "--out", "y.keras"], 2),
    }

    def import_keras() -> dict:
        return {"seconds": timed([PYTHON, "-c", "import keras"])[0]}

    def command(args: list[str], expect: int) -> Callable[[], dict]:
        return lambda: {"seconds": timed([LSTMCLI, *args], expect=expect, cwd=bench.workdir)[0]}

    plains, *ours = bench.alternate("W4", import_keras, *(command(*spec) for spec in commands.values()))
    rows = [
        Row(f"W4 {name}", "s", values(plains, "seconds"), values(results, "seconds"), below(0.10))
        for name, results in zip(commands, ours)
    ]
    note = (
        '**W4** — wall time of each command as a process against `python -c "import keras"` (the floor of any '
        "step that needs Keras). The usage error is `lstmcli fit missing.keras --data x.csv --out y.keras`, "
        "which must exit 2."
    )
    return Outcome(rows, note)


WORKLOADS: dict[str, Callable[[Bench], Outcome]] = {
    "W1": classic,
    "W2": forecast_fit,
    "W3": forecast_predict,
    "W4": latency,
    "W5": scaling_cost,
}
