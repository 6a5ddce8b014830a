"""`hatchvl model ...`: build and inspect backbones."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build and inspect model checkpoints.", no_args_is_help=True)
