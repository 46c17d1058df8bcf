"""How results and progress look on the terminal: tables, CSV, progress, summaries.

This is part of the command-line layer (it uses rich); the core hands it plain
values. Results go to stdout, everything else to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time

from rich.console import Console
from rich.table import Table


def stderr_console() -> Console:
    return Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


def stdout_console() -> Console:
    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


MAX_ERROR_CHARS = 400


def error(message: str) -> None:
    """Print `error: message` on stderr as one line, whatever the message holds."""
    from rich.markup import escape

    line = " ".join(message.split())
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 3] + "..."
    stderr_console().print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)


def format_number(value) -> str:
    if isinstance(value, (int, str)) or value is None:
        return str(value)
    return f"{value:.6g}"


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {format_number(v)}" for k, v in logs.items() if k != "learning_rate")


def metrics_text(metrics: dict, as_json: bool) -> str:
    if as_json:
        return json.dumps(metrics, indent=2) + "\n"
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


class FitReporter:
    """Shows fit's progress: a rich bar (verbose 1 on a terminal) or one line per epoch."""

    def __init__(self, verbose: int):
        self.verbose = verbose
        self.console = stderr_console()
        self.bar = verbose == 1 and interactive()
        self.progress = None
        self.task = None
        self.validation: dict = {}  # the last epoch's val_* logs, shown beside the running ones
        self.started = time.perf_counter()

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
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self.validation = {k: v for k, v in logs.items() if k.startswith("val_")}
        if self.verbose and not self.bar:
            self.console.print(f"Epoch {epoch + 1}: {format_logs(logs)}", markup=False)

    def on_progress(self, step: int, total: int, per_epoch: int, logs: dict) -> None:
        if self.progress is None:
            return
        if self.task is None:
            self.task = self.progress.add_task("fit", total=total, completed=0, logs="")
        epoch = min(step // per_epoch + (step % per_epoch > 0), total // per_epoch)
        self.progress.update(
            self.task,
            completed=step,
            description=f"epoch {epoch}/{total // per_epoch}",
            logs=format_logs({**logs, **self.validation}),
        )
