"""The whole predictor: the trained network wrapped in the preprocessing fit learned.

A fitted artifact's model takes raw windows (batch, timesteps, features) in the
data's own units and returns values in the data's own units (regression) or
class probabilities (classification), so plain `keras.saving.load_model(f)
.predict(windows)` needs nothing from lstmcli's record. The wrapping is made of
Keras's own layers (`Normalization`, and `Normalization(invert=True)` on the way
out), so the archive loads in safe mode in a process that never imports
lstmcli, and `model.export` hands the same graph to TF Serving.

Training stays in scaled space: the *training view* is the same graph cut at
the network's output, before the targets are unscaled; it shares every
variable with the predictor, so training it trains the predictor. A model fit
without scaling is not wrapped at all: the network is the predictor.
"""

from __future__ import annotations

from dataclasses import dataclass

from lstmcli.data.dataspec import MASK_VALUE, DataSpec
from lstmcli.errors import ArtifactError

INPUT_SCALER = "lstmcli_scale_inputs"
OUTPUT_SCALER = "lstmcli_unscale_outputs"
RAW_INPUT = "raw_windows"
PREDICTOR = "lstmcli_predictor"


def needs_wrapping(prep: dict | None) -> bool:
    """Whether what fit learned changes numbers (so the network needs a wrapper)."""
    return bool(prep and (prep.get("inputs") or prep.get("targets") or prep.get("transforms")))


def network_of(model):
    """The network a predictor wraps, or the model itself when it is bare."""
    import keras

    if model.name != PREDICTOR:
        return model
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ArtifactError(
            f"the predictor wraps {len(nested)} networks where lstmcli writes one; write it again with lstmcli"
        )
    return nested[0]


def assemble(network, prep: dict, spec: DataSpec) -> "Views":
    """Wrap `network` in the learned preprocessing: raw windows in, data units out.

    Args:
        network: The Keras model define built (or an adopted one), which takes
            scaled windows and gives scaled targets or probabilities.
        prep: What fit learned: "inputs" and "targets" scaling statistics,
            "transforms" and the columns they apply to.
        spec: The data spec (input shape, masking).

    Returns:
        The predictor and its training view; both are `network` itself when
        nothing needs wrapping.
    """
    if not needs_wrapping(prep):
        return Views(network, network)
    import keras

    inputs, targets = prep.get("inputs"), prep.get("targets")
    scaler = unscaler = None
    if inputs:
        scaler = keras.layers.Normalization(
            axis=-1, mean=inputs["offset"], variance=_variance(inputs), name=INPUT_SCALER
        )
    if targets:
        reps = int(network.output_shape[-1]) // len(targets["offset"])
        unscaler = keras.layers.Normalization(
            axis=-1, mean=targets["offset"] * reps, variance=_variance(targets) * reps, invert=True, name=OUTPUT_SCALER
        )
    return _connect(network, scaler, unscaler, spec, prep, saved=None)


def _connect(network, scaler, unscaler, spec: DataSpec, prep: dict, saved) -> "Views":
    """Call the layers on a fresh input: the predictor (unless `saved`) and its training view."""
    import keras
    from keras import ops

    transforms = prep.get("transforms") or []
    history = prep.get("context", 0)
    raw = keras.Input(shape=(spec.timesteps + history, spec.n_features), name=RAW_INPUT)
    x, logged = _transform_inputs(raw, prep) if transforms else (raw, raw)
    if scaler is not None:
        scaled_x = scaler(x)
        if spec.mask:
            # Padding stays padding, so the network's Masking layer still finds it.
            scaled_x = ops.where(ops.equal(raw, MASK_VALUE), raw, scaled_x)
        x = scaled_x
    scaled = network(x)
    if unscaler is None and not transforms:  # classification: probabilities are already in the data's terms
        predictor = saved if saved is not None else keras.Model(raw, scaled, name=PREDICTOR)
        return Views(predictor, predictor)
    out = unscaler(scaled) if unscaler is not None else scaled
    if transforms:
        out = _invert_targets(out, logged, prep)
    predictor = saved if saved is not None else keras.Model(raw, out, name=PREDICTOR)
    training = keras.Model(raw, scaled, name="lstmcli_training_view")
    both = keras.Model(raw, ops.concatenate([scaled, out], axis=-1), name="lstmcli_evaluation_view")
    return Views(predictor, training, both)


