"""The command line: the only part of lstmcli that knows Typer, rich and the terminal.

`commands` holds the Typer app and one thin body per command, `bridge` builds each
command's parameters from the step's options, `boundary` turns errors and signals into
exit codes, and `render` draws results and progress.
"""

from lstmcli.cli.commands import app, main

__all__ = ["app", "main"]
