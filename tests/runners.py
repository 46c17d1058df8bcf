"""The suite's one in-process runner of the command line: `lstmcli ARGV…` through Typer's CliRunner."""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("COLUMNS", "100")

ENV = {"NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"}


@dataclass
class Outcome:
    """One in-process CLI call: exit code, both streams and any escaped exception."""

    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def __repr__(self) -> str:
        return (
            f"Outcome(exit={self.exit_code}, exception={self.exception!r},\n"
            f"  stdout={self.stdout[-800:]!r},\n  stderr={self.stderr[-1500:]!r})"
        )


def invoke(argv: list, input: str | None = None) -> Outcome:
    """Run `lstmcli ARGV…` in this process; stdout and stderr kept apart, `input` as stdin."""
    from typer.testing import CliRunner

    from lstmcli.cli import app

    result = CliRunner(env=ENV).invoke(app, [str(a) for a in argv], input=input, prog_name="lstmcli")
    return Outcome(result.exit_code, result.stdout, result.stderr, result.exception)
