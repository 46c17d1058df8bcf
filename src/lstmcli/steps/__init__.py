"""The commands as Python functions: each takes an artifact and its options and writes what the command writes.

    from lstmcli import steps

    steps.define(steps.DefineOptions(features=["value"], lstm=[10], out="defined.keras"))
    steps.compile("defined.keras", steps.CompileOptions(out="compiled.keras"))
    fitted = steps.fit("compiled.keras", steps.FitOptions(data="d.csv", epochs=5, out="fitted.keras"))
    metrics = steps.evaluate("fitted.keras", steps.EvaluateOptions(data="d.csv"))
    frame = steps.predict("fitted.keras", steps.PredictOptions(data="d.csv"))

A step writes the same artifact as its command, raises `lstmcli.errors.LstmcliError`
subclasses where the command prints `error: …` (each carries its exit code), and never
prints or exits. The options classes check their values when made, as the command line
does. Each function is imported on first use, so `import lstmcli.steps` stays light.
"""

import importlib

from lstmcli.steps.options import (
    BacktestOptions,
    CompileOptions,
    DefineOptions,
    EvaluateOptions,
    ExportOptions,
    FitOptions,
    InspectOptions,
    PlotOptions,
    PredictOptions,
    RunOptions,
    VerifyOptions,
)

_WHERE = {  # each step's function, by the module that holds it
    "define": "defining",
    "compile": "compiling",
    "fit": "fitting",
    "evaluate": "evaluating",
    "predict": "predicting",
    "verify": "verifying",
    "backtest": "backtesting",
    "run": "running",
    "export": "exporting",
    "inspect": "inspecting",
    "plot": "plotting",
}

__all__ = [
    *_WHERE,
    "BacktestOptions",
    "CompileOptions",
    "DefineOptions",
    "EvaluateOptions",
    "ExportOptions",
    "FitOptions",
    "InspectOptions",
    "PlotOptions",
    "PredictOptions",
    "RunOptions",
    "VerifyOptions",
]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"lstmcli.steps.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'lstmcli.steps' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
