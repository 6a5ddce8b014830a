"""`hatchvl train pasta` and `hatchvl eval probe`: typer command functions, registered on the `train` and
`eval` apps. Main options are flags; any other PaStA option is a KEY=VALUE argument (YAML values)."""

from __future__ import annotations

from pathlib import Path

import typer

from hatchvl.train.options import describe_options, options_from_command_line
from hatchvl.train.pasta import PastaOptions

_MAIN = ("model", "data", "out", "grid", "max_steps", "seed", "skip_bad")


def _fail(err: Exception, code: int = 1) -> None:
    typer.echo(f"Error: {err}", err=True)
    raise typer.Exit(code)


def _pasta_options(fixed: dict, overrides: list[str]) -> PastaOptions:
    try:
        return options_from_command_line(PastaOptions, fixed, overrides, _MAIN, where="hatchvl train pasta")
    except ValueError as err:
        _fail(err, code=2)


def train_pasta(
    model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub id) to start from."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format, with depths and poses."),
    out: Path = typer.Option(..., "--out", help="Stage folder: checkpoints, TensorBoard runs, S cache, model/."),
    grid: int = typer.Option(4, "--grid", help="PaStA cells per side."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after this many steps (-1: run the epochs)."),
    seed: int = typer.Option(0, "--seed"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip (and count) samples without depth or poses."),
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other PaStA options."),
) -> None:
    from hatchvl.train.pasta import run_pasta

    fixed = {"model": model, "data": str(data), "out": str(out), "grid": grid, "max_steps": max_steps,
             "seed": seed, "skip_bad": skip_bad}
    opts = _pasta_options(fixed, overrides or [])
    try:
        metrics = run_pasta(opts)
    except ValueError as err:
        _fail(err)
    if metrics.get("skipped"):
        typer.echo(f"{out}: {metrics['skipped']}; delete its stage.json to train again")
        return
    skipped = f", {metrics['skipped_samples']} bad samples skipped" if metrics["skipped_samples"] else ""
    typer.echo(f"trained on {metrics['samples']} samples ({metrics['pairs']} view pairs{skipped}); "
               f"mean loss {metrics['train_loss']:.4f}; final model in {out / 'model'}")


train_pasta.__doc__ = ("PaStA: align the vision tower's cell features with the views' geometric overlap "
                       "(vision tower and merger train, the language model is frozen).\n\n"
                       "Other options (KEY=VALUE):\n\n" + describe_options(PastaOptions, _MAIN).replace("\n", "\n\n"))


def eval_probe(
    model: str = typer.Option(..., "--model", help="Checkpoint folder to probe."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format, with depths and poses."),
    split: str = typer.Option("test", "--split", help="Held-out split: val or test."),
    grid: int = typer.Option(4, "--grid", help="PaStA cells per side."),
    limit: int | None = typer.Option(None, "--limit", help="Probe at most this many view pairs."),
    before_merger: bool = typer.Option(False, "--before-merger", help="Features before the 2x2 merger."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON to this file."),
) -> None:
    """Cross-view cell retrieval probe: top-1 accuracy against chance, "same position" and "colour only"."""
    from hatchvl.io import write_json
    from hatchvl.objectives.probe import format_table, probe_checkpoint

    try:
        result = probe_checkpoint(model, data, split=split, grid=grid, limit=limit, before_merger=before_merger)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    typer.echo(format_table(result))
    if json_out is not None:
        write_json(json_out, result.as_dict())
