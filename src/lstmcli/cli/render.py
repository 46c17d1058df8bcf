"""How results and progress look on the terminal: tables, CSV, progress, summaries.

This is part of the command-line layer (it uses rich); the core hands it plain
values. Results go to stdout, everything else to stderr.
"""

from __future__ import annotations

import math
import os

from rich.console import Console
from rich.table import Table
from rich.text import Text

_quiet = False  # -q: stderr shows errors only


def configure(quiet: bool) -> None:
    """Set, for this command, whether stderr shows anything but errors."""
    global _quiet
    _quiet = quiet


def stderr_console(always: bool = False) -> Console:
    """The console for progress, notes and warnings; silent under -q unless `always` (errors)."""
    return Console(
        stderr=True,
        no_color=bool(os.environ.get("NO_COLOR")),
        highlight=False,
        soft_wrap=True,
        quiet=_quiet and not always,
    )


def stdout_console() -> Console:
    return Console(no_color=bool(os.environ.get("NO_COLOR")), highlight=False, soft_wrap=True)


MAX_ERROR_CHARS = 400
# Bidirectional overrides and isolates reorder what a terminal shows (Trojan Source); shown inert like controls.
_REORDERING = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def inert(text) -> str:
    """`text` with every control character shown escaped (`\\x1b`, `\\u202e`), so a file's text cannot drive the terminal.

    Every place that echoes text from a file (error lines, warnings, tables,
    inspect, verify) passes it through here: an escape sequence in a CSV
    header or a feature name is printed as its letters, never run.
    """
    return "".join(
        ch
        if ch.isprintable() and ord(ch) not in _REORDERING
        else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        for ch in str(text)
    )


def error(message: str) -> None:
    """Print `error: message` on stderr as one line, whatever the message holds."""
    from rich.markup import escape

    line = inert(" ".join(message.split()))
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 3] + "..."
    stderr_console(always=True).print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)


def warning(message: str) -> None:
    """Print one `warning: …` line on stderr."""
    from rich.markup import escape

    stderr_console().print(f"[bold yellow]warning:[/] {escape(inert(message))}", markup=True, highlight=False)


def format_number(value) -> str:
    if isinstance(value, (int, str)) or value is None:
        return str(value)
    return f"{value:.6g}"


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {format_number(v)}" for k, v in logs.items() if k != "learning_rate")


def metrics_text(metrics: dict) -> str:
    """Metrics as aligned `name  value` lines: what evaluate prints without a terminal."""
    shown = {inert(k): inert(format_number(v)) for k, v in metrics.items()}
    width = max(len(k) for k in shown)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in shown.items())


def metrics_table(metrics: dict) -> Table:
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(Text(inert(name)), inert(format_number(value)))
    return table


BACKTEST_COLUMNS = ("original_rmse", "naive_rmse", "seasonal_naive_rmse", "skill", "seasonal_skill", "mase")


def _backtest_columns(metrics: dict) -> list[str]:
    """The columns a backtest shows: the errors and skills, then each interval's coverage."""
    return [c for c in BACKTEST_COLUMNS if c in metrics] + [c for c in metrics if c.startswith("coverage_")]


def fold_line(fold: dict) -> str:
    shown = " - ".join(f"{k}: {format_number(fold[k])}" for k in _backtest_columns(fold))
    return f"fold {fold['fold']}: rows {fold['test_rows'][0]}:{fold['test_rows'][1]}: {shown}"


