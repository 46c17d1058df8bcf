"""The command line: the only part of lstmcli that knows Typer, rich and the terminal.

`commands` holds the Typer app and one thin body per command, `bridge` builds each
command's parameters from the step's options, `boundary` turns errors and signals into
exit codes, `completion` the completion options, and `render` draws results and progress.
`signals` is imported first, and alone: `main` installs its start-up handlers before
importing Typer, so a signal during those imports ends the process cleanly.
"""

from lstmcli.cli import signals


def main(argv: list[str] | None = None) -> None:
    """Run the CLI (`lstmcli`'s entry point); `argv` defaults to sys.argv[1:]."""
    signals.startup()
    from lstmcli.cli.commands import main as run

    run(argv)


def __getattr__(name: str):
    if name == "app":  # the Typer app, imported on first use
        from lstmcli.cli.commands import app

        return app
    raise AttributeError(f"module 'lstmcli.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
