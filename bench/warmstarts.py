"""W6: warm starts. Whole processes, cold and through the warm server, against plain Keras at its defaults and at its strongest.

Plain Keras's strongest CPU settings are `jit_compile=True, steps_per_execution=32`
(`plain_*.py --strong`); the ratios are against whichever plain side is faster
in this run. The warm server runs in a private XDG_RUNTIME_DIR of the run, with
the environment every timed process gets, so it serves exactly those processes.
"""

from __future__ import annotations

import statistics
import subprocess
from pathlib import Path

from report import Row, at_most, format_value, table
from workloads import BENCH, CLASSIC_CONFIG, CLASSIC_STEPS, ENV, LSTMCLI, PYTHON, Bench, Outcome, timed

EPOCHS_NOTE = "LSTM(32) on 30 × 1, adam/mse, batch 32, unshuffled, seed 7"


def _env(bench: Bench, mode: str) -> dict:
    runtime = bench.workdir / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {**ENV, "XDG_RUNTIME_DIR": str(runtime), "LSTMCLI_SERVER": mode}


def _run(bench: Bench, args: list, mode: str, cwd: Path | None = None) -> float:
    """Wall time of one `lstmcli ARGS…` process with LSTMCLI_SERVER=`mode`."""
    import time

    started = time.perf_counter()
    done = subprocess.run([LSTMCLI, *map(str, args)], env=_env(bench, mode), capture_output=True, cwd=cwd or BENCH)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"lstmcli {' '.join(map(str, args))} exited {done.returncode}:\n{done.stderr[-2000:]!r}")
    return seconds


def _server(bench: Bench, action: str) -> float:
    """Wall time of `lstmcli server ACTION`; start waits until the server answers."""
    return _run(bench, ["server", action], "off")


def _five(bench: Bench, mode: str) -> dict:
    out = bench.scratch()
    artifacts = {step: out / f"{step}.keras" for step in ("define", "compile", "fit")}
    commands = {
        "define": ["define", "--out", artifacts["define"]],
        "compile": ["compile", artifacts["define"], "--out", artifacts["compile"]],
        "fit": ["fit", artifacts["compile"], "--out", artifacts["fit"]],
        "evaluate": ["evaluate", artifacts["fit"], "--json"],
        "predict": ["predict", artifacts["fit"], "--out", out / "predictions.csv"],
    }
    result = {step: _run(bench, [*commands[step], "--config", CLASSIC_CONFIG], mode) for step in CLASSIC_STEPS}
    result["wall"] = sum(result.values())
    return result


def classic(bench: Bench) -> tuple[list[Row], str]:
    """W1 as processes: plain (default, strong), lstmcli cold, warm from no server, warm with one running."""

    def plain(*flags) -> dict:
        return {"wall": timed([PYTHON, BENCH / "plain_classic.py", *flags])[0]}

    def from_scratch() -> dict:
        _server(bench, "stop")
        start = _server(bench, "start")
        result = _five(bench, "on")
        result["define"] += start
        return {**result, "wall": result["wall"] + start, "start": start}

    def running() -> dict:
        return {
            **_five(bench, "on"),
            "noop": _run(bench, ["--version"], "on"),
            "noop_cold": _run(bench, ["--version"], "off"),
        }

    default, strong, cold, scratch, warm = bench.alternate(
        "W6/W1", plain, lambda: plain("--strong"), lambda: _five(bench, "off"), from_scratch, running
    )
    _server(bench, "stop")
    best = _best(default, strong, "wall")
    rows = [
        Row("W6 W1 five processes cold vs the plain script", "s", best, _values(cold, "wall"), at_most(0.6)),
        Row("W6 W1 five processes warm, server start included", "s", best, _values(scratch, "wall"), at_most(0.15)),
        Row("W6 W1 five processes warm, server running", "s", best, _values(warm, "wall"), at_most(0.15)),
    ]
    steps = table(
        ["Process", "cold", "warm (server running)"],
        [[f"`lstmcli {step}`", _median(cold, step), _median(warm, step)] for step in CLASSIC_STEPS]
        + [
            [
                "`lstmcli --version` (a step with no work: the fixed cost)",
                _median(warm, "noop_cold"),
                _median(warm, "noop"),
            ],
            ["`lstmcli server start` (until it answers)", "", _median(scratch, "start")],
            ["plain script, Keras defaults", _median(default, "wall"), ""],
            ["plain script, jit_compile + steps_per_execution=32", _median(strong, "wall"), ""],
        ],
    )
    return rows, "W6, W1 each process (medians):\n\n" + steps


