"""The values a record's fields may hold: ranges, lengths, shapes and finite numbers.

`record.record_from_json` checks each field's type against the Record and
DataSpec dataclasses; this module checks what a type cannot say, for the
fields the steps read: a seed Keras accepts, counts of at least one, names
that are strings, statistics that are finite numbers of the data's width,
a history of equal-length lists of numbers. Every command opens its record
through `record_from_json`, so a record either loads whole or is refused
naming its first bad field. Light: standard library only.
"""

from __future__ import annotations

import math
from typing import Any, Callable

SEED_LIMIT = 2**32  # keras.utils.set_random_seed hands the seed to numpy, which takes 0 <= seed < 2**32
COUNT_LIMIT = 2**31  # as for the options: no count lstmcli writes is this large
MAX_HISTORY_VALUES = 400_000  # numbers in all history lists together: ~10 MB of JSON, well under the record's limit
MAX_NAME_CHARS = 10_000

_ABSENT = object()


class Invalid(Exception):
    """A value out of its field's range; the message says what it must be."""


def whole(low: int, high: int) -> Callable[[Any], None]:
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise Invalid("must be a whole number")
        if not low <= value < high:
            raise Invalid(f"must be a whole number from {low} to {high - 1:,}")

    return check


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_numbers(*, nonnegative: bool = False) -> Callable[[Any], None]:
    def check(value):
        if not isinstance(value, list) or not all(_number(v) and math.isfinite(v) for v in value):
            raise Invalid("must be a list of finite numbers")
        if nonnegative and any(v < 0 for v in value):
            raise Invalid("must be a list of numbers of at least 0")

    return check


def names(value) -> None:
    if not isinstance(value, list) or not value:
        raise Invalid("must be a non-empty list of column names")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value):
        raise Invalid("must hold column names (non-empty strings)")
    if len(set(value)) != len(value):
        raise Invalid("names a column twice")


def name(value) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        raise Invalid("must be a column name (a non-empty string)")


