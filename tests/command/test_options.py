"""Options are declared once (the fields of each step's options class) and everything else derives
from them: the flags and their help, the config keys, completion, --print-config, -q and -v, the
checkpoint fingerprint, the input/output lists, and the one-line usage errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer

from lstmcli import options
from lstmcli.cli import app
from lstmcli.errors import ConfigError
from lstmcli.steps.options import BY_COMMAND, for_command

REPO = Path(__file__).resolve().parents[2]
COMMON = {"model", "config", "print_config", "quiet", "detail", "debug"}  # bridge._common: not options of a step


def commands() -> dict:
    group = typer.main.get_command(app)
    return {name: group.get_command(None, name) for name in group.list_commands(None)}


def test_every_command_takes_exactly_its_table_options_with_the_tables_help():
    built = commands()
    server = built.pop("server")  # `lstmcli server start|stop|status` manages the warm server; it is no step
    assert sorted(server.list_commands(None)) == ["start", "status", "stop"]
    assert set(built) == set(BY_COMMAND)
    for name, command in built.items():
        table = {o.name: o for o in options.visible(BY_COMMAND[name])}
        params = {p.name: p for p in command.params if p.name in table or p.name not in COMMON}
        assert list(params) == list(table), name
        for option in table.values():
            param = params[option.name]
            assert option.flag in param.opts, (name, option.name)
            assert param.help == option.describe()
            assert param.required == option.required
        assert ({"config", "print_config"} <= {p.name for p in command.params}) == (name in options.CONFIG_TABLES)


def test_every_command_has_help_text_and_a_readme_mention():
    readme = (REPO / "README.md").read_text()
    for name, command in commands().items():
        assert command.help and len(command.help.split()) >= 5, name
        assert f"lstmcli {name}" in readme, name
        for param in command.params:
            assert param.help or param.name == "model" and command.params[0] is param, (name, param.name)


def test_a_config_accepts_every_option_of_a_step_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a printed config's paths are relative to the current folder
    for step in options.CONFIG_TABLES:
        every = {o.name: _example(o) for o in options.visible(BY_COMMAND[step])}
        config = tmp_path / f"{step}.toml"
        config.write_text(options.to_toml(step, for_command(step, every, None)))
        printed = tomllib.loads(config.read_text())[step]
        assert list(printed) == [o.name for o in options.visible(BY_COMMAND[step])]  # every key, in the fields' order
        assert _absolute(for_command(step, {}, config)) == _absolute(for_command(step, every, None)) | {
            "config": config
        }
        config.write_text(f"[{step}]\nno_such_key = 1\n")
        with pytest.raises(ConfigError, match="has no option 'no_such_key'"):
            for_command(step, {}, config)


def _absolute(resolved) -> dict:
    return {k: v.resolve() if isinstance(v, Path) and k != "config" else v for k, v in resolved.to_dict().items()}


def _example(option: options.Option):
    """A legal value for every kind, so that every key is printed."""
    return {
        "int": max(int(option.low or 1), 2),
        "float": 0.5 if option.high else 2.5,
        "bool": True,
        "path": Path("some.file"),
        "ints": ["3", "2"],
        "floats": ["0.9", "0.5"],
        "strs": ["a", "b"],
        "batch": "all",
        "rows": "2:5",
    }.get(option.kind, option.choices[-1] if option.choices else "text")


def test_help_shows_choices_ranges_and_defaults(cli):
    define = cli("define", "--help").stdout
    assert "--task [regression|binary|multiclass]" in define
    assert "[default: 0.0; 0.0<=x<1.0]" in " ".join(define.split())  # --dropout
    fit = " ".join(cli("fit", "--help").stdout.split())
    assert "--verbose [auto|0|1|2]" in fit and "--scaling [none|minmax|standard]" in fit
    assert "[default: 1; x>=1]" in fit  # --epochs
    assert "--shuffle / --no-shuffle" in fit and "[default: shuffle]" in fit


# ---------------------------------------------------------------- usage errors


USAGE_ERRORS = [
    (["fit", "m.keras", "--epoch", "3"], r"no such option --epoch; did you mean --epochs\?"),
    (["fit"], r"missing argument MODEL; see 'lstmcli fit --help'"),
    (["fit", "m.keras", "--epochs", "x"], r"--epochs must be a whole number\. Received: 'x'"),
    (["fit", "m.keras", "--shuffle=maybe"], r"option --shuffle does not take a value.*"),
    (["fit", "m.keras", "--lr", "0.1"], r"no such option --lr; see 'lstmcli fit --help'"),
    (["-q", "fit"], r"no such option -q; a command's options go after its name: lstmcli COMMAND -q …"),
    (["fit", "m.keras", "--epochs"], r"option --epochs requires an argument"),
    (["fit", "m.keras", "--verbose", "3"], r"--verbose must be one of auto, 0, 1, 2\. Received: '3'"),
    (
        ["define", "--task", "regresion"],
        r"--task must be one of regression, binary, multiclass \(did you mean 'regression'\?\)\. Received: 'regresion'",
    ),
    (
        ["predict", "a.keras", "b.keras"],
        r"got unexpected extra argument\(s\) \(b.keras\); see 'lstmcli predict --help'",
    ),
    (["fitt"], r"no such command 'fitt'; did you mean 'fit'\?"),
    (["plot", "m.keras"], r"missing option --out-dir; see 'lstmcli plot --help'"),
    (["fit", "m.keras", "-q", "-v"], r"-q asks for errors only and -v for more; give one of them"),
    (
        ["predict", "m.keras", "--interval", "80"],
        r"--interval must be below 1\.0 \(write 0\.8 for 80%\)\. Received: '80'",
    ),
    (["evaluate", "m.keras", "--interval", "0.8,0"], r"--interval must be above 0\.0\. Received: '0'"),
    (["export", "m.keras", "--interval", "x"], r"--interval must be a number\. Received: 'x'"),
]


@pytest.mark.parametrize("argv, message", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_every_usage_error_is_one_line_and_exit_2_without_importing_tensorflow(argv, message, tmp_path):
    probe = (
        "import sys\n"
        "from lstmcli.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "finally:\n"
        "    print('HEAVY', [m for m in ('tensorflow', 'keras', 'pandas') if m in sys.modules], file=sys.stdout)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=_env())
    assert proc.returncode == 2, proc
    assert re.fullmatch(r"error: " + message + r"\n", proc.stderr), proc.stderr
    assert proc.stdout == "HEAVY []\n"


def _env(**more) -> dict:
    return {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO / "src"), **more}


# ---------------------------------------------------------------- completion


def _complete(words: str, cwd: Path) -> list[str]:
    """What `lstmcli`'s completion answers bash for the words typed so far (the last one partial)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = _env(_LSTMCLI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lstmcli"], capture_output=True, text=True, cwd=cwd, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not imported & {"tensorflow", "keras", "pandas"}, "completion imported a heavy library"
    return proc.stdout.split()


