"""Typer commands built from the steps' options classes: parameters, shell completion, and the call around a body.

`command` turns a body `(model, opts, call)` into a Typer command whose
parameters come from the fields of the command's options class
(`lstmcli.steps.options.BY_COMMAND`, plus MODEL, --config and --print-config
for steps, -q, -v and --debug), so an option is declared once.
The call resolves the options, prints them for --print-config, and runs the
body inside the error boundary. Completion answers from the table and the
file system alone, without importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from lstmcli import options, quiet
from lstmcli.cli.boundary import boundary
from lstmcli.errors import UsageError
from lstmcli.steps.options import BY_COMMAND, for_command


def _no_names(incomplete: str) -> list[str]:
    """A path's completion: none of ours, so bash's `complete -o default` completes the file name
    itself, quoting spaces and leaving no space after a folder (Typer's script cannot do either)."""
    return []


def _choices(choices: tuple):
    return lambda incomplete: [c for c in choices if c.startswith(incomplete)]


_METAVARS = {"int": "INTEGER", "float": "NUMBER", "path": "PATH", "batch": "N|all", "str": "TEXT"}


def _parameter(option: options.Option) -> inspect.Parameter:
    """The Typer parameter of one table entry; None as its default means "not given".

    Values reach `options.resolve` as the text typed (Click converts only
    bools), so a flag and a config value pass the same checks and errors.
    """
    decls = [f"{option.flag}/{option.off}" if option.off else option.flag, *option.aliases]
    metavar = (
        f"[{'|'.join(option.choices)}]" if option.choices else option.metavar or _METAVARS.get(option.kind, "VALUES")
    )
    complete = _choices(option.choices) if option.choices else _no_names if option.kind == "path" else None
    info = typer.Option(
        *decls,
        help=option.describe(),
        metavar=None if option.kind == "bool" else metavar,
        show_default=False,
        autocompletion=complete,
    )
    kind = bool if option.kind == "bool" else list[str] if option.kind in options.LISTS else str
    annotation = Annotated[kind if option.required else Optional[kind], info]
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=... if option.required else None, annotation=annotation
    )


def _common(name: str, *, model: bool) -> list[inspect.Parameter]:
    """The parameters every command has beside its table's: MODEL, --config and --print-config for steps, -q, -v, --debug."""

    def param(pname, annotation, default):
        return inspect.Parameter(pname, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)

    steps = name in options.CONFIG_TABLES
    return [
        *(
            [
                param(
                    "model",
                    Annotated[
                        Path,
                        typer.Argument(
                            metavar="MODEL",
                            help="The .keras artifact written by the step before.",
                            show_default=False,
                            autocompletion=_no_names,
                        ),
                    ],
                    ...,
                )
            ]
            if model
            else []
        ),
        *(
            [
                param(
                    "config",
                    Annotated[
                        Optional[Path],
                        typer.Option(
                            "--config",
                            help=f"A TOML file whose [{name}] table sets any option; flags override it.",
                            show_default=False,
                            autocompletion=_no_names,
                        ),
                    ],
                    None,
                ),
                param(
                    "print_config",
                    Annotated[
                        bool,
                        typer.Option(
                            "--print-config",
                            help="Print the resolved settings as the TOML table --config reads, and exit.",
                        ),
                    ],
                    False,
                ),
            ]
            if steps
            else []
        ),
        param("quiet", Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors on stderr.")], False),
        param(
            "detail",
            Annotated[
                bool,
                typer.Option(
                    "-v",
                    help="More on stderr: the resolved options"
                    + (" (in --print-config's form)" if steps else "")
                    + " and the time taken"
                    + ("; sets --verbose 2." if "verbose" in _names(name) or name == "run" else "."),
                ),
            ],
            False,
        ),
        param(
            "debug",
            Annotated[bool, typer.Option("--debug", help="Show tracebacks and TensorFlow's own log lines.")],
            False,
        ),
    ]


def _names(name: str) -> list[str]:
    return [o.name for o in options.visible(BY_COMMAND[name])]


@dataclass
class Call:
    """How a command was asked to run, beside its options."""

    debug: bool = False
    quiet: bool = False
    detail: bool = False


def command(app: typer.Typer, name: str, *, model: bool = True):
    """Register the decorated `body(model, opts, call)` on `app` as command `name`, its options from the fields of BY_COMMAND[name]."""

    cls = BY_COMMAND[name]

    def register(body):
        def run(**given):
            from lstmcli.cli import render

            call = Call(given.pop("debug"), given.pop("quiet"), given.pop("detail"))
            artifact = given.pop("model", None)
            config, print_config = (
                (given.pop("config"), given.pop("print_config")) if name in options.CONFIG_TABLES else (None, False)
            )
            render.configure(quiet=call.quiet)
            started = time.perf_counter()
            with boundary(call.debug):
                if call.quiet and call.detail:
                    raise UsageError("-q asks for errors only and -v for more; give one of them")
                opts = for_command(name, given, config)
                if print_config or call.detail:  # the table printed is the one that runs: defaults and seed filled in
                    from lstmcli.steps.resolving import resolved

                    opts = resolved(name, opts, artifact)
                if print_config:
                    sys.stdout.write(options.to_toml(name, opts))
                    return
                if hasattr(opts, "verbose") and (call.quiet or call.detail):
                    opts = dataclasses.replace(opts, verbose="0" if call.quiet else "2")
                if call.detail:
                    render.stderr_console().print(options.to_toml(name, opts), markup=False, end="")
                with quiet.debugging(call.debug):
                    body(artifact, opts, call) if model else body(opts, call)
            if call.detail:
                render.stderr_console().print(f"{name}: done in {time.perf_counter() - started:.2f} s", markup=False)

        params = _common(name, model=model)
        params[1 if model else 0 : 1 if model else 0] = [_parameter(o) for o in options.visible(cls)]
        run.__signature__ = inspect.Signature(params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        app.command(name, help=inspect.getdoc(body))(run)
        return body

    return register
