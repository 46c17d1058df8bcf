"""Fit's progress on the terminal: a rich bar with Keras's epoch lines, or plain lines without a terminal.

The fit drives `FitReporter` as a Keras callback (`FitReporter.keras_callback`),
made only once TensorFlow is loaded, so this module imports without it.
"""

from __future__ import annotations

import math
import os
import sys
import time

from rich.console import Console

from lstmcli.cli.render import format_logs, stderr_console

LINES_PER_FIT = 20  # without --log-every, about this many epochs get a line (or a trail line) per fit,
SECONDS_PER_LINE = 10.0  # and a slow fit one at least this often, so a log in CI shows it is alive


def resolve_verbose(verbose: str) -> int:
    """Keras's verbose: 'auto' is a bar on a terminal and plain epoch lines elsewhere."""
    if verbose != "auto":
        return int(verbose)
    return 1


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


def keras_value(value: float) -> str:
    """A metric as Keras's `verbose=2` epoch line writes it (`keras.utils.Progbar`)."""
    return f"{value:.4f}" if value > 1e-3 else f"{value:.4e}"


def keras_step_time(seconds: float) -> str:
    """Seconds per step as Keras writes them: `2s/step`, `12ms/step` or `85us/step`."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1000.0:.0f}ms/step"
    return f"{seconds * 1000000.0:.0f}us/step"


def epoch_line(steps: int, seconds: float, logs: dict) -> str:
    """The line Keras's `model.fit(verbose=2)` prints at an epoch's end, e.g.
    `3/3 - 0s - 12ms/step - loss: 0.3370 - val_loss: 0.3312`."""
    values = "".join(f" - {k}: {keras_value(v)}" for k, v in logs.items() if k != "learning_rate")
    return f"{steps}/{steps} - {seconds:.0f}s - {keras_step_time(seconds / steps)}{values}"


class FitReporter:
    """Shows fit's progress: a rich bar (verbose 1 on a terminal) or Keras's epoch lines.

    Not every epoch gets its lines, unless asked: without a terminal (verbose
    1 or auto), the first and last epochs of the fit do, and every `every`-th
    epoch, by default about `LINES_PER_FIT` a fit plus one when
    `SECONDS_PER_LINE` have passed since the last, so a 1,000-epoch fit in CI
    writes a few dozen lines, not 2,000. `verbose` 2 prints every epoch, as
    Keras does. On a terminal, the same epochs leave a trail line above the bar
    (`epoch e/N - loss: …`), so the trajectory stays on screen.

    The lines are `model.fit(verbose=2)`'s: `Epoch 6/8` when an epoch begins
    (counted from the artifact's epochs so far, as Keras counts from
    `initial_epoch`; none when the final epoch is the first) and its end line.
    The fused training loop runs many steps per call, across epoch ends, and
    reports progress after each call: an epoch's end is timed by spreading a
    call's time evenly over its steps, and its lines are printed at that report.
    The fit drives it as a Keras callback (`keras_callback`).

    A fit may train in several passes (the guard's trials and refit, a seed
    ensemble's members), each making its callback from `keras_callback` with
    a label ("trial 1/3", "member 2/5 refit"): each call after the first starts
    the next pass, which gets its label as a line and as its bar's and trail
    lines' prefix.

    Args:
        verbose: 0 silent, 1 the bar (plain lines without a terminal), 2 lines.
        console: Where to draw; defaults to stderr, drawing the bar only on an
            interactive terminal. A given console draws the bar if it is a terminal.
        every: Lines (or trail lines) for every this many epochs, besides the
            fit's first and last; None for the default (every epoch at verbose 2).
    """

    def __init__(self, verbose: int, console: Console | None = None, every: int | None = None):
        self.verbose = verbose
        self.every = 1 if every is None and verbose == 2 else every
        self.console = console or stderr_console()
        self.bar = verbose == 1 and (interactive() if console is None else console.is_terminal)
        self.lines = bool(verbose) and not self.bar
        self.progress = None
        self.passes, self.label = 0, None  # the training passes begun, and the one under way's label
        self._start_fit()

    def _start_fit(self) -> None:
        """What one fit's display keeps: its bar, its epochs and the lines it printed."""
        self.shown = None  # when the last epoch line (or trail line) was printed
        self.started = time.perf_counter()
        self.task = None
        self.validation: dict = {}  # the last epoch's val_* logs, shown beside the running ones
        self.ended: list = []  # (epoch, logs) of epochs ended since the last progress report
        self.headed = -1  # the last epoch whose `Epoch e/N` line was printed
        self.first = None  # the step the fit started at
        self.mark = None  # (step, time) of the last progress report
        self.began = self.started  # when the epoch under way began
        self.per_epoch = self.epochs = 0  # steps per epoch and the final epoch, from the progress reports

    def __enter__(self):
        if self.bar:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[logs]}"),
                console=self.console,
                transient=False,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self._flush()
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def _flush(self) -> None:
        if self.ended and self.mark is not None:  # the fit ended before reporting them: show them still
            self._print_ended(time.perf_counter(), (self.ended[-1][0] + 1) * self.per_epoch)

    def keras_callback(self, label: str | None = None):
        """This reporter as a `keras.callbacks.Callback`, for `fitting.fit(callbacks=…)`.

        Made when called, once TensorFlow is loaded: this module is imported
        by commands that never load it. `on_epoch_begin` of the fit's first
        epoch reports where it starts; `on_train_batch_end` (once per chunk of
        the fused loop) reports progress, or, at an epoch's last step, leaves
        the report to that epoch's `on_epoch_end`, so the epoch's lines are
        printed at that report, with its validation logs beside the bar.
        """
        import keras

        reporter = self
        if self.passes:  # a pass was already shown: this is the next one
            self._flush()
            self._start_fit()
        self.passes, self.label = self.passes + 1, label
        if label and self.verbose:
            self.console.print(label, markup=False)

        class FitProgress(keras.callbacks.Callback):
            per_epoch = False  # drawing leaves the model alone: the fused loop may run many epochs per call

            def __init__(self):
                super().__init__()
                self.epoch = None
                self.pending = None  # the logs of a report that waits for its epoch's end

            def _steps(self) -> tuple[int, int]:
                return self.params["steps"], self.params["epochs"] * self.params["steps"]

            def on_epoch_begin(self, epoch, logs=None):
                if self.epoch is None:
                    per_epoch, total = self._steps()
                    reporter.on_progress(epoch * per_epoch, total, per_epoch, {})
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                per_epoch, total = self._steps()
                if batch + 1 < per_epoch:
                    reporter.on_progress(self.epoch * per_epoch + batch + 1, total, per_epoch, dict(logs or {}))
                else:
                    self.pending = dict(logs or {})

            def on_epoch_end(self, epoch, logs=None):
                reporter.on_epoch_end(epoch, dict(logs or {}))
                if self.pending is not None:
                    per_epoch, total = self._steps()
                    pending, self.pending = self.pending, None
                    reporter.on_progress((epoch + 1) * per_epoch, total, per_epoch, pending)

        return FitProgress()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.validation = {k: v for k, v in logs.items() if k.startswith("val_")}
        if self.lines:
            self.ended.append((epoch, logs))
        elif self.progress is not None and self.per_epoch and self._shows(epoch, time.perf_counter()):
            self.console.print(
                f"{self._pass_prefix()}epoch {epoch + 1}/{self.epochs} - {format_logs(logs)}", markup=False
            )

    def _due(self, epoch: int) -> bool:
        """Whether the epoch gets its line whatever the time: the fit's first and last, and every `every`-th."""
        start = (self.first or 0) // max(self.per_epoch, 1)
        every = self.every or max(1, math.ceil((self.epochs - start) / LINES_PER_FIT))
        return epoch in (start, self.epochs - 1) or (epoch + 1) % every == 0

    def _shows(self, epoch: int, at: float) -> bool:
        """Whether the epoch gets its line: when due, or by default when `SECONDS_PER_LINE` have passed
        since the last line (`at`: when the epoch ended)."""
        shown = self._due(epoch) or (
            self.every is None and self.shown is not None and at - self.shown >= SECONDS_PER_LINE
        )
        if shown:
            self.shown = at
        return shown

    def on_progress(self, step: int, total: int, per_epoch: int, logs: dict) -> None:
        """Steps count from epoch 0; the first call, before any step, says where the fit starts."""
        now = time.perf_counter()
        if self.first is None:
            self.first = step - len(self.ended) * per_epoch
            self.mark = (self.first, self.started)
            self.began = now if not self.ended else self.started
        self.per_epoch, self.epochs = per_epoch, total // per_epoch
        if self.lines:
            self._print_ended(now, step)
            if step < total and (step % per_epoch or step == self.first) and self._due(step // per_epoch):
                self._head(step // per_epoch)  # under way, or about to begin at the fit's start
            self.mark = (step, now)
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task("fit", total=total - self.first, completed=0, logs="")
        epoch = min(
            step // per_epoch + (step % per_epoch > 0 or step == self.first), self.epochs
        )  # under way or just ended
        self.progress.update(
            self.task,
            completed=step - self.first,
            description=f"{self._pass_prefix()}epoch {epoch}/{self.epochs}",
            logs=format_logs({**logs, **self.validation}),
        )

    def _pass_prefix(self) -> str:
        return f"{self.label} " if self.label else ""

    def _head(self, epoch: int) -> None:
        """Keras's `Epoch e/N` line, once per epoch, and only when the final epoch N is not the first."""
        if epoch > self.headed and self.epochs > 1:
            self.console.print(f"Epoch {epoch + 1}/{self.epochs}", markup=False)
        self.headed = max(self.headed, epoch)

    def _print_ended(self, now: float, step: int) -> None:
        """Print the epochs ended since the last report, timed from their start to their end."""
        ended, self.ended = self.ended, []
        (since, then), nb = self.mark, self.per_epoch
        per_step = (now - then) / max(step - since, 1)
        for epoch, logs in ended:
            end = then + ((epoch + 1) * nb - since) * per_step
            if self._shows(epoch, end):
                self._head(epoch)
                self.console.print(epoch_line(nb, end - self.began, logs), markup=False)
            self.began = end
