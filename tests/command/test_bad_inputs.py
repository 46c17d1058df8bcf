"""The bad-input corpus: every command refuses input a user can correct, cleanly.

Each case builds one bad file or flag combination in `tmp_path` and runs one
command in process. Whatever the input, lstmcli must answer with exit code 2 (a
user-correctable problem, DESIGN.md), a single message line on stderr that names
what is wrong (and the close match, where there is one), nothing on stdout, no
traceback, no new file, and every input file byte-identical to before.

The artifacts the cases start from (a tiny regression model at each stage, a
tiny multiclass model with string labels, a defined binary model) are built once
per module through the CLI itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
from corpus_helpers import (
    LABELS,
    Replace,
    copy,
    device,
    fifo,
    invoke,
    refusal_message,
    rewrite_zip,
    run_ok,
    samples_csv,
    series_csv,
    series_csv_with_cell,
    snapshot,
    with_json_member,
    with_record,
    without_member,
    write,
    write_bytes,
)

# ---------------------------------------------------------------- the artifacts the cases start from


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> SimpleNamespace:
    """Tiny artifacts at every stage, built once through the CLI."""
    root = tmp_path_factory.mktemp("corpus-kit")
    reg_data = series_csv(root / "series.csv", rows=12)
    mc_data = samples_csv(root / "samples.csv", rows=12)
    k = SimpleNamespace(root=root, reg_data=reg_data, mc_data=mc_data)
    k.reg_defined, k.reg_compiled, k.reg_fitted = (root / f"reg_{s}.keras" for s in ("defined", "compiled", "fitted"))
    k.mc_defined, k.mc_compiled, k.mc_fitted = (root / f"mc_{s}.keras" for s in ("defined", "compiled", "fitted"))
    k.bin_defined = root / "bin_defined.keras"

    run_ok("define", "--lstm", "2", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", k.reg_defined)
    run_ok("compile", k.reg_defined, "--out", k.reg_compiled)
    run_ok(
        "fit",
        k.reg_compiled,
        "--data",
        reg_data,
        "--epochs",
        "1",
        "--batch-size",
        "all",
        "--verbose",
        "0",
        "--seed",
        "0",
        "--out",
        k.reg_fitted,
    )
    run_ok(
        "define",
        "--task",
        "multiclass",
        "--num-classes",
        "3",
        "--layout",
        "samples",
        "--reshape",
        "timesteps",
        "--features",
        "x0,x1,x2,x3",
        "--target",
        "label",
        "--lstm",
        "2",
        "--seed",
        "0",
        "--out",
        k.mc_defined,
    )
    run_ok("compile", k.mc_defined, "--out", k.mc_compiled)
    run_ok(
        "fit",
        k.mc_compiled,
        "--data",
        mc_data,
        "--epochs",
        "1",
        "--batch-size",
        "all",
        "--verbose",
        "0",
        "--seed",
        "0",
        "--out",
        k.mc_fitted,
    )
    run_ok("define", "--task", "binary", "--lstm", "2", "--features", "value", "--seed", "0", "--out", k.bin_defined)
    return k


def test_the_kit_is_what_the_cases_assume(kit):
    """The starting artifacts are at the stages and tasks the corpus relies on."""
    from lstmcli.model.artifact import read_record

    expected = {
        "reg_defined": ("defined", "regression"),
        "reg_compiled": ("compiled", "regression"),
        "reg_fitted": ("fitted", "regression"),
        "mc_defined": ("defined", "multiclass"),
        "mc_compiled": ("compiled", "multiclass"),
        "mc_fitted": ("fitted", "multiclass"),
        "bin_defined": ("defined", "binary"),
    }
    for name, (stage, task) in expected.items():
        record = read_record(getattr(kit, name))
        assert (record.stage, record.task) == (stage, task), name
    assert read_record(kit.mc_fitted).preprocessing["classes"] == list(LABELS)


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Case:
    """One bad input.

    Args:
        build: Makes the inputs in tmp_path (given the kit) and returns argv.
        code: The exit code expected.
        expect: A regex the message line must contain (re.search).
        usage: True for Click's own usage errors (one `error:` line too, from cli's group).
    """

    build: Callable[[Path, SimpleNamespace], list]
    code: int
    expect: str
    usage: bool = False
    env: tuple = ()


def case(id: str, build, expect: str, *, code: int = 2, usage: bool = False, env: dict | None = None):
    """One corpus case; `env` holds environment variables set while it runs."""
    return pytest.param(Case(build, code, expect, usage, tuple((env or {}).items())), id=id)


def art(t: Path, k: SimpleNamespace, name: str, as_name: str | None = None) -> Path:
    """A private copy of one kit artifact inside the case's tmp_path."""
    return copy(getattr(k, name), t / (as_name or f"{name}.keras"))


def reg_data(t: Path, rows: int = 12) -> Path:
    return series_csv(t / "series.csv", rows=rows)


def config(t: Path, text: str) -> Path:
    return write(t / "lstmcli.toml", text)


DEFINE_OK = ["--lstm", "2", "--features", "value"]


def define(t: Path, *extra) -> list:
    return ["define", *extra, "--out", t / "model.keras"]


def fit(t: Path, k, *extra, model: str = "reg_compiled") -> list:
    return ["fit", art(t, k, model), *extra, "--out", t / "out.keras"]


def fit_on(t: Path, k, data: Path, *extra, model: str = "reg_compiled") -> list:
    return fit(t, k, "--data", data, *extra, model=model)


def compile_(t: Path, k, *extra, model: str = "reg_defined") -> list:
    return ["compile", art(t, k, model), *extra, "--out", t / "out.keras"]


def predict_mc(t: Path, k, data: Path, *extra) -> list:
    return ["predict", art(t, k, "mc_fitted"), "--data", data, *extra]


def evaluate_mc(t: Path, k, data: Path, *extra) -> list:
    return ["evaluate", art(t, k, "mc_fitted"), "--data", data, *extra]


def a_directory(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "keep.txt").write_text("a file the step must not touch\n")
    return path


def a_regular_file(path: Path) -> Path:
    return write(path, "not a directory\n")


