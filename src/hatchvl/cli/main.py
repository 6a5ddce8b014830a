"""Entry point of the `hatchvl` command: one typer app with a sub-app per command group."""

from __future__ import annotations

import typer

from hatchvl import __version__
from hatchvl.cli import data, model, pipeline, train
from hatchvl.cli import eval as eval_cli
from hatchvl.cli.errors import ReportingGroup

app = typer.Typer(
    name="hatchvl",
    help="Train multimodal LLMs for multi-image spatial reasoning with HATCH (PaStA + ActoR).",
    cls=ReportingGroup,
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.add_typer(model.app, name="model")
app.add_typer(train.app, name="train")
app.add_typer(eval_cli.app, name="eval")
app.command("pipeline")(pipeline.pipeline)
app.command("ablate")(pipeline.ablate)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """hatchvl command line."""


if __name__ == "__main__":  # `python -m hatchvl.cli.main`, as accelerate launch -m and torchrun -m run it
    app()