def test_completion_offers_commands_options_and_choices_and_leaves_file_names_to_the_shell(tmp_path):
    (tmp_path / "my model.keras").write_text("")
    assert _complete("lstmcli fi", tmp_path) == ["fit"]
    assert "--epochs" in _complete("lstmcli fit a.keras --ep", tmp_path)
    assert _complete("lstmcli define --task ", tmp_path) == ["regression", "binary", "multiclass"]
    assert _complete("lstmcli fit --verbose ", tmp_path) == ["auto", "0", "1", "2"]
    for words in ("lstmcli fit ", "lstmcli fit my", "lstmcli fit a.keras --data ", "lstmcli fit a.keras --config "):
        assert _complete(words, tmp_path) == [], words  # empty: bash's own file-name completion (-o default)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_show_completion_prints_completes_in_bash(tmp_path):
    """Source the script as a user's shell does and call its function with bash's COMP_WORDS."""
    script = subprocess.run(
        [sys.executable, "-m", "lstmcli", "--show-completion", "bash"], capture_output=True, text=True, env=_env()
    )
    assert script.returncode == 0 and "complete -o default -F" in script.stdout, script
    (tmp_path / "bin").mkdir()
    shim = tmp_path / "bin" / "lstmcli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lstmcli "$@"\n')
    shim.chmod(0o755)
    session = script.stdout + (
        '\nCOMP_WORDS=(lstmcli evaluate mod --fa); COMP_CWORD=3; _lstmcli_completion lstmcli; echo "${COMPREPLY[@]}"'
        '\nCOMP_WORDS=(lstmcli predict mod --strategy m); COMP_CWORD=4; _lstmcli_completion lstmcli; echo "${COMPREPLY[@]}"'
        '\nCOMP_WORDS=(lstmcli evaluate mod); COMP_CWORD=2; _lstmcli_completion lstmcli; echo "${#COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "--norc", "-c", session],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}"),
    )
    assert proc.stdout.splitlines() == ["--fail-if", "mirrored", "0"], proc  # 0 replies: bash completes the file name