def truncated(t: Path, k, name: str) -> Path:
    data = getattr(k, name).read_bytes()
    return write_bytes(t / "truncated.keras", data[: len(data) // 2])


def zip_without_config(t: Path) -> Path:
    import zipfile

    path = t / "notes.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "a zip, but no Keras model in it\n")
    return path


def tampered(t: Path, k, name: str) -> Path:
    """The artifact with its Keras config changed after lstmcli wrote (and hashed) it."""

    def edit(obj):
        obj["config"]["name"] = "edited-by-hand"

    return with_json_member(getattr(k, name), t / "tampered.keras", "config.json", edit)


def newer(t: Path, k, name: str) -> Path:
    def edit(obj):
        obj["format_version"] = 99

    return with_json_member(getattr(k, name), t / "newer.keras", "lstmcli.json", edit)


def broken_record(t: Path, k, name: str) -> Path:
    return rewrite_zip(
        getattr(k, name),
        t / "broken-record.keras",
        lambda member, data: b"{not json" if member == "lstmcli.json" else data,
    )


def npy_3d(t: Path) -> Path:
    path = t / "cube.npy"
    np.save(path, np.zeros((4, 3, 2), dtype=np.float32))
    return path


def dated_series_with_gap(path: Path, row: int, rows: int = 12) -> Path:
    """A day,value series whose value is empty on data row `row` (1-based).

    (A one-column file cannot hold an empty cell: pandas reads its empty line
    as a blank line and skips it.)
    """
    lines = [f"{i + 1},{'' if i + 1 == row else f'{i / 10:.1f}'}" for i in range(rows)]
    return write(path, "day,value\n" + "\n".join(lines) + "\n")


def mc_csv(t: Path, name: str = "samples.csv", **kwargs) -> Path:
    return samples_csv(t / name, **kwargs)


CASES = [
    # ------------------------------------------------------------ define: options
    case(
        "define-unknown-option",
        lambda t, k: define(t, *DEFINE_OK, "--no-such-flag", "1"),
        r"no such option --no-such-flag",
        usage=True,
    ),
    case(
        "define-misspelt-option",
        lambda t, k: define(t, *DEFINE_OK, "--timestep", "2"),
        r"no such option --timestep\b.*--timesteps",
        usage=True,
    ),
    case(
        "define-timesteps-not-a-number",
        lambda t, k: define(t, *DEFINE_OK, "--timesteps", "two"),
        r"--timesteps must be a whole number\. Received: 'two'",
        usage=True,
    ),
    case(
        "define-timesteps-zero",
        lambda t, k: define(t, *DEFINE_OK, "--timesteps", "0"),
        r"--timesteps must be at least 1\b.*Received: '0'",
    ),
    case(
        "define-horizon-negative",
        lambda t, k: define(t, *DEFINE_OK, "--horizon=-1"),
        r"--horizon must be at least 1\b.*Received: '-1'",
    ),
    case(
        "define-lstm-units-zero",
        lambda t, k: define(t, "--features", "value", "--lstm", "0"),
        r"--lstm must be at least 1\b.*Received: '0'",
    ),
    case(
        "define-lstm-units-negative",
        lambda t, k: define(t, "--features", "value", "--lstm=-3"),
        r"--lstm must be at least 1\b.*Received: '-3'",
    ),
    case(
        "define-lstm-units-not-a-number",
        lambda t, k: define(t, "--features", "value", "--lstm", "8,x"),
        r"--lstm must be a whole number.*'x'",
    ),
    case(
        "define-layers-units-zero",
        lambda t, k: define(t, "--features", "value", "--layers", "lstm:0"),
        r"layer 'lstm:0' needs at least one unit",
    ),
    case("define-dropout-one", lambda t, k: define(t, *DEFINE_OK, "--dropout", "1"), r"--dropout must be below 1\b"),
    case(
        "define-dropout-negative",
        lambda t, k: define(t, *DEFINE_OK, "--dropout=-0.1"),
        r"--dropout must be at least 0\b",
    ),
    case(
        "define-recurrent-dropout-above-one",
        lambda t, k: define(t, *DEFINE_OK, "--recurrent-dropout", "1.5"),
        r"--recurrent-dropout must be below 1\b",
    ),
    case(
        "define-layers-dropout-rate-one",
        lambda t, k: define(t, "--features", "value", "--layers", "lstm:2,dropout:1.0"),
        r"dropout rate must be in \[0, 1\)",
    ),
    case(
        "define-output-units-zero",
        lambda t, k: define(t, *DEFINE_OK, "--output-units", "0"),
        r"--output-units must be at least 1\b",
    ),
    case(
        "define-num-classes-one",
        lambda t, k: define(t, *DEFINE_OK, "--task", "multiclass", "--num-classes", "1"),
        r"--num-classes must be at least 2\b",
    ),
    case("define-seed-negative", lambda t, k: define(t, *DEFINE_OK, "--seed=-5"), r"--seed must be at least 0\b"),
    case(
        "define-input-shape-three-numbers",
        lambda t, k: define(t, "--lstm", "2", "--input-shape", "2,3,4"),
        r"--input-shape takes TIMESTEPS,FEATURES",
    ),
    case("define-no-features-no-shape", lambda t, k: define(t, "--lstm", "2"), r"input shape is unknown.*--features"),
    case(
        "define-features-do-not-split-into-timesteps",
        lambda t, k: define(t, "--lstm", "2", "--layout", "samples", "--features", "a,b,c", "--timesteps", "2"),
        r"3 feature columns do not split into 2 timesteps",
    ),
    case(
        "define-index-is-a-feature",
        lambda t, k: define(t, "--lstm", "2", "--features", "day,value", "--index", "day"),
        r"--index day is also a feature",
    ),
    case(
        "define-lstm-and-layers",
        lambda t, k: define(t, *DEFINE_OK, "--layers", "lstm:2"),
        r"either --lstm or --layers, not both",
    ),
    # ------------------------------------------------------------ define: names and combinations
    case(
        "define-unknown-task",
        lambda t, k: define(t, *DEFINE_OK, "--task", "regresion"),
        r"(?=.*'regresion')(?=.*did you mean 'regression'\?)",
    ),
    case(
        "define-unknown-layout",
        lambda t, k: define(t, *DEFINE_OK, "--layout", "seris"),
        r"(?=.*'seris')(?=.*did you mean 'series'\?)",
    ),
    case(
        "define-unknown-reshape",
        lambda t, k: define(t, *DEFINE_OK, "--layout", "samples", "--reshape", "timestep"),
        r"'timestep'.*did you mean 'timesteps'\?|did you mean 'timesteps'\?.*'timestep'",
    ),
    case(
        "define-unknown-output-activation",
        lambda t, k: define(t, *DEFINE_OK, "--output-activation", "sigmod"),
        r"unknown activation 'sigmod'.*did you mean 'sigmoid'\?",
    ),
    case(
        "define-unknown-layer-kind",
        lambda t, k: define(t, "--features", "value", "--layers", "lstn:4"),
        r"unknown layer 'lstn'.*did you mean 'lstm'\?",
    ),
    case(
        "define-unknown-dense-activation",
        lambda t, k: define(t, "--features", "value", "--layers", "lstm:2,dense:3:rellu"),
        r"unknown activation 'rellu'.*did you mean 'relu'\?",
    ),
    case(
        "define-malformed-layer",
        lambda t, k: define(t, "--features", "value", "--layers", "lstm:2:3"),
        r"cannot read layer 'lstm:2:3'",
    ),
    case(
        "define-softmax-on-one-unit",
        lambda t, k: define(t, *DEFINE_OK, "--output-activation", "softmax"),
        r"softmax on a single unit.*sigmoid",
    ),
    case(
        "define-multiclass-without-num-classes",
        lambda t, k: define(t, *DEFINE_OK, "--task", "multiclass"),
        r"multiclass task needs the number of classes; give --num-classes",
    ),
    case(
        "define-num-classes-on-regression",
        lambda t, k: define(t, *DEFINE_OK, "--num-classes", "3"),
        r"--num-classes is for the multiclass task; the task is regression",
    ),
    case(
        "define-binary-with-two-units",
        lambda t, k: define(t, *DEFINE_OK, "--task", "binary", "--output-units", "2"),
        r"binary task has one sigmoid output unit.*multiclass",
    ),
    # ------------------------------------------------------------ define: where it writes
    case("define-missing-out", lambda t, k: ["define", *DEFINE_OK], r"define needs --out"),
    case(
        "define-out-not-keras",
        lambda t, k: ["define", *DEFINE_OK, "--out", t / "model.h5"],
        r"artifact names end in \.keras; use --out \S*model\.keras",
    ),
    case(
        "define-out-is-a-keras-named-directory",
        lambda t, k: ["define", *DEFINE_OK, "--out", a_directory(t / "models.keras")],
        r"models\.keras is a directory",
    ),
    case(
        "define-out-is-a-directory",
        lambda t, k: ["define", *DEFINE_OK, "--out", a_directory(t / "build")],
        r"build\b.*\bis a directory",
    ),
    case(
        "define-out-under-a-regular-file",
        lambda t, k: ["define", *DEFINE_OK, "--out", a_regular_file(t / "notes.txt") / "model.keras"],
        r"notes\.txt is a file, not a directory",
    ),
    case(
        "define-out-two-levels-under-a-regular-file",
        lambda t, k: ["define", *DEFINE_OK, "--out", a_regular_file(t / "notes.txt") / "sub" / "model.keras"],
        r"notes\.txt.*(is a file|not a directory)",
    ),
    # ------------------------------------------------------------ the config loader
    case(
        "config-missing-file",
        lambda t, k: define(t, "--config", t / "nowhere.toml"),
        r"config file \S*nowhere\.toml does not exist",
    ),
    case(
        "config-is-a-directory",
        lambda t, k: define(t, "--config", a_directory(t / "configs")),
        r"config file \S*configs is a directory",
    ),
    case(
        "config-broken-toml",
        lambda t, k: define(t, "--config", config(t, "[define\ntimesteps = 2\n")),
        r"lstmcli\.toml is not valid TOML",
    ),
    case(
        "config-unterminated-string",
        lambda t, k: define(t, "--config", config(t, '[define]\ntask = "regression\n')),
        r"lstmcli\.toml is not valid TOML",
    ),
    case(
        "config-random-bytes",
        lambda t, k: define(t, "--config", write_bytes(t / "lstmcli.toml", bytes(range(256)))),
        r"lstmcli\.toml is not valid TOML",
    ),
    case(
        "config-unknown-table",
        lambda t, k: define(t, "--config", config(t, "[defnie]\ntimesteps = 2\n")),
        r"'defnie' is not a step table.*did you mean 'define'\?",
    ),
    case(
        "config-key-outside-a-table",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, "timesteps = 2\n")),
        r"'timesteps' is not a step table.*\[define\]",
    ),
    case(
        "config-unknown-key",
        lambda t, k: define(t, "--config", config(t, '[define]\nfeatures = ["value"]\ntimestep = 2\n')),
        r"\[define\] has no option 'timestep' \(did you mean 'timesteps'\?\)",
    ),
    case(
        "config-key-of-another-step",
        lambda t, k: define(t, "--config", config(t, "[define]\nepochs = 3\n")),
        r"\[define\] has no option 'epochs'",
    ),
    case(
        "config-string-for-int",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, '[define]\ntimesteps = "two"\n')),
        r"\[define\] timesteps must be a whole number\. Received: 'two'",
    ),
    case(
        "config-bool-for-int",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, "[define]\ntimesteps = true\n")),
        r"\[define\] timesteps must be a (whole )?number\. Received: True",
    ),
    case(
        "config-float-for-int",
        lambda t, k: fit_on(t, k, reg_data(t), "--config", config(t, "[fit]\nepochs = 2.5\n")),
        r"\[fit\] epochs must be a whole number\. Received: 2\.5",
    ),
    case(
        "config-string-for-bool",
        lambda t, k: compile_(t, k, "--config", config(t, '[compile]\njit_compile = "yes"\n')),
        r"\[compile\] jit_compile must be true or false\. Received: 'yes'",
    ),
    case(
        "config-table-for-list",
        lambda t, k: define(t, "--lstm", "2", "--config", config(t, "[define]\nfeatures = { a = 1 }\n")),
        r"\[define\] features must be a list",
    ),
    case(
        "config-number-for-path",
        lambda t, k: fit(t, k, "--config", config(t, "[fit]\ndata = 3\n")),
        r"\[fit\] data must be a file path\. Received: 3",
    ),
    case(
        "config-batch-size-zero",
        lambda t, k: fit_on(t, k, reg_data(t), "--config", config(t, "[fit]\nbatch_size = 0\n")),
        r"\[fit\] batch_size must be a positive number or 'all'",
    ),
    case(
        "config-unknown-choice",
        lambda t, k: fit_on(t, k, reg_data(t), "--config", config(t, '[fit]\nscaling = "standrd"\n')),
        r"\[fit\] scaling must be one of none, minmax, standard \(did you mean 'standard'\?\)",
    ),
    case(
        "config-relative-data-missing",
        lambda t, k: fit(t, k, "--config", config(t, '[fit]\ndata = "missing.csv"\n')),
        r"data file \S*missing\.csv does not exist",
    ),
    # ------------------------------------------------------------ compile
    case(
        "compile-unknown-option",
        lambda t, k: compile_(t, k, "--optimiser", "adam"),
        r"no such option --optimiser\b.*--optimizer",
        usage=True,
    ),
    case(
        "compile-missing-model-argument",
        lambda t, k: ["compile", "--out", t / "out.keras"],
        r"missing argument MODEL",
        usage=True,
    ),
    case(
        "compile-lr-not-a-number",
        lambda t, k: compile_(t, k, "--lr", "fast"),
        r"--learning-rate must be a number\. Received: 'fast'",
        usage=True,
    ),
    case("compile-lr-negative", lambda t, k: compile_(t, k, "--lr=-0.1"), r"--learning-rate must be at least 0\b"),
    case("compile-lr-infinite", lambda t, k: compile_(t, k, "--lr", "inf"), r"--learning-rate must be a finite number"),
    case(
        "compile-momentum-one",
        lambda t, k: compile_(t, k, "--optimizer", "sgd", "--momentum", "1"),
        r"--momentum must be below 1\b",
    ),
    case(
        "compile-unknown-optimizer",
        lambda t, k: compile_(t, k, "--optimizer", "adamm"),
        r"unknown optimizer 'adamm' \(did you mean 'adam'\?\)",
    ),
    case(
        "compile-unknown-loss",
        lambda t, k: compile_(t, k, "--loss", "mean_squared_eror"),
        r"unknown loss 'mean_squared_eror' \(did you mean 'mean_squared_error'\?\)",
    ),
    case(
        "compile-unknown-metric",
        lambda t, k: compile_(t, k, "--metric", "mae,maee"),
        r"unknown metric 'maee' \(did you mean 'mae'\?\)",
    ),
    case(
        "compile-momentum-with-adam",
        lambda t, k: compile_(t, k, "--optimizer", "adam", "--momentum", "0.9"),
        r"adam has no momentum; momentum applies to sgd",
    ),
    case(
        "compile-binary-loss-on-regression",
        lambda t, k: compile_(t, k, "--loss", "binary_crossentropy"),
        r"binary_crossentropy is a classification loss but the task is regression; use mean_squared_error",
    ),
    case(
        "compile-categorical-loss-on-binary",
        lambda t, k: compile_(t, k, "--loss", "categorical_crossentropy", model="bin_defined"),
        r"categorical_crossentropy needs one output unit per class.*use binary_crossentropy",
    ),
    case(
        "compile-regression-loss-on-multiclass",
        lambda t, k: compile_(t, k, "--loss", "mse", model="mc_defined"),
        r"mse is a regression loss but the task is multiclass; use categorical_crossentropy",
    ),
    case(
        "compile-binary-loss-on-multiclass",
        lambda t, k: compile_(t, k, "--loss", "binary_crossentropy", model="mc_defined"),
        r"binary_crossentropy .*use categorical_crossentropy",
    ),
    # ------------------------------------------------------------ compile: the artifact it reads
    case(
        "compile-missing-artifact",
        lambda t, k: ["compile", t / "nowhere.keras", "--out", t / "out.keras"],
        r"artifact \S*nowhere\.keras does not exist",
    ),
    case(
        "compile-artifact-is-a-directory",
        lambda t, k: ["compile", a_directory(t / "models.keras"), "--out", t / "out.keras"],
        r"artifact \S*models\.keras is a directory",
    ),
    case(
        "compile-empty-keras",
        lambda t, k: ["compile", write_bytes(t / "empty.keras", b""), "--out", t / "out.keras"],
        r"empty\.keras is not a \.keras archive",
    ),
    case(
        "compile-truncated-keras",
        lambda t, k: ["compile", truncated(t, k, "reg_defined"), "--out", t / "out.keras"],
        r"truncated\.keras is (not a \.keras archive|a damaged archive)",
    ),
    case(
        "compile-random-bytes-keras",
        lambda t, k: [
            "compile",
            write_bytes(t / "noise.keras", np.random.default_rng(0).bytes(4096)),
            "--out",
            t / "out.keras",
        ],
        r"noise\.keras is not a \.keras archive",
    ),
    case(
        "compile-zip-without-config",
        lambda t, k: ["compile", zip_without_config(t), "--out", t / "out.keras"],
        r"notes\.keras is a zip file but not a Keras model \(no config\.json\)",
    ),
    case(
        "evaluate-plain-keras-model",
        lambda t, k: [
            "evaluate",
            without_member(k.reg_fitted, t / "plain.keras", "lstmcli.json"),
            "--data",
            reg_data(t),
        ],
        r"plain\.keras is a Keras model without an lstmcli record",
    ),
    case(
        "compile-tampered-archive",
        lambda t, k: ["compile", tampered(t, k, "reg_defined"), "--out", t / "out.keras"],
        r"tampered\.keras was changed after lstmcli wrote it \(config\.json",
    ),
    case(
        "compile-newer-record",
        lambda t, k: ["compile", newer(t, k, "reg_defined"), "--out", t / "out.keras"],
        r"newer\.keras was written by a newer lstmcli \(record format 99.*upgrade lstmcli",
    ),
    case(
        "compile-unreadable-record",
        lambda t, k: ["compile", broken_record(t, k, "reg_defined"), "--out", t / "out.keras"],
        r"broken-record\.keras has an unreadable lstmcli record",
    ),
    # ------------------------------------------------------------ compile: where it writes
    case("compile-missing-out", lambda t, k: ["compile", art(t, k, "reg_defined")], r"compile needs --out"),
    case(
        "compile-out-not-keras",
        lambda t, k: ["compile", art(t, k, "reg_defined"), "--out", t / "compiled.zip"],
        r"artifact names end in \.keras; use --out \S*compiled\.keras",
    ),
    case(
        "compile-out-is-the-input",
        lambda t, k: ["compile", art(t, k, "reg_defined", "m.keras"), "--out", t / "m.keras"],
        r"--out \S*m\.keras is one of this step's inputs",
    ),
    case(
        "compile-out-is-the-input-by-another-name",
        lambda t, k: [
            "compile",
            art(t, k, "reg_defined", "m.keras"),
            "--out",
            a_directory(t / "sub") / ".." / "m.keras",
        ],
        r"is one of this step's inputs",
    ),
    # ------------------------------------------------------------ fit: options
    case(
        "fit-unknown-option",
        lambda t, k: fit_on(t, k, reg_data(t), "--epoch", "2"),
        r"no such option --epoch\b.*--epochs",
        usage=True,
    ),
    case(
        "fit-epochs-not-a-number",
        lambda t, k: fit_on(t, k, reg_data(t), "--epochs", "three"),
        r"--epochs must be a whole number\. Received: 'three'",
        usage=True,
    ),
    case(
        "fit-epochs-zero",
        lambda t, k: fit_on(t, k, reg_data(t), "--epochs", "0"),
        r"--epochs must be at least 1\b.*Received: '0'",
    ),
    case(
        "fit-epochs-negative",
        lambda t, k: fit_on(t, k, reg_data(t), "--epochs=-3"),
        r"--epochs must be at least 1\b.*Received: '-3'",
    ),
    case(
        "fit-batch-size-zero",
        lambda t, k: fit_on(t, k, reg_data(t), "--batch-size", "0"),
        r"--batch-size must be a positive number or 'all'",
    ),
    case(
        "fit-batch-size-word",
        lambda t, k: fit_on(t, k, reg_data(t), "--batch-size", "lots"),
        r"--batch-size must be a positive number or 'all' \(below 2147483648\)\. Received: 'lots'",
    ),
    case(
        "fit-validation-split-one",
        lambda t, k: fit_on(t, k, reg_data(t), "--validation-split", "1"),
        r"--validation-split must be below 1\b",
    ),
    case(
        "fit-validation-split-leaves-no-validation",
        lambda t, k: fit_on(t, k, reg_data(t), "--validation-split", "0.01"),
        r"--validation-split 0\.01 leaves 10 training and 0 validation samples",
    ),
    case(
        "fit-unknown-scaling",
        lambda t, k: fit_on(t, k, reg_data(t), "--scaling", "minmx"),
        r"--scaling must be one of none, minmax, standard \(did you mean 'minmax'\?\)",
    ),
    case(
        "fit-verbose-three",
        lambda t, k: fit_on(t, k, reg_data(t), "--verbose", "3"),
        r"--verbose must be one of auto, 0, 1, 2",
    ),
    case(
        "fit-unknown-format",
        lambda t, k: fit_on(t, k, reg_data(t), "--format", "xlsx"),
        r"--format must be one of csv, parquet, npy, npz",
    ),
    case(
        "fit-rescaling-a-fitted-model",
        lambda t, k: fit_on(t, k, reg_data(t), "--scaling", "minmax", model="reg_fitted"),
        r"already learned 'standard' scaling.*drop --scaling minmax",
    ),
    # ------------------------------------------------------------ fit: stage and artifact
    case(
        "fit-defined-model",
        lambda t, k: fit_on(t, k, reg_data(t), model="reg_defined"),
        r"cannot fit \S*reg_defined\.keras: the model is defined but not compiled; "
        r"run 'lstmcli compile \S*reg_defined\.keras --out …' first",
    ),
    case(
        "fit-tampered-archive",
        lambda t, k: ["fit", tampered(t, k, "reg_compiled"), "--data", reg_data(t), "--out", t / "out.keras"],
        r"tampered\.keras was changed after lstmcli wrote it",
    ),
    # ------------------------------------------------------------ fit: the data file
    case("fit-no-data", lambda t, k: fit(t, k), r"fit needs --data FILE"),
    case("fit-missing-data", lambda t, k: fit_on(t, k, t / "nowhere.csv"), r"data file \S*nowhere\.csv does not exist"),
    case(
        "fit-data-is-a-directory",
        lambda t, k: fit_on(t, k, a_directory(t / "data.csv")),
        r"data file \S*data\.csv is a directory",
    ),
    case("fit-empty-csv", lambda t, k: fit_on(t, k, write(t / "empty.csv", "")), r"empty\.csv is empty"),
    case(
        "fit-header-only-csv",
        lambda t, k: fit_on(t, k, write(t / "header.csv", "value\n")),
        r"header\.csv has no data rows",
    ),
    case(
        "fit-non-numeric-cell",
        lambda t, k: fit_on(t, k, series_csv_with_cell(t / "bad.csv", 4, "abc")),
        r"bad\.csv, row 3, column 'value' holds 'abc', which is not a number",
    ),
    case(
        "fit-cell-beyond-float32",
        lambda t, k: fit_on(t, k, series_csv_with_cell(t / "huge.csv", 3, "1e39")),
        r"huge\.csv, row 2, column 'value' holds 1e\+39, beyond the largest number",
    ),
    case(
        "fit-empty-cell",
        lambda t, k: fit_on(t, k, dated_series_with_gap(t / "gap.csv", 5)),
        r"gap\.csv, row 4, column 'value' is empty",
    ),
    case(
        "fit-nan-cell",
        lambda t, k: fit_on(t, k, series_csv_with_cell(t / "nan.csv", 6, "NaN")),
        r"nan\.csv, row 5, column 'value' (is empty|holds nan)",
    ),
    case(
        "fit-misspelt-column",
        lambda t, k: fit_on(t, k, series_csv(t / "typo.csv", column="valeu")),
        r"typo\.csv has no column 'value'; did you mean 'valeu'\?",
    ),
    case(
        "fit-fewer-rows-than-one-window",
        lambda t, k: fit_on(t, k, reg_data(t, rows=2)),
        r"has 2 rows but one window needs 3",
    ),
    case(
        "fit-wrong-extension",
        lambda t, k: fit_on(t, k, write(t / "series.xlsx", "value\n0.1\n")),
        r"cannot tell the format of \S*series\.xlsx from its extension '\.xlsx'",
    ),
    case(
        "fit-no-extension",
        lambda t, k: fit_on(t, k, write(t / "series", "value\n0.1\n")),
        r"cannot tell the format of \S*series from its extension '\(none\)'",
    ),
    case(
        "fit-csv-named-parquet",
        lambda t, k: fit_on(t, k, write(t / "series.parquet", "value\n0.1\n0.2\n")),
        r"series\.parquet is not a readable parquet file",
    ),
    case(
        "fit-text-named-npy",
        lambda t, k: fit_on(t, k, write(t / "series.npy", "value\n0.1\n0.2\n")),
        r"series\.npy is not a readable npy file",
    ),
    case("fit-3d-npy", lambda t, k: fit_on(t, k, npy_3d(t)), r"cube\.npy holds a 3-D array"),
    case(
        "fit-missing-validation-data",
        lambda t, k: fit_on(t, k, reg_data(t), "--validation-data", t / "valid.csv"),
        r"data file \S*valid\.csv does not exist",
    ),
    case(
        "fit-multiclass-more-labels-than-classes",
        lambda t, k: fit_on(t, k, mc_csv(t, labels=(*LABELS, "fox")), model="mc_compiled"),
        r"samples\.csv has 4 classes but the model was defined with 3; define it again with --num-classes 4",
    ),
    case(
        "fit-multiclass-misspelt-label-column",
        lambda t, k: fit_on(t, k, mc_csv(t, label_column="labl"), model="mc_compiled"),
        r"samples\.csv has no column 'label'; did you mean 'labl'\?",
    ),
    # ------------------------------------------------------------ fit: where it writes
    case("fit-missing-out", lambda t, k: ["fit", art(t, k, "reg_compiled"), "--data", reg_data(t)], r"fit needs --out"),
    case(
        "fit-out-not-keras",
        lambda t, k: ["fit", art(t, k, "reg_compiled"), "--data", reg_data(t), "--out", t / "fitted"],
        r"artifact names end in \.keras; use --out \S*fitted\.keras",
    ),
    case(
        "fit-out-is-the-input",
        lambda t, k: ["fit", art(t, k, "reg_compiled", "m.keras"), "--data", reg_data(t), "--out", t / "m.keras"],
        r"--out \S*m\.keras is one of this step's inputs",
    ),
    case(
        "fit-out-is-a-directory",
        lambda t, k: [
            "fit",
            art(t, k, "reg_compiled"),
            "--data",
            reg_data(t),
            "--out",
            a_directory(t / "fitted.keras"),
        ],
        r"fitted\.keras is a directory",
    ),
    case(
        "fit-out-under-a-regular-file",
        lambda t, k: [
            "fit",
            art(t, k, "reg_compiled"),
            "--data",
            reg_data(t),
            "--out",
            a_regular_file(t / "notes.txt") / "fitted.keras",
        ],
        r"notes\.txt is a file, not a directory",
    ),
    case(
        "fit-history-is-a-directory",
        lambda t, k: fit_on(
            t, k, reg_data(t), "--epochs", "1", "--verbose", "0", "--history", a_directory(t / "history.csv")
        ),
        r"history\.csv\b.*\bis a directory",
    ),
    # ------------------------------------------------------------ evaluate
    case(
        "evaluate-unknown-option",
        lambda t, k: evaluate_mc(t, k, mc_csv(t), "--jsn"),
        r"no such option --jsn\b.*--json",
        usage=True,
    ),
    case(
        "evaluate-defined-model",
        lambda t, k: ["evaluate", art(t, k, "reg_defined"), "--data", reg_data(t)],
        r"cannot evaluate \S*reg_defined\.keras: the model is defined but not compiled; run 'lstmcli compile ",
    ),
    case(
        "evaluate-compiled-model",
        lambda t, k: ["evaluate", art(t, k, "reg_compiled"), "--data", reg_data(t)],
        r"cannot evaluate \S*reg_compiled\.keras: the model is compiled but not fitted; "
        r"run 'lstmcli fit \S*reg_compiled\.keras --data … --out …' first",
    ),
    case("evaluate-no-data", lambda t, k: ["evaluate", art(t, k, "reg_fitted")], r"evaluate needs --data FILE"),
    case(
        "evaluate-batch-size-zero",
        lambda t, k: evaluate_mc(t, k, mc_csv(t), "--batch-size", "0"),
        r"--batch-size must be a positive number or 'all'",
    ),
    case(
        "evaluate-infinite-cell",
        lambda t, k: ["evaluate", art(t, k, "reg_fitted"), "--data", series_csv_with_cell(t / "inf.csv", 3, "inf")],
        r"inf\.csv, row 2, column 'value' holds (inf\b|an infinite)",
    ),
    case(
        "evaluate-unseen-label",
        lambda t, k: evaluate_mc(t, k, mc_csv(t, cells={(5, "label"): "fox"})),
        r"samples\.csv, row 4: label 'fox' was not among the labels the model was trained on \('cat', 'dog', 'eel'\)",
    ),
    case(
        "evaluate-empty-label",
        lambda t, k: evaluate_mc(t, k, mc_csv(t, cells={(2, "label"): ""})),
        r"samples\.csv, row 1: the label column 'label' is empty",
    ),
    case(
        "evaluate-misspelt-feature-column",
        lambda t, k: evaluate_mc(
            t, k, write(t / "renamed.csv", samples_csv(t / "s.csv").read_text().replace("x3", "x_3", 1))
        ),
        r"renamed\.csv has no column 'x3'; did you mean 'x_3'\?",
    ),
    case(
        "evaluate-newer-record",
        lambda t, k: ["evaluate", newer(t, k, "mc_fitted"), "--data", mc_csv(t)],
        r"newer\.keras was written by a newer lstmcli",
    ),
    case(
        "evaluate-out-is-a-directory",
        lambda t, k: evaluate_mc(t, k, mc_csv(t), "--out", a_directory(t / "metrics")),
        r"metrics\b.*\bis a directory",
    ),
    case(
        "evaluate-out-under-a-regular-file",
        lambda t, k: evaluate_mc(t, k, mc_csv(t), "--out", a_regular_file(t / "notes.txt") / "metrics.json"),
        r"notes\.txt is a file, not a directory|notes\.txt.*not a directory",
    ),
    case(
        "evaluate-out-is-the-model",
        lambda t, k: ["evaluate", art(t, k, "mc_fitted", "m.keras"), "--data", mc_csv(t), "--out", t / "m.keras"],
        r"m\.keras\b.*\b(input|overwrite)",
    ),
    # ------------------------------------------------------------ predict
    case(
        "predict-unknown-option",
        lambda t, k: predict_mc(t, k, mc_csv(t), "--clases"),
        r"no such option --clases\b.*--classes",
        usage=True,
    ),
    case(
        "predict-missing-model-argument",
        lambda t, k: ["predict", "--data", mc_csv(t)],
        r"missing argument MODEL",
        usage=True,
    ),
    case(
        "predict-defined-model",
        lambda t, k: ["predict", art(t, k, "mc_defined"), "--data", mc_csv(t)],
        r"cannot predict \S*mc_defined\.keras: the model is defined but not compiled; run 'lstmcli compile ",
    ),
    case(
        "predict-compiled-model",
        lambda t, k: ["predict", art(t, k, "mc_compiled"), "--data", mc_csv(t)],
        r"cannot predict \S*mc_compiled\.keras: the model is compiled but not fitted; run 'lstmcli fit ",
    ),
    case("predict-no-data", lambda t, k: ["predict", art(t, k, "mc_fitted")], r"predict needs --data FILE"),
    case(
        "predict-missing-data",
        lambda t, k: predict_mc(t, k, t / "nowhere.csv"),
        r"data file \S*nowhere\.csv does not exist",
    ),
    case(
        "predict-unseen-label",
        lambda t, k: predict_mc(t, k, mc_csv(t, cells={(3, "label"): "fox"})),
        r"samples\.csv, row 2: label 'fox' was not among the labels the model was trained on",
    ),
    case(
        "predict-non-numeric-cell",
        lambda t, k: predict_mc(t, k, mc_csv(t, cells={(2, "x1"): "oops"})),
        r"samples\.csv, row 1, column 'x1' holds 'oops', which is not a number",
    ),
    case(
        "predict-fewer-rows-than-one-window",
        lambda t, k: ["predict", art(t, k, "reg_fitted"), "--data", reg_data(t, rows=2)],
        r"has 2 rows but one window needs 3",
    ),
    case(
        "predict-truncated-keras",
        lambda t, k: ["predict", truncated(t, k, "mc_fitted"), "--data", mc_csv(t)],
        r"truncated\.keras is (not a \.keras archive|a damaged archive)",
    ),
    case(
        "predict-tampered-archive",
        lambda t, k: ["predict", tampered(t, k, "mc_fitted"), "--data", mc_csv(t)],
        r"tampered\.keras was changed after lstmcli wrote it \(config\.json",
    ),
    case(
        "predict-plain-keras-model",
        lambda t, k: ["predict", without_member(k.mc_fitted, t / "plain.keras", "lstmcli.json"), "--data", mc_csv(t)],
        r"plain\.keras is a Keras model without an lstmcli record",
    ),
    case(
        "predict-out-is-a-directory",
        lambda t, k: predict_mc(t, k, mc_csv(t), "--out", a_directory(t / "predictions")),
        r"predictions\b.*\bis a directory",
    ),
    case(
        "predict-out-under-a-regular-file",
        lambda t, k: predict_mc(t, k, mc_csv(t), "--out", a_regular_file(t / "notes.txt") / "predictions.csv"),
        r"notes\.txt is a file, not a directory|notes\.txt.*not a directory",
    ),
    case(
        "predict-out-is-the-model",
        lambda t, k: ["predict", art(t, k, "mc_fitted", "m.keras"), "--data", mc_csv(t), "--out", t / "m.keras"],
        r"m\.keras\b.*\b(input|overwrite)",
    ),
    case(
        "predict-out-is-the-data",
        lambda t, k: ["predict", art(t, k, "mc_fitted"), "--data", mc_csv(t), "--out", t / "samples.csv"],
        r"samples\.csv\b.*\b(input|data file|overwrite)",
    ),
]


