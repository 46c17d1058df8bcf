"""fit's per-epoch history: merged across fits, and written as CSV."""

from __future__ import annotations

from pathlib import Path

from lstmcli import outputs
from lstmcli.model.record import Record


def merge(record: Record, before: dict, done: int, new: dict) -> None:
    merged = {k: list(v) for k, v in before.items()}
    for name, values in new.items():
        merged.setdefault(name, [float("nan")] * done)
        merged[name] = merged[name][:done] + list(values)
    width = done + len(next(iter(new.values()), []))
    for name, values in merged.items():  # a log this fit did not write (val_* without validation) is NaN here
        merged[name] = (values + [float("nan")] * width)[:width]
    record.history = merged


def history_csv(history: dict[str, list]) -> str:
    """The per-epoch history as CSV, with an epoch column counting from 1."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    return frame.to_csv(index=False)


def write_history(history: dict[str, list], path: Path) -> None:
    """Write `history_csv` to `path` atomically."""
    with outputs.atomic_output(Path(path)) as handle:
        handle.write(history_csv(history))
