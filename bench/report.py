"""Benchmark rows, their targets, and the markdown table written to RESULTS.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Target:
    """A goal for the ratio lstmcli ÷ plain: its text for the table and its test."""

    text: str
    met: Callable[[float], bool]


def at_most(limit: float, text: str | None = None) -> Target:
    return Target(text or f"≤ {limit:g}×", lambda ratio: ratio <= limit)


def below(limit: float) -> Target:
    return Target(f"< {limit:.2f}×", lambda ratio: ratio < limit)


def at_least(limit: float) -> Target:
    return Target(f"≥ {limit:g}×", lambda ratio: ratio >= limit)


def within(fraction: float) -> Target:
    return Target(f"within {fraction:.0%}", lambda ratio: abs(ratio - 1) <= fraction)


@dataclass
class Row:
    """One line of the results table: medians of both sides and the target for their ratio.

    Args:
        workload: What was measured, e.g. "W2 fit throughput".
        unit: "s", "samples/s", "windows/s" or "loss"; decides the formatting.
        plain: Every repetition's value on the plain Keras side.
        lstmcli: Every repetition's value on the lstmcli side.
        target: The goal for lstmcli ÷ plain.
    """

    workload: str
    unit: str
    plain: list[float]
    lstmcli: list[float]
    target: Target

    @property
    def ratio(self) -> float:
        return statistics.median(self.lstmcli) / statistics.median(self.plain)

    @property
    def passed(self) -> bool:
        return self.target.met(self.ratio)

    def cells(self) -> list[str]:
        return [
            self.workload,
            format_value(statistics.median(self.plain), self.unit),
            format_value(statistics.median(self.lstmcli), self.unit),
            f"{self.ratio:.3f}×",
            self.target.text,
            "pass" if self.passed else "**FAIL**",
        ]


def format_value(value: float, unit: str) -> str:
    """A measurement as the table shows it: seconds to 3 digits, rates whole, losses to 4 digits."""
    if unit == "s":
        return f"{value:.3g} s"
    if unit == "loss":
        return f"{value:.4g}"
    return f"{value:,.0f} {unit}"


def table(header: list[str], lines: list[list[str]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


def results_table(rows: list[Row]) -> str:
    """The main table: workload, both medians, ratio, target, pass/fail."""
    header = ["Workload", "Plain Keras (median)", "lstmcli (median)", "Ratio lstmcli ÷ plain", "Target", "Result"]
    return table(header, [row.cells() for row in rows])
