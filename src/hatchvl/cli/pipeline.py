"""`hatchvl pipeline RECIPE` and `hatchvl ablate RECIPE`: the main job and the paper's ablation (commands of
the main app, registered in cli.main; errors are reported by its cli.errors.ReportingGroup)."""

from __future__ import annotations

from pathlib import Path

import typer

from hatchvl.pipeline.stages import STEPS

OVERRIDES_HELP = ("Recipe keys to override, by dotted path: stages.grpo.learning_rate=1e-4 data.synth.scenes=50 "
                  "stages.grpo=null (values are YAML).")


def _recipe(path: Path, run_dir: Path | None, overrides: list[str] | None):
    from hatchvl.config import parse_overrides
    from hatchvl.pipeline.recipe import load_recipe

    return load_recipe(path, str(run_dir) if run_dir else None, parse_overrides(overrides or []))


def pipeline(
    recipe: Path = typer.Argument(..., help="Recipe YAML, e.g. configs/tiny-cpu.yaml."),
    overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Run folder (default: the recipe's run_dir)."),
    stages: str | None = typer.Option(None, "--stages", help=f"Comma-separated steps to run: {', '.join(STEPS)}."),
    start: str | None = typer.Option(None, "--from", help="Run this step and all after it."),
) -> None:
    """Run a recipe: data, base model, its training stages (for tiny models the pretraining, tower then
    captions -> PaStA -> QA SFT -> ActoR cold start -> GRPO), evaluation with blind controls and sees gaps,
    then RUN/report.md and RUN/report.json. A re-run skips finished steps and resumes an unfinished one."""
    from hatchvl.pipeline.run import run_pipeline

    run_pipeline(_recipe(recipe, run_dir, overrides), [s.strip() for s in stages.split(",")] if stages else None, start)


def ablate(
    recipe: Path = typer.Argument(..., help="Recipe YAML with every stage enabled."),
    overrides: list[str] | None = typer.Argument(None, help=OVERRIDES_HELP, show_default=False),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Run folder (default: the recipe's run_dir)."),
    seeds: str | None = typer.Option(None, "--seeds", help="Comma-separated training seeds, e.g. 0,1,2: every "
                                     "variant once per seed (RUN/seed-N/), then mean ± std over the seeds."),
) -> None:
    """The paper's ablation: base, QA fine-tuning only, without PaStA, without ActoR, full HATCH; shared
    stages run once. Ends with RUN/ablation.md."""
    from hatchvl.pipeline.ablate import run_ablation, run_seeded_ablation

    loaded = _recipe(recipe, run_dir, overrides)
    if seeds is None:
        run_ablation(loaded)
        return
    try:
        values = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {seeds!r}") from None
    run_seeded_ablation(loaded, values)
