"""Real `lstmcli` processes signalled at real moments, forked from one parent that imported TensorFlow once.

Run as a script by tests/process/test_signals.py: `python forked_trials.py PLAN.json RESULTS.json`.
The plan is a list of trials: {"argv", "cwd", "stderr", "tmpdir", "signum", "delay", "after"}.
Each child runs `lstmcli.cli.main(argv)` (the real process's whole life, `os._exit` included)
with its stdout and stderr in files and $TMPDIR its own. The signal goes `delay` seconds
after the child's `after`-th write began (0: after the fork, so it lands in start-up). To
know when a write begins, the child (only the child) wraps `outputs._remove_orphans`,
which every write calls just before it makes its temporary, to send one byte to the parent.

Two children run at a time, as two commands of a Makefile would on two cores.
Results: per trial the exit code, and whether the child had exited before the signal was due.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import tempfile
import time

SIGNALS = {signal.SIGINT, signal.SIGTERM}
AT_ONCE = 2


def child(trial: dict, marker: int) -> None:
    """In the forked child: run the command as the whole process (never returns)."""
    try:
        os.chdir(trial["cwd"])
        out = os.open(trial["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 2)
        os.dup2(os.open(trial["stderr"] + ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 1)
        os.environ["TMPDIR"] = trial["tmpdir"]
        tempfile.tempdir = None
        from lstmcli import outputs
        from lstmcli.cli import main

        try:
            from lstmcli.cli import process
        except ImportError:  # an lstmcli from before issue 24 (to compare): its handler comes later, so now
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            main(trial["argv"])

        remove_orphans = outputs._remove_orphans

        def announced(path):
            os.write(marker, b".")
            return remove_orphans(path)

        outputs._remove_orphans = announced
        handled = process.handled

        @contextlib.contextmanager
        def handled_then_unblocked():  # a signal sent before lstmcli's handler is in place waits for it
            with handled():
                signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
                yield

        process.handled = handled_then_unblocked
        main(trial["argv"])
    finally:
        os._exit(99)


def start(trial: dict) -> dict:
    read, write = os.pipe()
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    pid = os.fork()
    if pid == 0:
        os.close(read)
        child(trial, write)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    os.close(write)
    began = time.monotonic()
    return {
        "trial": trial,
        "pid": pid,
        "pipe": read,
        "writes": 0,
        "due": began + trial["delay"] if not trial["after"] else None,
    }


def step(state: dict) -> dict | None:
    """Advance one running trial: signal it when due, reap it when done; its result once reaped."""
    trial, pid = state["trial"], state["pid"]
    if state["due"] is not None and time.monotonic() >= state["due"] and "exited_first" not in state:
        done, status = os.waitpid(pid, os.WNOHANG)
        state["exited_first"] = done != 0
        if done:
            return finish(state, status)
        os.kill(pid, trial["signum"])
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        state.setdefault("exited_first", state["due"] is None or time.monotonic() < state["due"])
        return finish(state, status)
    return None


def finish(state: dict, status: int) -> dict:
    os.close(state["pipe"])
    return {**state["trial"], "code": os.waitstatus_to_exitcode(status), "exited_first": state["exited_first"]}


def main(plan_path: str, results_path: str) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras  # noqa: F401  (imported once here, nothing started: each child makes its own context)
    import tensorflow  # noqa: F401

    waiting = json.loads(open(plan_path).read())
    running, results = [], []
    while waiting or running:
        while waiting and len(running) < AT_ONCE:
            running.append(start(waiting.pop(0)))
        pipes = [s["pipe"] for s in running if s["due"] is None]
        ready, _, _ = select.select(pipes, [], [], 0.0002)
        for state in running:
            if state["pipe"] in ready:
                state["writes"] += len(os.read(state["pipe"], 64))
                if state["due"] is None and state["writes"] >= state["trial"]["after"]:
                    state["due"] = time.monotonic() + state["trial"]["delay"]
        for state in list(running):
            result = step(state)
            if result is not None:
                running.remove(state)
                results.append(result)
    with open(results_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
