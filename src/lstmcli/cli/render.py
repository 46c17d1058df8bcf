"""How results and progress look on the terminal: tables, CSV, progress, summaries.

This is part of the command-line layer (it uses rich); the core hands it plain
values. Results go to stdout, everything else to stderr.
"""

from __future__ import annotations

import math
import os
import sys
import time

from rich.console import Console
from rich.table import Table


_quiet = False  # -q: stderr shows errors only


def configure(quiet: bool) -> None:
    """Set, for this command, whether stderr shows anything but errors."""
    global _quiet
    _quiet = quiet


def stderr_console(always: bool = False) -> Console:
    """The console for progress, notes and warnings; silent under -q unless `always` (errors)."""
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True, quiet=_quiet and not always)


def stdout_console() -> Console:
    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


MAX_ERROR_CHARS = 400


def error(message: str) -> None:
    """Print `error: message` on stderr as one line, whatever the message holds."""
    from rich.markup import escape

    line = " ".join(message.split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 3] + "..."
    stderr_console(always=True).print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)


def warning(message: str) -> None:
    """Print one `warning: …` line on stderr."""
    from rich.markup import escape

    stderr_console().print(f"[bold yellow]warning:[/] {escape(message)}", markup=True, highlight=False)


def format_number(value) -> str:
    if isinstance(value, (int, str)) or value is None:
        return str(value)
    return f"{value:.6g}"


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {format_number(v)}" for k, v in logs.items() if k != "learning_rate")


def metrics_text(metrics: dict) -> str:
    """Metrics as aligned `name  value` lines: what evaluate prints without a terminal."""
    width = max(len(k) for k in metrics)
    return "".join(f"{k:<{width}}  {format_number(v)}\n" for k, v in metrics.items())


def metrics_table(metrics: dict) -> Table:
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, format_number(value))
    return table


BACKTEST_COLUMNS = ("original_rmse", "naive_rmse", "seasonal_naive_rmse", "skill", "seasonal_skill", "mase")


def fold_line(fold: dict) -> str:
    shown = " - ".join(f"{k}: {format_number(fold[k])}" for k in BACKTEST_COLUMNS if k in fold)
    return f"fold {fold['fold']}: rows {fold['test_rows'][0] + 1}-{fold['test_rows'][1]}: {shown}"


def backtest_text(result: dict) -> str:
    """The folds and their means as an aligned plain-text table."""
    columns = [c for c in BACKTEST_COLUMNS if c in result["mean"]]
    header = ["fold", "test rows", "samples", *columns]
    rows = [
        [str(f["fold"]), f"{f['test_rows'][0] + 1}-{f['test_rows'][1]}", str(f.get("samples", "")), *(format_number(f.get(c)) for c in columns)]
        for f in result["folds"]
    ]
    rows.append(["mean", "", "", *(format_number(result["mean"][c]) for c in columns)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))) for r in [header, *rows]]
    return "\n".join(lines) + f"\nseed {result['seed']}\n"


VALIDATION_WORDS = {
    "tail": "the last {n} samples (a series keeps time's order)",
    "stratified": "{n} samples drawn within each class (seed {seed})",
    "random": "{n} samples drawn at random (seed {seed})",
    "file": "{n} samples of --validation-data",
}


def validation_note(summary: dict) -> str | None:
    """How fit chose its validation samples, or None without validation."""
    how = summary.get("validation") or {}
    words = VALIDATION_WORDS.get(how.get("method"))
    return None if words is None else "validation: " + words.format(n=summary["validation_samples"], seed=how.get("seed"))


def fit_report(summary: dict, path) -> list[str]:
    """The lines fit prints on stderr when it is done: how it stopped, what it chose, what it wrote."""
    lines = [summary["stopped"]] if summary.get("stopped") else []
    if summary.get("transforms") is not None:
        reasons = "; ".join(summary["transforms"]["reasons"])
        lines.append(f"transforms: {', '.join(summary['transforms']['chosen']) or 'none'}" + (f" ({reasons})" if reasons else ""))
    if validation_note(summary):
        lines.append(validation_note(summary))
    return lines + [("smoke run: " if summary.get("smoke") else "") + fit_summary(summary, path)]


