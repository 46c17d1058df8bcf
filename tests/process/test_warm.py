"""The warm server: a command run by a fork of `lstmcli server` is the command a cold process runs.

One server for the module, in a private XDG_RUNTIME_DIR of its own (so no other
server of this user is touched). Each warm call checks that the server served it;
each compares its exit code and the bytes of stdout and stderr with a cold run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, sequence_csv

from lstmcli.warm import client, protocol

CONFIG = REPO / "configs" / "sequence.toml"
pytestmark = pytest.mark.slow


def environment(runtime: Path, **extra) -> dict:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb", "XDG_RUNTIME_DIR": str(runtime)}
    env.pop(protocol.MODE_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    return {**env, **extra}


def start_server(runtime: Path, *, foreground: bool = False):
    runtime.mkdir(mode=0o700, exist_ok=True)
    command = [sys.executable, "-m", "lstmcli", "server", "start", "--idle", "900"]
    if foreground:
        return subprocess.Popen([*command, "--foreground"], env=environment(runtime), stderr=subprocess.DEVNULL)
    done = subprocess.run(command, env=environment(runtime), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("started: pid "), done.stderr


def served(runtime: Path) -> int:
    return client.query("status", runtime / "lstmcli")["served"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("runtime")
    runtime.chmod(0o700)
    start_server(runtime)
    yield runtime
    subprocess.run([sys.executable, "-m", "lstmcli", "server", "stop"], env=environment(runtime), timeout=120)


def lstmcli(runtime: Path, *args, warm: bool, cwd: Path, stdin=None, **extra) -> subprocess.CompletedProcess:
    env = environment(runtime, **{protocol.MODE_ENV: "on" if warm else "off"}, **extra)
    with open(stdin) if stdin else open(os.devnull) as given:
        return subprocess.run(
            [sys.executable, "-m", "lstmcli", *map(str, args)], cwd=cwd, env=env, capture_output=True, stdin=given
        )


TIMES = re.compile(rb"\d+(\.\d+)? ?(ms|s)\b")


def both(runtime: Path, args, cwd_warm: Path, cwd_cold: Path, *, mask=False, stdin=None):
    """The same command warm and cold: asserts the server ran the warm one; returns both outcomes."""
    before = served(runtime)
    warm = lstmcli(runtime, *args, warm=True, cwd=cwd_warm, stdin=stdin)
    assert served(runtime) == before + 1, "the warm run did not go through the server"
    cold = lstmcli(runtime, *args, warm=False, cwd=cwd_cold, stdin=stdin)
    outputs = [(p.returncode, p.stdout, p.stderr) for p in (warm, cold)]
    if mask:
        outputs = [(code, TIMES.sub(b"T", out), TIMES.sub(b"T", err)) for code, out, err in outputs]
    assert outputs[0] == outputs[1], f"{args}: warm {warm.stderr[-600:]!r} cold {cold.stderr[-600:]!r}"
    return warm


def without(value, key: str):
    if isinstance(value, dict):
        return {k: without(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [without(v, key) for v in value]
    return value


def assert_same_artifact(a: Path, b: Path) -> None:
    """Equal but for what differs between any two saves: Keras's save time and object ids, the fit's seconds, parents' hashes."""
    za, zb = zipfile.ZipFile(a), zipfile.ZipFile(b)
    assert za.namelist() == zb.namelist()
    assert za.read("model.weights.h5") == zb.read("model.weights.h5"), "weights differ"
    for name, drop in (("config.json", "shared_object_id"), ("metadata.json", "date_saved")):
        assert without(json.loads(za.read(name)), drop) == without(json.loads(zb.read(name)), drop), name
    records = [json.loads(z.read("lstmcli.json")) for z in (za, zb)]
    for record in records:
        for member in ("config.json", "metadata.json"):
            record["members"].pop(member)
    for record in records:
        for entry in record["lineage"]:
            if "data" in entry:  # a config's data path is made absolute: the warm and cold folders differ
                entry["data"]["path"] = Path(entry["data"]["path"]).name
    assert without(without(records[0], "seconds"), "sha256") == without(without(records[1], "seconds"), "sha256")


