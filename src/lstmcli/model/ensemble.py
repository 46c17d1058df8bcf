"""Seed ensembles: several fitted networks averaged inside one whole predictor.

`fit --ensemble N` trains N members (see `steps.ensembling`); this module
combines them. The members' networks run side by side on the same windows and
Keras's own `Average` layer averages their outputs; that ensemble network is
then wrapped once in the preprocessing every member learned
(`predictor.assemble`). So the artifact is a predictor like any other: plain
`keras.saving.load_model` (safe mode, no custom objects) and the exported
SavedModel predict the average, and `predictor.views`, `verify`'s checks and
`evaluate` work unchanged — evaluate's loss, computed in the scaled space where
the members were trained, is the ensemble's own.

The average is taken where the networks' outputs live: a classifier's mean
probability; for a series, the mean forecast in the data's units, since the
unscaling and the inverse differencing are affine — under a log transform the
mean of the logs, so the geometric mean of the members' forecasts.

Averaging in the networks' space needs one preprocessing for every member:
they train on the same rows (the same validation samples: see `FitOptions.split_seed`),
so they learn the same; `combine` refuses members that did not.
"""

from __future__ import annotations

from lstmcli.data.dataspec import DataSpec
from lstmcli.errors import TrainingError
from lstmcli.model import predictor

ENSEMBLE = "lstmcli_ensemble"  # the ensemble network's name, inside the predictor
MEMBER = "lstmcli_member_{}"  # each member network's, counting from 1
AVERAGE = "lstmcli_average"
WINDOWS = "windows"


def is_ensemble(record) -> bool:
    """Whether a record is a seed ensemble's (`fit --ensemble N` wrote it)."""
    return bool((record.fit or {}).get("ensemble"))


def combine(models: list, prep: dict | None, spec: DataSpec) -> predictor.Views:
    """One predictor that averages the members' networks, wrapped in their shared preprocessing.

    Args:
        models: The members' fitted models (predictors, or bare networks when
            nothing needed wrapping), as `artifact.load` gives them; their
            networks are taken over, renamed `lstmcli_member_1`, ….
        prep: The preprocessing every member learned (the record's).
        spec: The data spec.

    Returns:
        The views of the ensemble (see `predictor.Views`), uncompiled.
    """
    import keras

    networks = [predictor.network_of(model) for model in models]
    for number, network in enumerate(networks, 1):
        network.name = MEMBER.format(number)
        if network.compiled:  # the optimizer belongs to the predictor (see loading.compile_views)
            network.compiled, network.optimizer = False, None
    windows = keras.Input(shape=tuple(networks[0].input_shape[1:]), name=WINDOWS)
    averaged = keras.layers.Average(name=AVERAGE)([network(windows) for network in networks])
    return predictor.assemble(keras.Model(windows, averaged, name=ENSEMBLE), prep or {}, spec)


def check_shared(preps: list[dict | None]) -> dict | None:
    """The preprocessing every member learned, which must be one.

    Raises:
        TrainingError: if the members learned different scaling, transforms or classes.
    """
    first = preps[0]
    for number, prep in enumerate(preps[1:], 2):
        if prep != first:
            differs = sorted(
                k for k in set(first or {}) | set(prep or {}) if (first or {}).get(k) != (prep or {}).get(k)
            )
            raise TrainingError(
                f"ensemble member {number} learned other preprocessing than member 1 ({', '.join(differs)}), so their "
                f"networks cannot be averaged; report this, and meanwhile fit the members one by one with --seed"
            )
    return first


def merge_calibration(calibrations: list[dict | None]) -> dict | None:
    """The ensemble's split-conformal calibration from its members': the mean of their signed residuals.

    Every member holds out the same windows, so the mean of the members'
    residuals (actual − prediction) is the residual of their mean prediction,
    window by window: the ensemble's own. That is exact for forecasts averaged
    in the data's units; under a log transform (a geometric mean) it is the
    arithmetic mean's residual, a close stand-in.

    Args:
        calibrations: Each member's `record.fit["calibration"]`, None where it has none:
            {"method", "held_out", "windows": n, "residuals": [[n signed residuals] per output column]}.

    Returns:
        Member 1's calibration with the mean residuals, or None when a member
        has none, or they differ in method, held-out part, window count or columns.
    """
    first = calibrations[0]
    if not first or any(not c for c in calibrations):
        return None
    windows, columns = first.get("windows"), len(first.get("residuals") or [])
    for calibration in calibrations:
        residuals = calibration.get("residuals") or []
        if (
            calibration.get("windows") != windows
            or calibration.get("method") != first.get("method")
            or calibration.get("held_out") != first.get("held_out")
            or len(residuals) != columns
            or any(not isinstance(column, list) or len(column) != windows for column in residuals)
        ):
            return None
    n = len(calibrations)
    mean = [[sum(c["residuals"][j][w] for c in calibrations) / n for w in range(windows)] for j in range(columns)]
    return {**first, "residuals": mean}
