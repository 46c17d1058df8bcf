"""Metric gates: `evaluate --fail-if 'loss>0.01'` turns a metric into a CI verdict.

A gate names a metric evaluate reports, a comparison and a bound; it *fails*
when the comparison holds. Gates are checked against whatever metrics evaluate
returned, so a metric added to evaluate later can be gated without a change
here. A failed gate raises `GateFailed` (exit 3), so CI can tell "the model got
worse" from "the tool broke" (exit 1) and "the command was wrong" (exit 2).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Callable

from lstmcli.errors import ConfigError, GateFailed
from lstmcli.model.tasks import did_you_mean

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_GATE = re.compile(r"^\s*(?P<metric>[A-Za-z_][\w.\-]*)\s*(?P<op><=|>=|<|>)\s*(?P<bound>\S+)\s*$")


@dataclass(frozen=True)
class Gate:
    """One `METRIC OP BOUND` condition under which evaluate fails.

    Args:
        metric: A metric name as evaluate reports it (nested ones joined by dots).
        op: One of `<`, `<=`, `>`, `>=`.
        bound: The number the metric is compared with.
    """

    metric: str
    op: str
    bound: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.bound:g}"

    def fails(self, value: float) -> bool:
        """Whether `value` meets the failing condition; NaN always fails."""
        return math.isnan(value) or COMPARISONS[self.op](value, self.bound)


def parse(text: str) -> Gate:
    """Parse one gate such as `loss>0.01` or `accuracy <= 0.9`.

    Raises:
        ConfigError: if the text is not METRIC, a comparison and a finite number.
    """
    match = _GATE.match(str(text))
    bound = None
    if match:
        try:
            bound = float(match["bound"])
        except ValueError:
            bound = None
    if bound is None or not math.isfinite(bound):
        raise ConfigError(
            f"--fail-if takes METRIC<BOUND, METRIC<=BOUND, METRIC>BOUND or METRIC>=BOUND with a number, "
            f"such as 'loss>0.01'. Received: {text!r}"
        )
    return Gate(match["metric"], match["op"], bound)


def parse_all(texts: list[str] | None) -> list[Gate]:
    """Parse every gate given, before any work is done."""
    return [parse(text) for text in texts or []]


def numbers(metrics: dict, prefix: str = "") -> dict[str, float]:
    """The gateable metrics: every number in `metrics`, nested names joined by dots."""
    found: dict[str, float] = {}
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            found.update(numbers(value, key + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[key] = float(value)
    return found


def check_names(gates: list[Gate], metrics: dict) -> None:
    """Refuse a gate on a metric evaluate did not report.

    Raises:
        ConfigError: naming the unknown metric and listing the ones there are.
    """
    available = numbers(metrics)
    for gate in gates:
        if gate.metric not in available:
            raise ConfigError(
                f"--fail-if {str(gate)!r}: evaluate reports no metric {gate.metric!r}"
                + did_you_mean(gate.metric, list(available))
                + f"; the metrics are {', '.join(available)}"
            )


def check_possible(gates: list[Gate], names: list[str], prefixes: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, a gate on a metric evaluate cannot report for this model.

    Args:
        names: The metrics it may report (see `evaluating.reportable`).
        prefixes: Beginnings of names the data completes (a class's recall).

    Raises:
        ConfigError: naming the metric, the close match, and the metrics there can be.
    """
    for gate in gates:
        if gate.metric not in names and not gate.metric.startswith(prefixes):
            shown = [*names, *(p + "…" for p in prefixes)]
            raise ConfigError(
                f"--fail-if {str(gate)!r}: evaluate reports no metric {gate.metric!r} for this model"
                + did_you_mean(gate.metric, names)
                + f"; the metrics it can report are {', '.join(shown)}"
            )


def check(gates: list[Gate], metrics: dict) -> None:
    """Check every gate against evaluate's metrics.

    Raises:
        ConfigError: if a gate names a metric that is not there (exit 2).
        GateFailed: one line per failed gate, naming metric, value and bound (exit 3).
    """
    check_names(gates, metrics)
    available = numbers(metrics)
    failed = [
        f"gate failed: {gate.metric} is {available[gate.metric]:.6g}, and it must not be {gate.op} {gate.bound:g} (--fail-if '{gate}')"
        for gate in gates
        if gate.fails(available[gate.metric])
    ]
    if failed:
        raise GateFailed(failed)