def _transform_inputs(raw, prep: dict):
    """The transforms on the target columns among the features, as graph operations.

    Returns:
        (the network's input: the last `timesteps` transformed steps,
         the logged (or raw) window, whose last rows the inverse adds back)
    """
    from keras import ops

    from lstmcli.data import transforms as tf_

    chosen, features, targets = prep["transforms"], prep["features"], set(prep["target"])
    history = prep.get("context", 0)
    coefficients = tf_.filter_coefficients(chosen)
    width = raw.shape[1]
    logged, channels = [], []
    for c, name in enumerate(features):
        z = raw[:, :, c : c + 1]
        if name in targets and "log" in chosen:
            z = ops.log(z)
        logged.append(z)
        w = z[:, history:, :]
        if name in targets:
            for i, coef in coefficients.items():
                w = w - coef * z[:, history - i : width - i, :]
        channels.append(w)
    join = lambda parts: parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)  # noqa: E731
    return join(channels), join(logged)


def _invert_targets(out, logged, prep: dict):
    """Undo the transforms on the forecasts: add back the lagged values, then exponentiate.

    Each output unit is one (step, target), step-major; a step `o` rows after
    the window's last row adds back `c_i` times the value `o - i` rows after
    it: from the window when that is not in the future, else the forecast of
    that step, made before it.
    """
    from keras import ops

    from lstmcli.data import transforms as tf_

    chosen, features, targets = prep["transforms"], prep["features"], prep["target"]
    offsets = prep["steps"]
    coefficients = tf_.filter_coefficients(chosen)
    width = logged.shape[1]
    k = len(targets)
    units = []
    for j, name in enumerate(targets):
        c = features.index(name) if name in features else None
        done = {}
        for s, offset in enumerate(offsets):
            z = out[:, s * k + j : s * k + j + 1]
            for i, coef in coefficients.items():
                back = offset - i
                z = z + coef * (logged[:, width - 1 + back, c : c + 1] if back <= 0 else done[back])
            done[offset] = z
        units.append([ops.exp(done[o]) if "log" in chosen else done[o] for o in offsets])
    ordered = [units[j][s] for s in range(len(offsets)) for j in range(k)]
    return ordered[0] if len(ordered) == 1 else ops.concatenate(ordered, axis=-1)


