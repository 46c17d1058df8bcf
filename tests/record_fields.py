"""Hostile record values for the record's tests: a sound fitted record, its fields, and what to draw for each."""

from __future__ import annotations

import copy

from hypothesis import strategies as st

SOUND = {
    "stage": "fitted",
    "task": "regression",
    "data_spec": {
        "layout": "series",
        "timesteps": 2,
        "n_features": 1,
        "horizon": 1,
        "features": ["value"],
        "target": ["value"],
        "index": None,
        "mask": False,
        "transforms": None,
        "season": None,
    },
    "architecture": {"layers": [{"kind": "lstm", "units": 2}], "units": 1, "activation": "linear"},
    "compile": {"optimizer": "adam", "loss": "mean_squared_error", "metrics": ["mae"], "jit_compile": None},
    "preprocessing": {
        "features": ["value"],
        "target": ["value"],
        "scaling_kind": "standard",
        "inputs": {"offset": [1.5], "scale": [0.9]},
        "targets": {"offset": [1.5], "scale": [0.9]},
    },
    "fit": {
        "epochs": 2,
        "total_epochs": 2,
        "batch_size": 32,
        "samples": 30,
        "naive_scale": [0.1],
        "seasonal_naive_scale": {"season": 12, "scale": [0.2]},
        "calibration": {
            "method": "split conformal",
            "held_out": "the last 3 windows",
            "windows": 3,
            "residuals": [[0.1, -0.2, 0.05]],
        },
    },
    "history": {"loss": [1.04, 1.03], "mae": [0.88, 0.87], "val_loss": [float("nan"), 5.4]},
    "seed": 0,
    "lineage": [{"step": "define"}, {"step": "compile", "parent": {"path": "d.keras", "sha256": "00"}}],
    "versions": {"lstmcli": "0.2.0"},
    "members": {"config.json": "00"},
    "format_version": 3,
}

# Every field of the record and of its data spec, and the keys the steps read from its free-form tables.
FIELDS = [
    *SOUND,
    *(f"data_spec.{key}" for key in SOUND["data_spec"]),
    "architecture.units",
    "architecture.activation",
    "compile.loss",
    "compile.optimizer",
    "compile.metrics",
    "compile.jit_compile",
    "preprocessing.features",
    "preprocessing.target",
    "preprocessing.inputs",
    "preprocessing.targets",
    "preprocessing.classes",
    "preprocessing.context",
    "preprocessing.transforms",
    "fit.naive_scale",
    "fit.seasonal_naive_scale",
    "fit.seasonal_naive_scale.scale",
    "fit.class_counts",
    "fit.calibration",
    "fit.calibration.windows",
    "fit.calibration.residuals",
    "fit.epochs",
    "fit.ensemble",
    "history.loss",
    "history.val_loss",
]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, -1, 1, 2**31, 2**32, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["", "\x1b[2J", "seasonal-diff:0", "log", "a" * 50]),
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)


def with_value(dotted: str, value) -> dict:
    raw = copy.deepcopy(SOUND)
    *parents, last = dotted.split(".")
    table = raw
    for part in parents:
        table = table[part]
    table[last] = value
    return raw
