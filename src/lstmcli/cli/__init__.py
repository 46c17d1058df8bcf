"""The command line: the only part of lstmcli that knows Typer, rich and the terminal.

`commands` holds the Typer app and one thin body per command, `bridge` builds each
command's parameters from the step's options, `boundary` turns errors and signals into
exit codes, `process` runs a command as a whole process (signals from its first line,
the final flush and exit), `render` draws results and progress, and `serving` is
`lstmcli server`.

`main` is the `lstmcli` program. With LSTMCLI_SERVER=auto or on it first offers the
command to the warm server (`lstmcli.warm.client`, no Typer or TensorFlow imported),
and runs it here only if the server does not take it. Typer is imported after the
signal handler is in place (a Ctrl-C while Typer loads ends as one line too), and
`app` on first use.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run the CLI as this process and exit; `argv` defaults to sys.argv[1:], and only then may the warm server run it."""
    if argv is None:
        from lstmcli.warm.client import run_if_warm

        run_if_warm(sys.argv[1:])  # returns only if the command is to run here
    from lstmcli.cli import process

    process.main(argv, _load_app)


def _load_app():
    from lstmcli.cli.commands import app

    return app


def __getattr__(name: str):
    if name == "app":
        from lstmcli.cli.commands import app

        return app
    raise AttributeError(f"module 'lstmcli.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
