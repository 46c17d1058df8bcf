"""W2 and W3, plain side: a plain Keras script on the forecasting series.

    plain_forecast.py fit DATA --epochs N [--strong]
        LSTM(32) + Dense(1), adam, mean squared error, batch 32, seeded; times
        the model.fit call alone and prints samples/s and the final epoch loss.
        --strong compiles with jit_compile=True and steps_per_execution=32, the
        fastest plain Keras fit on a CPU (Keras's defaults are neither).
    plain_forecast.py predict MODEL DATA --batch-size B
        Loads a .keras model with plain Keras and times model.predict alone.

Windows are built with NumPy before the clock starts. Output: one JSON line.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from common import BATCH_SIZE, SEED, TIMESTEPS, UNITS, emit, read_windows  # noqa: E402

STRONG = {"jit_compile": True, "steps_per_execution": 32}


def fit(data: str, epochs: int, strong: bool = False) -> dict:
    """Train the W2 model and time model.fit."""
    X, y = read_windows(data)
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([keras.Input(shape=(TIMESTEPS, 1)), keras.layers.LSTM(UNITS), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error", **(STRONG if strong else {}))
    started = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, batch_size=BATCH_SIZE, shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "samples_per_s": len(X) * epochs / seconds, "loss": history.history["loss"][-1]}


def predict(model_path: str, data: str, batch_size: int | None) -> dict:
    """Predict every window of `data` and time model.predict."""
    X, _ = read_windows(data)
    model = keras.saving.load_model(model_path)
    started = time.perf_counter()
    outputs = model.predict(X, batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - started
    assert len(outputs) == len(X)
    return {"seconds": seconds, "windows_per_s": len(X) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = parser.add_subparsers(dest="step", required=True)
    fit_args = steps.add_parser("fit")
    fit_args.add_argument("data")
    fit_args.add_argument("--epochs", type=int, required=True)
    fit_args.add_argument("--strong", action="store_true", help="jit_compile=True, steps_per_execution=32.")
    predict_args = steps.add_parser("predict")
    predict_args.add_argument("model")
    predict_args.add_argument("data")
    predict_args.add_argument("--batch-size", type=int, default=None, help="Defaults to Keras's (32).")
    args = parser.parse_args()
    emit(
        fit(args.data, args.epochs, args.strong)
        if args.step == "fit"
        else predict(args.model, args.data, args.batch_size)
    )


if __name__ == "__main__":
    main()