def strings(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("must be a list of strings")


def text(value) -> None:
    if not isinstance(value, str) or not value:
        raise Invalid("must be a non-empty string")


def flag(value) -> None:
    if value is not None and not isinstance(value, bool):
        raise Invalid("must be true, false or null")


def transforms_list(value) -> None:
    from lstmcli.data import transforms
    from lstmcli.errors import ConfigError

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid("must be a list of transform names")
    try:
        if transforms.parse(value) != value:
            raise Invalid("must hold transforms as lstmcli writes them (log, diff, seasonal-diff:P, auto)")
    except ConfigError as exc:
        raise Invalid(f"holds an unknown transform ({exc})") from None


def scaling(value) -> None:
    if not isinstance(value, dict) or set(value) != {"offset", "scale"}:
        raise Invalid("must be an object of offset and scale")
    for part in ("offset", "scale"):
        finite_numbers()(value[part])
    if len(value["offset"]) != len(value["scale"]) or not value["offset"]:
        raise Invalid("must have as many offsets as scales, at least one")
    if any(s <= 0 for s in value["scale"]):
        raise Invalid("must have scales above 0")


def labels(value) -> None:
    if not isinstance(value, list) or len(value) < 2:
        raise Invalid("must be a list of at least two class labels")
    if not all(isinstance(v, (str, bool)) or (_number(v) and math.isfinite(v)) for v in value):
        raise Invalid("must hold class labels (strings, finite numbers or booleans)")
    if len({json_key(v) for v in value}) != len(value):
        raise Invalid("names a class twice")


def json_key(value) -> str:
    return f"{type(value).__name__}:{value}"


def season_scale(value) -> None:
    """evaluate's seasonal MASE scale: {"season": P, "scale": [one finite number >= 0 per target]}."""
    if not isinstance(value, dict) or set(value) != {"season", "scale"}:
        raise Invalid("must be an object of season and scale")
    for part, check in (("season", whole(2, COUNT_LIMIT)), ("scale", finite_numbers(nonnegative=True))):
        try:
            check(value[part])
        except Invalid as exc:
            raise Invalid(f"must have a {part} that is {str(exc).removeprefix('must be ')}") from None


MAX_CALIBRATION_VALUES = 2_000_000  # residuals in all columns together: about 40 MB of JSON at most


def calibration(value) -> None:
    """fit's held-out residuals for prediction intervals (`scoring.intervals`): {"method": text, "held_out":
    text, "windows": n, "residuals": [one list per output column, each of the same length, 1..n finite numbers]}."""
    if not isinstance(value, dict) or not {"method", "windows", "residuals"} <= set(value):
        raise Invalid("must be an object with method, windows and residuals")
    text(value["method"])
    if "held_out" in value and not isinstance(value["held_out"], str):
        raise Invalid("must say in held_out which windows it held out, as a string")
    try:
        COUNT(value["windows"])
    except Invalid as exc:
        raise Invalid(f"must have windows that is {str(exc).removeprefix('must be ')}") from None
    residuals = value["residuals"]
    if not isinstance(residuals, list) or not residuals or not all(isinstance(c, list) for c in residuals):
        raise Invalid("must have residuals that are a list of lists, one per output column")
    lengths = {len(column) for column in residuals}
    if len(lengths) != 1 or not 0 < lengths.pop() <= value["windows"]:
        raise Invalid("must have as many residuals in every column, at least 1 and at most its windows")
    if len(residuals) * len(residuals[0]) > MAX_CALIBRATION_VALUES:
        raise Invalid(f"must hold at most {MAX_CALIBRATION_VALUES:,} residuals")
    if not all(_number(v) and math.isfinite(v) for column in residuals for v in column):
        raise Invalid("must have residuals that are finite numbers")


def ensemble(value) -> None:
    """A seed ensemble's summary (`fit --ensemble N`): its members, and each one's seed, epochs and final loss."""
    if not isinstance(value, dict) or not {"members", "seeds", "member_epochs", "member_final_loss"} <= set(value):
        raise Invalid("must be an object of members, seeds, member_epochs and member_final_loss")
    _part(value["members"], "members that is", whole(2, COUNT_LIMIT))
    n = value["members"]
    for part, check in (
        ("seeds", whole(0, SEED_LIMIT)),
        ("member_epochs", whole(0, COUNT_LIMIT)),
        ("member_final_loss", finite_number()),
    ):
        if not isinstance(value[part], list) or len(value[part]) != n:
            raise Invalid(f"must have {part}: a list of {n} values, one per member")
        for item in value[part]:
            _part(item, f"{part} of which each is", check)
    if "seconds" in value:
        _part(value["seconds"], "seconds that is", finite_number(nonnegative=True))
    if "history_member" in value:
        _part(value["history_member"], "a history_member that is", whole(1, n + 1))


def finite_number(*, nonnegative: bool = False) -> Callable[[Any], None]:
    def check(value):
        if not _number(value) or not math.isfinite(value) or (nonnegative and value < 0):
            raise Invalid(f"must be a finite number{' of at least 0' if nonnegative else ''}")

    return check


def _part(value, what: str, check: Callable[[Any], None]) -> None:
    try:
        check(value)
    except Invalid as exc:
        raise Invalid(f"must have {what} {str(exc).removeprefix('must be ')}") from None


def lineage(value) -> None:
    if not all(isinstance(entry, dict) and isinstance(entry.get("step"), str) for entry in value):
        raise Invalid("must be a list of objects, each naming its step")


COUNT = whole(1, COUNT_LIMIT)
# (field, check): each applies when the field is present and not null; the
# free-form tables' keys are dotted too (fit.naive_scale).
RULES: list[tuple[str, Callable[[Any], None]]] = [
    ("format_version", whole(1, 1 << 16)),
    ("seed", whole(0, SEED_LIMIT)),
    ("data_spec.timesteps", COUNT),
    ("data_spec.n_features", COUNT),
    ("data_spec.horizon", COUNT),
    ("data_spec.season", whole(2, COUNT_LIMIT)),
    ("data_spec.features", names),
    ("data_spec.target", names),
    ("data_spec.index", name),
    ("data_spec.transforms", transforms_list),
    ("architecture.units", COUNT),
    ("compile.optimizer", text),
    ("compile.metrics", strings),
    ("compile.jit_compile", flag),
    ("preprocessing.features", names),
    ("preprocessing.target", names),
    ("preprocessing.inputs", scaling),
    ("preprocessing.targets", scaling),
    ("preprocessing.classes", labels),
    ("preprocessing.context", whole(0, COUNT_LIMIT)),
    ("preprocessing.transforms", transforms_list),
    ("fit.naive_scale", finite_numbers(nonnegative=True)),
    ("fit.seasonal_naive_scale", season_scale),
    ("fit.history_every", COUNT),
    ("fit.history_epochs", COUNT),
    ("fit.class_counts", finite_numbers(nonnegative=True)),
    ("fit.epochs", whole(0, COUNT_LIMIT)),
    ("fit.guard.note", text),
    ("fit.calibration", calibration),
    ("fit.ensemble", ensemble),
    ("lineage", lineage),
]


# The record's own fields and its data spec's are typed (null only where their type says);
# in the free-form tables, these keys may be null, the others only absent.
TYPED = ("format_version", "seed", "data_spec", "lineage")
NULLABLE = {
    "compile.jit_compile",
    "compile.metrics",
    "preprocessing.inputs",
    "preprocessing.targets",
    "preprocessing.transforms",
    "fit.naive_scale",
    "fit.class_counts",
    "fit.epochs",
}


def value_at(raw: dict, dotted: str) -> Any:
    """The value at `a.b` in the record, or _ABSENT (a missing key, or a table that is not an object)."""
    value: Any = raw
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def check_values(raw: dict) -> None:
    """Check a type-checked record's values (see RULES) and how its fields agree.

    Raises:
        Invalid: as (field, value, problem) in its args.
    """
    for dotted, check in RULES:
        value = value_at(raw, dotted)
        if value is _ABSENT or (value is None and (dotted in NULLABLE or dotted.split(".")[0] in TYPED)):
            continue
        if value is None:
            raise Invalid(dotted, value, "must not be null (leave the key out instead)")
        try:
            check(value)
        except Invalid as exc:
            raise Invalid(dotted, value, str(exc)) from None
    _check_history(raw)
    _check_agreement(raw)


def _check_history(raw: dict) -> None:
    history = raw.get("history") or {}
    lengths = set()
    for key, values in history.items():
        where = f"history.{key}"
        if not all(_number(v) for v in values):
            bad = next(v for v in values if not _number(v))
            raise Invalid(where, bad, "must be a list of numbers (NaN where an epoch did not log it)")
        lengths.add(len(values))
    if len(lengths) > 1:
        raise Invalid("history", sorted(lengths), "must have one value per epoch in every list (lengths differ)")
    if raw.get("stage") == "fitted" and not (history.get("loss") or []):
        raise Invalid("history.loss", history.get("loss", []), "must hold the loss of each epoch fit ran")


def _check_agreement(raw: dict) -> None:
    """The fields that describe one shape must agree: columns and the input shape, classes and outputs."""
    spec = raw["data_spec"]
    features = spec.get("features")
    if features:
        width = spec["n_features"] * (spec["timesteps"] if spec["layout"] == "samples" else 1)
        if len(features) != width:
            raise Invalid("data_spec.features", len(features), f"must name {width} columns, as the input shape says")
    prep = raw.get("preprocessing") or {}
    inputs = prep.get("inputs")
    if isinstance(inputs, dict) and len(inputs["offset"]) != spec["n_features"]:
        raise Invalid(
            "preprocessing.inputs", len(inputs["offset"]), f"must scale {spec['n_features']} features, one per channel"
        )
    classes = prep.get("classes")
    units = raw["architecture"]["units"]

    if classes is not None and raw["task"] == "multiclass" and len(classes) != units:
        raise Invalid("preprocessing.classes", len(classes), f"must name one class per output ({units})")
    if classes is not None and raw["task"] == "binary" and len(classes) != 2:
        raise Invalid("preprocessing.classes", len(classes), "must name two classes for a binary model")


def thin_history(history: dict[str, list], budget: int = MAX_HISTORY_VALUES) -> tuple[dict[str, list], int]:
    """A history small enough to store: every k-th epoch and the last, when all its lists hold more than `budget` numbers.

    An 80,000-epoch fit logging 16 metrics would otherwise write a record
    larger than the size every step reads (`artifact.MAX_RECORD_BYTES`).

    Returns:
        (the history, k): k is 1 when nothing was dropped.
    """
    epochs = len(next(iter(history.values()), []))
    if epochs * len(history) <= budget:
        return history, 1
    limit = max(2, budget // len(history))
    step = math.ceil((epochs - 1) / (limit - 1))
    kept = list(range(0, epochs - 1, step)) + [epochs - 1]
    return {key: [values[i] for i in kept] for key, values in history.items()}, step


def epoch_numbers(history: dict[str, list], fit: dict | None) -> list[int]:
    """The epoch (1-based) of each value a stored history holds: 1..n, or as `thin_history` kept them
    (every k-th epoch from the first, and the last) when `fit` says it thinned a long history."""
    stored = len(next(iter(history.values()), []))
    every, epochs = (fit or {}).get("history_every"), (fit or {}).get("history_epochs")
    if not every or every <= 1 or not epochs or stored < 2:
        return list(range(1, stored + 1))
    return [1 + i * every for i in range(stored - 1)] + [epochs]
