"""`hatchvl model ...`: build and inspect backbones.

The library is imported inside each command: transformers takes seconds to import, `--help` should not.
"""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from hatchvl.cli.errors import ReportingGroup

app = typer.Typer(help="Build and inspect model checkpoints.", cls=ReportingGroup, no_args_is_help=True)


class TokenizerKind(enum.StrEnum):
    byte = "byte"
    bpe = "bpe"


@app.command("init-tiny")
def init_tiny(
    family: str = typer.Option(..., help="Model family: qwen2_vl, qwen2_5_vl or qwen3_vl."),
    out: Path = typer.Option(..., help="Output directory (created; must be empty)."),
    seed: int = typer.Option(0, help="Seed of the random weights."),
    tokenizer: TokenizerKind = typer.Option(TokenizerKind.byte, help="byte, or a BPE trained on --corpus."),
    corpus: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="Text file for the BPE tokenizer, one text a line."
    ),
) -> None:
    """Write a tiny randomly initialised checkpoint in the standard Hugging Face layout."""
    from hatchvl.models.tiny import init_tiny as build

    texts = corpus.read_text(encoding="utf-8").splitlines(keepends=True) if corpus is not None else None
    path = build(family, out, seed=seed, tokenizer=tokenizer.value, corpus=texts)
    typer.echo(f"wrote {path}")


@app.command("info")
def info(path: str = typer.Argument(..., help="Checkpoint directory or hub id.")) -> None:
    """Print the family, parameter counts and image token settings of a checkpoint."""
    from hatchvl.models.backbone import parameter_counts
    from hatchvl.models.loading import image_settings, load_model_and_processor

    model, processor = load_model_and_processor(path)
    typer.echo(f"family: {model.config.model_type}")
    typer.echo(f"dtype: {model.dtype}")
    for name, count in parameter_counts(model).items():
        typer.echo(f"parameters.{name}: {count:,}")
    for name, value in image_settings(processor).items():
        typer.echo(f"image.{name}: {value}")
