"""Running a recipe: data, base model, the training stages in the registry's order, the measurements each
stage is judged by, the evaluations (each with its blind control and its predictions viewer), then the report
and the run's page (pipeline/view.py).

Every step writes to its own folder under the run directory and is skipped when its output is complete;
an unfinished training stage resumes from its newest checkpoint. `steps` / `start` select part of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from hatchvl.config import build
from hatchvl.data.format import read_manifest
from hatchvl.io import read_json, write_json
from hatchvl.lock import folder_lock
from hatchvl.pipeline.measure_process import payload, run_measurements
from hatchvl.pipeline.measures import MEASURES, caption_probe
from hatchvl.pipeline.recipe import Layout, Recipe
from hatchvl.pipeline.stages import STAGE_NAMES, STAGES, STEPS, Stage, stage
from hatchvl.pipeline.summaries import CAPTIONS_FILE
from hatchvl.pipeline.view import write_eval_views, write_run_view
from hatchvl.train.common import is_finished, stage_marker

TIMINGS = "timings.json"


def main_rank() -> bool:
    """Whether this process writes the run's own files (rank 0, or the only process)."""
    return int(os.environ.get("RANK", "0")) == 0


def select_steps(steps: list[str] | None, start: str | None) -> list[str]:
    """The steps to run, in pipeline order: the named ones, or all from `start`, or all."""
    for name in [*(steps or []), *([start] if start else [])]:
        if name not in STEPS:
            raise ValueError(f"unknown step {name!r}; the steps are {', '.join(STEPS)}")
    if steps and start:
        raise ValueError("give --stages or --from, not both")
    if steps:
        return [s for s in STEPS if s in steps]
    return list(STEPS[STEPS.index(start):]) if start else list(STEPS)


def check_same_options(stage: str, opts) -> None:
    """A finished (or half-run) stage folder must have been made with these options: a recipe edited after
    a stage ran would otherwise be silently ignored."""
    recorded = read_json(stage_marker(opts.out))
    if recorded is None:
        return
    now = json.loads(json.dumps(dataclasses.asdict(opts), default=str))
    changed = sorted(k for k in now.keys() | recorded["options"].keys() if now.get(k) != recorded["options"].get(k))
    if changed:
        raise ValueError(f"stages.{stage}: {opts.out} was made with other options ({', '.join(changed)}); delete "
                         "that folder (and those after it) to run it again, or use another --run-dir")