# ---------------------------------------------------------------- round two (issue 12): the classes behind 17 failures
# Each block is one class of failure; the first case of a block is the reproducer from the issue.


def hard_link(source: Path, link: Path) -> Path:
    import os

    os.link(source, link)
    return link


def symlink(target: Path, link: Path) -> Path:
    link.symlink_to(target)
    return link


def record_edit(t: Path, k, name: str, edit, *, redigest: bool = True, as_name: str = "edited.keras") -> Path:
    return with_record(getattr(k, name), t / as_name, edit, redigest=redigest)


def setting(key, value):
    def edit(obj):
        obj[key] = value

    return edit


def spec_setting(key, value):
    def edit(obj):
        obj["data_spec"][key] = value

    return edit


def foreign_model(t: Path, name: str, *, sequences: bool = False, custom: bool = False) -> Path:
    """A Keras model saved outside lstmcli: LSTM(2) on (2, 1), Dense(1); with a 3-D output or a custom class."""
    import json

    from lstmcli.quiet import load_tensorflow

    keras = load_tensorflow()
    model = keras.Sequential(
        [keras.Input((2, 1)), keras.layers.LSTM(2, return_sequences=sequences), keras.layers.Dense(1)]
    )
    path = t / f"{name}.keras"
    model.save(path)
    if custom:

        def change(member, data):
            if member != "config.json":
                return data
            config = json.loads(data)
            dense = config["config"]["layers"][-1]
            dense.update(module=None, class_name="MyLayer", registered_name="probe>MyLayer")
            return json.dumps(config).encode()

        rewrite_zip(path, t / "custom.tmp", change).replace(path)
    return path