@pytest.fixture(scope="module")
def classic(server, tmp_path_factory):
    """Two folders holding the same relative files; the classic example defined, compiled and fitted warm in one, cold in the other."""
    root = tmp_path_factory.mktemp("classic")
    folders = {"warm": root / "warm", "cold": root / "cold"}
    for folder in folders.values():
        folder.mkdir()
        (folder / "sequence.toml").write_text(CONFIG.read_text().replace("../data/sequence.csv", "sequence.csv"))
        sequence_csv(folder / "sequence.csv")
    steps = [
        ["define", "--config", "sequence.toml", "--out", "defined.keras"],
        ["compile", "defined.keras", "--config", "sequence.toml", "--out", "compiled.keras"],
        ["fit", "compiled.keras", "--config", "sequence.toml", "--data", "sequence.csv", "--out", "fitted.keras"],
    ]
    for step in steps:
        assert both(server, step, folders["warm"], folders["cold"], mask=True).returncode == 0
    return folders


def test_the_classic_example_warm_writes_the_artifacts_cold_writes(classic):
    for name in ("defined.keras", "compiled.keras", "fitted.keras"):
        assert_same_artifact(classic["warm"] / name, classic["cold"] / name)


READING = [
    ["--help"],
    ["--version"],
    ["fit", "--help"],
    ["frobnicate"],  # a usage error: exit 2
    ["fit", "--epochs", "many", "compiled.keras"],
    ["fit", "missing.keras", "--data", "x.csv", "--out", "y.keras"],
    ["evaluate", "compiled.keras", "--data", "sequence.csv"],  # not fitted: exit 2
    ["evaluate", "fitted.keras", "--config", "sequence.toml", "--data", "sequence.csv"],
    ["evaluate", "fitted.keras", "--data", "sequence.csv", "--json", "--fail-if", "loss<0"],  # exit 3
    ["predict", "fitted.keras", "--config", "sequence.toml", "--data", "-"],  # stdin passed over
    ["inspect", "fitted.keras"],
    ["verify", "fitted.keras", "--json"],
    ["plot", "fitted.keras", "--data", "sequence.csv", "--out", "plots"],
    ["fit", "compiled.keras", "--data", "sequence.csv", "--print-config"],
]


@pytest.mark.parametrize("args", READING, ids=lambda args: " ".join(args)[:40])
def test_a_command_warm_prints_the_bytes_and_exits_as_cold(server, classic, args):
    stdin = classic["warm"] / "sequence.csv" if "-" in args else None
    both(server, args, classic["warm"], classic["warm"], stdin=stdin)


def test_writing_commands_warm_and_cold_agree(server, classic):
    """run and backtest write files, export a SavedModel folder: the same outcome either way."""
    folders = classic["warm"], classic["cold"]
    both(server, ["run", "--config", "sequence.toml", "--workdir", "run"], *folders, mask=True)
    for name in ("fitted.keras",):
        assert_same_artifact(folders[0] / "run" / name, folders[1] / "run" / name)
    for name in ("predictions.csv", "metrics.txt"):
        if (folders[0] / "run" / name).exists():
            assert (folders[0] / "run" / name).read_bytes() == (folders[1] / "run" / name).read_bytes()
    both(server, ["backtest", "compiled.keras", "--data", "sequence.csv", "--folds", "2", "--epochs", "20"], *folders)
    both(server, ["export", "fitted.keras", "--out", "exported"], *folders, mask=True)


def test_a_seeded_forecasting_fit_is_bit_identical_warm_and_cold(server, tmp_path):
    t = np.arange(2030)
    series = np.round(np.sin(2 * np.pi * t / 50) + 0.1 * np.random.default_rng(0).standard_normal(len(t)), 6)
    folders = tmp_path / "warm", tmp_path / "cold"
    for folder in folders:
        folder.mkdir()
        pd.DataFrame({"value": series}).to_csv(folder / "series.csv", index=False)
    define = ["define", "--features", "value", "--timesteps", "30", "--lstm", "32", "--seed", "7", "--out", "d.keras"]
    both(server, define, *folders, mask=True)
    both(server, ["compile", "d.keras", "--out", "c.keras"], *folders, mask=True)
    fit = ["fit", "c.keras", "--data", "series.csv", "--epochs", "2", "--batch-size", "32", "--out", "f.keras"]
    both(server, fit, *folders, mask=True)
    assert_same_artifact(folders[0] / "f.keras", folders[1] / "f.keras")