def forecast(bench: Bench) -> tuple[list[Row], str]:
    """W2 as processes: the whole plain script against the whole `lstmcli fit` process, cold and warm."""
    data = bench.series(bench.sizes.fit_windows)
    epochs = str(bench.sizes.fit_epochs)
    model = bench.scratch()
    _run(
        bench,
        ["define", "--features", "value", "--timesteps", 30, "--lstm", 32, "--seed", 7, "--out", model / "d.keras"],
        "off",
    )
    _run(bench, ["compile", model / "d.keras", "--out", model / "c.keras"], "off")
    _server(bench, "start")
    fit = ["fit", model / "c.keras", "--data", data, "--epochs", epochs, "--batch-size", 32, "--no-shuffle"]
    fit += ["--scaling", "none", "--seed", 7, "--out", model / "f.keras"]

    def plain(*flags) -> dict:
        return {"wall": timed([PYTHON, BENCH / "plain_forecast.py", "fit", data, "--epochs", epochs, *flags])[0]}

    default, strong, cold, warm = bench.alternate(
        "W6/W2",
        plain,
        lambda: plain("--strong"),
        lambda: {"wall": _run(bench, fit, "off")},
        lambda: {"wall": _run(bench, fit, "on")},
    )
    _server(bench, "stop")
    best = _best(default, strong, "wall")
    rows = [
        Row("W6 W2 `fit` process cold vs the strongest plain process", "s", best, _values(cold, "wall"), at_most(0.67)),
        Row("W6 W2 `fit` process warm vs the strongest plain process", "s", best, _values(warm, "wall"), at_most(0.4)),
    ]
    note = table(
        ["W2 process (medians)", "wall time"],
        [
            ["plain script, Keras defaults", _median(default, "wall")],
            ["plain script, jit_compile + steps_per_execution=32", _median(strong, "wall")],
            ["`lstmcli fit`, cold", _median(cold, "wall")],
            ["`lstmcli fit`, warm", _median(warm, "wall")],
        ],
    )
    return rows, note


def warm_starts(bench: Bench) -> Outcome:
    w1_rows, w1_note = classic(bench)
    w2_rows, w2_note = forecast(bench)
    note = (
        "**W6** — whole processes, wall time, the sides alternating in each repetition. Plain: the W1 and W2 plain "
        "scripts as they are (Keras's defaults) and with `--strong` (`jit_compile=True, steps_per_execution=32`); "
        "each row's plain value is the faster of the two in this run. lstmcli: the same commands with "
        '`LSTMCLI_SERVER=off` (cold) and `on` (warm: forked by `lstmcli server`). "Server start included" stops '
        'the server, then times `lstmcli server start` (until it answers) plus the five steps; "server running" '
        f"times the five steps alone. W2 process: {bench.sizes.fit_windows:,} windows, {EPOCHS_NOTE}, "
        f"{bench.sizes.fit_epochs} epochs, the script's or the command's whole process (import, data, fit, "
        "saving for lstmcli).\n\n" + w1_note + "\n\n" + w2_note
    )
    return Outcome(w1_rows + w2_rows, note)


def _values(results: list[dict], key: str) -> list[float]:
    return [r[key] for r in results]


def _best(a: list[dict], b: list[dict], key: str) -> list[float]:
    """The faster plain side's values (by median)."""
    va, vb = _values(a, key), _values(b, key)
    return va if statistics.median(va) <= statistics.median(vb) else vb


def _median(results: list[dict], key: str) -> str:
    return format_value(statistics.median(_values(results, key)), "s")
