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


def test_interval_levels_are_a_list_of_numbers_strictly_between_0_and_1_from_flags_configs_and_the_api(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[predict]\ninterval = [0.8, 0.95]\n[evaluate]\ninterval = 0.9\n")
    assert step_options.for_command("predict", {}, config).interval == [0.8, 0.95]
    assert step_options.for_command("evaluate", {}, config).interval == [0.9]
    assert step_options.for_command("predict", {"interval": ["0.8,0.95", "0.8"]}, None).interval == [0.8, 0.95]
    assert PredictOptions(interval=[0.5]).interval == [0.5]
    for text, words in (
        ('["0.8"]', r"\[predict\] interval must be a list of numbers\. Received: '0\.8'"),
        ("[0.8, 1]", r"\[predict\] interval must be below 1\.0\. Received: 1"),
        ("[0.0]", r"\[predict\] interval must be above 0\.0\. Received: 0\.0"),
    ):
        config.write_text(f"[predict]\ninterval = {text}\n")
        with pytest.raises(ConfigError, match=words):
            step_options.for_command("predict", {}, config)
    with pytest.raises(ConfigError, match=r"PredictOptions\.interval must be above 0\.0"):
        PredictOptions(interval=[-0.1])
    help_text = options.Option("interval", "floats", above=0.0, high=1.0, help="Levels.").describe()
    assert help_text == "Levels. [0.0<x<1.0]"
