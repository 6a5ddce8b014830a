"""The paper's ablation in one command: base model, QA fine-tuning only, without PaStA, without ActoR and
full HATCH, on the recipe's evaluations. Stages shared by several variants run once (their folders are
named by the chain of stages that made them), so the full variant reuses the main pipeline's run."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hatchvl.io import atomic_write, write_json
from hatchvl.lock import folder_lock
from hatchvl.pipeline.recipe import DataSpec, Recipe
from hatchvl.pipeline.report import eval_results
from hatchvl.pipeline.run import Runner
from hatchvl.pipeline.stages import STAGES, stage
from hatchvl.pipeline.summaries import action_sees

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
    with folder_lock(recipe.run_dir, "run directory", log):
        return _run_ablation(recipe, log)


def _run_ablation(recipe: Recipe, log: Callable[[str], None]) -> dict:
    missing = [s.name for s in STAGES if s.name not in recipe.enabled() and s.part != "pretrain"]
    if missing:
        raise ValueError(f"the ablation needs every stage in the recipe; stages.{missing[0]} is left out")
    started = time.perf_counter()
    runner = Runner(recipe, log)
    runner.prepare_data()
    runner.prepare_model()
    table = {}
    for variant, parts in VARIANTS.items():
        chain = variant_chain(parts, recipe.enabled())
        log(f"== variant {variant} (seed {recipe.seed}): {' -> '.join(['base', *chain])}")
        for k, name in enumerate(chain):
            runner.run_stage(stage(name), chain[:k])
        runner.evaluate(chain)
        table[variant] = {"chain": chain, "eval": eval_results(runner.layout, chain, recipe.seed),
                          "action_sees": _action_sees(runner.layout, chain)}
    write_json(runner.layout.root / "ablation.json", table)
    text = ablation_markdown(table) + f"\nWall time: {time.perf_counter() - started:.0f} s.\n"
    atomic_write(runner.layout.root / "ablation.md", text.encode())
    log(text)
    return table


def run_seeded_ablation(recipe: Recipe, seeds: list[int], log: Callable[[str], None] = print) -> dict:
    """The ablation once per training seed, on one dataset (made with the recipe's seed): RUN/seed-N/ holds each
    run, RUN/ablation.{md,json} the mean ± std over seeds of every number."""
    if len(seeds) != len(set(seeds)) or not seeds:
        raise ValueError(f"--seeds needs distinct seeds, got {seeds}")
    with folder_lock(recipe.run_dir, "run directory", log):
        return _run_seeded_ablation(recipe, seeds, log)


def _run_seeded_ablation(recipe: Recipe, seeds: list[int], log: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    root = Path(recipe.run_dir)
    data = Runner(recipe, log)
    data.prepare_data()
    shared = DataSpec(path=str(data.data_dir))
    per_seed = {}
    for seed in seeds:
        seeded = dataclasses.replace(recipe, seed=seed, run_dir=str(root / f"seed-{seed}"), data=shared)
        seeded.source = recipe.source  # not an __init__ field: replace() would leave it empty
        per_seed[seed] = run_ablation(seeded, log)
    summary = {variant: _mean_std([per_seed[s][variant] for s in seeds]) for variant in VARIANTS}
    wall = time.perf_counter() - started
    write_json(root / "ablation.json", {"seeds": seeds, "summary": summary, "per_seed": per_seed, "wall_s": wall})
    text = seeded_markdown(summary, seeds, wall)
    atomic_write(root / "ablation.md", text.encode())
    log(text)
    return summary


def _action_sees(layout, chain: list[str]) -> dict:
    """action_sees (and its interval) of the last stage of the chain that sampled rewards, if any."""
    for k in range(len(chain), 0, -1):
        found = action_sees(layout.stage_dir(chain[:k]))
        if found:
            return found
    return {}


NUMBERS = ("average", "blind_average", "sees")  # per benchmark, averaged over seeds


def _mean_and_std(values: list[float]) -> list[float]:
    """[mean, sample std] (std 0 for a single seed)."""
    return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0]


def _mean_std(rows: list[dict]) -> dict:
    """{bench: {number: [mean, std]}, action_sees: [mean, std]} over the seeds' rows of one variant."""
    out: dict = {"chain": rows[0]["chain"]}
    for bench in sorted({b for row in rows for b in row["eval"]}):
        out[bench] = {}
        for number in NUMBERS:
            values = [row["eval"].get(bench, {}).get(number) for row in rows]
            if all(v is not None for v in values):
                out[bench][number] = _mean_and_std(values)
    sees = [row["action_sees"].get("action_sees") for row in rows]
    if all(v is not None for v in sees):
        out["action_sees"] = _mean_and_std(sees)
    return out


def _pm(pair) -> str:
    return "–" if pair is None else f"{pair[0]:.1f} ± {pair[1]:.1f}"


def seeded_markdown(summary: dict, seeds: list[int], wall_s: float) -> str:
    benches = sorted({b for row in summary.values() for b in row if b not in ("chain", "action_sees")})
    head = ("| variant | stages | " + " | ".join(f"{b} | {b} blind | {b} sees" for b in benches)
            + " | action sees | paper SPAR-MV |")
    lines = ["# Ablation over seeds", "", f"Mean ± std over training seeds {', '.join(map(str, seeds))} (one dataset). "
             "Accuracy % with the images and in the blind control (images swapped between items); sees = the "
             "difference in points; action sees = the sampled action reward with own minus swapped views.", "",
             head, "|" + "---|" * (4 + 3 * len(benches))]
    for variant, row in summary.items():
        cells = [_pm(row.get(b, {}).get(n)) for b in benches for n in NUMBERS]
        sees = row.get("action_sees")
        action = "–" if sees is None else f"{sees[0]:+.3f} ± {sees[1]:.3f}"
        lines.append(f"| {variant} | {' → '.join(row['chain']) or '–'} | " + " | ".join(cells)
                     + f" | {action} | {PAPER_SPAR_MV[variant]} |")
    return "\n".join(lines) + f"\n\nWall time: {wall_s:.0f} s on this machine.\n"


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