class Runner:
    """Runs the steps of one recipe; `chain` is the list of training stages whose output is the model."""

    def __init__(self, recipe: Recipe, log: Callable[[str], None] = print):
        self.recipe, self.log = recipe, log
        self.layout = Layout(Path(recipe.run_dir))
        self.data_dir = Path(recipe.data.path) if recipe.data.path else self.layout.data

    # --- inputs ---------------------------------------------------------------------------------
    def base_model(self) -> str:
        model = self.recipe.model
        return str(model.path or model.hub_id or self.layout.base)

    def prepare_data(self) -> None:
        if self.recipe.data.path:
            read_manifest(self.data_dir, "train")  # fail early on a bad dataset
            return
        from hatchvl.data.synthetic.synth import synthesize

        synth = self.recipe.data.synth
        synthesize(self.data_dir, synth.config(), workers=synth.workers, progress=True)

    def prepare_model(self) -> None:
        tiny = self.recipe.model.init_tiny
        if tiny is None or (self.layout.base / "config.json").is_file():
            return
        from hatchvl.models.tiny import init_tiny
        from hatchvl.objectives.prompts import question_text, target_text

        corpus = None
        if tiny.tokenizer == "bpe":  # train the BPE on what the model will read and write
            corpus = [text for s in read_manifest(self.data_dir, "train")
                      for text in (question_text(s, "action_answer"), target_text(s, "action_answer"))]
        partial = self.layout.root / "base.partial"
        if partial.exists():
            shutil.rmtree(partial)
        init_tiny(tiny.family, partial, seed=self.recipe.seed if tiny.seed is None else tiny.seed,
                  tokenizer=tiny.tokenizer, corpus=corpus, size=tiny.size, bpe_vocab_size=tiny.bpe_vocab_size)
        partial.rename(self.layout.base)

    # --- training stages --------------------------------------------------------------------------
    def stage_options(self, stage: Stage, chain: list[str]):
        """The options of `stage` trained on top of `chain` (the stages before it)."""
        values = {"seed": self.recipe.seed, "skip_bad": self.recipe.skip_bad, **self.recipe.stages[stage.name],
                  **stage.fixed,
                  "model": str(self.layout.model_of(chain)) if chain else self.base_model(),
                  "data": str(self.data_dir), "out": str(self.layout.stage_dir([*chain, stage.name]))}
        return build(stage.options, values, where=f"stages.{stage.name}")

    def run_stage(self, stage: Stage, chain: list[str]) -> None:
        opts = self.stage_options(stage, chain)
        check_same_options(stage.name, opts)
        if not is_finished(opts.out):
            self.log(f"== {stage.name}: {Path(opts.model).parent.name or opts.model} -> {opts.out}")
        stage.run_function()(opts)
        if stage.measures:
            run_measurements(payload("stage", self.recipe, chain, stage.name),
                             lambda: self.measure_stage(stage.name, chain))

    def measure_stage(self, name: str, chain: list[str]) -> None:
        """The measurements of stage `name` trained on top of `chain` (the registry's `measures`)."""
        opts = self.stage_options(stage(name), chain)
        for measure in stage(name).measures:
            MEASURES[measure](self.recipe, self.data_dir, opts, self.log)

    def measure_captions(self, chain: list[str]) -> None:
        """The caption probe of the model of `chain`, into its evaluation folder."""
        model = self.layout.model_of(chain) if chain else Path(self.base_model())
        caption_probe(self.recipe, self.data_dir, model, self.layout.eval_dir(chain) / CAPTIONS_FILE, self.log,
                      self.trained_dtype(chain))

    def trained_dtype(self, chain: list[str]) -> str:
        """The dtype the model of `chain` was trained in (its last stage's; the checkpoint's own before any)."""
        return str(self.recipe.stages[chain[-1]].get("dtype", "auto")) if chain else "auto"

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self, chain: list[str]) -> dict:
        """Every benchmark of the recipe on the model of `chain`, with and without the images (the blind
        control). Models trained for actions are asked for actions then the answer; others for the answer."""
        from hatchvl.eval.generate import BenchOptions, run_bench
        from hatchvl.models.loading import inference_placement

        model = str(self.layout.model_of(chain)) if chain else self.base_model()
        acts = any(s.fixed.get("target") == "action_answer" for s in STAGES if s.name in chain)
        results = {}
        for spec in self.recipe.eval.benchmarks:
            for blind in (False, True) if spec.blind else (False,):
                name = spec.bench + ("-blind" if blind else "")
                out = self.layout.eval_dir(chain) / name
                found = read_json(out / "results.json")
                if found is None:  # an interrupted run resumes from its predictions.jsonl
                    found = run_bench(BenchOptions(
                        model=model, bench=spec.bench, data=spec.data or str(self.data_dir), out=str(out),
                        blind=blind, seed=self.recipe.seed, label=self.layout.chain_name(chain),
                        dtype=inference_placement(self.trained_dtype(chain))[1],
                        limit=spec.limit, prompt_style=spec.prompt_style or ("hatch" if acts else "official"),
                        batch_size=spec.batch_size, max_new_tokens=spec.max_new_tokens, skip_bad=self.recipe.skip_bad))
                if found is None:  # ranks other than 0 under torchrun: rank 0 scores and writes
                    continue
                results[name] = found
                self.log(f"   {self.layout.chain_name(chain)} {name}: {found['average']:.1f}%")
            if main_rank():
                write_eval_views(self.layout.eval_dir(chain), spec.bench, self.log)
        run_measurements(payload("captions", self.recipe, chain), lambda: self.measure_captions(chain))
        return results

    # --- the whole recipe -------------------------------------------------------------------------
    def run(self, steps: list[str]) -> list[str]:
        """Run the selected steps in order; returns the chain of enabled training stages."""
        timings = read_json(self.layout.root / TIMINGS) or {}
        chain: list[str] = []
        enabled = self.recipe.enabled()
        inputs = {"data": self.prepare_data, "model": self.prepare_model}
        for step in STEPS:
            if step in STAGE_NAMES and step not in enabled:
                continue
            if step in steps:
                started = time.perf_counter()
                if step in inputs:
                    inputs[step]()
                elif step in STAGE_NAMES:
                    self.run_stage(stage(step), chain)
                else:
                    self.evaluate(chain)
                # summed over attempts: a resumed stage adds the time of its second part
                timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - started, 1)
                if main_rank():
                    write_json(self.layout.root / TIMINGS, timings)
            if step in STAGE_NAMES:
                chain.append(step)
        return chain


def run_pipeline(recipe: Recipe, steps: list[str] | None = None, start: str | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Run (or finish) a recipe and write RUN/report.md and RUN/report.json; returns the report (under a
    launcher: on rank 0; {} on the other ranks)."""
    from hatchvl.pipeline.report import write_report

    selected = select_steps(steps, start)
    runner = Runner(recipe, log)
    with folder_lock(runner.layout.root, "run directory", log):
        chain = runner.run(selected)
        if not main_rank():  # under a launcher rank 0 writes the report
            return {}
        report = write_report(recipe, runner.layout, chain)
        page = write_run_view(runner.layout.root)
    log(f"report: {runner.layout.root / 'report.md'}; pages to look at: {page}")
    return report
