"""Metrics files that DVC, MLflow and spreadsheets read: JSON, YAML, CSV or a text table.

The format follows the file's extension; an extension that none of them
claims is refused before any work is done, never silently written as text.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lstmcli.errors import ConfigError
from lstmcli.outputs import is_special

FORMATS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".txt": "text"}


def format_for(out: Path | None, as_json: bool) -> str:
    """The format evaluate writes to `out`: by extension for a file, else json or text.

    stdout (`-` or no `--out`) and outputs written through rather than
    replaced (`outputs.is_special`: a device, a FIFO, /dev/stdout even when
    the shell redirected it to a file) get `--json`'s choice, as stdout does.

    Raises:
        ConfigError: for a regular file whose extension names no format.
    """
    if out is None or str(out) == "-" or is_special(out) or Path(out).is_dir():
        return "json" if as_json else "text"  # a directory is refused by the output checks, with its own message
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"evaluate writes metrics as {', '.join(FORMATS)}; name the file with one of those extensions, "
            f"such as {Path(out).with_suffix('.json')}. Received: --out {out}"
        )
    if as_json and FORMATS[suffix] != "json":
        raise ConfigError(
            f"--json asks for JSON but --out {out} is a {FORMATS[suffix]} file; drop --json or name a .json file"
        )
    return FORMATS[suffix]


def dumps(metrics: dict, fmt: str) -> str:
    """`metrics` as the text of a json, yaml or csv file (text tables are the CLI's)."""
    if fmt == "json":
        return json.dumps(metrics, indent=2) + "\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(metrics, sort_keys=False, default_flow_style=False)
    if fmt == "csv":
        flat = _flatten(metrics)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(flat)
        writer.writerow(flat.values())
        return buffer.getvalue()
    raise ValueError(f"no writer for metrics format {fmt!r}")


def _flatten(metrics: dict, prefix: str = "") -> dict:
    """One column per metric; nested tables (per-step metrics) joined with dots."""
    flat: dict = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        elif isinstance(value, (list, tuple)):
            flat.update(_flatten({str(i): v for i, v in enumerate(value)}, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat
