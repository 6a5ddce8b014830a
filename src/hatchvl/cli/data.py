"""`hatchvl data ...`: build, import and inspect datasets in the hatchvl dataset format."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build and inspect datasets in the hatchvl dataset format.", no_args_is_help=True)
