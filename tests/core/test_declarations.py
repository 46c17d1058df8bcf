"""What the options' declarations derive: the inputs a step must not overwrite, the outputs it writes,
the config keys, and the checkpoint fingerprint, so no second list can drift from the fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstmcli import options
from lstmcli.errors import ConfigError
from lstmcli.steps import options as step_options
from lstmcli.steps.options import BY_COMMAND, FitOptions, PlotOptions, PredictOptions


def test_a_fits_inputs_and_outputs_come_from_the_roles_of_its_fields():
    opts = FitOptions(
        data="d.csv",
        validation_data="v.csv",
        config="c.toml",
        out="f.keras",
        history="h.csv",
        tensorboard="tb",
        checkpoint_dir="ck",
    )
    assert options.inputs_of(opts, "c.keras") == {
        "MODEL": "c.keras",
        "--config": Path("c.toml"),
        "--data": Path("d.csv"),
        "--validation-data": Path("v.csv"),
    }
    written = {o.flag: (o.path, o.directory, o.manages) for o in options.outputs_of(opts)}
    assert written == {
        "--out": (Path("f.keras"), False, ()),
        "--history": (Path("h.csv"), False, ()),
        "--tensorboard": (Path("tb"), True, ("train", "validation")),
        "--checkpoint-dir": (Path("ck"), True, ("checkpoint.keras",)),
    }
    assert [o.path for o in options.outputs_of(opts, out=Path("checked.keras"))][0] == Path("checked.keras")


def test_every_path_option_of_every_command_is_an_input_or_an_output():
    for name, cls in BY_COMMAND.items():
        for option in options.options_of(cls):
            if option.kind == "path":
                assert option.role in (options.INPUT, options.OUTPUT), (name, option.name)


def test_hidden_options_are_no_flags_or_config_keys():
    assert "config" in {o.name for o in options.options_of(FitOptions)}
    assert "config" not in {o.name for o in options.visible(FitOptions)}
    assert "config" in {o.name for o in options.visible(BY_COMMAND["run"])}  # run's --config is its own option


def test_a_composite_command_carries_the_fields_it_shares():
    plot = PlotOptions(out_dir="out", data="d.csv", format="csv", unsafe=True)
    predict = options.carried(PredictOptions, plot, wide=True)
    assert (predict.data, predict.format, predict.unsafe, predict.wide) == (Path("d.csv"), "csv", True, True)
    with pytest.raises(ConfigError, match="PredictOptions.batch_size must be a positive number or 'all'"):
        options.carried(PredictOptions, plot, batch_size=0)


def test_the_spec_keys_are_the_spec_groups_fields():
    assert step_options.SPEC_KEYS == ("layout", "timesteps", "horizon", "features", "target", "index")
