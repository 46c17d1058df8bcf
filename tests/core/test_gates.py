"""Metric gates and metrics files, the core alone: no model, no TensorFlow."""

from __future__ import annotations

import csv
import io
import json
import math
import os

import pytest
import yaml

from lstmcli.errors import EXIT_GATE, EXIT_USAGE, ConfigError, GateFailed
from lstmcli.scoring import gates, metrics_file

METRICS = {"loss": 0.02, "accuracy": 0.85, "skill": 1.5, "samples": 90, "per_step": {"1": {"rmse": 0.3}}}


@pytest.mark.parametrize(
    "text, metric, op, bound",
    [
        ("loss>0.01", "loss", ">", 0.01),
        ("accuracy <= 0.9", "accuracy", "<=", 0.9),
        (" skill>=1e-3 ", "skill", ">=", 1e-3),
        ("per_step.1.rmse<2", "per_step.1.rmse", "<", 2.0),
    ],
)
def test_parse_reads_metric_comparison_and_bound(text, metric, op, bound):
    assert gates.parse(text) == gates.Gate(metric, op, bound)


@pytest.mark.parametrize("text", ["loss", "loss>>1", "loss=1", ">1", "loss>abc", "loss>nan", "loss<inf", "1loss>2"])
def test_parse_refuses_what_is_not_a_gate(text):
    with pytest.raises(ConfigError, match="METRIC<BOUND") as caught:
        gates.parse(text)
    assert caught.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    "gate, fails",
    [
        ("loss>0.01", True),
        ("loss>0.02", False),
        ("loss>=0.02", True),
        ("accuracy<0.9", True),
        ("accuracy<0.85", False),
        ("accuracy<=0.85", True),
        ("skill<1.2", False),
        ("per_step.1.rmse>0.25", True),
    ],
)
def test_a_gate_fails_exactly_when_its_condition_holds(gate, fails):
    if fails:
        with pytest.raises(GateFailed) as caught:
            gates.check([gates.parse(gate)], METRICS)
        assert caught.value.exit_code == EXIT_GATE == 3
    else:
        gates.check([gates.parse(gate)], METRICS)


def test_each_failed_gate_is_one_line_naming_metric_value_and_bound():
    with pytest.raises(GateFailed) as caught:
        gates.check(gates.parse_all(["loss>0.01", "skill<1.2", "accuracy<0.9"]), METRICS)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert "loss is 0.02" in lines[0] and "> 0.01" in lines[0]
    assert "accuracy is 0.85" in lines[1] and "< 0.9" in lines[1]


def test_a_nan_metric_fails_every_gate_on_it():
    with pytest.raises(GateFailed):
        gates.check([gates.parse("loss>100")], {"loss": math.nan})


def test_an_unknown_metric_is_a_usage_error_listing_the_metrics():
    with pytest.raises(ConfigError) as caught:
        gates.check([gates.parse("acuracy<0.9")], METRICS)
    message = str(caught.value)
    assert caught.value.exit_code == EXIT_USAGE
    assert "did you mean 'accuracy'" in message
    assert "loss, accuracy, skill, samples, per_step.1.rmse" in message


@pytest.mark.parametrize(
    "name, fmt", [("m.json", "json"), ("m.yaml", "yaml"), ("m.yml", "yaml"), ("m.CSV", "csv"), ("m.txt", "text")]
)
def test_the_metrics_format_follows_the_extension(tmp_path, name, fmt):
    assert metrics_file.format_for(tmp_path / name, False) == fmt


@pytest.mark.parametrize("name", ["metrics", "m.xlsx", "m.toml", "m.json.gz"])
def test_an_extension_with_no_writer_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="name the file with one of those extensions"):
        metrics_file.format_for(tmp_path / name, False)


def test_stdout_and_fifos_follow_json_flag(tmp_path):
    fifo = tmp_path / "pipe"
    import os

    os.mkfifo(fifo)
    assert metrics_file.format_for(fifo, True) == "json"
    assert metrics_file.format_for(None, False) == "text"
    assert metrics_file.format_for("-", True) == "json"


def test_json_yaml_and_csv_read_back_as_the_same_metrics():
    assert json.loads(metrics_file.dumps(METRICS, "json")) == METRICS
    assert yaml.safe_load(metrics_file.dumps(METRICS, "yaml")) == METRICS
    rows = list(csv.DictReader(io.StringIO(metrics_file.dumps(METRICS, "csv"))))
    assert rows == [{"loss": "0.02", "accuracy": "0.85", "skill": "1.5", "samples": "90", "per_step.1.rmse": "0.3"}]


def test_a_link_to_an_open_descriptor_is_special_even_when_it_leads_to_a_file(tmp_path):
    """`--out /dev/stdout > m.json`: /dev/stdout leads to a regular file, but is written through, as stdout.

    Here pytest's own stdout may be a regular file too; a link to fd 1 made in tmp_path is that case for sure.
    """
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    with open(tmp_path / "m.json", "w") as target:
        saved = os.dup(1)
        try:
            os.dup2(target.fileno(), 1)
            assert metrics_file.format_for(link, False) == "text"
            assert metrics_file.format_for(link, True) == "json"
            assert metrics_file.format_for("/dev/stdout", False) == "text"
        finally:
            os.dup2(saved, 1)
            os.close(saved)
