"""The layers define builds: stacked LSTMs, optional Dense/Dropout/Activation, an output Dense.

Layers are given either as `--lstm 32,16` (one LSTM per number) or as a full
stack of `--layers` specs:

    lstm:UNITS   dense:UNITS[:ACTIVATION]   dropout:RATE   activation:NAME

Every LSTM followed by another LSTM returns sequences, as stacking requires.
The output Dense layer comes from the task table unless the user names it.
"""

from __future__ import annotations

from lstmcli.errors import ConfigError
from lstmcli.model.tasks import did_you_mean

LAYER_KINDS = ("lstm", "dense", "dropout", "activation")
DEFAULT_LSTM_UNITS = 32


def parse_layers(lstm: list[int] | None, layers: list[str] | None, dropout: float) -> list[dict]:
    """Turn --lstm or --layers into a list of layer dicts.

    Raises:
        ConfigError: for a malformed spec, or both options at once.
    """
    if lstm and layers:
        raise ConfigError("give the LSTM stack with either --lstm or --layers, not both")
    if not layers:
        stack = []
        for units in lstm or [DEFAULT_LSTM_UNITS]:
            stack.append({"kind": "lstm", "units": units})
            if dropout:
                stack.append({"kind": "dropout", "rate": dropout})
        return stack
    stack = [_parse_one(spec) for spec in layers]
    if not any(layer["kind"] == "lstm" for layer in stack):
        raise ConfigError(f"--layers needs at least one lstm:UNITS layer. Received: {','.join(layers)}")
    return stack


def _parse_one(spec: str) -> dict:
    kind, *args = str(spec).strip().lower().split(":")
    if kind not in LAYER_KINDS:
        raise ConfigError(
            f"unknown layer {kind!r} in --layers{did_you_mean(kind, LAYER_KINDS)}; use "
            f"lstm:UNITS, dense:UNITS[:ACTIVATION], dropout:RATE or activation:NAME. Received: {spec!r}"
        )
    try:
        if kind == "lstm" and len(args) == 1:
            layer = {"kind": kind, "units": int(args[0])}
        elif kind == "dense" and len(args) in (1, 2):
            layer = {"kind": kind, "units": int(args[0]), "activation": args[1] if len(args) == 2 else "linear"}
        elif kind == "dropout" and len(args) == 1:
            layer = {"kind": kind, "rate": float(args[0])}
        elif kind == "activation" and len(args) == 1 and args[0]:
            layer = {"kind": kind, "activation": args[0]}
        else:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"cannot read layer {spec!r}; use lstm:UNITS, dense:UNITS[:ACTIVATION], dropout:RATE or activation:NAME"
        ) from None
    if layer.get("units", 1) < 1:
        raise ConfigError(f"layer {spec!r} needs at least one unit")
    if not 0.0 <= layer.get("rate", 0.0) < 1.0:
        raise ConfigError(f"dropout rate must be in [0, 1). Received: {spec!r}")
    return layer


def check_activation(name: str, where: str) -> None:
    """Refuse an activation name Keras does not know, suggesting the close one."""
    import keras

    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        known = [
            n for n in dir(keras.activations) if not n.startswith("_") and n not in ("get", "serialize", "deserialize")
        ]
        raise ConfigError(f"unknown activation {name!r} in {where}{did_you_mean(name, known)}") from None


MAX_PARAMETERS = 200_000_000  # 800 MB of float32 weights, and Adam keeps two more copies while it trains


def check_size(stack: list[dict], input_shape: tuple[int, int], units: int) -> int:
    """The model's parameter count, computed from the layers before any is built; an absurd one is refused.

    Raises:
        ConfigError: naming the count, its size in bytes and the limit, before anything is allocated.
    """
    width, count = input_shape[1], 0
    for layer in stack:
        if layer["kind"] == "lstm":  # four gates, each with input, recurrent and bias weights
            count += 4 * (layer["units"] * (width + layer["units"]) + layer["units"])
        elif layer["kind"] == "dense":
            count += layer["units"] * (width + 1)
        width = layer.get("units", width)
    count += units * (width + 1)
    if count > MAX_PARAMETERS:
        sizes = ", ".join(f"{layer['kind']}:{layer['units']}" for layer in stack if "units" in layer)
        raise ConfigError(
            f"the layers ({sizes}) make a model of {count:,} parameters ({count * 4 / 1e9:,.1f} GB of float32 "
            f"weights, about three times that to train); lstmcli builds models of up to {MAX_PARAMETERS:,}: use fewer units"
        )
    return count


def build_model(
    stack: list[dict],
    input_shape: tuple[int, int],
    units: int,
    activation: str,
    recurrent_dropout: float = 0.0,
    mask_value: float | None = None,
):
    """Build the Keras model: the stack on `input_shape`, then Dense(units, activation).

    Args:
        mask_value: If given, a Masking layer first skips time steps whose
            features all equal it (padding of shorter rows).
    """
    import keras

    last_lstm = max(i for i, layer in enumerate(stack) if layer["kind"] == "lstm")
    model = keras.Sequential(name="lstmcli")
    model.add(keras.Input(shape=input_shape, name="inputs"))
    if mask_value is not None:
        model.add(keras.layers.Masking(mask_value=mask_value))
    for i, layer in enumerate(stack):
        kind = layer["kind"]
        if kind == "lstm":
            model.add(
                keras.layers.LSTM(layer["units"], return_sequences=i < last_lstm, recurrent_dropout=recurrent_dropout)
            )
        elif kind == "dense":
            check_activation(layer["activation"], "--layers")
            model.add(keras.layers.Dense(layer["units"], activation=layer["activation"]))
        elif kind == "dropout":
            model.add(keras.layers.Dropout(layer["rate"]))
        else:
            check_activation(layer["activation"], "--layers")
            model.add(keras.layers.Activation(layer["activation"]))
    check_activation(activation, "--output-activation")
    model.add(keras.layers.Dense(units, activation=activation, name="output"))
    return model


def output_of(model) -> tuple[int, str]:
    """The model's output units and the activation applied to them."""
    import keras

    units = int(model.outputs[0].shape[-1])
    activation = "linear"
    for layer in reversed(model.layers):
        fn = getattr(layer, "activation", None)
        if fn is None:
            continue
        name = keras.activations.serialize(fn)
        name = name if isinstance(name, str) else name.get("config", {}).get("name", str(name))
        if name != "linear" or isinstance(layer, keras.layers.Dense):
            activation = name
            break
    return units, activation