COMPLETION_MARKS = {
    "bash": "complete -o default -F",
    "zsh": "#compdef lstmcli",
    "fish": "complete --command lstmcli",
    "powershell": "Register-ArgumentCompleter",
}


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
@pytest.mark.parametrize("shell", COMPLETION_MARKS)
def test_show_completion_prints_the_named_shells_script_from_any_shell(shell):
    """Run from dash (a Makefile's or Dockerfile's /bin/sh), the shell named is the one printed."""
    proc = subprocess.run(
        ["dash", "-c", f'"{sys.executable}" -m lstmcli --show-completion {shell}'],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert proc.returncode == 0 and proc.stderr == "", proc
    assert [name for name, mark in COMPLETION_MARKS.items() if mark in proc.stdout] == [shell]


@pytest.mark.skipif(shutil.which("dash") is None, reason="needs dash")
def test_show_completion_without_a_shell_under_dash_says_to_name_one():
    proc = subprocess.run(
        ["dash", "-c", f'"{sys.executable}" -m lstmcli --show-completion'], capture_output=True, text=True, env=_env()
    )
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert proc.stderr == (
        "error: completion is for bash, zsh, fish and powershell; the shell running lstmcli is 'dash': "
        "name one, as in 'lstmcli --show-completion bash'\n"
    )


# ---------------------------------------------------------------- --print-config, -q, -v


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("options")
    pd.DataFrame({"y": np.sin(np.arange(60) / 4)}).to_csv(root / "wave.csv", index=False)
    return root


def test_print_config_replays_to_identical_weights(cli, compiled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(compiled / "wave.csv", "wave.csv")
    define = ["define", "--features", "y", "--timesteps", "4", "--lstm", "3", "--seed", "5", "--out", "d.keras"]
    printed = cli(*define, "--print-config")
    assert printed.exit_code == 0 and not Path("d.keras").exists(), printed
    Path("define.toml").write_text(printed.stdout)
    assert cli("define", "--config", "define.toml").exit_code == 0
    assert cli("compile", "d.keras", "--out", "c.keras", "-q").exit_code == 0
    fit = [
        "fit",
        "c.keras",
        "--data",
        "wave.csv",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--seed",
        "2",
        "--validation-split",
        "0.2",
    ]
    printed = cli(*fit, "--out", "a.keras", "--print-config")
    assert printed.exit_code == 0 and not Path("a.keras").exists(), printed
    table = tomllib.loads(printed.stdout)["fit"]
    assert (
        table["data"] == "wave.csv" and table["epochs"] == 3 and table["batch_size"] == 8 and table["out"] == "a.keras"
    )
    Path("fit.toml").write_text(printed.stdout)
    assert cli("fit", "c.keras", "--config", "fit.toml", "-q").exit_code == 0
    assert cli(*fit, "--out", "b.keras", "-q").exit_code == 0
    assert _weights("a.keras") and all(np.array_equal(x, y) for x, y in zip(_weights("a.keras"), _weights("b.keras")))


def test_print_config_shows_flags_over_the_config_over_defaults(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("base.toml").write_text('[fit]\nepochs = 50\nbatch_size = "all"\ndata = "in/data.csv"\n')
    printed = cli("fit", "m.keras", "--config", "base.toml", "--epochs", "7", "--print-config")
    table = tomllib.loads(printed.stdout)["fit"]
    assert (table["epochs"], table["batch_size"], table["data"], table["shuffle"]) == (7, "all", "in/data.csv", True)
    assert isinstance(table["seed"], int) and table["scaling"] == "standard"  # drawn and derived, so a replay is pinned


def test_print_config_pins_every_default_and_the_drawn_seed_so_a_replay_is_exact(cli, compiled, tmp_path, monkeypatch):
    """No --seed: the printed table carries the seed drawn and the defaults; two replays are one run."""
    from lstmcli.model.artifact import read_record

    monkeypatch.chdir(tmp_path)
    shutil.copy(compiled / "wave.csv", "wave.csv")
    printed = cli("define", "--features", "y", "--out", "d.keras", "--print-config")
    table = tomllib.loads(printed.stdout)["define"]
    assert {k: table[k] for k in ("timesteps", "lstm", "output_units", "output_activation")} == {
        "timesteps": 1,
        "lstm": [32],
        "output_units": 1,
        "output_activation": "linear",
    }
    Path("all.toml").write_text(printed.stdout)
    assert cli("define", "--config", "all.toml", "-q").exit_code == 0
    assert read_record("d.keras").seed == table["seed"]
    printed = cli("compile", "d.keras", "--out", "c.keras", "--print-config")
    assert tomllib.loads(printed.stdout)["compile"]["loss"] == "mean_squared_error"
    with open("all.toml", "a") as config:
        config.write(printed.stdout)
    assert cli("compile", "d.keras", "--config", "all.toml", "-q").exit_code == 0
    fit = ["fit", "c.keras", "--data", "wave.csv", "--epochs", "2", "--validation-split", "0.2", "--out", "a.keras"]
    printed = cli(*fit, "--print-config")
    table = tomllib.loads(printed.stdout)["fit"]
    assert table["scaling"] == "standard" and table["seed"] == read_record("d.keras").seed  # the artifact's seed
    with open("all.toml", "a") as config:
        config.write(printed.stdout)
    assert cli("fit", "c.keras", "--config", "all.toml", "-q").exit_code == 0
    assert cli("fit", "c.keras", "--config", "all.toml", "--out", "b.keras", "-q").exit_code == 0
    assert all(np.array_equal(x, y) for x, y in zip(_weights("a.keras"), _weights("b.keras")))
    a, b = read_record("a.keras"), read_record("b.keras")
    assert (a.seed, a.history, a.preprocessing) == (b.seed, b.history, b.preprocessing)


def test_v_prints_the_seed_it_draws_and_fits_with_it(cli, compiled, tmp_path, monkeypatch):
    from lstmcli.model.artifact import read_record

    monkeypatch.chdir(tmp_path)
    assert cli("define", "--features", "y", "--timesteps", "2", "--lstm", "2", "--out", "d.keras", "-q").exit_code == 0
    assert cli("compile", "d.keras", "--out", "c.keras", "-q").exit_code == 0
    loud = cli("fit", "c.keras", "--data", compiled / "wave.csv", "--out", "f.keras", "-v")
    assert loud.exit_code == 0, loud
    seed = int(re.search(r"^seed = (\d+)$", loud.stderr, re.M).group(1))
    assert read_record("f.keras").seed == seed


def _weights(path: str) -> list:
    import keras

    return keras.saving.load_model(path, compile=False).get_weights()


def test_quiet_prints_only_errors_and_v_adds_settings_epochs_and_time(cli, compiled, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    quiet = cli("define", "--features", "y", "--timesteps", "2", "--lstm", "2", "--out", "d.keras", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet
    assert cli("compile", "d.keras", "--out", "c.keras", "--quiet").stderr == ""
    data = compiled / "wave.csv"
    fit = cli("fit", "c.keras", "--data", data, "--epochs", "2", "--verbose", "2", "--out", "f.keras", "-q")
    assert fit.exit_code == 0 and fit.stderr == "", fit
    failed = cli("evaluate", "f.keras", "--data", tmp_path / "missing.csv", "-q")
    assert failed.exit_code == 2 and failed.stderr.startswith("error: ") and len(failed.stderr.splitlines()) == 1
    loud = cli("fit", "c.keras", "--data", data, "--epochs", "2", "--out", "g.keras", "-v")
    assert loud.exit_code == 0, loud
    assert (
        "[fit]" in loud.stderr and "epochs = 2" in loud.stderr and re.search(r"fit: done in \d+\.\d\d s", loud.stderr)
    )
    assert re.search(r"^Epoch 2/2$", loud.stderr, re.M), loud.stderr


def test_a_flag_is_checked_like_a_config_value(cli, tmp_path):
    flag = cli("fit", "m.keras", "--epochs", "x")
    assert flag.exit_code == 2 and flag.stderr == "error: --epochs must be a whole number. Received: 'x'\n"
    assert cli("fit", "m.keras", "--data", "").stderr == "error: --data must be a file path. Received: ''\n"
    config = tmp_path / "c.toml"
    config.write_text('[fit]\nepochs = "x"\n')
    assert (
        cli("fit", "m.keras", "--config", config).stderr
        == f"error: {config}: [fit] epochs must be a whole number. Received: 'x'\n"
    )


def test_a_config_read_from_a_pipe_resolves_paths_against_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    read, write = os.pipe()
    os.write(write, b'[fit]\ndata = "wave.csv"\n')
    os.close(write)
    try:
        resolved = for_command("fit", {}, Path(f"/dev/fd/{read}"))
        again = for_command("fit", {}, Path(f"/dev/fd/{read}"))  # read once: `run` resolves every step
    finally:
        os.close(read)
    assert resolved.data == again.data == tmp_path / "wave.csv"


def test_run_reads_its_config_from_a_pipe(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("seq.csv").write_text("value\n" + "\n".join(str(i / 10) for i in range(10)) + "\n")
    read, write = os.pipe()
    os.write(write, (REPO / "configs" / "sequence.toml").read_bytes().replace(b"../data/sequence.csv", b"seq.csv"))
    os.close(write)
    try:
        run = cli("run", "--config", f"/dev/fd/{read}", "--workdir", "w", "--smoke", "-q")
    finally:
        os.close(read)
    assert run.exit_code == 0 and sorted(p.name for p in Path("w").iterdir())[:2] == [
        "compiled.keras",
        "defined.keras",
    ], run


def test_backtest_help_speaks_of_folds_and_keeps_fits_config_keys(cli, tmp_path):
    text = " ".join(cli("backtest", "--help").stdout.split())
    assert "Epochs each fold trains." in text and "learned inside each fold from its training rows" in text
    assert "on a fitted model" not in text and "recorded in the artifact" not in text
    config = tmp_path / "b.toml"
    config.write_text('[backtest]\nsmoke = true\nstrategy = "default"\ntimeout = 30.0\n')
    printed = tomllib.loads(cli("backtest", "m.keras", "--config", config, "--print-config").stdout)["backtest"]
    assert (printed["smoke"], printed["strategy"], printed["timeout"]) == (True, "default", 30.0)