def zip_bomb(t: Path, k, member: str, *, declared: int = 1 << 30) -> Path:
    """The fitted artifact with `member` deflated and its declared size raised to `declared` bytes.

    The headers are patched rather than a gigabyte compressed: the refusal
    must come from the declared sizes, before anything is inflated.
    """
    import struct
    import zipfile

    source, path = k.reg_fitted, t / "bomb.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            new.writestr(
                info.filename,
                old.read(info.filename),
                compress_type=zipfile.ZIP_DEFLATED if info.filename == member else zipfile.ZIP_STORED,
            )
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, declared)
            start += 4
    path.write_bytes(bytes(data))
    return path


def real_bomb(t: Path, k, megabytes: int = 64) -> Path:
    """The fitted artifact plus a member of `megabytes` MB of zeros, deflated to a few dozen KB."""
    import zipfile

    path = copy(k.reg_fitted, t / "bomb.keras")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("assets/zeros.bin", bytes(megabytes << 20), compress_type=zipfile.ZIP_DEFLATED)
    return path


def many_members(t: Path, k, count: int = 1500) -> Path:
    import zipfile

    path = copy(k.reg_fitted, t / "crowded.keras")
    with zipfile.ZipFile(path, "a") as archive:
        for i in range(count):
            archive.writestr(f"assets/{i}", b"")
    return path


def trailing_commas(path: Path, rows: int = 12, *, only_row: int | None = None) -> Path:
    """day,value with a trailing comma on every data row (or only on `only_row`, 1-based)."""
    lines = [f"{i},{i / 10:.1f}" + ("," if only_row in (None, i + 1) else "") for i in range(rows)]
    return write(path, "day,value\n" + "\n".join(lines) + "\n")


def npy_of(t: Path, array, name: str = "data.npy") -> Path:
    path = t / name
    np.save(path, array)
    return path


def npz_of(t: Path, **arrays) -> Path:
    path = t / "data.npz"
    np.savez(path, **arrays)
    return path


def fit_reg(t: Path, k, *extra, data: Path | None = None, model: str = "reg_compiled") -> list:
    return ["fit", art(t, k, model), "--data", data or reg_data(t), "--epochs", "1", "--verbose", "0", *extra]