def backtest_text(result: dict) -> str:
    """The folds and their means as an aligned plain-text table."""
    columns = _backtest_columns(result["mean"])
    header = ["fold", "test rows", "samples", *columns]
    rows = [
        [
            str(f["fold"]),
            f"{f['test_rows'][0]}:{f['test_rows'][1]}",
            str(f.get("samples", "")),
            *(format_number(f.get(c)) for c in columns),
        ]
        for f in result["folds"]
    ]
    rows.append(["mean", "", "", *(format_number(result["mean"][c]) for c in columns)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    ]
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
    return (
        None if words is None else "validation: " + words.format(n=summary["validation_samples"], seed=how.get("seed"))
    )


def fit_report(summary: dict, path) -> list[str]:
    """The lines fit prints on stderr when it is done: how it stopped, what it chose, what it wrote."""
    lines = [summary["stopped"]] if summary.get("stopped") else []
    if summary.get("transforms") is not None:
        reasons = "; ".join(summary["transforms"]["reasons"])
        lines.append(
            f"transforms: {', '.join(summary['transforms']['chosen']) or 'none'}" + (f" ({reasons})" if reasons else "")
        )
    if validation_note(summary):
        lines.append(validation_note(summary))
    guard = summary.get("guard") or {}
    if guard.get("mode") in ("auto", "best"):  # what a guard that did nothing says is in the record
        lines.append(guard["note"])
    if summary.get("ensemble"):
        lines.append(ensemble_note(summary["ensemble"]))
    return lines + [("smoke run: " if summary.get("smoke") else "") + fit_summary(summary, path)]


def ensemble_note(ensemble: dict) -> str:
    """What a seed ensemble trained, before fit's last line (which, like the history, is member 1's)."""
    seeds = ensemble["seeds"]
    losses = ", ".join(format_number(v) for v in ensemble["member_final_loss"])
    return (
        f"ensemble of {ensemble['members']} members (seeds {seeds[0]}…{seeds[-1]}) in {ensemble['seconds']:.2f} s, "
        f"their last losses {losses}; the history and the line below are member 1's"
    )


def fit_summary(summary: dict, path) -> str:
    """Fit's last line: the epochs run and the loss of the weights that were written.

    After early stopping those are the restored epoch's, not the last epoch's,
    so the line names the restored epoch and its losses first.
    """
    done = f"fitted {summary['epochs']} epochs in {summary['seconds']:.2f} s"
    if summary.get("restored_epoch") is not None:
        monitored = "".join(
            f", {key.removeprefix('restored_')} {format_number(value)}"
            for key, value in summary.items()
            if key.startswith("restored_val_")
        )
        return (
            f"{done}: kept epoch {summary['restored_epoch']}'s weights (loss {format_number(summary['restored_loss'])}"
            f"{monitored}); the last epoch's loss was {format_number(summary['final_loss'])} → {path}"
        )
    return f"{done}: loss {format_number(summary['final_loss'])} (best {format_number(summary['best_loss'])}) → {path}"


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
    buckets = [values[i * len(values) // n : (i + 1) * len(values) // n] for i in range(n)]
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

    overview = Table(show_header=False, box=None, pad_edge=False)
    overview.add_column(style="bold")
    overview.add_column(overflow="fold")

    def row(label: str, value: str) -> None:
        overview.add_row(Text(label), Text(inert(value)))  # record values are text, never markup or escapes

    row("artifact", summary["path"])
    row("stage", summary["stage"] + ("  (smoke: " + summary["smoke"] + ")" if summary["smoke"] else ""))
    row("task", summary["task"])
    row("data spec", compact(summary["data_spec"]))
    rows, features = summary["input_shape"]
    row("model input", f"windows of {rows} rows × {features} features (plain Keras and the SavedModel take these)")
    row("architecture", compact(summary["architecture"]))
    if summary["compile"]:
        row("compile", compact({k: v for k, v in summary["compile"].items() if k != "optimizer_config"}))
    if summary["preprocessing"]:
        row("preprocessing", compact(summary["preprocessing"]))
    if summary["fit"]:
        row("last fit", compact({k: v for k, v in summary["fit"].items() if k != "calibration"}))
    if summary.get("intervals"):
        bands = summary["intervals"]
        widths = ", ".join(f"{name}% ±{compact(w)}" for name, w in bands["half_widths"].items())
        held = f" ({bands['held_out']})" if bands.get("held_out") else ""
        row("intervals", f"{bands['method']} on {bands['windows']} held-out windows{held}: {widths}")
    history = summary["history"]
    for name, values in history["values"].items():
        if name == "learning_rate":
            continue
        row(f"history {name}", f"{sparkline(values)}  {format_number(values[0])} → {format_number(values[-1])}")
    if history["best_epoch"] is not None:
        row(
            "best epoch",
            f"{history['best_epoch']} of {history['epochs']} ({history['monitor']} {format_number(history['best'])})",
        )
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
            shape = (
                "(" + ", ".join("None" if d is None else str(d) for d in layer["output_shape"]) + ")"
                if layer["output_shape"]
                else "?"
            )
            layers.add_row(Text(inert(layer["name"])), Text(inert(layer["type"])), shape, f"{layer['parameters']:,}")
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
