"""The command line: the only part of lstmcli that knows Typer, rich and the terminal.

`commands` holds the Typer app and one thin body per command, `bridge` builds each
command's parameters from the step's options, `boundary` turns errors and signals into
exit codes, `render` draws results and progress, and `serving` is `lstmcli server`.
`main` is the `lstmcli` entry point: with LSTMCLI_SERVER=auto or on it first offers the
command to the warm server (`lstmcli.warm.client`, no Typer or TensorFlow imported),
and runs it here only if the server does not take it.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; `argv` defaults to sys.argv[1:], and only then may the warm server run it."""
    if argv is None:
        from lstmcli.warm.client import run_if_warm

        run_if_warm(sys.argv[1:])  # returns only if the command is to run here
    from lstmcli.cli.commands import main as run

    run(argv)


def __getattr__(name: str):
    if name == "app":
        from lstmcli.cli.commands import app

        return app
    raise AttributeError(f"module 'lstmcli.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