ROUND_TWO = [
    # ------------------------------------------------------------ outputs vs inputs (3), and outputs vs each other (2)
    case(
        "fit-history-is-the-validation-data",
        lambda t, k: fit_reg(
            t, k, "--validation-data", series_csv(t / "v.csv"), "--history", t / "v.csv", "--out", t / "o.keras"
        ),
        r"--history \S*v\.csv is one of this step's inputs \(--validation-data\)",
    ),
    case(
        "fit-history-is-the-data",
        lambda t, k: fit_reg(t, k, "--history", t / "series.csv", "--out", t / "o.keras"),
        r"--history \S*series\.csv is one of this step's inputs \(--data\)",
    ),
    case(
        "fit-history-is-the-config",
        lambda t, k: fit_reg(
            t, k, "--config", config(t, "[fit]\nepochs = 1\n"), "--history", t / "lstmcli.toml", "--out", t / "o.keras"
        ),
        r"--history \S*lstmcli\.toml is one of this step's inputs \(--config\)",
    ),
    case(
        "predict-out-is-the-config",
        lambda t, k: predict_mc(
            t, k, mc_csv(t), "--config", config(t, "[predict]\nclasses = true\n"), "--out", t / "lstmcli.toml"
        ),
        r"--out \S*lstmcli\.toml is one of this step's inputs \(--config\)",
    ),
    case(
        "evaluate-out-is-the-config",
        lambda t, k: evaluate_mc(
            t, k, mc_csv(t), "--config", config(t, "[evaluate]\njson = true\n"), "--out", t / "lstmcli.toml"
        ),
        r"--out \S*lstmcli\.toml is one of this step's inputs \(--config\)",
    ),
    case(
        "define-out-is-the-config",
        lambda t, k: [
            "define",
            *DEFINE_OK,
            "--config",
            write(t / "cfg.keras", "[define]\nseed = 1\n"),
            "--out",
            t / "cfg.keras",
        ],
        r"--out \S*cfg\.keras is one of this step's inputs \(--config\)",
    ),
    case(
        "predict-out-is-a-hard-link-to-the-data",
        lambda t, k: predict_mc(t, k, mc_csv(t), "--out", hard_link(t / "samples.csv", t / "linked.csv")),
        r"--out \S*linked\.csv is one of this step's inputs \(--data\)",
    ),
    case(
        "fit-out-is-a-hard-link-to-the-model",
        lambda t, k: [
            "fit",
            art(t, k, "reg_compiled", "m.keras"),
            "--data",
            reg_data(t),
            "--out",
            hard_link(t / "m.keras", t / "n.keras"),
        ],
        r"--out \S*n\.keras is one of this step's inputs \(MODEL\)",
    ),
    case(
        "evaluate-out-is-a-symlink-to-the-data",
        lambda t, k: evaluate_mc(t, k, mc_csv(t), "--out", symlink(t / "samples.csv", t / "metrics.json")),
        r"--out \S*metrics\.json is one of this step's inputs \(--data\)",
    ),
    case(
        "fit-out-is-the-checkpoint",
        lambda t, k: fit_reg(t, k, "--checkpoint-dir", t / "ck", "--out", t / "ck" / "checkpoint.keras"),
        r"--out \S*checkpoint\.keras and --checkpoint-dir \S*ck would write the same file",
    ),
    case(
        "fit-checkpoint-would-overwrite-the-model",
        lambda t, k: [
            "fit",
            art(t, k, "reg_compiled", "ck/checkpoint.keras"),
            "--data",
            reg_data(t),
            "--checkpoint-dir",
            t / "ck",
            "--out",
            t / "o.keras",
        ],
        r"--checkpoint-dir \S*ck would overwrite \S*checkpoint\.keras, which is this step's input \(MODEL\)",
    ),
    case(
        "fit-history-is-the-out",
        lambda t, k: fit_reg(t, k, "--history", t / "o.keras", "--out", t / "o.keras"),
        r"--out \S*o\.keras and --history \S*o\.keras would write the same file",
    ),
    case(
        "fit-out-inside-the-tensorboard-logs",
        lambda t, k: fit_reg(t, k, "--tensorboard", t / "tb", "--out", t / "tb" / "train" / "o.keras"),
        r"--out \S*o\.keras and --tensorboard \S*tb would write the same file",
    ),
    case(
        "fit-tensorboard-is-an-existing-file",
        lambda t, k: fit_reg(t, k, "--tensorboard", t / "series.csv", "--out", t / "o.keras"),
        r"--tensorboard \S*series\.csv is a file, not a directory",
    ),
    case(
        "fit-checkpoint-dir-is-an-existing-file",
        lambda t, k: fit_reg(t, k, "--checkpoint-dir", write(t / "notes.txt", "x\n"), "--out", t / "o.keras"),
        r"--checkpoint-dir \S*notes\.txt is a file, not a directory",
    ),
    case(
        "export-out-holds-the-model-deeper-down",
        lambda t, k: [
            "export",
            copy(k.reg_fitted, t / "exp" / "sub" / "m.keras"),
            "--out",
            write(t / "exp" / "saved_model.pb", "an earlier export\n").parent,
        ],
        r"--out \S*exp would overwrite \S*m\.keras, this step's input \(MODEL\), which lies inside it",
    ),
    case(
        "fit-history-under-a-regular-file",
        lambda t, k: fit_reg(t, k, "--history", write(t / "notes.txt", "x\n") / "h.csv", "--out", t / "o.keras"),
        r"notes\.txt is a file, not a directory",
    ),
    # ------------------------------------------------------------ special files as inputs (5)
    case(
        "fit-model-is-a-fifo",
        lambda t, k: ["fit", fifo(t / "m.keras"), "--data", reg_data(t), "--out", t / "o.keras"],
        r"artifact \S*m\.keras is not a regular file",
    ),
    case(
        "predict-model-is-a-device",
        lambda t, k: ["predict", device(t / "m.keras"), "--data", reg_data(t)],
        r"artifact \S*m\.keras is not a regular file",
    ),
    case(
        "verify-model-is-a-fifo",
        lambda t, k: ["verify", fifo(t / "m.keras")],
        r"artifact \S*m\.keras is not a regular file",
    ),
    case(
        "fit-data-is-a-null-device",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=device(t / "null.csv")),
        r"null\.csv is empty",
    ),
    # ------------------------------------------------------------ rows and columns that shift silently (4, 16)
    case(
        "fit-trailing-comma-on-every-row",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=trailing_commas(t / "commas.csv")),
        r"commas\.csv, row 0 has 3 fields but the header names 2 columns",
    ),
    case(
        "fit-trailing-comma-on-one-later-row",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=trailing_commas(t / "commas.csv", only_row=7)),
        r"commas\.csv, row 6 has 3 fields but the header names 2 columns",
    ),
    case(
        "predict-trailing-comma-on-every-row",
        lambda t, k: ["predict", art(t, k, "reg_fitted"), "--data", trailing_commas(t / "commas.csv")],
        r"commas\.csv, row 0 has 3 fields but the header names 2 columns",
    ),
    case(
        "fit-duplicate-column-name",
        lambda t, k: fit_reg(
            t,
            k,
            "--out",
            t / "o.keras",
            data=write(t / "dup.csv", "day,value,value\n" + "".join(f"{i},{i},{-i}\n" for i in range(12))),
        ),
        r"dup\.csv has two columns named 'value'",
    ),
    case(
        "evaluate-duplicate-column-name",
        lambda t, k: evaluate_mc(
            t, k, write(t / "dup.csv", samples_csv(t / "s.csv").read_text().replace("x1", "x0", 1))
        ),
        r"dup\.csv has two columns named 'x0'",
    ),
    case(
        "fit-complex-npy",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=npy_of(t, np.arange(12) * (1 + 1j))),
        r"data\.npy holds complex numbers",
    ),
    case(
        "fit-complex-npz-column",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=npz_of(t, value=np.arange(12) * 1j)),
        r"data\.npz's value holds complex numbers",
    ),
    case(
        "fit-structured-npy",
        lambda t, k: fit_reg(
            t, k, "--out", t / "o.keras", data=npy_of(t, np.zeros(12, dtype=[("value", "f4"), ("w", "f4")]))
        ),
        r"data\.npy holds .* values; lstmcli reads arrays of numbers",
    ),
    case(
        "fit-datetime-npy",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras", data=npy_of(t, np.arange(12).astype("datetime64[D]"))),
        r"data\.npy holds datetime64\[D\] values",
    ),
    # ------------------------------------------------------------ records: edited, or against the schema (9)
    case(
        "fit-record-stage-edited",
        lambda t, k: [
            "evaluate",
            record_edit(t, k, "reg_compiled", setting("stage", "fitted"), redigest=False),
            "--data",
            reg_data(t),
        ],
        r"edited\.keras's lstmcli record was edited after lstmcli wrote it \(lstmcli\.json no longer matches its digest\)",
    ),
    case(
        "predict-record-task-edited",
        lambda t, k: [
            "predict",
            record_edit(t, k, "mc_fitted", setting("task", "regression"), redigest=False),
            "--data",
            mc_csv(t),
        ],
        r"lstmcli record was edited after lstmcli wrote it",
    ),
    case(
        "verify-record-digest-missing",
        lambda t, k: ["verify", without_member(k.reg_fitted, t / "nodigest.keras", "lstmcli.json.sha256")],
        r"nodigest\.keras's lstmcli record was edited after lstmcli wrote it \(lstmcli\.json has no digest\)",
    ),
    case(
        "evaluate-record-stage-fitted-over-compiled",
        lambda t, k: ["evaluate", record_edit(t, k, "reg_compiled", setting("stage", "fitted")), "--data", reg_data(t)],
        r"invalid lstmcli record: preprocessing is missing, but a fitted model needs it",
    ),
    case(
        "predict-record-task-changed",
        lambda t, k: ["predict", record_edit(t, k, "mc_fitted", setting("task", "binary")), "--data", mc_csv(t)],
        r"invalid lstmcli record: task 'binary' does not fit the model's output",
    ),
    case(
        "predict-record-regression-to-multiclass",
        lambda t, k: ["predict", record_edit(t, k, "reg_fitted", setting("task", "multiclass")), "--data", reg_data(t)],
        r"invalid lstmcli record: preprocessing\.classes must be a list",
    ),
    case(
        "verify-record-is-a-list",
        lambda t, k: ["verify", record_edit(t, k, "reg_fitted", lambda obj: Replace([]))],
        r"invalid lstmcli record: the record must be a JSON object, not a list",
    ),
    case(
        "compile-record-is-null",
        lambda t, k: ["compile", record_edit(t, k, "reg_defined", lambda obj: Replace(None)), "--out", t / "o.keras"],
        r"invalid lstmcli record: the record must be a JSON object, not null",
    ),
    case(
        "fit-record-unknown-data-spec-key",
        lambda t, k: [
            "fit",
            record_edit(t, k, "reg_compiled", spec_setting("colour", "red")),
            "--data",
            reg_data(t),
            "--out",
            t / "o.keras",
        ],
        r"invalid lstmcli record: data_spec\.colour is not a field lstmcli knows",
    ),
    case(
        "fit-record-unknown-top-level-key",
        lambda t, k: [
            "fit",
            record_edit(t, k, "reg_compiled", setting("owner", "me")),
            "--data",
            reg_data(t),
            "--out",
            t / "o.keras",
        ],
        r"invalid lstmcli record: owner is not a field lstmcli knows",
    ),
    case(
        "predict-record-string-for-timesteps",
        lambda t, k: [
            "predict",
            record_edit(t, k, "reg_fitted", spec_setting("timesteps", "2")),
            "--data",
            reg_data(t),
        ],
        r"invalid lstmcli record: data_spec\.timesteps must be a whole number, not a string \"2\"",
    ),
    case(
        "evaluate-record-string-for-units",
        lambda t, k: [
            "evaluate",
            record_edit(t, k, "reg_fitted", lambda o: o["architecture"].update(units="1")),
            "--data",
            reg_data(t),
        ],
        r"invalid lstmcli record: architecture\.units must be a whole number",
    ),
    case(
        "fit-record-string-for-seed",
        lambda t, k: [
            "fit",
            record_edit(t, k, "reg_compiled", setting("seed", "0")),
            "--data",
            reg_data(t),
            "--out",
            t / "o.keras",
        ],
        r"invalid lstmcli record: seed must be a whole number or null, not a string",
    ),
    case(
        "verify-record-string-for-format-version",
        lambda t, k: ["verify", record_edit(t, k, "reg_fitted", setting("format_version", "1"))],
        r"invalid lstmcli record: format_version must be a whole number",
    ),
    case(
        "evaluate-record-history-not-lists",
        lambda t, k: [
            "evaluate",
            record_edit(t, k, "reg_fitted", setting("history", {"loss": 3})),
            "--data",
            reg_data(t),
        ],
        r"invalid lstmcli record: history must be an object",
    ),
    case(
        "compile-record-stage-unknown",
        lambda t, k: ["compile", record_edit(t, k, "reg_defined", setting("stage", "trained")), "--out", t / "o.keras"],
        r"invalid lstmcli record: stage must be one of defined, compiled, fitted, not \"trained\"",
    ),
    case(
        "fit-record-compile-null-on-compiled",
        lambda t, k: [
            "fit",
            record_edit(t, k, "reg_compiled", setting("compile", None)),
            "--data",
            reg_data(t),
            "--out",
            t / "o.keras",
        ],
        r"invalid lstmcli record: compile is missing, but a compiled model needs it",
    ),
    case(
        "verify-record-layout-unknown",
        lambda t, k: ["verify", record_edit(t, k, "reg_fitted", spec_setting("layout", "grid"))],
        r"invalid lstmcli record: data_spec\.layout must be one of series, samples",
    ),
    case(
        "verify-record-data-spec-missing",
        lambda t, k: ["verify", record_edit(t, k, "reg_fitted", lambda o: o.pop("data_spec") and None)],
        r"invalid lstmcli record: data_spec is missing",
    ),
    # ------------------------------------------------------------ sizes: archives that would inflate (13)
    case(
        "verify-record-inflates-to-a-gigabyte",
        lambda t, k: ["verify", zip_bomb(t, k, "lstmcli.json")],
        r"bomb\.keras: lstmcli\.json declares 1,073,741,824 bytes",
    ),
    case(
        "verify-member-inflates-to-a-gigabyte",
        lambda t, k: ["verify", zip_bomb(t, k, "model.weights.h5")],
        r"bomb\.keras: model\.weights\.h5 would inflate from [\d,]+ to 1,073,741,824 bytes",
    ),
    case(
        "predict-config-inflates-to-a-gigabyte",
        lambda t, k: ["predict", zip_bomb(t, k, "config.json"), "--data", reg_data(t)],
        r"bomb\.keras: config\.json declares 1,073,741,824 bytes",
    ),
    case(
        "verify-extra-member-of-zeros",
        lambda t, k: ["verify", real_bomb(t, k)],
        r"bomb\.keras: assets/zeros\.bin would inflate from [\d,]+ to 67,108,864 bytes",
    ),
    case(
        "verify-thousands-of-members", lambda t, k: ["verify", many_members(t, k)], r"crowded\.keras holds 1505 members"
    ),
    # ------------------------------------------------------------ foreign models that adopt but cannot be used (10, 11)
    case(
        "compile-model-with-3d-output",
        lambda t, k: ["compile", foreign_model(t, "seq", sequences=True), "--out", t / "o.keras"],
        r"seq\.keras gives output of shape \(None, 2, 1\); lstmcli uses models with one \(batch, units\) output",
    ),
    case(
        "fit-model-with-3d-output",
        lambda t, k: ["fit", foreign_model(t, "seq", sequences=True), "--data", reg_data(t), "--out", t / "o.keras"],
        r"gives output of shape \(None, 2, 1\)",
    ),
    case(
        "compile-model-with-a-custom-layer",
        lambda t, k: ["compile", foreign_model(t, "custom_layer", custom=True), "--out", t / "o.keras"],
        r"custom_layer\.keras uses the custom class 'MyLayer', which is not part of Keras",
    ),
    # ------------------------------------------------------------ numbers out of what the libraries take (12)
    case(
        "define-seed-2-to-the-32",
        lambda t, k: define(t, *DEFINE_OK, "--seed", str(2**32)),
        r"--seed must be below 4294967296\. Received: '4294967296'",
    ),
    case(
        "define-seed-2-to-the-63",
        lambda t, k: define(t, *DEFINE_OK, "--seed", str(2**63)),
        r"--seed must be below 4294967296",
    ),
    case(
        "fit-seed-2-to-the-64",
        lambda t, k: fit_reg(t, k, "--seed", str(2**64), "--out", t / "o.keras"),
        r"--seed must be below 4294967296",
    ),
    case(
        "config-seed-2-to-the-40",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, f"[define]\nseed = {2**40}\n")),
        r"\[define\] seed must be below 4294967296",
    ),
    case(
        "fit-epochs-2-to-the-63",
        lambda t, k: fit_reg(t, k, "--epochs", str(2**63), "--out", t / "o.keras"),
        r"--epochs must be below 2147483648",
    ),
    case(
        "fit-batch-size-2-to-the-62",
        lambda t, k: fit_reg(t, k, "--batch-size", str(2**62), "--out", t / "o.keras"),
        r"--batch-size must be a positive number or 'all' \(below 2147483648\)",
    ),
    case(
        "define-out-name-too-long",
        lambda t, k: ["define", *DEFINE_OK, "--out", t / ("x" * 300 + ".keras")],
        r"file name too long \(use a shorter one\): .*xxxxxxxxxx",
    ),
    case(
        "fit-config-name-too-long",
        lambda t, k: fit_reg(t, k, "--config", t / ("y" * 300 + ".toml")),
        r"file name too long \(use a shorter one\): .*yyyyyyyyyy",
    ),
    case(
        "define-lstm-units-2-to-the-40",
        lambda t, k: define(t, "--features", "value", "--lstm", str(2**40)),
        r"--lstm must be below 2147483648\. Received: '1099511627776'",
    ),
    case(
        "define-timesteps-2-to-the-31",
        lambda t, k: define(t, *DEFINE_OK, "--timesteps", str(2**31)),
        r"--timesteps must be below 2147483648",
    ),
    # ------------------------------------------------------------ config lists hold names, not numbers (15)
    case(
        "config-integer-feature",
        lambda t, k: define(t, "--lstm", "2", "--config", config(t, "[define]\nfeatures = [0]\n")),
        r"\[define\] features holds names, so each item must be a string; write \"0\"\. Received: 0",
    ),
    case(
        "config-float-target",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, "[define]\ntarget = [1.5]\n")),
        r"\[define\] target holds names, so each item must be a string",
    ),
    case(
        "config-integer-metric",
        lambda t, k: compile_(t, k, "--config", config(t, '[compile]\nmetrics = ["mae", 3]\n')),
        r"\[compile\] metrics holds names",
    ),
    case(
        "config-integer-feature-on-fit",
        lambda t, k: fit_reg(t, k, "--config", config(t, "[fit]\nfeatures = [0]\n"), "--out", t / "o.keras"),
        r"\[fit\] features holds names",
    ),
]

