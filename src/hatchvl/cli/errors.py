"""How every `hatchvl` command reports a failure.

The library raises ValueError (BadSampleError is one) and FileNotFoundError for problems with what the
user gave it: options, recipes, data, paths. A command that meets one prints `Error: <message>` on stderr
and exits with code 2, without a traceback. Any other exception is a bug and keeps its traceback.

Every typer app of the command line is built with `cls=ReportingGroup`, so this holds for every command,
whichever app a test or a launcher starts from.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

USER_ERRORS = (ValueError, FileNotFoundError)
EXIT_CODE = 2  # as click's own usage errors


class ReportingGroup(TyperGroup):
    """A command group whose commands report user errors (USER_ERRORS) as `Error: <message>`, exit code 2."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(EXIT_CODE) from None
