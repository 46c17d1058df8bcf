"""What compile accepts by name: losses, metrics and optimizers, checked against Keras's own.

A misspelt name is refused with the closest names Keras knows, before any
model is loaded or compiled.
"""

from __future__ import annotations

import re

from lstmcli.errors import ConfigError
from lstmcli.model import tasks

SHORT_NAMES = ("mse", "mae", "mape", "msle", "acc", "accuracy", "rmse", "auc", "bce", "cce", "kld", "logcosh", "huber")


def known(module) -> list[str]:
    """The names a Keras module (`keras.losses`, `keras.metrics`) answers to, for "did you mean"."""
    names = [
        n for n in dir(module) if n.islower() and not n.startswith("_") and n not in ("get", "serialize", "deserialize")
    ]
    classes = [re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower() for n in dir(module) if n[:1].isupper()]  # LogCoshError
    return names + [n for n in (*SHORT_NAMES, *classes) if n not in names]


def check_name(getter, name: str, what: str, known: list[str]) -> None:
    """Refuse a loss or metric `name` that Keras's `getter` does not know, naming the closest of `known`."""
    if _accepts(getter, name):
        return
    # Only names Keras accepts are suggested: keras.metrics holds functions (log_cosh) it will not compile by name.
    usable = [n for n in known if n != name and _accepts(getter, n)]
    why = f" (Keras has a {name!r}, but does not compile it as a {what} by that name)" if name in known else ""
    raise ConfigError(
        f"unknown {what} {name!r}{why}{tasks.did_you_mean(name, usable)}; see the Keras docs for the names it accepts"
    )


def _accepts(getter, name: str) -> bool:
    try:
        getter(name)
    except (ValueError, TypeError):
        return False
    return True


def optimizer(keras, name: str, learning_rate: float | None, momentum: float | None):
    """Keras's optimizer `name` with the learning rate and momentum given (its defaults otherwise)."""
    try:
        base = keras.optimizers.get(name)
    except (ValueError, TypeError):
        known = [n.lower() for n in dir(keras.optimizers) if n[:1].isupper() and n != "Optimizer"]
        raise ConfigError(
            f"unknown optimizer {name!r}{tasks.did_you_mean(name.lower(), known)}; use one of {', '.join(sorted(known))}"
        ) from None
    config = base.get_config()
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    if momentum is not None:
        if "momentum" not in config:
            raise ConfigError(f"{name} has no momentum; momentum applies to sgd and rmsprop")
        config["momentum"] = momentum
    return type(base).from_config(config)
