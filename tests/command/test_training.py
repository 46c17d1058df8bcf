"""Training you can watch, stop, resume and reproduce: real processes, exact comparisons."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest


def series_csv(path, rows=300, seed=0):
    t = np.arange(rows)
    noise = 0.1 * np.random.default_rng(seed).standard_normal(rows)
    pd.DataFrame({"month": t, "y": np.sin(t / 6) + noise}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, cli):
    root = tmp_path_factory.mktemp("training")
    data = series_csv(root / "s.csv")
    assert (
        cli(
            "define",
            "--timesteps",
            12,
            "--features",
            "y",
            "--index",
            "month",
            "--lstm",
            8,
            "--seed",
            3,
            "--out",
            root / "d.keras",
        ).exit_code
        == 0
    )
    assert cli("compile", root / "d.keras", "--out", root / "c.keras").exit_code == 0
    return root / "c.keras", data


def weights(path):
    import keras

    return keras.saving.load_model(path).get_weights()


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert np.array_equal(x, y)


def child_env():
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("CI", None)
    return env


def lstmcli_command(*args):
    return [sys.executable, "-m", "lstmcli", *map(str, args)]


def test_three_then_three_more_equals_six(tmp_path, cli, compiled):
    model, data = compiled
    common = ("--data", data, "--seed", 5, "--verbose", 0)
    assert cli("fit", model, *common, "--epochs", 3, "--out", tmp_path / "a3.keras").exit_code == 0
    assert (
        cli(
            "fit", tmp_path / "a3.keras", "--data", data, "--verbose", 0, "--epochs", 3, "--out", tmp_path / "a6.keras"
        ).exit_code
        == 0
    )
    assert cli("fit", model, *common, "--epochs", 6, "--out", tmp_path / "b6.keras").exit_code == 0
    assert_same_weights(tmp_path / "a6.keras", tmp_path / "b6.keras")
    from lstmcli.model.artifact import read_record

    a6, b6 = read_record(tmp_path / "a6.keras"), read_record(tmp_path / "b6.keras")
    assert a6.history["loss"] == b6.history["loss"]
    assert a6.seed == 5


@pytest.mark.slow
def test_two_processes_with_one_seed_give_identical_weights(tmp_path, compiled):
    model, data = compiled
    procs = [
        subprocess.Popen(
            lstmcli_command(
                "fit",
                model,
                "--data",
                data,
                "--epochs",
                2,
                "--seed",
                11,
                "--verbose",
                0,
                "--out",
                tmp_path / f"{n}.keras",
            ),
            env=child_env(),
            stderr=subprocess.PIPE,
        )
        for n in ("one", "two")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert_same_weights(tmp_path / "one.keras", tmp_path / "two.keras")
    from lstmcli.model.artifact import read_record

    assert read_record(tmp_path / "one.keras").seed == 11


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_same_weights(tmp_path, cli, compiled):
    model, data = compiled
    args = ("fit", model, "--data", data, "--epochs", 400, "--seed", 2, "--verbose", 0)
    checkpoints = tmp_path / "ckpt"
    command = lstmcli_command(*args, "--checkpoint-dir", checkpoints, "--out", tmp_path / "resumed.keras")
    proc = subprocess.Popen(command, env=child_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (checkpoints / "checkpoint.keras").exists():
        assert proc.poll() is None, "fit finished before it could be killed: make it longer"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resumed.keras").exists()
    from lstmcli.model.artifact import read_record

    done = read_record(checkpoints / "checkpoint.keras").epochs
    assert 0 < done < 400
    resumed = subprocess.run(command, env=child_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not (checkpoints / "checkpoint.keras").exists()
    assert read_record(tmp_path / "resumed.keras").fit["resumed_from_epoch"] >= done
    assert cli(*args, "--out", tmp_path / "straight.keras").exit_code == 0
    assert_same_weights(tmp_path / "resumed.keras", tmp_path / "straight.keras")
    assert (
        read_record(tmp_path / "resumed.keras").history["loss"]
        == read_record(tmp_path / "straight.keras").history["loss"]
    )


def test_a_changed_fit_refuses_a_foreign_checkpoint(tmp_path, cli, compiled):
    model, data = compiled
    checkpoints = tmp_path / "ckpt"
    from lstmcli.model.artifact import load
    from lstmcli.model.checkpoints import Checkpoint

    keras_model, record = load(model)
    Checkpoint(checkpoints, "another fit").save(keras_model, record, 1, force=True)
    run = cli(
        "fit", model, "--data", data, "--epochs", 2, "--checkpoint-dir", checkpoints, "--out", tmp_path / "f.keras"
    )
    assert run.exit_code == 2
    assert "different fit" in run.stderr and "delete it" in run.stderr
    assert not (tmp_path / "f.keras").exists()


def test_a_checkpoint_of_other_rows_or_a_smoke_fit_is_not_resumed(tmp_path, cli, compiled, monkeypatch):
    """`fit --rows :100 --checkpoint-dir c` crashed; `fit --rows :200 --checkpoint-dir c` must not carry it on.

    The data's digest is the whole file's (taken before --rows), so --rows itself must be in the fingerprint;
    so must --smoke, which trains on other samples.
    """
    from lstmcli.model import checkpoints

    model, data = compiled
    ckpt = tmp_path / "ckpt"
    common = ("fit", model, "--data", data, "--epochs", 2, "--seed", 1, "--verbose", 0, "--checkpoint-dir", ckpt)
    with monkeypatch.context() as crash:
        crash.setattr(checkpoints, "MIN_SECONDS", 0.0)  # a checkpoint at every epoch's end
        crash.setattr(checkpoints.Checkpoint, "clear", lambda self: None)  # the fit died before removing it
        assert cli(*common, "--rows", ":100", "--out", tmp_path / "a.keras").exit_code == 0
    assert (ckpt / "checkpoint.keras").exists()
    for other in (("--rows", ":200"), ("--rows", ":100", "--smoke")):
        run = cli(*common, *other, "--out", tmp_path / "b.keras")
        assert run.exit_code == 2 and "written by a different fit" in run.stderr, (other, run)
        assert not (tmp_path / "b.keras").exists()


def test_every_fit_option_is_fingerprinted_unless_declared_not_to_change_the_fit():
    from lstmcli import options
    from lstmcli.steps.options import FitOptions

    declared = {o.name for o in options.options_of(FitOptions) if not o.fingerprint or o.role == options.OUTPUT}
    assert declared == {
        "out",
        "history",
        "tensorboard",
        "checkpoint_dir",
        "verbose",
        "log_every",  # outputs and how it reports
        "strategy",
        "devices",
        "timeout",  # where the fit runs
        "data",
        "validation_data",
        "config",  # paths: their contents are fingerprinted by sha256, the config's values by name
        "unsafe",  # lets an archive with code load at all; what it loads is the fingerprinted input
    }
    every = {o.name for o in options.options_of(FitOptions)}
    assert set(options.fingerprinted(FitOptions)) == every - declared
    assert {"rows", "smoke", "epochs", "seed", "scaling", "validation_split"} <= set(options.fingerprinted(FitOptions))


@pytest.mark.slow
def test_ctrl_c_stops_writes_nothing_and_exits_130(tmp_path, compiled):
    model, data = compiled
    out = tmp_path / "f.keras"
    command = lstmcli_command(
        "fit",
        "--guard",
        "none",
        model,
        "--data",
        data,
        "--epochs",
        100000,
        "--verbose",
        2,
        "--checkpoint-dir",
        tmp_path / "ckpt",
        "--out",
        out,
    )
    proc = subprocess.Popen(command, env=child_env(), stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()
    while not first.startswith("Epoch"):
        first = proc.stderr.readline()
        assert first, "fit ended before its first epoch"
    checkpoint = tmp_path / "ckpt" / "checkpoint.keras"
    deadline = time.monotonic() + 60
    while not checkpoint.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    last = stderr.strip().splitlines()[-1]
    from lstmcli.model.artifact import read_record

    saved = read_record(checkpoint).epochs
    assert "interrupted" in last and "nothing was written" in last
    assert f"run the same command again to resume from epoch {saved}" in last
    assert "Traceback" not in stderr
    assert not out.exists()


def test_nan_loss_stops_with_exit_1_and_no_artifact(tmp_path, cli, compiled):
    _, data = compiled
    d, c = tmp_path / "d.keras", tmp_path / "c.keras"
    assert cli("define", "--timesteps", 3, "--features", "y", "--lstm", 4, "--out", d).exit_code == 0
    assert cli("compile", d, "--optimizer", "sgd", "--learning-rate", "1e30", "--out", c).exit_code == 0
    run = cli("fit", c, "--data", data, "--epochs", 5, "--verbose", 0, "--out", tmp_path / "f.keras")
    assert run.exit_code == 1
    assert "loss became nan" in run.stderr.lower() and "learning rate" in run.stderr
    assert not (tmp_path / "f.keras").exists()


def test_early_stopping_reduce_lr_and_tensorboard(tmp_path, cli, compiled):
    model, data = compiled
    out = tmp_path / "f.keras"
    run = cli(
        "fit",
        "--guard",
        "none",
        model,
        "--data",
        data,
        "--epochs",
        300,
        "--seed",
        1,
        "--verbose",
        0,
        "--validation-split",
        "0.2",
        "--early-stopping",
        2,
        "--reduce-lr-on-plateau",
        1,
        "--tensorboard",
        tmp_path / "tb",
        "--out",
        out,
    )
    assert run.exit_code == 0, run
    from lstmcli.model.artifact import read_record

    record = read_record(out)
    assert record.fit["epochs"] < 300
    assert "early stopping" in record.fit["stopped"]
    assert min(record.history["learning_rate"]) < record.history["learning_rate"][0]
    assert len(record.history["val_loss"]) == record.fit["epochs"]
    assert any((tmp_path / "tb" / "train").iterdir()) and any((tmp_path / "tb" / "validation").iterdir())


@pytest.mark.slow
def test_progress_bar_on_a_terminal_and_plain_lines_in_a_pipe(tmp_path, compiled):
    model, data = compiled
    args = ("fit", model, "--data", data, "--epochs", 3, "--seed", 1, "--verbose", 1, "--guard", "none")  # one pass
    controller, worker = pty.openpty()
    proc = subprocess.Popen(
        lstmcli_command(*args, "--out", tmp_path / "tty.keras"),
        env={**child_env(), "TERM": "xterm", "COLUMNS": "120"},
        stdin=worker,
        stdout=worker,
        stderr=worker,
        close_fds=True,
    )
    os.close(worker)
    screen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    proc.wait(timeout=60)
    text = screen.decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "epoch 3/3" in text and "━" in text and "\x1b[" in text  # a drawn, redrawn bar
    assert "Epoch 1:" not in text
    piped = subprocess.run(
        lstmcli_command(*args, "--out", tmp_path / "pipe.keras"), env=child_env(), capture_output=True, text=True
    )
    assert piped.returncode == 0, piped.stderr
    lines = [line for line in piped.stderr.splitlines() if line.startswith("Epoch")]
    assert lines == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]  # Keras's verbose=2 lines (tests/test_progress.py)
    assert "━" not in piped.stderr and "\x1b[" not in piped.stderr
    assert "fitted 3 epochs" in piped.stderr


def fit_history(cli, model, data, out, *flags, epochs=6):
    """A seeded fit's record, asserting it succeeded; one pass, as asked (--guard none: the callbacks are the subject)."""
    run = cli(
        "fit",
        model,
        "--data",
        data,
        "--epochs",
        epochs,
        "--seed",
        1,
        "--verbose",
        0,
        "--guard",
        "none",
        *flags,
        "--out",
        out,
    )
    assert run.exit_code == 0, run
    from lstmcli.model.artifact import read_record

    return read_record(out)


