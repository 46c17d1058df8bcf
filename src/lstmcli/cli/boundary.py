"""Where the command line meets failure: errors, signals and a closed stdout become exits.

`boundary` is the only place that turns exceptions into exit codes and `error:`
lines; the commands run inside it. Inside it SIGTERM unwinds like Ctrl-C, so
temporary files are removed before the process ends, and a signal's line says
which outputs were written (the rule is in `process`);
`first_interrupt_stops` lets fit finish its current step on the first Ctrl-C.
Click's usage errors become one line in `OneLineErrors`, the command group.
This is part of the command-line layer (Typer, and rich through `render`).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import logging
import os
import re
import signal
import sys
import traceback
import warnings

import typer
from typer.core import TyperGroup

from lstmcli.cli import process
from lstmcli.cli.process import Terminated, silence_stdout
from lstmcli.errors import EXIT_FAILURE, EXIT_USAGE, LstmcliError

# Click's exception base, found through a class Typer exports (Typer vendors Click).
ClickException = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """Typer's group, with every usage error as one `error: …` line and exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = code if isinstance(code, int) else 0
        except ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `lstmcli`: the help, as Click gives it
                sys.stderr.write(exc.format_message() + "\n")
            else:
                from lstmcli.cli import render

                render.error(usage_line(exc))
            code = exc.exit_code
        except RuntimeError as exc:  # Click's Abort: input ended at a prompt
            if type(exc).__name__ != "Abort":
                raise
            code = EXIT_FAILURE
        if standalone_mode:
            sys.exit(code)
        return code


def usage_line(exc) -> str:
    """A Click usage error as lstmcli's one line: what is wrong, then how to fix it."""
    ctx = getattr(exc, "ctx", None)
    hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    name = type(exc).__name__
    if name == "NoSuchOption":
        close = difflib.get_close_matches(
            exc.option_name, _flags(ctx), n=1, cutoff=0.75
        )  # Click's 0.6 offers --rows for --lr
        if ctx is not None and ctx.parent is None and not close:
            hint = f"; a command's options go after its name: lstmcli COMMAND {exc.option_name} …"
        return f"no such option {exc.option_name}" + (f"; did you mean {close[0]}?" if close else hint)
    message = re.sub(r"'(--?[\w-]+|[A-Z_]+)'", r"\1", " ".join(exc.format_message().split())).rstrip(".")
    if name == "NoSuchCommand" or message.startswith("No such command"):
        message, _, suggestion = message.partition(". Did you mean ")
        hint = (
            f"; did you mean {suggestion}"
            if suggestion
            else f"; the commands are {', '.join(ctx.command.list_commands(ctx))}"
        )
    return message[:1].lower() + message[1:] + hint


def _flags(ctx) -> list[str]:
    return [flag for param in (ctx.command.params if ctx else []) for flag in (*param.opts, *param.secondary_opts)]


@contextlib.contextmanager
def boundary(debug: bool):
    """Turn lstmcli's errors and signals into one line on stderr and their exit code (a SystemExit).

    The step runs inside `process.step()`: a SIGINT or SIGTERM raises there (or
    waits for a commit to end), and any signal this command got is reported by
    `process.report`, naming what was written, with exit 130 or 143, whatever
    else happened to the step. Python warnings and library log records are
    hidden unless `debug` (no library's warning reaches the terminal otherwise).
    """
    from lstmcli.cli import render

    with process.handled(), warnings.catch_warnings(), _library_logs_hidden(not debug):
        if not debug:
            warnings.simplefilter("ignore")
        try:
            with process.step():
                yield
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, Terminated)) or (
                isinstance(exc, Exception) and process.pending() is not None
            ):
                # A signal's exception can also surface from inside C code as another error
                # (CPython's "SystemError: bad argument to internal function", an interrupted
                # write's OSError): still the signal.
                if debug:
                    traceback.print_exc()
                signum = process.pending() or (signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
                raise SystemExit(process.report(signum)) from None
            if not isinstance(exc, Exception):
                raise
            _fail(exc, debug, render)
        if process.pending() is not None:  # the handler's exception was swallowed (a finaliser): the step ran on
            raise SystemExit(process.report(process.pending()))


def _fail(exc: Exception, debug: bool, render) -> None:
    """An error that is not a signal: its line (or lines) and its exit code, as a SystemExit."""
    if isinstance(exc, LstmcliError):
        if debug:
            traceback.print_exc()
        for line in getattr(exc, "lines", None) or [str(exc)]:
            render.error(line)
        raise SystemExit(exc.exit_code) from None
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
        raise SystemExit(EXIT_FAILURE) from None  # quietly: the reader chose to stop
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG and not debug:
        render.error(f"file name too long (use a shorter one): {exc.filename}")
        raise SystemExit(EXIT_USAGE) from None
    if debug:
        traceback.print_exc()
    else:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        render.error(f"unexpected {type(exc).__name__}: {first} (run again with --debug for the traceback)")
    raise SystemExit(EXIT_FAILURE) from None


@contextlib.contextmanager
def _library_logs_hidden(hidden: bool):
    """Drop log records of libraries that configured no handler (Python's last-resort stderr handler)."""
    previous = logging.lastResort
    if hidden:
        logging.lastResort = logging.NullHandler()
    try:
        yield
    finally:
        logging.lastResort = previous


class StopFlag:
    """The first Ctrl-C asks training to stop after the current step; the second interrupts.

    Once training is over (the step polls with `final=True` before it writes)
    there is no step left to finish, so any Ctrl-C interrupts at once and no
    output is written.
    """

    def __init__(self):
        self.requested = False
        self.final = False

    def __call__(self, final: bool = False) -> str | None:
        self.final = self.final or final
        return "interrupted" if self.requested else None


def first_interrupt_stops():
    """Within the block the first Ctrl-C sets the yielded StopFlag instead of raising."""
    return process.stopping_after_the_current_step(StopFlag())


def stuck(message: str) -> None:
    """A multi-worker peer stopped answering inside TensorFlow, where no exception reaches: end the process."""
    from lstmcli.cli import render

    render.error(message)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(EXIT_FAILURE)
