"""The command line: the only part of lstmcli that knows Typer, rich and the terminal.

`commands` holds the Typer app and one thin body per command, `bridge` builds each
command's parameters from the step's options, `boundary` turns errors and signals into
exit codes, `process` runs a command as a whole process (signals from its first line,
the final flush and exit), and `render` draws results and progress.

`main` is the `lstmcli` program. Typer is imported after its signal handler is in
place (a Ctrl-C while Typer loads ends as one line too), and `app` on first use.
"""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI as this process and exit; `argv` defaults to sys.argv[1:]."""
    from lstmcli.cli import process

    def load_app():
        from lstmcli.cli.commands import app

        return app

    process.main(argv, load_app)


def __getattr__(name: str):
    if name == "app":
        from lstmcli.cli.commands import app

        return app
    raise AttributeError(f"module 'lstmcli.cli' has no attribute {name!r}")


__all__ = ["app", "main"]