def fit_summary(summary: dict, path) -> str:
    """Fit's last line: the epochs run and the loss of the weights that were written.

    After early stopping those are the restored epoch's, not the last epoch's,
    so the line names the restored epoch and its losses first.
    """
    done = f"fitted {summary['epochs']} epochs in {summary['seconds']:.2f} s"
    if summary.get("restored_epoch") is not None:
        monitored = "".join(
            f", {key.removeprefix('restored_')} {format_number(value)}"
            for key, value in summary.items() if key.startswith("restored_val_")
        )
        return (
            f"{done}: kept epoch {summary['restored_epoch']}'s weights (loss {format_number(summary['restored_loss'])}"
            f"{monitored}); the last epoch's loss was {format_number(summary['final_loss'])} → {path}"
        )
    return f"{done}: loss {format_number(summary['final_loss'])} (best {format_number(summary['best_loss'])}) → {path}"


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

    The lines are `model.fit(verbose=2)`'s: `Epoch 6/8` when an epoch begins
    (counted from the artifact's epochs so far, as Keras counts from
    `initial_epoch`; none when the final epoch is the first) and its end line.
    The fused training loop runs many steps per call, across epoch ends, and
    reports progress after each call: an epoch's end is timed by spreading a
    call's time evenly over its steps, and its lines are printed at that report.
    The fit drives it as a Keras callback (`keras_callback`).

    Args:
        verbose: 0 silent, 1 the bar (plain lines without a terminal), 2 lines.
        console: Where to draw; defaults to stderr, drawing the bar only on an
            interactive terminal. A given console draws the bar if it is a terminal.
    """

    def __init__(self, verbose: int, console: Console | None = None):
        self.verbose = verbose
        self.console = console or stderr_console()
        self.bar = verbose == 1 and (interactive() if console is None else console.is_terminal)
        self.started = time.perf_counter()
        self.lines = bool(verbose) and not self.bar
        self.progress = None
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
        if self.ended and self.mark is not None:  # the fit failed before reporting them: show them still
            self._print_ended(time.perf_counter(), (self.ended[-1][0] + 1) * self.per_epoch)
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def keras_callback(self):
        """This reporter as a `keras.callbacks.Callback`, for `lifecycle.fit(callbacks=…)`.

        Made when called, once TensorFlow is loaded: this module is imported
        by commands that never load it. `on_epoch_begin` of the fit's first
        epoch reports where it starts; `on_train_batch_end` (once per chunk of
        the fused loop) reports progress, or, at an epoch's last step, leaves
        the report to that epoch's `on_epoch_end`, so the epoch's lines are
        printed at that report, with its validation logs beside the bar.
        """
        import keras

        reporter = self

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
            if step < total and (step % per_epoch or step == self.first):
                self._head(step // per_epoch)  # under way, or about to begin at the fit's start
            self.mark = (step, now)
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task("fit", total=total - self.first, completed=0, logs="")
        epoch = min(step // per_epoch + (step % per_epoch > 0 or step == self.first), self.epochs)  # under way or just ended
        self.progress.update(
            self.task,
            completed=step - self.first,
            description=f"epoch {epoch}/{self.epochs}",
            logs=format_logs({**logs, **self.validation}),
        )

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
            self._head(epoch)
            self.console.print(epoch_line(nb, end - self.began, logs), markup=False)
            self.began = end


SPARK_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list, width: int = 40) -> str:
    """`values` as a line of block characters, at most `width` wide (bucket minima).

    A series that spans more than a factor of 10 and is all positive (a loss)
    is drawn on a log scale, so the late epochs do not flatten into one bar.
    """
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return ""
    n = min(width, len(values))
    buckets = [values[i * len(values) // n:(i + 1) * len(values) // n] for i in range(n)]
    points = [min((v for v in b if isinstance(v, (int, float)) and math.isfinite(v)), default=None) for b in buckets]
    log = min(finite) > 0 and max(finite) / min(finite) > 10
    scale = (lambda v: math.log10(v)) if log else (lambda v: v)  # noqa: E731
    low, high = scale(min(finite)), scale(max(finite))
    span = (high - low) or 1.0
    top = len(SPARK_BARS) - 1
    return "".join(" " if p is None else SPARK_BARS[round((scale(p) - low) / span * top)] for p in points)


def plain(value) -> str:
    """A verify summary value on one line: `key value, …`, `a → b` for steps, `3×2` for shapes."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return " → ".join(map(str, value)) if value and isinstance(value[0], str) else "×".join(map(str, value))
    return str(value)


