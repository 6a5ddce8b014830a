"""The paper's ablation in one command: base model, QA fine-tuning only, without PaStA, without ActoR and
full HATCH, on the recipe's evaluations. Stages shared by several variants run once (their folders are
named by the chain of stages that made them), so the full variant reuses the main pipeline's run."""

from __future__ import annotations

from collections.abc import Callable

from hatchvl.io import atomic_write, write_json
from hatchvl.pipeline.recipe import Recipe
from hatchvl.pipeline.report import eval_results
from hatchvl.pipeline.run import Runner
from hatchvl.pipeline.stages import STAGES

VARIANTS = {  # name -> the HATCH parts (the registry's Stage.part) its model is trained with
    "base": (),
    "qa_only": ("qa",),
    "no_pasta": ("qa", "actor"),
    "no_actor": ("pasta", "qa"),
    "full": ("pasta", "qa", "actor"),
}
PAPER_SPAR_MV = {"base": 24.9, "qa_only": 51.5, "no_pasta": 52.0, "no_actor": 51.1, "full": 53.6}


def variant_chain(parts: tuple[str, ...], enabled: list[str] | None = None) -> list[str]:
    """The registry's stages of those parts, in order, after the pretraining stages every variant keeps
    (those of them that `enabled` holds, when given)."""
    return [s.name for s in STAGES if s.part in parts or (s.part == "pretrain" and (enabled is None or
                                                                                   s.name in enabled))]


def run_ablation(recipe: Recipe, log: Callable[[str], None] = print) -> dict:
    """Train what each variant needs (reusing finished stages), evaluate it, write RUN/ablation.{md,json}."""
    missing = [s.name for s in STAGES if s.name not in recipe.enabled() and s.part != "pretrain"]
    if missing:
        raise ValueError(f"the ablation needs every stage in the recipe; stages.{missing[0]} is left out")
    runner = Runner(recipe, log)
    runner.prepare_data()
    runner.prepare_model()
    stages = {s.name: s for s in STAGES}
    table = {}
    for variant, parts in VARIANTS.items():
        chain = variant_chain(parts, recipe.enabled())
        log(f"== variant {variant}: {' -> '.join(['base', *chain])}")
        for k, name in enumerate(chain):
            runner.run_stage(stages[name], chain[:k])
        runner.evaluate(chain)
        table[variant] = {"chain": chain, "eval": eval_results(runner.layout, chain)}
    write_json(runner.layout.root / "ablation.json", table)
    text = ablation_markdown(table)
    atomic_write(runner.layout.root / "ablation.md", text.encode())
    log(text)
    return table


def ablation_markdown(table: dict) -> str:
    benches = sorted({b for row in table.values() for b in row["eval"]})
    head = "| variant | stages | " + " | ".join(f"{b} | {b} blind" for b in benches) + " | paper SPAR-MV |"
    lines = ["# Ablation", "", "Accuracy % with the images and in the blind control (images swapped between items).",
             "", head, "|" + "---|" * (3 + 2 * len(benches))]
    for variant, row in table.items():
        cells = []
        for b in benches:
            e = row["eval"].get(b, {})
            cells += [f"{e['average']:.1f}" if "average" in e else "–",
                      f"{e['blind_average']:.1f}" if "blind_average" in e else "–"]
        stages = " → ".join(row["chain"]) or "–"
        lines.append(f"| {variant} | {stages} | " + " | ".join(cells) + f" | {PAPER_SPAR_MV[variant]} |")
    return "\n".join(lines) + "\n"
