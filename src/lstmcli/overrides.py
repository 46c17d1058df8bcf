"""`run --set TABLE.KEY=VALUE`: a config's values replaced from the command line, as Hydra and DVC do it.

Light (standard library only): parsed before any work, like the options themselves.
"""

from __future__ import annotations

import tomllib
from typing import Any

from lstmcli.errors import ConfigError
from lstmcli.model.tasks import did_you_mean


def assignments(texts: list[str] | None, tables: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """`TABLE.KEY=VALUE` overrides (`run --set fit.epochs=5`) as {table: {key: value}}.

    As Hydra's `key=value` and `dvc exp run -S`: the value is read as a TOML
    value (`5`, `0.5`, `true`, `[32, 16]`, `"text"`), and a bare word that is
    not one (`adam`, `data/train.csv`) is text; `resolve` then checks it as it
    checks the same value in the config. Dashes in KEY may stand for
    underscores, as in the flags. A later assignment of a key wins.

    Raises:
        ConfigError: for text that is not TABLE.KEY=VALUE, or a table not in `tables`.
    """
    found: dict[str, dict[str, Any]] = {}
    for text in texts or []:
        name, equals, raw = str(text).partition("=")
        table, dot, key = name.strip().partition(".")
        if not equals or not dot or not table or not key.strip():
            raise ConfigError(f"--set takes TABLE.KEY=VALUE, such as fit.epochs=5. Received: {text!r}")
        if table not in tables:
            raise ConfigError(
                f"--set {name.strip()}: {table!r} is not a table of this command; the tables are "
                + ", ".join(tables)
                + did_you_mean(table, tables)
            )
        found.setdefault(table, {})[key.strip().replace("-", "_")] = _toml_value(raw.strip())
    return found


def _toml_value(raw: str) -> Any:
    try:
        parsed = tomllib.loads(f"value = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    return parsed["value"] if list(parsed) == ["value"] else raw