CASES += ROUND_TWO

# ---------------------------------------------------------------- round three (issue 21: check everything before any work)


def run_config(t: Path, tables: str = "", *, fit: str = "", data: Path | None = None) -> Path:
    """A tiny run config: fit's data (by absolute path), `fit` lines inside [fit], then other `tables`."""
    data = data or reg_data(t)
    return write(
        t / "run.toml",
        "[define]\ntimesteps = 2\nfeatures = ['value']\nlstm = [2]\nseed = 0\n"
        f"[fit]\ndata = '{data}'\nepochs = 1\nbatch_size = 'all'\nverbose = '0'\nseed = 0\n{fit}\n{tables}",
    )


def run_(t: Path, k, cfg: Path, *extra) -> list:
    return ["run", "--config", cfg, "--workdir", t / "w", *extra]


def in_workdir(t: Path, name: str) -> Path:
    """A workdir holding a directory where run writes the file `name`."""
    a_directory(t / "w" / name)
    return t / "w"


def loop(t: Path) -> Path:
    """A symbolic link to itself: nothing under it resolves."""
    link = t / "loop"
    os.symlink("loop", link)
    return link


def dangling(t: Path) -> Path:
    link = t / "gone"
    os.symlink("nowhere", link)
    return link


ROUND_THREE = [
    # ------------------------------------------------------------ run: every step's options before any work (13)
    case(
        "run-evaluate-data-missing",
        lambda t, k: run_(t, k, run_config(t, "[evaluate]\ndata = 'missing.csv'\n")),
        r"data file .*missing\.csv does not exist",
    ),
    case(
        "run-evaluate-data-is-a-directory",
        lambda t, k: run_(t, k, run_config(t, f"[evaluate]\ndata = '{a_directory(t / 'adir')}'\n")),
        r"data file .*adir is a directory",
    ),
    case(
        "run-gate-on-a-metric-evaluate-does-not-report",
        lambda t, k: run_(t, k, run_config(t, "[evaluate]\nfail_if = ['accuracy<0.9']\n")),
        r"--fail-if 'accuracy<0\.9': evaluate reports no metric 'accuracy' for this model",
    ),
    case(
        "run-fitted-keras-is-a-directory",
        lambda t, k: (in_workdir(t, "fitted.keras"), run_(t, k, run_config(t)))[1],
        r"--workdir .*w holds a directory named fitted\.keras, where run writes a file",
    ),
    case(
        "run-predictions-csv-is-a-directory",
        lambda t, k: (in_workdir(t, "predictions.csv"), run_(t, k, run_config(t)))[1],
        r"holds a directory named predictions\.csv",
    ),
    case(
        "run-workdir-would-overwrite-its-data",
        lambda t, k: run_(t, k, run_config(t, data=series_csv(t / "w" / "predictions.csv"))),
        r"--workdir .*w would overwrite .*predictions\.csv, which is this step's input \(\[fit\] data\)",
    ),
    case(
        "run-history-is-its-data",
        lambda t, k: run_(t, k, run_config(t, fit="history = 'series.csv'")),
        r"--history .*series\.csv is one of this step's inputs",
    ),
    case(
        "run-monitor-not-logged",
        lambda t, k: run_(t, k, run_config(t, fit="monitor = 'val_mae'")),
        r"--monitor val_mae is not logged by this fit",
    ),
    case(
        "run-bad-cell-in-fit-data",
        lambda t, k: run_(t, k, run_config(t, data=series_csv_with_cell(t / "bad.csv", 4, "abc"))),
        r"bad\.csv, row 3, column 'value' holds 'abc', which is not a number",
    ),
    case(
        "run-unknown-optimizer",
        lambda t, k: run_(t, k, run_config(t, "[compile]\noptimizer = 'adamm'\n")),
        r"adamm",
    ),
    case(
        "run-categorical-loss-on-a-regression",
        lambda t, k: run_(t, k, run_config(t, "[compile]\nloss = 'categorical_crossentropy'\n")),
        r"categorical_crossentropy needs one output unit per class",
    ),
    case(
        "run-predict-steps-without-future",
        lambda t, k: run_(t, k, run_config(t, "[predict]\nsteps = 3\n")),
        r"--steps N is the length of a forecast past the end; give it with --future",
    ),
    case(
        "run-set-unknown-key",
        lambda t, k: run_(t, k, run_config(t), "--set", "fit.epoch=5"),
        r"--set fit\.epoch: \[fit\] has no option 'epoch' \(did you mean 'epochs'\?\)",
    ),
    # ------------------------------------------------------------ outputs that cannot be reached, before any work (8)
    case(
        "run-workdir-under-a-symlink-loop",
        lambda t, k: ["run", "--config", run_config(t), "--workdir", loop(t) / "w"],
        r"loop is a symbolic link loop",
    ),
    case(
        "fit-out-under-a-symlink-loop",
        lambda t, k: fit_reg(t, k, "--out", loop(t) / "fitted.keras"),
        r"cannot write .*fitted\.keras: .*loop is a symbolic link loop; fix the link or choose another --out",
    ),
    case(
        "fit-history-under-a-symlink-loop",
        lambda t, k: fit_reg(t, k, "--history", loop(t) / "h.csv", "--out", t / "o.keras"),
        r"loop is a symbolic link loop; fix the link or choose another --history",
    ),
    case(
        "evaluate-out-under-a-symlink-loop",
        lambda t, k: ["evaluate", art(t, k, "reg_fitted"), "--data", reg_data(t), "--out", loop(t) / "m.json"],
        r"loop is a symbolic link loop",
    ),
    case(
        "predict-out-under-a-dangling-link",
        lambda t, k: ["predict", art(t, k, "reg_fitted"), "--data", reg_data(t), "--out", dangling(t) / "p.csv"],
        r"gone is a symbolic link to nothing \(nowhere\)",
    ),
    case(
        "define-out-is-a-symlink-loop",
        lambda t, k: define(t, *DEFINE_OK)[:-2] + ["--out", loop(t)],
        r"loop is a symbolic link loop",
    ),
    case(
        "export-out-under-a-symlink-loop",
        lambda t, k: ["export", art(t, k, "reg_fitted"), "--out", loop(t) / "serving"],
        r"loop is a symbolic link loop",
    ),
    case(
        "compile-out-under-a-dangling-link",
        lambda t, k: compile_(t, k)[:-2] + ["--out", dangling(t) / "c.keras"],
        r"symbolic link to nothing",
    ),
]

