"""Hostile records, resealed into real archives: every command either runs or refuses naming the field.

Issue 21 (3): `seed: 2**70`, a history of strings, `naive_scale: "x"`,
`timesteps: -5` were "error: unexpected …" (exit 1). Here hypothesis draws a
hostile value for each field of a fitted model's record, the record is
rewritten and its digest recomputed (as anyone can), and predict, inspect and
plot must answer with exit 0, or exit 2 and one error line naming that field.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from corpus_helpers import Replace, invoke, run_ok, series_csv, with_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_fields import FIELDS, HOSTILE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = series_csv(root / "series.csv", rows=12)
    run_ok("define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", root / "d.keras")
    run_ok("compile", root / "d.keras", "--out", root / "c.keras")
    run_ok("fit", root / "c.keras", "--data", data, "--epochs", "1", "--verbose", "0", "--out", root / "f.keras")
    return root / "f.keras", data


def edit_at(dotted: str, value):
    def edit(obj):
        *parents, last = dotted.split(".")
        table = obj
        for part in parents:
            if not isinstance(table.get(part), dict):
                table[part] = {}
            table = table[part]
        table[last] = value
        return Replace(json.loads(json.dumps(obj)))

    return edit


@pytest.mark.parametrize("dotted", FIELDS)
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=HOSTILE, command=st.sampled_from(["predict", "inspect", "plot"]))
def test_every_command_runs_or_refuses_a_hostile_record_naming_the_field(fitted, dotted, value, command):
    source, data = fitted
    with tempfile.TemporaryDirectory() as tmp:
        path = with_record(source, Path(tmp) / "hostile.keras", edit_at(dotted, value))
        argv = {
            "predict": ["predict", path, "--data", data],
            "inspect": ["inspect", path],
            "plot": ["plot", path, "--out-dir", Path(tmp) / "plots"],
        }[command]
        run = invoke(argv)
    assert run.exit_code in (0, 2), (dotted, value, run)
    if run.exit_code == 2:
        named = [f"record: {dotted.split('.')[0]}", "record: task", *OTHER_WORDS.get(dotted, ())]
        assert any(words in run.stderr for words in named), (dotted, value, run)


# Two fields are checked against the archive rather than read: their refusals say so in their own words.
OTHER_WORDS = {
    "members": ("no longer match the record",),
    "format_version": ("was written by a newer lstmcli", "predates the record's digest"),
}


def test_inspect_and_verify_show_a_record_s_text_inert(fitted, tmp_path):
    """Issue 21 (11): a feature name holding an ANSI escape was printed raw by inspect."""

    def edit(obj):
        for table in (obj["data_spec"], obj["preprocessing"]):
            table["features"] = table["target"] = ["\x1b[31mred\u202e"]
        obj["lineage"][0]["step"] = "define\x1b]0;title\x07"

    path = with_record(fitted[0], tmp_path / "escapes.keras", edit)
    for argv, shown in ((["inspect", path], r"\x1b[31mred\u202e"), (["verify", path], r"define\x1b]0;title\x07")):
        run = invoke(argv)
        assert run.exit_code == 0, run
        assert shown in run.stdout, run.stdout
        assert "\x1b" not in run.stdout and "\u202e" not in run.stdout and "\x07" not in run.stdout
