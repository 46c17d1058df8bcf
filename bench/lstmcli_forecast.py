"""W2 and W3, lstmcli side: lstmcli's core in one process, timing what it trains and predicts with.

    lstmcli_forecast.py fit DATA WORKDIR --epochs N [--scaling none|standard|minmax] [--strategy S] [--devices N]
        define (LSTM(32) on (30, 1), seeded), compile (adam, mean squared error)
        and fit (batch 32, same seed, scaling none unless asked: plain Keras's
        side does not scale) through the lstmcli.steps functions, with options
        resolved by lstmcli.steps.options.for_command exactly as the commands resolve them;
        prints samples/s of the Trainer.fit call and the final epoch loss.
        --strategy / --devices are fit's own (bench/distributed.py uses them).
    lstmcli_forecast.py predict MODEL DATA
        lstmcli.steps.predicting.predict at its default batch size (4096); prints
        windows/s of the Trainer.predict call.

Only the core's Trainer call is timed (reading the CSV, building the windows,
loading and saving artifacts are not), as plain_forecast.py times only
model.fit / model.predict. Output: one JSON line.
"""

import argparse
import functools
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from common import BATCH_SIZE, SEED, TIMESTEPS, UNITS, emit  # noqa: E402

from lstmcli.steps import compiling, defining, fitting, predicting
from lstmcli.steps.options import for_command  # noqa: E402
from lstmcli.train.loop import Trainer  # noqa: E402

timings: list[float] = []


def _timed(method):
    """Wrap a Trainer method so that each call's duration lands in `timings`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = method(*args, **kwargs)
        timings.append(time.perf_counter() - started)
        return result

    return wrapper


Trainer.fit = _timed(Trainer.fit)
Trainer.predict = _timed(Trainer.predict)


def fit(data: Path, workdir: Path, epochs: int, scaling: str = "none", strategy: dict | None = None) -> dict:
    """Define, compile and fit the W2 model; time Trainer.fit."""
    defined, compiled, fitted = (workdir / f"{stage}.keras" for stage in ("defined", "compiled", "fitted"))
    if strategy and strategy.get("devices"):
        from lstmcli.train import distribution  # logical devices must exist before define starts TensorFlow's runtime

        distribution.start(strategy["strategy"], devices=strategy["devices"])
    defining.define(
        for_command(
            "define",
            {"out": defined, "features": ["value"], "timesteps": TIMESTEPS, "lstm": [UNITS], "seed": SEED},
            None,
        )
    )
    compiling.compile(
        defined, for_command("compile", {"out": compiled, "optimizer": "adam", "loss": "mean_squared_error"}, None)
    )
    written = fitting.fit(
        compiled,
        for_command(
            "fit",
            {
                "out": fitted,
                "data": data,
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
                "seed": SEED,
                "shuffle": False,
                "scaling": scaling,
                **(strategy or {}),
            },
            None,
        ),
    )
    (seconds,) = timings
    samples = written.summary["samples"] * epochs
    return {
        "seconds": seconds,
        "samples_per_s": samples / seconds,
        "loss": written.summary["final_loss"],
        "model": str(fitted),
        "losses": written.history["loss"],
        "replicas": written.summary["replicas"],
    }


def predict(model: Path, data: Path) -> dict:
    """Predict every window of `data` with a fitted artifact; time Trainer.predict."""
    frame = predicting.predict(model, for_command("predict", {"data": data}, None))
    (seconds,) = timings
    return {"seconds": seconds, "windows_per_s": len(frame) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    fit_args = steps.add_parser("fit")
    fit_args.add_argument("data", type=Path)
    fit_args.add_argument("workdir", type=Path, help="Where the three artifacts are written.")
    fit_args.add_argument("--epochs", type=int, required=True)
    fit_args.add_argument("--scaling", default="none", choices=("none", "standard", "minmax"))
    fit_args.add_argument("--strategy", help="fit --strategy (default: fit's own default).")
    fit_args.add_argument("--devices", type=int, help="fit --devices.")
    predict_args = steps.add_parser("predict")
    predict_args.add_argument("model", type=Path)
    predict_args.add_argument("data", type=Path)
    args = parser.parse_args()
    if args.step == "fit":
        strategy = {k: v for k, v in (("strategy", args.strategy), ("devices", args.devices)) if v is not None}
        emit(fit(args.data, args.workdir, args.epochs, args.scaling, strategy))
    else:
        emit(predict(args.model, args.data))


if __name__ == "__main__":
    main()
