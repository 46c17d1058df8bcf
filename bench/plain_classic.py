"""W1, plain side: the classic LSTM example as one plain Keras script, one process.

LSTM(10) on input (1, 1) and Dense(1), adam and mean squared error, fit for
1,000 epochs in one batch of 9 on 0.0 … 0.8 → 0.1 … 0.9, then evaluate and
predict. Prints {"loss": evaluate's loss} as JSON; the harness times the process.
With --strong, compiled with jit_compile=True and steps_per_execution=32 (the
strongest plain Keras settings on a CPU; one batch per epoch gives it one step).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import SEED, emit  # noqa: E402

sequence = (np.arange(10) / 10).astype(np.float32)
X = sequence[:-1].reshape(9, 1, 1)
y = sequence[1:].reshape(9, 1)

keras.utils.set_random_seed(SEED)
model = keras.Sequential([keras.Input(shape=(1, 1)), keras.layers.LSTM(10), keras.layers.Dense(1)])
strong = {"jit_compile": True, "steps_per_execution": 32} if "--strong" in sys.argv[1:] else {}
model.compile(optimizer="adam", loss="mean_squared_error", **strong)
model.fit(X, y, epochs=1000, batch_size=9, verbose=0)
loss = model.evaluate(X, y, verbose=0)
model.predict(X, verbose=0)
emit({"loss": float(loss)})
