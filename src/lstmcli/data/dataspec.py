"""The data spec: which columns feed the model, in which layout, with which target.

Fixed at define time (it determines the input shape) and stored in the
artifact; fit, evaluate and predict hand it to `windowing.prepare` with
whatever file they are given. This module is light (no numpy or pandas), so
the checks it makes run before any heavy import. Two layouts reach Keras's
(samples, timesteps, features):

- series: rows are time steps; each sample is a window of `timesteps` rows and
  its targets are the target columns of the next `horizon` rows (steps 1..H).
- samples: each row is one sample; its feature columns are reshaped to
  (timesteps, features) in time-major order (t0_f0, t0_f1, …, t1_f0, …).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from lstmcli.errors import ConfigError

MASK_VALUE = -1e9  # masked steps: far outside any scaled value, so no real step looks like padding


@dataclass
class DataSpec:
    """How a table becomes model inputs and targets.

    Args:
        layout: "series" or "samples".
        timesteps: Steps per sample.
        n_features: Features per step: the model's input shape is (timesteps, n_features).
        horizon: series only: steps forecast at once, 1..horizon rows after the
            window's last row (a regression model has horizon × targets outputs, step-major).
        features: Feature columns; None means every numeric column left over.
        target: Target columns; None means the features (series) or the last column (samples).
        index: A column carried to the predictions as their key, never a feature.
        mask: samples only: empty trailing time steps are masked (variable-length rows).
        transforms: series only: target transforms as given (`transforms.parse`),
            ["auto"] for fit to choose; what fit chose is in the record's preprocessing.
        season: series only: the season length in rows, if known.
    """

    layout: str
    timesteps: int
    n_features: int
    horizon: int = 1
    features: list[str] | None = None
    target: list[str] | None = None
    index: str | None = None
    mask: bool = False
    transforms: list[str] | None = None
    season: int | None = None

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.timesteps, self.n_features)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DataSpec":
        return cls(**data)


def spec_from_options(opts) -> DataSpec:
    """Build the data spec from define's options, deriving the input shape.

    Raises:
        ConfigError: if the shape cannot be derived, or contradicts itself.
    """
    features = opts.features
    timesteps = opts.timesteps or 1
    if opts.timesteps is not None and (
        opts.input_shape is not None or (opts.layout == "samples" and opts.reshape != "grid")
    ):
        decides = "--input-shape" if opts.input_shape is not None else f"--reshape {opts.reshape}"
        raise ConfigError(
            f"--timesteps {opts.timesteps} is ignored when {decides} decides the time steps; drop one of them"
        )
    if opts.input_shape is not None:
        if len(opts.input_shape) != 2:
            raise ConfigError(f"--input-shape takes TIMESTEPS,FEATURES. Received: {opts.input_shape}")
        shape = tuple(opts.input_shape)
    elif features is None:
        raise ConfigError(
            "the input shape is unknown: name the feature columns with --features a,b,c "
            "or give --input-shape TIMESTEPS,FEATURES"
        )
    elif opts.layout == "series" or opts.reshape == "grid":
        if len(features) % timesteps and opts.layout == "samples":
            raise ConfigError(
                f"{len(features)} feature columns do not split into {timesteps} timesteps; "
                f"give a --timesteps that divides {len(features)}"
            )
        width = len(features) if opts.layout == "series" else len(features) // timesteps
        shape = (timesteps, width)
    elif opts.reshape == "timesteps":
        shape = (len(features), 1)
    else:
        shape = (1, len(features))
    if features is not None:
        expected = shape[1] if opts.layout == "series" else shape[0] * shape[1]
        if len(features) != expected:
            raise ConfigError(
                f"--input-shape {shape[0]},{shape[1]} needs {expected} feature columns but "
                f"--features names {len(features)}"
            )
    if opts.mask and opts.layout != "samples":
        raise ConfigError("--mask is for the samples layout (rows of different lengths); a series has no gaps to mask")
    from lstmcli.data import transforms

    chosen = transforms.parse(opts.transform)
    if chosen and (opts.layout != "series" or opts.task != "regression"):
        raise ConfigError("--transform is for forecasting a series (--layout series, --task regression); drop it")
    if opts.season is not None and opts.layout != "series":
        raise ConfigError("--season is for the series layout; drop it")
    if opts.index is not None and features is not None and opts.index in features:
        raise ConfigError(f"--index {opts.index} is also a feature; the index is a key, not an input")
    return DataSpec(
        layout=opts.layout,
        timesteps=shape[0],
        n_features=shape[1],
        horizon=opts.horizon,
        features=features,
        target=opts.target,
        index=opts.index,
        mask=opts.mask,
        transforms=chosen or None,
        season=opts.season,
    )


def check_flags(spec: DataSpec, opts, keys) -> None:
    """Apply data-spec flags given to a later step: fill what the spec left open, refuse contradictions.

    Columns left unnamed at define time (or by an adopted Keras model) may be
    named later; anything the spec fixed must match.

    Raises:
        ConfigError: naming the fixed value and how to change it.
    """
    for key in keys:
        given = getattr(opts, key, None)
        fixed = getattr(spec, key)
        if given is None or given == fixed:
            continue
        if fixed is None:
            setattr(spec, key, given)
            continue
        show = lambda v: ",".join(map(str, v)) if isinstance(v, list) else v  # noqa: E731
        raise ConfigError(
            f"the model's data spec has {key}={show(fixed)}, fixed at define time; "
            f"--{key} {show(given)} contradicts it: drop the flag, or define a new model with it"
        )


def describe_source(path) -> str:
    return "stdin" if str(path) == "-" else str(Path(path))
