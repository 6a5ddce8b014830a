"""Running a recipe: data, base model, the training stages in order, the measurements each stage is
judged by, the evaluations (each with its blind control), then the report.

Every step writes to its own folder under the run directory and is skipped when its output is complete;
an unfinished training stage resumes from its newest checkpoint. `steps` / `start` select part of it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

from hatchvl.data.format import read_manifest
from hatchvl.io import read_json, write_json
from hatchvl.pipeline.recipe import STAGE_OPTIONS, STAGE_TARGETS, Layout, Recipe
from hatchvl.pipeline.steps import STAGES, STEPS
from hatchvl.train.common import is_finished
from hatchvl.train.options import options_from_dict

TIMINGS = "timings.json"


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
    recorded = read_json(Path(opts.out) / "stage.json")
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
        self.data_dir = Path(recipe.data["path"]) if recipe.data.get("path") else self.layout.data

    # --- inputs ---------------------------------------------------------------------------------
    def base_model(self) -> str:
        model = self.recipe.model
        return str(model.get("path") or model.get("hub_id") or self.layout.base)

    def prepare_data(self) -> None:
        if self.recipe.data.get("path"):
            read_manifest(self.data_dir, "train")  # fail early on a bad dataset
            return
        from hatchvl.data.synthetic.synth import SynthConfig, synthesize

        synth = dict(self.recipe.data["synth"])
        workers = synth.pop("workers", 1)
        synth = {k: tuple(v) if isinstance(v, list) else v for k, v in synth.items()}
        synthesize(self.data_dir, SynthConfig(**{"seed": self.recipe.seed, **synth}), workers=workers,
                   progress=True)

    def prepare_model(self) -> None:
        tiny = self.recipe.model.get("init_tiny")
        if tiny is None or (self.layout.base / "config.json").is_file():
            return
        from hatchvl.models.tiny import TinySize, init_tiny
        from hatchvl.objectives.prompts import question_text, target_text

        corpus = None
        if tiny.get("tokenizer") == "bpe":  # train the BPE on what the model will read and write
            corpus = [text for s in read_manifest(self.data_dir, "train")
                      for text in (question_text(s, "action_answer"), target_text(s, "action_answer"))]
        partial = self.layout.root / "base.partial"
        if partial.exists():
            import shutil

            shutil.rmtree(partial)
        init_tiny(tiny.get("family", "qwen2_5_vl"), partial, seed=tiny.get("seed", self.recipe.seed),
                  tokenizer=tiny.get("tokenizer", "byte"), corpus=corpus, size=TinySize(**(tiny.get("size") or {})),
                  bpe_vocab_size=tiny.get("bpe_vocab_size", 512))
        partial.rename(self.layout.base)

    # --- training stages --------------------------------------------------------------------------
    def stage_options(self, stage: str, chain: list[str]):
        """The options of `stage` trained on top of `chain` (the stages before it)."""
        values = {"seed": self.recipe.seed, **self.recipe.stages[stage]}
        if stage in STAGE_TARGETS:
            values["target"] = STAGE_TARGETS[stage]
        values |= {"model": str(self.layout.model_of(chain)) if chain else self.base_model(),
                   "data": str(self.data_dir), "out": str(self.layout.stage_dir([*chain, stage]))}
        return options_from_dict(STAGE_OPTIONS[stage], values, where=f"stages.{stage}")

    def run_stage(self, stage: str, chain: list[str]) -> None:
        opts = self.stage_options(stage, chain)
        check_same_options(stage, opts)
        if not is_finished(opts.out):
            self.log(f"== {stage}: {Path(opts.model).parent.name or opts.model} -> {opts.out}")
        if stage == "pasta":
            from hatchvl.train.pasta import run_pasta

            run_pasta(opts)
            self.measure_probe(opts)
        elif stage == "grpo":
            from hatchvl.train.grpo import run_grpo

            run_grpo(opts)
            self.measure_sampling(Path(opts.out))
        else:
            from hatchvl.train.sft import run_sft

            run_sft(opts)
            if stage == "actor_sft":
                self.measure_sampling(Path(opts.out))

    def measure_probe(self, opts) -> None:
        """probe.json: the cross-view probe of the model before and after PaStA."""
        path = Path(opts.out) / "probe.json"
        spec = self.recipe.eval.get("probe")
        if spec is None or path.is_file():
            return
        from hatchvl.models.loading import load_model_and_processor
        from hatchvl.objectives.probe import build_probe_set, run_probe

        # one probe set (held-out pairs, their S at the stage's tolerances, cell colours) for both models
        probe_set = build_probe_set(self.data_dir, spec.get("split", "test"), opts.grid, spec.get("limit"),
                                    opts.tol_abs, opts.tol_rel, cache_dir=opts.out)
        before, after = (
            run_probe(*load_model_and_processor(model, dtype="float32"), probe_set, opts.before_merger).as_dict()
            for model in (opts.model, Path(opts.out) / "model")
        )
        write_json(path, {"before": before, "after": after})
        self.log(f"   probe top-1 {before['top1']:.3f} -> {after['top1']:.3f} (chance {after['chance']:.3f}, "
                 f"same position {after['same_position']:.3f}, colour {after['colour']:.3f})")

    def measure_sampling(self, out: Path) -> None:
        """sampling.json: format compliance and rewards of sampled completions on held-out prompts, after the
        cold start and after GRPO (the same prompts and seed, so the two compare without prompt noise)."""
        path = out / "sampling.json"
        spec = self.recipe.eval.get("sampling")
        if spec is None or path.is_file():
            return
        from hatchvl.eval.sampling import sample_rewards
        from hatchvl.models.loading import load_model_and_processor

        model, processor = load_model_and_processor(out / "model", dtype="float32")
        result = sample_rewards(model, processor, self.data_dir, split=spec.get("split", "val"),
                                limit=spec.get("limit", 64), temperature=spec.get("temperature", 1.0),
                                max_new_tokens=spec.get("max_new_tokens", 256), seed=self.recipe.seed)
        write_json(path, result.as_dict())
        self.log(f"   sampled format compliance {result.format_rate:.1%} at temperature {result.temperature}, "
                 f"action reward {result.action_reward:.3f}, answer reward {result.answer_reward:.3f}")

    # --- evaluation -------------------------------------------------------------------------------
    def evaluate(self, chain: list[str]) -> dict:
        """Every benchmark of the recipe on the model of `chain`, with and without the images (the blind
        control). Models trained for actions are asked for actions then the answer; others for the answer."""
        from hatchvl.eval.generate import BenchOptions, run_bench

        model = str(self.layout.model_of(chain)) if chain else self.base_model()
        results = {}
        for spec in self.recipe.eval.get("benchmarks") or []:
            spec = dict(spec)
            blind_too = spec.pop("blind", True)
            bench = spec.pop("bench")
            data = spec.pop("data", None) or str(self.data_dir)
            spec.setdefault("prompt_style", "hatch" if "actor_sft" in chain else "official")
            for blind in (False, True) if blind_too else (False,):
                name = bench + ("-blind" if blind else "")
                out = self.layout.eval_dir(chain) / name
                found = read_json(out / "results.json")
                if found is None:  # an interrupted run resumes from its predictions.jsonl
                    found = run_bench(BenchOptions(model=model, bench=bench, data=data, out=str(out), blind=blind,
                                                   seed=self.recipe.seed, label=self.layout.chain_name(chain),
                                                   dtype="float32", **spec))
                results[name] = found
                self.log(f"   {self.layout.chain_name(chain)} {name}: {found['average']:.1f}%")
        return results

    # --- the whole recipe -------------------------------------------------------------------------
    def run(self, steps: list[str]) -> list[str]:
        """Run the selected steps in order; returns the chain of enabled training stages."""
        timings = read_json(self.layout.root / TIMINGS) or {}
        chain: list[str] = []
        for step in STEPS:
            if step in STAGES:
                if step not in self.recipe.enabled():
                    continue
            if step in steps:
                started = time.perf_counter()
                if step == "data":
                    self.prepare_data()
                elif step == "model":
                    self.prepare_model()
                elif step == "eval":
                    self.evaluate(chain)
                else:
                    self.run_stage(step, chain)
                # summed over attempts: a resumed stage adds the time of its second part
                timings[step] = round(timings.get(step, 0.0) + time.perf_counter() - started, 1)
                write_json(self.layout.root / TIMINGS, timings)
            if step in STAGES:
                chain.append(step)
        return chain


def run_pipeline(recipe: Recipe, steps: list[str] | None = None, start: str | None = None,
                 log: Callable[[str], None] = print) -> dict:
    """Run (or finish) a recipe and write RUN/report.md and RUN/report.json; returns the report."""
    from hatchvl.pipeline.report import write_report

    selected = select_steps(steps, start)
    runner = Runner(recipe, log)
    chain = runner.run(selected)
    report = write_report(recipe, runner.layout, chain)
    log(f"report: {runner.layout.root / 'report.md'}")
    return report