def test_commands_run_side_by_side(server, classic):
    args = [sys.executable, "-m", "lstmcli", "predict", "fitted.keras", "--config", "sequence.toml"]
    env = environment(server, **{protocol.MODE_ENV: "on"})
    before = served(server)
    procs = [subprocess.Popen(args, cwd=classic["warm"], env=env, stdout=subprocess.PIPE) for _ in range(3)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0].startswith(b"")
    assert served(server) == before + 3


def long_fit(runtime: Path, folder: Path, out: str):
    env = environment(runtime, **{protocol.MODE_ENV: "on"})
    args = ["fit", "compiled.keras", "--config", "sequence.toml", "--data", "sequence.csv", "--epochs", "1000000"]
    return subprocess.Popen(
        [sys.executable, "-m", "lstmcli", *args, "--out", out],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_running(runtime: Path, count: int = 1) -> None:
    for _ in range(600):
        status = client.query("status", runtime / "lstmcli")
        if status and status["running"] >= count:
            time.sleep(2.0)  # into the training loop
            return
        time.sleep(0.1)
    raise AssertionError("the command never started in the server")


@pytest.mark.parametrize(
    "signals, code, words",
    [
        ((signal.SIGINT, signal.SIGINT), 130, b"interrupted"),
        ((signal.SIGTERM,), 143, b"terminated"),
    ],
)
def test_a_signal_to_the_client_reaches_the_command(server, classic, signals, code, words):
    out = f"signalled-{code}.keras"
    proc = long_fit(server, classic["warm"], out)
    wait_running(server)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.5)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert words in err and b"Traceback" not in err
    assert not list(classic["warm"].glob(f"*{out}*")), "a temporary file was left behind"
    assert client.query("status", server / "lstmcli")["running"] == 0


def test_a_child_killed_by_a_signal_kills_the_client_alike_and_the_server_stays(server, classic):
    proc = long_fit(server, classic["warm"], "killed.keras")
    wait_running(server)
    server_pid = client.query("status", server / "lstmcli")["pid"]
    children = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 1
    os.kill(int(children[0]), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    before = served(server)
    assert lstmcli(server, "--version", warm=True, cwd=classic["warm"]).returncode == 0
    assert served(server) == before + 1


def test_a_server_killed_mid_command_is_reported_and_the_command_stopped(classic, tmp_path):
    runtime = tmp_path / "runtime"
    server = start_server(runtime, foreground=True)
    try:
        for _ in range(600):
            if client.query("status", runtime / "lstmcli"):
                break
            time.sleep(0.1)
        proc = long_fit(runtime, classic["warm"], "orphan.keras")
        wait_running(runtime)
        server.kill()
        _, err = proc.communicate(timeout=60)
    finally:
        server.kill()
        server.wait()
    assert proc.returncode == 1
    assert b"the lstmcli server ended while it ran this command" in err
    assert not list(classic["warm"].glob("*orphan.keras*"))


def test_a_stale_socket_means_a_cold_run(classic, tmp_path):
    runtime = tmp_path / "runtime"
    (runtime / "lstmcli").mkdir(parents=True, mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(runtime / "lstmcli" / protocol.SOCKET))
    stale.close()  # the file stays, nothing listens
    proc = lstmcli(runtime, "predict", "fitted.keras", "--config", "sequence.toml", warm=True, cwd=classic["warm"])
    cold = lstmcli(runtime, "predict", "fitted.keras", "--config", "sequence.toml", warm=False, cwd=classic["warm"])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, cold.stdout, cold.stderr)


