"""One validation of the record (issue 21, 3): any record either loads or is refused naming its field.

Hostile values are drawn per field (hypothesis) into an otherwise sound record:
`record_from_json` must return a Record or raise ArtifactError naming that
field (never another exception). The command-level twin runs the CLI on
resealed archives (tests/command/test_record_hostile.py).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from record_fields import FIELDS, HOSTILE, SOUND, with_value

from lstmcli.errors import ArtifactError
from lstmcli.model.record import record_from_json
from lstmcli.model.recordvalues import MAX_HISTORY_VALUES, epoch_numbers, thin_history


def test_the_sound_record_loads():
    assert record_from_json(copy.deepcopy(SOUND), Path("m.keras")).epochs == 2


@pytest.mark.parametrize("dotted", FIELDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE)
def test_a_hostile_value_loads_or_is_refused_naming_its_field(dotted, value):
    raw = json.loads(json.dumps(with_value(dotted, value)))  # what a resealed lstmcli.json reads back as
    try:
        record_from_json(raw, Path("m.keras"))
    except ArtifactError as exc:
        top = dotted.split(".")[0]
        assert f"record: {top}" in str(exc) or "record: task" in str(exc), (dotted, value, str(exc))


@pytest.mark.parametrize(
    "dotted, value, words",
    [
        ("seed", 2**70, r"seed must be a whole number from 0 to 4,294,967,295, not 1180591620717411303424"),
        ("history.loss", ["a", None, {}], r"history\.loss must be a list of numbers"),
        ("fit.naive_scale", "x", r"fit\.naive_scale must be a list of finite numbers, not \"x\""),
        ("fit.naive_scale", [-1.0], r"fit\.naive_scale must be a list of numbers of at least 0"),
        ("data_spec.timesteps", -5, r"data_spec\.timesteps must be a whole number from 1 .*not -5"),
        ("data_spec.horizon", 0, r"data_spec\.horizon must be a whole number from 1 .*not 0"),
        ("data_spec.features", ["a", "b"], r"data_spec\.features must name 1 columns, as the input shape says"),
        ("history", {}, r"history\.loss must hold the loss of each epoch fit ran"),
        ("history.mae", [1.0], r"history must have one value per epoch in every list"),
        ("preprocessing.inputs", {"offset": [1.0], "scale": [0.0]}, r"preprocessing\.inputs must have scales above 0"),
        (
            "preprocessing.inputs",
            {"offset": [math.inf], "scale": [1.0]},
            r"preprocessing\.inputs must be a list of fin",
        ),
        ("data_spec.transforms", ["seasonal-diff:1"], r"data_spec\.transforms holds an unknown transform"),
        ("lineage", [{"parent": {}}], r"lineage must be a list of objects, each naming its step"),
        ("fit.calibration", {"method": "split conformal"}, r"fit\.calibration must be an object with method, windows"),
        ("fit.calibration.residuals", [[0.1, None, 0.2]], r"fit\.calibration must have residuals that are finite"),
        ("fit.calibration.residuals", [[0.1, 0.2], [0.3]], r"fit\.calibration must have as many residuals in every"),
        (
            "fit.calibration.residuals",
            [[0.1, 0.2, 0.3, 0.4]],
            r"as many residuals in every column, at least 1 and at most its windows",
        ),
        ("fit.calibration.residuals", [], r"fit\.calibration must have residuals that are a list of lists"),
        ("fit.calibration.windows", 0, r"fit\.calibration must have windows that is a whole number from 1"),
        ("fit.calibration.method", "", r"fit\.calibration must be a non-empty string"),
    ],
)
def test_the_issue_s_hostile_values_are_refused_with_the_field_and_value(dotted, value, words):
    """Issue 21 (3): each of these was 'error: unexpected …' (exit 1) on main."""
    import re

    with pytest.raises(ArtifactError) as caught:
        record_from_json(json.loads(json.dumps(with_value(dotted, value))), Path("m.keras"))
    assert re.search(words, str(caught.value)), str(caught.value)


def test_a_very_long_history_is_thinned_to_every_kth_epoch_and_the_last():
    history = {f"m{i}": [float(e) for e in range(80_000)] for i in range(16)}
    thinned, every = thin_history(history)
    length = len(thinned["m0"])
    assert every > 1 and length * 16 <= MAX_HISTORY_VALUES
    assert thinned["m3"][0] == 0.0 and thinned["m3"][-1] == 79_999.0
    assert thinned["m3"][1] == float(every)
    assert thin_history({"loss": [1.0, 2.0]}) == ({"loss": [1.0, 2.0]}, 1)


def test_class_labels_fit_wrote_load_whatever_their_json_type():
    """A binary target of True/False is stored as [false, true]; numbers and strings as themselves."""
    for classes in ([False, True], [0, 1], ["no", "yes"], [0.5, 1.5]):
        raw = with_value("preprocessing.classes", classes)
        raw["task"], raw["architecture"]["activation"] = "binary", "sigmoid"
        raw["preprocessing"]["targets"] = None
        assert record_from_json(raw, Path("m.keras")).preprocessing["classes"] == classes


def test_a_thinned_history_keeps_its_epoch_numbers_for_inspect_and_plot():
    """inspect's epoch count and best epoch, and plot's x axis, are the fit's epochs, not positions 1..n."""
    from lstmcli.steps.figures import history_figure
    from lstmcli.steps.inspecting import history_summary

    loss = [float(abs(e - 30_000)) for e in range(80_000)]  # the best epoch is 30,001 (1-based)
    history = {f"m{i}": list(loss) for i in range(7)} | {"loss": loss}
    thinned, every = thin_history(history)
    assert every > 1
    fit = {"history_every": every, "history_epochs": 80_000}
    numbers = epoch_numbers(thinned, fit)
    assert numbers[0] == 1 and numbers[1] == 1 + every and numbers[-1] == 80_000
    assert [loss[n - 1] for n in numbers] == thinned["loss"]  # each number is the epoch its value came from
    summary = history_summary(thinned, fit)
    assert summary["epochs"] == 80_000
    assert abs(summary["best_epoch"] - 30_001) < every
    assert history_summary({"loss": [3.0, 1.0, 2.0]}) | {"values": None} == {
        "epochs": 3,
        "monitor": "loss",
        "best_epoch": 2,
        "best": 1.0,
        "values": None,
    }
    figure = history_figure(thinned, epochs=numbers)
    assert figure.axes[0].lines[0].get_xdata()[-1] == 80_000