CASES += ROUND_THREE


# ---------------------------------------------------------------- round three: the record's values and the rest (issue 21)


def nested(key: str, value):
    """An edit setting a dotted key of the record (`fit.naive_scale`)."""

    def edit(obj):
        *parents, last = key.split(".")
        table = obj
        for part in parents:
            table = table[part]
        table[last] = value

    return edit


def resealed_member(t: Path, k, name: str, member: str, data: bytes, as_name: str = "resealed.keras") -> Path:
    """A kit artifact with one member replaced, its hash in the record and the record's digest recomputed."""
    import hashlib

    swapped = rewrite_zip(getattr(k, name), t / "swapping.zip", lambda n, d: data if n == member else d)
    path = with_record(
        swapped, t / as_name, lambda obj: obj["members"].update({member: hashlib.sha256(data).hexdigest()})
    )
    swapped.unlink()
    return path


def keras_config_edit(t: Path, k, name: str, change) -> Path:
    """A kit artifact whose config.json's LSTM layer goes through `change(layer)`, resealed."""
    import json
    import zipfile

    with zipfile.ZipFile(getattr(k, name)) as archive:
        config = json.loads(archive.read("config.json"))
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "LSTM":
            change(layer)
    return resealed_member(t, k, name, "config.json", json.dumps(config).encode())


def get_file_activation(layer):
    layer["config"]["activation"] = {
        "module": "keras.utils",
        "class_name": "function",
        "config": "get_file",
        "registered_name": "function",
    }


def vocabulary_outside(layer):
    layer["class_name"] = "StringLookup"
    layer["config"] = {"vocabulary": "/etc/hostname", "name": "lookup"}


def other_weights(t: Path, k) -> Path:
    """reg_defined with the weights of an LSTM(3) model of the same input, resealed."""
    import zipfile

    other = t / "other" / "lstm3.keras"
    run_ok("define", "--lstm", "3", "--timesteps", "2", "--features", "value", "--seed", "0", "--out", other)
    with zipfile.ZipFile(other) as archive:
        weights = archive.read("model.weights.h5")
    other.unlink()
    other.parent.rmdir()
    return resealed_member(t, k, "reg_defined", "model.weights.h5", weights)


def external_weights(t: Path, k) -> Path:
    """reg_defined whose LSTM kernel is an HDF5 dataset stored in a file outside the archive, resealed."""
    import io
    import zipfile

    import h5py

    outside = write_bytes(t / "outside.bin", np.arange(8, dtype=np.float32).tobytes())
    with zipfile.ZipFile(k.reg_defined) as archive:
        original = io.BytesIO(archive.read("model.weights.h5"))
    rebuilt = io.BytesIO()
    with h5py.File(original, "r") as old, h5py.File(rebuilt, "w") as new:

        def copy(name, item):
            if isinstance(item, h5py.Group):
                new.require_group(name).attrs.update(dict(item.attrs))
            elif name.endswith("lstm/cell/vars/0"):
                new.create_dataset(name, shape=item.shape, dtype=item.dtype, external=[(str(outside), 0, 32)])
            else:
                new.create_dataset(name, data=item[()])

        new.attrs.update(dict(old.attrs))
        old.visititems(copy)
    return resealed_member(t, k, "reg_defined", "model.weights.h5", rebuilt.getvalue())


def downgraded(t: Path, k, name: str, version: int) -> Path:
    """The format lowered to one from before the digest, a field edited, and the digest deleted."""

    def edit(obj):
        obj["format_version"] = version
        obj["seed"] = 12345

    edited = with_record(getattr(k, name), t / "edited.zip", edit, redigest=False)
    path = without_member(edited, t / "downgraded.keras", "lstmcli.json.sha256")
    edited.unlink()
    return path


def parquet_of(t: Path, frame_of) -> Path:
    import pandas as pd

    path = t / "data.parquet"
    frame_of(pd).to_parquet(path)
    return path


def csv_with_header(t: Path, header: str) -> Path:
    return write(t / "data.csv", header + "\n" + "".join(f"{i / 10:.1f}\n" for i in range(12)))


def predict_reg(t: Path, k, *extra, model: str = "reg_fitted") -> list:
    return ["predict", art(t, k, model), "--data", reg_data(t), *extra]


def edited_reg(t: Path, k, key: str, value, name: str = "reg_fitted") -> Path:
    return record_edit(t, k, name, nested(key, value))


RECORD_INVALID = r"edited\.keras has an invalid lstmcli record: "
KEY = {"LSTMCLI_SIGNING_KEY": "a signing key of enough bytes"}

