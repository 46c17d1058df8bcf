"""Shell completion's two root options, taking the shell they are given.

Typer's own `--show-completion` and `--install-completion` are flags that detect the
parent shell, so `lstmcli --show-completion zsh` printed bash's script from bash, and
under /bin/sh (a Makefile's recipe, a Dockerfile's `RUN`) every call failed with
`Shell sh not supported`. Here a shell named after the option is used; left out, the
parent shell is detected as before. Completion itself (the `_LSTMCLI_COMPLETE`
protocol) stays Typer's.
"""

from __future__ import annotations

import os
import sys

from typer import _completion_shared as shared
from typer._completion_classes import completion_init

from lstmcli.cli.boundary import OneLineErrors
from lstmcli.errors import EXIT_USAGE

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
OPTIONS = {
    "--show-completion": "Print the completion script for SHELL, named after the option",
    "--install-completion": "Install completion for SHELL, named after the option",
}
_SUFFIX = " (bash, zsh, fish or powershell; the shell lstmcli runs from when left out)."


class CompletingGroup(OneLineErrors):
    """The command group, with completion options that honour the shell they are given."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            flag = next((o for o in param.opts if o in OPTIONS), None)
            if flag:
                param.help = OPTIONS[flag] + _SUFFIX
        return params

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        words = list(sys.argv[1:] if args is None else args)
        if words[:1] and words[0] in OPTIONS and len(words) <= 2:
            code = _completion(words[0], words[1] if len(words) == 2 else None, prog_name or "lstmcli")
            if standalone_mode:
                sys.exit(code)
            return code
        return super().main(args, prog_name, complete_var, standalone_mode, **extra)

    def _main_shell_completion(self, ctx_args, prog_name, complete_var=None):
        """Typer's shell completion, with a value of `_LSTMCLI_COMPLETE` it cannot use refused as one error line."""
        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        instruction = os.environ.get(var)
        if instruction:
            action, _, shell = instruction.partition("_")
            if action not in ("source", "complete") or shell not in SHELLS:
                from lstmcli.cli import render

                render.error(
                    f"{var}={instruction!r} is not a completion instruction; use source_SHELL to print the script "
                    f"(SHELL one of {', '.join(SHELLS)}), or unset {var}"
                )
                sys.exit(EXIT_USAGE)
        super()._main_shell_completion(ctx_args, prog_name, complete_var)


def _completion(flag: str, named: str | None, prog: str) -> int:
    from lstmcli.cli import render

    shell = named or shared._get_shell_name() or ""
    if shell not in SHELLS:
        if named:
            seen = f"'{shell}' is not one of them"
        else:
            seen = f"the shell running {prog} is '{shell}'" if shell else f"the shell running {prog} was not found"
        render.error(f"completion is for bash, zsh, fish and powershell; {seen}: name one, as in '{prog} {flag} bash'")
        return EXIT_USAGE
    completion_init()
    variable = "_{}_COMPLETE".format(prog.replace("-", "_").upper())
    if flag == "--show-completion":
        sys.stdout.write(shared.get_completion_script(prog_name=prog, complete_var=variable, shell=shell) + "\n")
    else:
        shell, path = shared.install(shell=shell, prog_name=prog, complete_var=variable)
        sys.stdout.write(f"{shell} completion installed in {path}; it takes effect in a new shell\n")
    return 0