def transforms_forecast(windows, prep: dict | None, outputs: int):
    """What a model's transforms forecast alone: its predictor's output with the network's output set to zero.

    Zero out of the network is the training targets' mean in the transformed
    space (what the scaling adds back), so with seasonal and plain differencing
    this is the seasonal naive forecast plus last season's change (and the mean
    change the training rows had). The same graph operations as the predictor's.

    Args:
        windows: Raw windows as the predictor takes them, (samples, rows, features).
        prep: What fit learned (the record's preprocessing).
        outputs: The network's output units (horizon × targets).

    Returns:
        (samples, outputs) in the data's units, or None without transforms.
    """
    import numpy as np

    prep = prep or {}
    if not prep.get("transforms"):
        return None
    targets = prep.get("targets")
    level = np.zeros(outputs, dtype=np.float32)
    if targets:
        level += np.tile(np.asarray(targets["offset"], dtype=np.float32), outputs // len(targets["offset"]))
    _, logged = _transform_inputs(np.asarray(windows, dtype=np.float32), prep)
    zero = np.broadcast_to(level, (len(windows), outputs))
    return np.asarray(_invert_targets(zero, logged, prep), dtype=np.float64)


def _variance(stats: dict) -> list[float]:
    return [s * s for s in stats["scale"]]


@dataclass
class Views:
    """The models one fitted artifact is used through; all share the same variables.

    Args:
        predictor: Raw windows in, data units (or probabilities) out: what is saved.
        training: The same graph up to the network's output (scaled space):
            what is trained and what the loss is computed on.
        evaluation: Both outputs side by side, so evaluate needs one forward
            pass for the loss as trained and the errors in the data's units.
            None when the outputs are not rescaled (training is the predictor).
    """

    predictor: object
    training: object
    evaluation: object = None

    def split(self, outputs):
        """Split the evaluation view's outputs into (scaled, data units)."""
        if self.evaluation is None:
            return outputs, outputs
        width = outputs.shape[-1] // 2
        return outputs[:, :width], outputs[:, width:]


def views(model, spec: DataSpec, prep: dict | None) -> Views:
    """The views of a model saved by lstmcli: a predictor from `assemble`, or a bare network.

    The training view is rebuilt around the saved layers with the transforms
    the record states; `verify` checks that the saved graph agrees with it.
    """
    network = network_of(model)
    if network is model:
        return Views(model, model)
    layers = {layer.name: layer for layer in model.layers}
    return _connect(network, layers.get(INPUT_SCALER), layers.get(OUTPUT_SCALER), spec, prep or {}, saved=model)


def learned_in_graph(model) -> dict:
    """The scaling statistics the graph applies: {"inputs": …, "targets": …}, None where absent.

    `verify` compares them with the record's.
    """
    found = {"inputs": None, "targets": None}
    for key, name in (("inputs", INPUT_SCALER), ("targets", OUTPUT_SCALER)):
        try:
            layer = model.get_layer(name)
        except ValueError:
            continue
        mean = [float(v) for v in _flat(layer.input_mean)]
        variance = [float(v) for v in _flat(layer.input_variance)]
        found[key] = {"offset": mean, "scale": [v**0.5 for v in variance]}
    return found


def _flat(values) -> list:
    import numpy as np

    return list(np.asarray(values, dtype=np.float64).reshape(-1))


def require_in_graph(record, path) -> None:
    """Refuse a fitted artifact from before scaling moved into the graph.

    Format-1 artifacts kept their scaling statistics in the record alone, so
    their model takes scaled numbers; without scaling they are already whole
    predictors and keep working.

    Raises:
        ArtifactError: naming the fix.
    """
    old = (record.preprocessing or {}).get("scaling")
    if record.stage == "fitted" and record.format_version < 2 and old:
        raise ArtifactError(
            f"{path} was fitted by an older lstmcli whose model takes scaled numbers (its scaling lives only in "
            f"the record); fit its compiled artifact again, so the scaling becomes part of the model"
        )


def check_agrees(model, record, path) -> None:
    """Check that the scaling the graph applies is the scaling the record states.

    Raises:
        ArtifactError: naming the part that differs.
    """
    import numpy as np

    prep = record.preprocessing or {}
    found = learned_in_graph(model)
    for key in ("inputs", "targets"):
        stated, applied = prep.get(key), found[key]
        if stated is None and applied is None:
            continue
        agree = stated is not None and applied is not None
        if agree:
            for part in ("offset", "scale"):
                want = np.asarray(stated[part], dtype=np.float64)
                got = np.asarray(applied[part], dtype=np.float64)
                agree = (
                    agree
                    and got.size % max(want.size, 1) == 0
                    and np.allclose(got, np.tile(want, got.size // max(want.size, 1)), rtol=1e-5, atol=1e-6)
                )
        if not agree:
            raise ArtifactError(
                f"{path}: the model's {key} scaling does not match its record's; write it again with lstmcli"
            )
    network = network_of(model)
    if network is model:
        return
    # The transforms are graph operations, not layers with weights: rebuild the
    # predictor from the record and check that it computes what the saved one does.
    layers = {layer.name: layer for layer in model.layers}
    spec = DataSpec.from_dict(record.data_spec)
    rebuilt = _connect(network, layers.get(INPUT_SCALER), layers.get(OUTPUT_SCALER), spec, prep, saved=None).predictor
    probe = np.random.default_rng(0).uniform(1.0, 2.0, (2, *model.input_shape[1:])).astype(np.float32)
    if not np.allclose(np.asarray(model(probe)), np.asarray(rebuilt(probe)), rtol=1e-5, atol=1e-6, equal_nan=True):
        raise ArtifactError(f"{path}: the model's transforms do not match its record's; write it again with lstmcli")