ROUND_THREE_RECORDS = [
    # ------------------------------------------------------------ hostile values in a resealed record (16)
    case(
        "predict-record-seed-2-to-the-70",
        lambda t, k: ["predict", edited_reg(t, k, "seed", 2**70), "--data", reg_data(t)],
        RECORD_INVALID + r"seed must be a whole number from 0 to 4,294,967,295, not 1180591620717411303424",
    ),
    case(
        "verify-record-seed-negative",
        lambda t, k: ["verify", edited_reg(t, k, "seed", -1)],
        RECORD_INVALID + r"seed must be a whole number from 0",
    ),
    case(
        "evaluate-record-history-of-strings",
        lambda t, k: ["evaluate", edited_reg(t, k, "history.loss", ["a", None, {}]), "--data", reg_data(t)],
        RECORD_INVALID + r"history\.loss must be a list of numbers .*not \"a\"",
    ),
    case(
        "plot-record-history-empty",
        lambda t, k: ["plot", edited_reg(t, k, "history", {}), "--out-dir", t / "plots"],
        RECORD_INVALID + r"history\.loss must hold the loss of each epoch fit ran",
    ),
    case(
        "inspect-record-history-lengths-differ",
        lambda t, k: ["inspect", edited_reg(t, k, "history", {"loss": [1.0, 2.0], "mae": [1.0]})],
        RECORD_INVALID + r"history must have one value per epoch in every list \(lengths differ\), not \[1, 2\]",
    ),
    case(
        "evaluate-record-naive-scale-a-string",
        lambda t, k: ["evaluate", edited_reg(t, k, "fit.naive_scale", "x"), "--data", reg_data(t)],
        RECORD_INVALID + r"fit\.naive_scale must be a list of finite numbers, not \"x\"",
    ),
    case(
        "predict-record-timesteps-negative",
        lambda t, k: ["predict", edited_reg(t, k, "data_spec.timesteps", -5), "--data", reg_data(t)],
        RECORD_INVALID + r"data_spec\.timesteps must be a whole number from 1 to 2,147,483,647, not -5",
    ),
    case(
        "predict-record-horizon-zero",
        lambda t, k: ["predict", edited_reg(t, k, "data_spec.horizon", 0), "--data", reg_data(t)],
        RECORD_INVALID + r"data_spec\.horizon must be a whole number from 1 .*not 0",
    ),
    case(
        "evaluate-record-n-features-zero",
        lambda t, k: ["evaluate", edited_reg(t, k, "data_spec.n_features", 0), "--data", reg_data(t)],
        RECORD_INVALID + r"data_spec\.n_features must be a whole number from 1",
    ),
    case(
        "verify-record-scale-zero",
        lambda t, k: ["verify", edited_reg(t, k, "preprocessing.inputs", {"offset": [0.5], "scale": [0.0]})],
        RECORD_INVALID + r"preprocessing\.inputs must have scales above 0",
    ),
    case(
        "predict-record-offset-nan",
        lambda t, k: [
            "predict",
            edited_reg(t, k, "preprocessing.targets", {"offset": [float("nan")], "scale": [1.0]}),
            "--data",
            reg_data(t),
        ],
        RECORD_INVALID + r"preprocessing\.targets must be a list of finite numbers",
    ),
    case(
        "predict-record-classes-twice",
        lambda t, k: [
            "predict",
            edited_reg(t, k, "preprocessing.classes", ["cat", "cat", "eel"], name="mc_fitted"),
            "--data",
            mc_csv(t),
        ],
        RECORD_INVALID + r"preprocessing\.classes names a class twice",
    ),
    case(
        "predict-record-context-null",
        lambda t, k: ["predict", edited_reg(t, k, "preprocessing.context", None), "--data", reg_data(t)],
        RECORD_INVALID + r"preprocessing\.context must not be null",
    ),
    case(
        "predict-record-calibration-residual-nan",
        lambda t, k: [
            "predict",
            edited_reg(
                t, k, "fit.calibration", {"method": "split conformal", "windows": 2, "residuals": [[0.1, float("nan")]]}
            ),
            "--data",
            reg_data(t),
            "--interval",
            "0.5",
        ],
        RECORD_INVALID + r"fit\.calibration must have residuals that are finite numbers",
    ),
    case(
        "evaluate-record-calibration-ragged",
        lambda t, k: [
            "evaluate",
            edited_reg(
                t, k, "fit.calibration", {"method": "split conformal", "windows": 3, "residuals": [[0.1, 0.2], [0.3]]}
            ),
            "--data",
            reg_data(t),
        ],
        RECORD_INVALID + r"fit\.calibration must have as many residuals in every column",
    ),
    case(
        "export-record-calibration-of-other-outputs",
        lambda t, k: [
            "export",
            edited_reg(
                t,
                k,
                "fit.calibration",
                {"method": "split conformal", "windows": 2, "residuals": [[0.1, 0.2], [0.3, 0.4]]},
            ),
            "--out",
            t / "serving",
        ],
        r"the model's record holds residuals for 2 outputs, but the model has 1; fit it again with lstmcli",
    ),
    case(
        "evaluate-record-transform-unknown",
        lambda t, k: ["evaluate", edited_reg(t, k, "data_spec.transforms", ["cube"]), "--data", reg_data(t)],
        RECORD_INVALID + r"data_spec\.transforms holds an unknown transform",
    ),
    case(
        "verify-record-lineage-entry-without-step",
        lambda t, k: ["verify", edited_reg(t, k, "lineage", [{"parent": {}}])],
        RECORD_INVALID + r"lineage must be a list of objects, each naming its step",
    ),
    case(
        "predict-record-features-more-than-the-shape",
        lambda t, k: ["predict", edited_reg(t, k, "data_spec.features", ["value", "other"]), "--data", reg_data(t)],
        RECORD_INVALID + r"data_spec\.features must name 1 columns, as the input shape says, not 2",
    ),
    # ------------------------------------------------------------ the digest's limits, the signature (5)
    case(
        "verify-record-downgraded-to-format-2-without-digest",
        lambda t, k: ["verify", downgraded(t, k, "reg_fitted", 2)],
        r"downgraded\.keras's lstmcli record claims format 2, which predates the record's digest",
    ),
    case(
        "predict-record-downgraded-to-format-1-without-digest",
        lambda t, k: ["predict", downgraded(t, k, "mc_fitted", 1), "--data", mc_csv(t)],
        r"claims format 1, which predates the record's digest",
    ),
    case(
        "verify-unsigned-with-a-signing-key",
        lambda t, k: ["verify", art(t, k, "reg_fitted")],
        r"reg_fitted\.keras is not signed, and LSTMCLI_SIGNING_KEY is set, so only signed artifacts are opened",
        env=KEY,
    ),
    case(
        "compile-unsigned-with-a-signing-key",
        lambda t, k: compile_(t, k),
        r"is not signed, and LSTMCLI_SIGNING_KEY is set",
        env=KEY,
    ),
    case(
        "inspect-signing-key-too-short",
        lambda t, k: ["inspect", art(t, k, "reg_fitted")],
        r"LSTMCLI_SIGNING_KEY holds 5 bytes; a signing key needs at least 16",
        env={"LSTMCLI_SIGNING_KEY": "short"},
    ),
    # ------------------------------------------------------------ Keras's refusals in lstmcli's words (4)
    case(
        "verify-config-get-file-activation",
        lambda t, k: ["verify", keras_config_edit(t, k, "reg_defined", get_file_activation)],
        r"resealed\.keras's model configuration calls keras\.utils\.get_file, which is not part of a model",
    ),
    case(
        "compile-config-vocabulary-outside-the-archive",
        lambda t, k: ["compile", keras_config_edit(t, k, "reg_defined", vocabulary_outside), "--out", t / "o.keras"],
        r"resealed\.keras's StringLookup layer reads a file outside the archive \(/etc/hostname\)",
    ),
    case(
        "verify-weights-of-another-architecture-resealed",
        lambda t, k: ["verify", other_weights(t, k)],
        r"resealed\.keras's weights do not fit its layers \(.*as from another model\); write it again",
    ),
    case(
        "verify-weights-reading-an-external-file",
        lambda t, k: ["verify", external_weights(t, k)],
        r"resealed\.keras's weights \(model\.weights\.h5\) read a file outside the archive \(.*outside\.bin\)",
    ),
    case(
        "compile-weights-not-hdf5-resealed",
        lambda t, k: [
            "compile",
            resealed_member(t, k, "reg_defined", "model.weights.h5", b"not an HDF5 file"),
            "--out",
            t / "o.keras",
        ],
        r"resealed\.keras's weights \(model\.weights\.h5\) are not a readable HDF5 file",
    ),
    # ------------------------------------------------------------ config values keep their types; environment (9)
    case(
        "config-string-for-epochs",
        lambda t, k: fit_reg(t, k, "--config", config(t, '[fit]\nepochs = "5"\n')),
        r"\[fit\] epochs must be a whole number\. Received: '5'",
    ),
    case(
        "config-float-for-lstm-units",
        lambda t, k: define(t, "--features", "value", "--config", config(t, "[define]\nlstm = [1e3]\n")),
        r"\[define\] lstm must be a list of whole numbers \(write 1000\)\. Received: 1000\.0",
    ),
    case(
        "config-string-for-batch-size",
        lambda t, k: fit_reg(t, k, "--config", config(t, '[fit]\nbatch_size = "32"\n')),
        r"\[fit\] batch_size must be a whole number or 'all'\. Received: '32'",
    ),
    case(
        "config-string-for-dropout",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, '[define]\ndropout = "0.1"\n')),
        r"\[define\] dropout must be a number\. Received: '0\.1'",
    ),
    case(
        "config-float-for-seed",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, "[define]\nseed = 7.0\n")),
        r"\[define\] seed must be a whole number \(write 7\)",
    ),
    case(
        "config-number-for-layout",
        lambda t, k: define(t, *DEFINE_OK, "--config", config(t, "[define]\nlayout = 3\n")),
        r"\[define\] layout must be one of series, samples\. Received: '3'",
    ),
    case(
        "fit-smoke-environment-off",
        lambda t, k: fit_reg(t, k, "--out", t / "o.keras"),
        r"LSTMCLI_SMOKE='off' is neither on \(1, true, yes\) nor off",
        env={"LSTMCLI_SMOKE": "off"},
    ),
    case(
        "completion-instruction-garbage",
        lambda t, k: [],
        r"_LSTMCLI_COMPLETE='garbage' is not a completion instruction",
        env={"_LSTMCLI_COMPLETE": "garbage"},
    ),
    case(
        "fit-tf-config-with-a-ps-task",
        lambda t, k: fit_reg(t, k, "--strategy", "multi-worker", "--out", t / "o.keras"),
        r"TF_CONFIG names a 'ps' job; --strategy multi-worker runs chief and worker tasks only",
        env={
            "TF_CONFIG": '{"cluster": {"worker": ["localhost:1"], "ps": ["localhost:2"]}, '
            '"task": {"type": "ps", "index": 0}}'
        },
    ),
    # ------------------------------------------------------------ sizes refused up front (4)
    case(
        "define-lstm-40000-units",
        lambda t, k: define(t, "--features", "value", "--lstm", "40000"),
        r"the layers \(lstm:40000\) make a model of 6,400,360,001 parameters \(25\.6 GB",
    ),
    case(
        "define-lstm-ten-million-units",
        lambda t, k: define(t, "--features", "value", "--lstm", str(10**7)),
        r"make a model of .* parameters .*lstmcli builds models of up to 200,000,000",
    ),
    case(
        "define-dense-hundred-million-units",
        lambda t, k: define(t, "--features", "value", "--layers", "lstm:2,dense:100000000"),
        r"the layers \(lstm:2, dense:100000000\) make a model of",
    ),
    case(
        "predict-future-steps-2-to-the-31",
        lambda t, k: predict_reg(t, k, "--future", "--steps", str(2**31 - 1)),
        r"--steps must be below 100001",
    ),
    # ------------------------------------------------------------ file text echoed inert (3)
    case(
        "predict-escape-sequence-in-a-header",
        lambda t, k: ["predict", art(t, k, "reg_fitted"), "--data", csv_with_header(t, "val\x1b[2Jue")],
        r"did you mean 'val\\x1b\[2Jue'\?; its columns are: val\\x1b\[2Jue$",
    ),
    case(
        "evaluate-terminal-title-in-a-header",
        lambda t, k: ["evaluate", art(t, k, "reg_fitted"), "--data", csv_with_header(t, "x,\x1b]0;pwned\x07")],
        r"its columns are: x, \\x1b\]0;pwned\\x07",
    ),
    case(
        "predict-bidi-override-in-a-header",
        lambda t, k: ["predict", art(t, k, "reg_fitted"), "--data", csv_with_header(t, "valu\u202ee")],
        r"its columns are: valu\\u202ee$",
    ),
    # ------------------------------------------------------------ smaller holes (5)
    case(
        "predict-parquet-datetime-feature",
        lambda t, k: [
            "predict",
            art(t, k, "reg_fitted"),
            "--data",
            parquet_of(t, lambda pd: pd.DataFrame({"value": pd.date_range("2020-01-01", periods=12)})),
        ],
        r"data\.parquet, column 'value' holds dates or times \(datetime64\[.*\]\), not numbers",
    ),
    case(
        "evaluate-parquet-nested-list-column",
        lambda t, k: [
            "evaluate",
            art(t, k, "reg_fitted"),
            "--data",
            parquet_of(t, lambda pd: pd.DataFrame({"value": [[1.0, 2.0]] * 12})),
        ],
        r"data\.parquet, row 1, column 'value' holds a list \(a nested value\), not a number",
    ),
    case(
        "predict-parquet-timedelta-feature",
        lambda t, k: [
            "predict",
            art(t, k, "reg_fitted"),
            "--data",
            parquet_of(t, lambda pd: pd.DataFrame({"value": pd.to_timedelta(range(12), unit="s")})),
        ],
        r"column 'value' holds dates or times",
    ),
    case(
        "predict-classes-on-a-regression-model",
        lambda t, k: predict_reg(t, k, "--classes"),
        r"--classes writes a classifier's labels without their probabilities; .* is a regression model",
    ),
    case(
        "compile-metric-log-cosh",
        lambda t, k: compile_(t, k, "--metrics", "log_cosh"),
        r"unknown metric 'log_cosh' \(Keras has a 'log_cosh', but does not compile it as a metric by that name\) "
        r"\(did you mean 'log_cosh_error'\?\)",
    ),
]

CASES += ROUND_THREE_RECORDS


def test_the_corpus_is_broad():
    """At least 45 distinct cases, touching all five commands and the config loader."""
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)) >= 45
    assert len(ROUND_TWO) >= 40  # issue 12: the corpus grew by at least 40 cases of the classes it found
    assert len(ROUND_THREE) >= 12  # issue 21: run, export and outputs checked before any work
    assert len(ROUND_THREE_RECORDS) >= 40  # issue 21: the record's values and the other classes it found
    assert len(ROUND_THREE) + len(ROUND_THREE_RECORDS) >= 60  # issue 21: at least 60 new cases in all
    prefixes = {i.split("-")[0] for i in ids}
    assert {"define", "compile", "fit", "evaluate", "predict", "config"} <= prefixes


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_refused_cleanly(bad: Case, tmp_path, kit, monkeypatch):
    for name, value in bad.env:
        monkeypatch.setenv(name, value)
    argv = bad.build(tmp_path, kit)
    before, kit_before = snapshot(tmp_path), snapshot(kit.root)

    run = invoke(argv)

    assert run.exception is None or isinstance(run.exception, SystemExit), run
    assert run.exit_code == bad.code, run
    assert "Traceback" not in run.stderr + run.stdout, run
    assert run.stdout == "", run
    message = refusal_message(run.stderr, bad.usage)
    assert message is not None, f"stderr is not one {'usage error' if bad.usage else 'error line'}: {run!r}"
    assert re.search(bad.expect, message), f"{bad.expect!r} not in {message!r}"
    after = snapshot(tmp_path)
    assert sorted(set(after) - set(before)) == [], "the refused step left files behind"
    assert after == before, "the refused step changed or removed an input"
    assert snapshot(kit.root) == kit_before


@pytest.mark.parametrize("bomb", ["record", "member", "zeros"])
def test_verify_of_a_decompression_bomb_peaks_under_200_mb_above_baseline(bomb, tmp_path, kit):
    """Issue 12 (13): verify of a 1 MB archive whose record inflates to 1 GB peaked at 2.1 GB RSS.

    Measured in a fresh process (the peak RSS of this one is TensorFlow's):
    the baseline is its peak after importing lstmcli, the figure its peak after verify.
    """
    import json
    import subprocess
    import sys

    path = {
        "record": lambda: zip_bomb(tmp_path, kit, "lstmcli.json"),
        "member": lambda: zip_bomb(tmp_path, kit, "model.weights.h5"),
        "zeros": lambda: real_bomb(tmp_path, kit),
    }[bomb]()
    script = (
        "import json, resource, sys\n"
        "from lstmcli.cli import main\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    main(['verify', sys.argv[1]])\nexcept SystemExit as exit:\n    code = exit.code\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({'code': code, 'grew_mb': (peak - base) / 1024}), file=sys.__stdout__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 2, proc.stderr
    assert re.search(r"(inflate|declares) .*refused unread", proc.stderr), proc.stderr
    assert result["grew_mb"] < 200, result
