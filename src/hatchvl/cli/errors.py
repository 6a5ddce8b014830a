"""How every `hatchvl` command reports a failure.

The library raises ValueError (BadSampleError is one) and FileNotFoundError for problems with what the
user gave it: options, recipes, data, paths. A command that meets one prints `Error: <message>` on stderr
and exits with code 2, without a traceback. Any other exception is a bug and keeps its traceback. Errors
in the command line itself (a missing option, a value click refuses) end the same way: click's usage lines,
then `Error: <message>`, code 2 (typer would draw them in a box).

Every typer app of the command line is built with `cls=ReportingGroup`, so this holds for every command,
whichever app a test or a launcher starts from. A user error raised in a data loader worker process comes
back with the worker's traceback in its message (torch re-raises it so); only its own message is printed.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

USER_ERRORS = (ValueError, FileNotFoundError)
EXIT_CODE = 2  # as click's own usage errors
USAGE_ERROR = typer.BadParameter.__mro__[1]  # click's UsageError, as typer bundles click (typer._click)
_WORKER_TRACEBACK = "\nOriginal Traceback (most recent call last):"  # torch.utils._utils.ExceptionWrapper


def user_message(err: BaseException) -> str:
    """The message of a user error, without the traceback of the worker process it may come from."""
    text = str(err)
    if _WORKER_TRACEBACK in text:  # the traceback ends with "<module.Class>: <message>"
        last = text.rstrip().splitlines()[-1]
        text = last.partition(": ")[2] or last
    return text


class ReportingGroup(TyperGroup):
    """A command group whose commands report user errors (USER_ERRORS) as `Error: <message>`, exit code 2."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            typer.echo(f"Error: {user_message(err)}", err=True)
            raise typer.Exit(EXIT_CODE) from None
        except USAGE_ERROR as err:
            if type(err).__name__ == "NoArgsIsHelpError":  # a group called alone: typer prints its help
                raise
            err.show()
            raise typer.Exit(EXIT_CODE) from None
