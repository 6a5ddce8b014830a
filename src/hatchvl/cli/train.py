"""`hatchvl train ...`: run one training stage. Main options are flags; any other option of the stage
is set with KEY=VALUE arguments (values in YAML: 8, 1e-5, true, {a: 1}).

Only `train.options` is imported here (no torch): the stage module is imported when its command runs.
"""

from __future__ import annotations

from pathlib import Path

import typer

from hatchvl.cli.errors import ReportingGroup
from hatchvl.train.options import GRPOOptions, PastaOptions, SFTOptions, describe_options, options_from_command_line

app = typer.Typer(help="Train one stage: pasta (vision tower), sft (QA fine-tuning or ActoR cold start), grpo.",
                  cls=ReportingGroup, no_args_is_help=True)

# the options each command sets with a flag (refused as KEY=VALUE, left out of the KEY=VALUE help)
PASTA_FLAGS = ("model", "data", "out", "grid", "max_steps", "seed", "skip_bad")
SFT_FLAGS = ("model", "data", "out", "target", "fraction", "lora", "max_steps", "seed", "skip_bad")
GRPO_FLAGS = ("model", "data", "out", "fraction", "lora", "max_steps", "seed", "skip_bad")


# flags several commands share (typer reads these defaults; they are not mutated)
MAX_STEPS = typer.Option(-1, "--max-steps", help="Stop after this many steps (-1: run the epochs).")
SEED = typer.Option(0, "--seed")
LORA = typer.Option(False, "--lora", help="Train LoRA adapters (peft) instead of all weights.")
OUT = typer.Option(..., "--out", help="Stage folder: checkpoints, TensorBoard runs, model/.")
SKIP_BAD = typer.Option(False, "--skip-bad", help="Skip samples whose image or depth files cannot be decoded (PaStA: "
                                                  "or that lack depth or poses); each is listed in stage.json.")


def _help(summary: str, cls: type, flags: tuple[str, ...]) -> str:
    """A command's help: its summary, then one paragraph per KEY=VALUE option."""
    return summary + "\n\nOther options (KEY=VALUE):\n\n" + describe_options(cls, flags).replace("\n", "\n\n")


def _skipped(metrics: dict, out: Path) -> bool:
    if metrics.get("skipped"):
        typer.echo(f"{out}: {metrics['skipped']}; delete its stage.json to train again")
    return bool(metrics.get("skipped"))


def _report(metrics: dict, out: Path, pairs: bool = False) -> None:
    """One line on a finished stage; `pairs`: with its view pairs (PaStA)."""
    if _skipped(metrics, out):
        return
    details = [f"{metrics['pairs']} view pairs"] if pairs else []
    if metrics.get("skipped_samples"):
        details.append(f"{metrics['skipped_samples']} bad samples skipped")
    loss = metrics.get("train_loss")  # none when a resumed run only had its last checkpoint to save
    typer.echo(f"trained on {metrics['samples']} samples" + (f" ({', '.join(details)})" if details else "")
               + f"; final model in {out / 'model'}" + (f"; mean loss {loss:.4f}" if isinstance(loss, float) else ""))


@app.command("pasta", help=_help("PaStA: align the vision tower's cell features with the views' geometric overlap "
                                 "(vision tower and merger train, the language model is frozen).",
                                 PastaOptions, PASTA_FLAGS))
def pasta(
    model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub id) to start from."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format, with depths and poses."),
    out: Path = typer.Option(..., "--out", help="Stage folder: checkpoints, TensorBoard runs, S cache, model/."),
    grid: int = typer.Option(4, "--grid", help="PaStA cells per side."),
    max_steps: int = MAX_STEPS,
    seed: int = SEED,
    skip_bad: bool = SKIP_BAD,
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other PaStA options."),
) -> None:
    fixed = {"model": model, "data": str(data), "out": str(out), "grid": grid, "max_steps": max_steps,
             "seed": seed, "skip_bad": skip_bad}
    opts = options_from_command_line(PastaOptions, fixed, overrides or [], PASTA_FLAGS, where="hatchvl train pasta")
    from hatchvl.train.pasta import run_pasta

    _report(run_pasta(opts), out, pairs=True)


@app.command("sft", help=_help("Supervised fine-tuning on TRL's SFTTrainer; the loss is on the completion only.",
                               SFTOptions, SFT_FLAGS))
def sft(
    model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub id) to start from."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format."),
    out: Path = OUT,
    target: str = typer.Option("answer", "--target", help="answer (QA fine-tuning) or action_answer (ActoR)."),
    fraction: float = typer.Option(1.0, "--fraction", help="Share of the split to train on (cold start: 0.1)."),
    lora: bool = LORA,
    max_steps: int = MAX_STEPS,
    seed: int = SEED,
    skip_bad: bool = SKIP_BAD,
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other SFT options."),
) -> None:
    fixed = {"model": model, "data": str(data), "out": str(out), "target": target, "fraction": fraction,
             "lora": lora, "max_steps": max_steps, "seed": seed, "skip_bad": skip_bad}
    opts = options_from_command_line(SFTOptions, fixed, overrides or [], SFT_FLAGS, where="hatchvl train")
    from hatchvl.train.sft import run_sft

    _report(run_sft(opts), out)


@app.command("grpo", help=_help("GRPO on TRL's GRPOTrainer with the format, action and answer rewards.",
                                GRPOOptions, GRPO_FLAGS))
def grpo(
    model: str = typer.Option(..., "--model", help="Checkpoint folder to start from (the cold-start model)."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format."),
    out: Path = OUT,
    fraction: float = typer.Option(1.0, "--fraction", help="Share of the split to train on."),
    lora: bool = LORA,
    max_steps: int = MAX_STEPS,
    seed: int = SEED,
    skip_bad: bool = SKIP_BAD,
    overrides: list[str] = typer.Argument(None, metavar="[KEY=VALUE]...", help="Other GRPO options."),
) -> None:
    fixed = {"model": model, "data": str(data), "out": str(out), "fraction": fraction, "lora": lora,
             "max_steps": max_steps, "seed": seed, "skip_bad": skip_bad}
    opts = options_from_command_line(GRPOOptions, fixed, overrides or [], GRPO_FLAGS, where="hatchvl train")
    from hatchvl.train.grpo import run_grpo

    _report(run_grpo(opts), out)
