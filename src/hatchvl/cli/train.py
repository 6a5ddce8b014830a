"""`hatchvl train ...`: run one training stage. Main options are flags; any other option of the stage
is set with KEY=VALUE arguments (values in YAML: 8, 1e-5, true, {a: 1})."""

from __future__ import annotations

from pathlib import Path

import typer

from hatchvl.cli.errors import ReportingGroup
from hatchvl.train.options import GRPOOptions, SFTOptions, describe_options, options_from_command_line

app = typer.Typer(help="Train one stage: sft (QA fine-tuning or ActoR cold start), grpo.", cls=ReportingGroup,
                  no_args_is_help=True)

_MAIN = ("model", "data", "out", "target", "fraction", "lora", "max_steps", "seed")


def _options(cls, fixed: dict, overrides: list[str]):
    return options_from_command_line(cls, fixed, overrides, _MAIN, where="hatchvl train")


def _report(metrics: dict, out: Path) -> None:
    if metrics.get("skipped"):
        typer.echo(f"{out}: {metrics['skipped']}; delete its stage.json to train again")
        return
    loss = metrics.get("train_loss")
    typer.echo(f"trained on {metrics['samples']} samples; final model in {out / 'model'}"
               + (f"; mean loss {loss:.4f}" if isinstance(loss, float) else ""))


@app.command(help="Supervised fine-tuning on TRL's SFTTrainer; the loss is on the completion only.\n\n"
                  "Other options (KEY=VALUE):\n\n" + describe_options(SFTOptions, _MAIN).replace("\n", "\n\n"))
def sft(
    model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub id) to start from."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format."),
    out: Path = typer.Option(..., "--out", help="Stage folder: checkpoints, TensorBoard runs, model/."),
    target: str = typer.Option("answer", "--target", help="answer (QA fine-tuning) or action_answer (ActoR)."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of the split to train on (cold start: 0.1)."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (peft) instead of all weights."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after this many steps (-1: run the epochs)."),
    seed: int = typer.Option(0, "--seed"),
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other SFT options."),
) -> None:
    from hatchvl.train.sft import run_sft

    fixed = {"model": model, "data": str(data), "out": str(out), "target": target, "fraction": fraction,
             "lora": lora, "max_steps": max_steps, "seed": seed}
    _report(run_sft(_options(SFTOptions, fixed, overrides or [])), out)


@app.command(help="GRPO on TRL's GRPOTrainer with the format, action and answer rewards.\n\n"
                  "Other options (KEY=VALUE):\n\n" + describe_options(GRPOOptions, _MAIN).replace("\n", "\n\n"))
def grpo(
    model: str = typer.Option(..., "--model", help="Checkpoint folder to start from (the cold-start model)."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format."),
    out: Path = typer.Option(..., "--out", help="Stage folder: checkpoints, TensorBoard runs, model/."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of the split to train on."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (peft) instead of all weights."),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop after this many steps (-1: run the epochs)."),
    seed: int = typer.Option(0, "--seed"),
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other GRPO options."),
) -> None:
    from hatchvl.train.grpo import run_grpo

    fixed = {"model": model, "data": str(data), "out": str(out), "fraction": fraction, "lora": lora,
             "max_steps": max_steps, "seed": seed}
    _report(run_grpo(_options(GRPOOptions, fixed, overrides or [])), out)