def compact(value) -> str:
    """A record value on one line: numbers to 6 digits, tables as `key value, …`."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {compact(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def inspect_view(summary: dict) -> list:
    """The renderables of `lstmcli inspect`: an overview table, then the layer table if asked for."""
    from rich.text import Text

    overview = Table(show_header=False, box=None, pad_edge=False)
    overview.add_column(style="bold")
    overview.add_column(overflow="fold")

    def row(label: str, value: str) -> None:
        overview.add_row(Text(label), Text(value))  # record values are text, never markup

    row("artifact", summary["path"])
    row("stage", summary["stage"] + ("  (smoke: " + summary["smoke"] + ")" if summary["smoke"] else ""))
    row("task", summary["task"])
    row("data spec", compact(summary["data_spec"]))
    row("architecture", compact(summary["architecture"]))
    if summary["compile"]:
        row("compile", compact({k: v for k, v in summary["compile"].items() if k != "optimizer_config"}))
    if summary["preprocessing"]:
        row("preprocessing", compact(summary["preprocessing"]))
    if summary["fit"]:
        row("last fit", compact(summary["fit"]))
    history = summary["history"]
    for name, values in history["values"].items():
        if name == "learning_rate":
            continue
        row(f"history {name}", f"{sparkline(values)}  {format_number(values[0])} → {format_number(values[-1])}")
    if history["best_epoch"] is not None:
        row("best epoch", f"{history['best_epoch']} of {history['epochs']} ({history['monitor']} {format_number(history['best'])})")
    row("seed", str(summary["seed"]))
    for i, entry in enumerate(summary["lineage"]):
        row("lineage" if i == 0 else "", _lineage_line(entry))
    row("written by", compact(summary["versions"]))
    views = [overview]
    if "layers" in summary:
        layers = Table(show_header=True, header_style="bold", title="layers")
        for column, justify in (("name", "left"), ("type", "left"), ("output shape", "left"), ("parameters", "right")):
            layers.add_column(column, justify=justify)
        for layer in summary["layers"]:
            shape = "(" + ", ".join("None" if d is None else str(d) for d in layer["output_shape"]) + ")" if layer["output_shape"] else "?"
            layers.add_row(Text(layer["name"]), layer["type"], shape, f"{layer['parameters']:,}")
        total = sum(layer["parameters"] for layer in summary["layers"])
        layers.add_row("total", "", "", f"{total:,}", style="bold")
        views.append(layers)
    return views


def _lineage_line(entry: dict) -> str:
    parts = [entry.get("step", "?") + (" (smoke)" if entry.get("smoke") else "")]
    for role, source in entry.items():
        if isinstance(source, dict) and "path" in source:
            sha = str(source.get("sha256", ""))[:12]
            parts.append(f"{role} {source['path']}" + (f" sha256 {sha}…" if sha else ""))
    return " ← ".join(parts[:1]) + (" ← " + ", ".join(parts[1:]) if len(parts) > 1 else "")