def test_the_callbacks_a_fit_asks_for_are_keras_own(tmp_path):
    import keras

    from lstmcli.steps.options import for_command
    from lstmcli.train import callbacks

    opts = for_command(
        "fit",
        dict(
            early_stopping=3,
            reduce_lr_on_plateau=2,
            tensorboard=tmp_path / "tb",
            lr_schedule="cosine",
            min_delta=0.01,
            lr_factor=0.5,
            lr_cooldown=1,
            min_lr=1e-5,
        ),
        None,
    )
    built = callbacks.chosen(opts, None, "val_loss", first_epoch=0, epochs=5)
    kinds = [type(cb) for cb in built]
    assert kinds == [
        keras.callbacks.TerminateOnNaN,
        keras.callbacks.TensorBoard,
        keras.callbacks.EarlyStopping,
        keras.callbacks.ReduceLROnPlateau,
        keras.callbacks.LearningRateScheduler,
    ]
    _, board, stopper, reducer, _ = built
    assert (board.write_graph, board.log_dir) == (False, str(tmp_path / "tb"))
    assert (stopper.monitor, stopper.patience, stopper.min_delta, stopper.restore_best_weights) == (
        "val_loss",
        3,
        0.01,
        True,
    )
    assert (reducer.monitor, reducer.patience, reducer.factor, reducer.cooldown, reducer.min_lr, reducer.min_delta) == (
        "val_loss",
        2,
        0.5,
        1,
        1e-5,
        0.01,
    )
    # Only the callbacks that may change the model make the fused loop stop at every epoch boundary.
    assert [callbacks.each_epoch(cb) for cb in built] == [False, False, True, True, True]


