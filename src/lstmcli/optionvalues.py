"""One option value converted: whole or real numbers within an option's range, lists from text or TOML.

Standard library only, as `lstmcli.options`, which uses these in `check`.
"""

from __future__ import annotations

import math
from typing import Any

from lstmcli.errors import ConfigError

INT_LIMIT = 2**31  # no count (epochs, units, timesteps, batch) is this large; beyond it TensorFlow overflows


def split(value: Any, where: str) -> list:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{where} must be a list or a comma-separated string. Received: {value!r}")
    items = []
    for item in value:
        if isinstance(item, str):
            items.extend(part.strip() for part in item.split(",") if part.strip())
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            items.append(item)
        else:
            raise ConfigError(f"{where} has an item that is not a name or number. Received: {item!r}")
    if not items:
        raise ConfigError(f"{where} is empty; name at least one value")
    return items


def number(option: Any, value: Any, where: str):
    """`value` as the number an `lstmcli.options.Option` takes (a float for "float", else a whole number), checked against its range."""
    kind = float if option.kind in ("float", "floats") else int
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a number. Received: {value!r}")
    try:
        number = kind(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(
            f"{where} must be {'a whole number' if kind is int else 'a number'}. Received: {value!r}"
        ) from None
    if (kind is int and isinstance(value, float) and value != number) or (kind is float and not math.isfinite(number)):
        raise ConfigError(f"{where} must be a {'whole' if kind is int else 'finite'} number. Received: {value!r}")
    high = option.high if option.high is not None else INT_LIMIT if kind is int else None
    if option.low is not None and number < option.low:
        raise ConfigError(f"{where} must be at least {option.low}. Received: {value!r}")
    above = getattr(option, "above", None)
    if above is not None and number <= above:
        raise ConfigError(f"{where} must be above {above}. Received: {value!r}")
    if high is not None and number >= high:
        percent = f" (write {number / 100:g} for {number:g}%)" if high == 1.0 and 1 < number < 100 else ""
        raise ConfigError(f"{where} must be below {high}{percent}. Received: {value!r}")
    return number
