"""The artifact as a file: verify, Keras models from outside, code in archives, and the config loader."""

from __future__ import annotations

import json
import math
import shutil
import zipfile

import pytest
from conftest import sequence_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmcli import options as lstmcli_options
from lstmcli.errors import ConfigError
from lstmcli.steps.options import BY_COMMAND, for_command


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, cli):
    root = tmp_path_factory.mktemp("artifacts")
    data = sequence_csv(root / "s.csv")
    assert cli("define", "--features", "value", "--lstm", 3, "--seed", 0, "--out", root / "d.keras").exit_code == 0
    assert cli("compile", root / "d.keras", "--out", root / "c.keras").exit_code == 0
    assert (
        cli("fit", root / "c.keras", "--data", data, "--epochs", 2, "--verbose", 0, "--out", root / "f.keras").exit_code
        == 0
    )
    return root / "f.keras", data


def test_verify_summarises_a_sound_artifact(cli, fitted):
    run = cli("verify", fitted[0], "--json")
    assert run.exit_code == 0, run
    summary = json.loads(run.stdout)
    assert summary["stage"] == "fitted" and summary["epochs"] == 2
    assert summary["steps"] == ["define", "compile", "fit"]
    assert summary["input_shape"] == [1, 1]


def test_verify_names_a_tampered_member(tmp_path, cli, fitted):
    copy = tmp_path / "f.keras"
    with zipfile.ZipFile(fitted[0]) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "model.weights.h5":
                data = data[:-1] + bytes([data[-1] ^ 1])
            target.writestr(item, data)
    run = cli("verify", copy)
    assert run.exit_code == 2
    assert "model.weights.h5" in run.stderr and "changed after lstmcli wrote it" in run.stderr


def plain_keras_model(path, *, lambda_layer=False, compiled=True):
    import keras

    layers = [keras.Input((1, 1))]
    if lambda_layer:
        layers.append(keras.layers.Lambda(lambda x: x * 2.0))
    layers += [keras.layers.LSTM(4), keras.layers.Dense(1)]
    model = keras.Sequential(layers)
    if compiled:
        model.compile(optimizer="adam", loss="mse")
    model.save(path)
    return path


def test_a_compiled_keras_model_from_outside_is_adopted_by_fit(tmp_path, cli, fitted):
    source = plain_keras_model(tmp_path / "outside.keras")
    before = source.read_bytes()
    run = cli("fit", source, "--data", fitted[1], "--epochs", 2, "--verbose", 0, "--out", tmp_path / "f.keras")
    assert run.exit_code == 0, run
    assert source.read_bytes() == before
    from lstmcli.model.artifact import read_record

    record = read_record(tmp_path / "f.keras")
    assert (record.task, record.stage, record.data_spec["features"]) == ("regression", "fitted", ["value"])
    assert record.lineage[0]["step"] == "adopt"
    assert cli("predict", tmp_path / "f.keras", "--data", fitted[1]).exit_code == 0


def test_an_uncompiled_keras_model_needs_compile_first(tmp_path, cli, fitted):
    source = plain_keras_model(tmp_path / "outside.keras", compiled=False)
    run = cli("fit", source, "--data", fitted[1], "--out", tmp_path / "f.keras")
    assert run.exit_code == 2
    assert "run 'lstmcli compile" in run.stderr
    assert cli("compile", source, "--out", tmp_path / "c.keras").exit_code == 0


def test_code_in_an_archive_is_refused_unless_unsafe(tmp_path, cli):
    source = plain_keras_model(tmp_path / "lambda.keras", lambda_layer=True)
    run = cli("compile", source, "--out", tmp_path / "c.keras")
    assert run.exit_code == 2
    assert "Lambda" in run.stderr and "--unsafe" in run.stderr
    assert not (tmp_path / "c.keras").exists()
    assert cli("compile", source, "--unsafe", "--out", tmp_path / "c.keras").exit_code == 0


def test_evaluate_refuses_an_unknown_keras_model(tmp_path, cli, fitted):
    source = plain_keras_model(tmp_path / "outside.keras")
    run = cli("evaluate", source, "--data", fitted[1])
    assert run.exit_code == 2 and "without an lstmcli record" in run.stderr


# --- the config loader and command-line values, as properties

KEYS = [o.name for o in lstmcli_options.visible(BY_COMMAND["fit"])] + ["epoch", "batchsize", "lstm", ""]
SCALARS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["all", "auto", "1", "minmax", "-", "3,4"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5), st.sampled_from(["fit", "fits", "define"]))
def test_config_tables_resolve_or_fail_with_a_config_error(tmp_path, table, section):
    path = tmp_path / "c.toml"
    lines = [f"[{section}]"] + [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    try:
        opts = for_command("fit", {}, path)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(opts.epochs, int) and opts.epochs >= 1
    assert opts.batch_size == lstmcli_options.ALL or (isinstance(opts.batch_size, int) and opts.batch_size >= 1)
    assert 0.0 <= opts.validation_split < 1.0
    assert opts.verbose in ("auto", "0", "1", "2")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_as_a_config_fail_cleanly(content):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_bytes(content)
        try:
            for_command("define", {}, path)
        except ConfigError as exc:
            assert "\n" not in str(exc).strip()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["epochs", "batch_size", "dropout", "timesteps", "validation_split", "learning_rate"]),
    st.one_of(st.text(max_size=8), st.integers(-5, 5).map(str), st.floats().map(str)),
)
def test_command_line_values_are_checked_the_same_way(name, text):
    step = "compile" if name == "learning_rate" else "define" if name in ("dropout", "timesteps") else "fit"
    try:
        opts = for_command(step, {name: text}, None)
    except ConfigError as exc:
        assert "--" + name.replace("_", "-") in str(exc)
        return
    value = getattr(opts, name)
    if name in ("epochs", "timesteps"):
        assert isinstance(value, int) and value >= 1
    elif name == "batch_size":
        assert value == lstmcli_options.ALL or value >= 1
    elif name in ("dropout", "validation_split"):
        assert 0.0 <= value < 1.0
    else:
        assert value >= 0.0 and math.isfinite(value)


def test_config_paths_are_relative_to_the_config(tmp_path):
    (tmp_path / "sub").mkdir()
    config = tmp_path / "sub" / "c.toml"
    config.write_text('[fit]\ndata = "../d.csv"\nepochs = 3\n')
    opts = for_command("fit", {"epochs": "5"}, config)
    assert opts.data.resolve() == (tmp_path / "d.csv").resolve()
    assert opts.epochs == 5  # the flag wins over the config
    shutil.rmtree(tmp_path / "sub")