def test_monitor_chooses_what_early_stopping_watches(tmp_path, cli, compiled):
    model, data = compiled
    flags = ("--validation-split", 0.2, "--early-stopping", 2, "--min-delta", 0.001)
    default = fit_history(cli, model, data, tmp_path / "val.keras", *flags, epochs=300)
    watched = fit_history(cli, model, data, tmp_path / "loss.keras", *flags, "--monitor", "loss", epochs=300)
    assert (default.fit["monitor"], watched.fit["monitor"]) == ("val_loss", "loss")
    assert watched.fit["stopped"].startswith("early stopping: loss did not improve for 2 epochs")
    assert "restored_val_loss" in default.fit and "restored_val_loss" not in watched.fit
    assert watched.fit["epochs"] != default.fit["epochs"]


def test_min_delta_decides_what_counts_as_an_improvement(tmp_path, cli, compiled):
    model, data = compiled
    strict = fit_history(
        cli, model, data, tmp_path / "strict.keras", "--early-stopping", 2, "--min-delta", 1.0, epochs=50
    )
    assert strict.fit["epochs"] == 3  # no later epoch is better by 1.0: the first is kept, two more waited for
    assert strict.fit["restored_epoch"] == 1
    assert strict.history["restored"] == [1.0, 0.0, 0.0]
    assert fit_history(cli, model, data, tmp_path / "plain.keras", "--early-stopping", 2, epochs=10).fit["epochs"] == 10