def test_a_different_import_time_environment_means_a_cold_run(server, classic):
    before = served(server)
    args = ["predict", "fitted.keras", "--config", "sequence.toml"]
    # Without oneDNN, TensorFlow's CPU kernels round differently: a server that imported
    # TensorFlow with oneDNN must not answer for a client that turned it off.
    proc = lstmcli(server, *args, warm=True, cwd=classic["warm"], TF_ENABLE_ONEDNN_OPTS="0")
    cold = lstmcli(server, *args, warm=False, cwd=classic["warm"], TF_ENABLE_ONEDNN_OPTS="0")
    assert served(server) == before
    assert (proc.returncode, proc.stdout) == (0, cold.stdout)


def test_a_socket_directory_open_to_others_is_not_used(tmp_path, monkeypatch):
    runtime = tmp_path / "runtime"
    (runtime / "lstmcli").mkdir(parents=True)
    (runtime / "lstmcli").chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with pytest.raises(protocol.Unsafe, match="0700"):
        protocol.runtime_dir()
    proc = lstmcli(runtime, "--version", warm=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(b"lstmcli ")


@pytest.mark.skipif(os.getuid() != 0, reason="only root can become another user to try")
def test_another_user_is_refused(server):
    """The 0700 directory keeps others out; behind it, the server itself refuses another uid (SO_PEERCRED)."""
    import tempfile

    socket_path = server / "lstmcli" / protocol.SOCKET
    door = Path(tempfile.mkdtemp(prefix="lstmcli-test-"))  # under /tmp, which anyone may traverse
    door.chmod(0o755)
    os.link(socket_path, door / "s.sock")  # another name for the same socket
    (door / "s.sock").chmod(0o777)
    read, write = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:
            reply = b'"no reply"'
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    sock.connect(str(door / "s.sock"))
                    sock.settimeout(10)
                    try:
                        protocol.send(sock, {"op": "status"})
                    except BrokenPipeError:
                        pass  # the server answered and closed before reading: its answer is still there
                    reply = json.dumps(protocol.receive(sock)[0]).encode()
            except BaseException as exc:
                reply = json.dumps(repr(exc)).encode()
            finally:
                os.write(write, reply)
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        reply = json.loads(os.read(read, 4096))
    finally:
        (door / "s.sock").chmod(0o600)
        (door / "s.sock").unlink()
        door.rmdir()
    assert reply == {"refused": "this server serves only its own user"}


@pytest.mark.parametrize("value", ["yes", "1", "server"])
def test_a_server_mode_that_means_nothing_is_refused_before_anything_runs(value, tmp_path):
    """As LSTMCLI_SMOKE's: a typo is one error line and exit 2, not a silent cold run."""
    env = environment(tmp_path, **{protocol.MODE_ENV: value})
    done = subprocess.run([sys.executable, "-m", "lstmcli", "--version"], env=env, capture_output=True, text=True)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr == f"error: LSTMCLI_SERVER='{value}' is not a mode; set it to auto, on or off, or unset it\n"


def test_without_xdg_runtime_dir_the_server_and_its_clients_meet_in_tmpdir(tmp_path):
    """`server start`, `status` and the client find one socket in $TMPDIR/lstmcli-UID.

    Before, the commands looked inside their own private temporary folder (issue 24's,
    for autograph's files), so `make demo` started a new server at every step and used none.
    """
    shared = tmp_path / "tmp"
    shared.mkdir()
    env = {k: v for k, v in environment(tmp_path / "unused").items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(shared)
    lstmcli = [sys.executable, "-m", "lstmcli"]
    try:
        started = subprocess.run(
            [*lstmcli, "server", "start", "--idle", "120"], env=env, capture_output=True, text=True
        )
        assert started.returncode == 0 and started.stdout.startswith("started: pid "), started
        assert (shared / f"lstmcli-{os.getuid()}" / protocol.SOCKET).exists()
        warm = subprocess.run([*lstmcli, "--version"], env={**env, protocol.MODE_ENV: "on"}, capture_output=True)
        assert warm.returncode == 0
        status = subprocess.run([*lstmcli, "server", "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 0, status
        assert client.query("status", shared / f"lstmcli-{os.getuid()}")["served"] == 1
    finally:
        subprocess.run([*lstmcli, "server", "stop"], env=env, capture_output=True, timeout=120)