LR = 0.001  # adam's default


@pytest.mark.parametrize(
    "flags,rates",
    [
        # --min-delta 1.0: no epoch improves, so every epoch after the first waits one of the patience.
        ((), [LR, LR, LR / 10, LR / 100, LR / 1000]),
        (("--lr-factor", 0.5), [LR, LR, LR / 2, LR / 4, LR / 8]),
        (("--lr-factor", 0.5, "--lr-cooldown", 2), [LR, LR, LR / 2, LR / 2, LR / 4]),
        (("--lr-factor", 0.5, "--min-lr", 3e-4), [LR, LR, LR / 2, 3e-4, 3e-4]),
    ],
)
def test_the_plateau_options_show_in_the_learning_rate_history(tmp_path, cli, compiled, flags, rates):
    model, data = compiled
    record = fit_history(
        cli, model, data, tmp_path / "f.keras", "--reduce-lr-on-plateau", 1, "--min-delta", 1.0, *flags, epochs=5
    )
    assert record.history["learning_rate"] == pytest.approx(rates, rel=1e-6)


@pytest.mark.parametrize(
    "schedule,factors",
    [
        ("exponential:0.5", [1, 0.5, 0.25, 0.125]),
        ("step:2:0.1", [1, 1, 0.1, 0.1]),
        ("cosine", [1, 0.5 * (1 + np.cos(np.pi / 4)), 0.5, 0.5 * (1 + np.cos(3 * np.pi / 4))]),
    ],
)
def test_a_learning_rate_schedule_sets_each_epochs_rate(tmp_path, cli, compiled, schedule, factors):
    model, data = compiled
    record = fit_history(cli, model, data, tmp_path / "f.keras", "--lr-schedule", schedule, epochs=4)
    assert record.history["learning_rate"] == pytest.approx([LR * f for f in factors], rel=1e-6)
    assert record.fit["lr_schedule"] == schedule


def test_a_seeded_scheduled_fit_repeats_exactly(tmp_path, cli, compiled):
    model, data = compiled
    flags = ("--lr-schedule", "exponential:0.9")
    first = fit_history(cli, model, data, tmp_path / "a3.keras", *flags, epochs=3)
    straight = fit_history(cli, model, data, tmp_path / "b3.keras", *flags, epochs=3)
    assert first.history["learning_rate"] == straight.history["learning_rate"]
    assert_same_weights(tmp_path / "a3.keras", tmp_path / "b3.keras")


@pytest.mark.parametrize(
    "flags,message",
    [
        (("--monitor", "val_loss"), "error: --monitor val_loss is not logged by this fit; the logged metrics are loss"),
        (
            ("--monitor", "mae", "--validation-split", 0.2),
            "error: --monitor mae is not logged by this fit; the logged metrics are loss, val_loss",
        ),
        (("--lr-schedule", "linear"), "error: --lr-schedule 'linear' is not a schedule; give cosine, exponential:RATE"),
        (("--lr-schedule", "step:0:0.5"), "error: --lr-schedule 'step:0:0.5' is not a schedule"),
        (("--lr-schedule", "exponential:-1"), "error: --lr-schedule 'exponential:-1' is not a schedule"),
        (("--lr-factor", 0), "error: --lr-factor must be above 0"),
        (("--lr-factor", 1), "error: --lr-factor must be below 1.0"),
    ],
)
def test_a_bad_monitor_or_schedule_exits_2_with_one_line(tmp_path, cli, compiled, flags, message):
    model, data = compiled
    run = cli("fit", model, "--data", data, "--epochs", 2, *flags, "--out", tmp_path / "f.keras")
    assert run.exit_code == 2, run
    assert run.stderr.startswith(message) and run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "f.keras").exists()
