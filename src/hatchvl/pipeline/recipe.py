"""Recipes: one YAML file names the data, the model, each stage's options and the evaluations.

Everything is checked when the recipe is loaded, before any work starts: unknown keys (named with their
full path, e.g. `stages.grpo.lr`), missing files, and impossible combinations.

    name: tiny-cpu
    seed: 0
    run_dir: runs/tiny-cpu
    data: {synth: {scenes: 200, size: 112, ...}}     # or {path: /data/spar-10k}
    model: {init_tiny: {family: qwen2_5_vl, ...}}    # or {path: /models/Qwen2.5-VL-3B-Instruct} or {hub_id: ...}
    stages:                                          # in this order; a stage set to null is left out
      pasta: {...}       # PastaOptions, less model/data/out
      qa_sft: {...}      # SFTOptions (target: answer)
      actor_sft: {...}   # SFTOptions (target: action_answer), usually fraction: 0.1
      grpo: {...}        # GRPOOptions
    eval:
      probe: {split: test, limit: 200}               # PaStA probe before and after
      sampling: {split: val, limit: 64}              # format compliance after the cold start
      benchmarks: [{bench: synthetic, prompt_style: hatch, limit: 200}]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from hatchvl.data.synthetic.synth import SynthConfig
from hatchvl.models.tiny import TinySize
from hatchvl.pipeline.steps import STAGES
from hatchvl.train.options import GRPOOptions, PastaOptions, SFTOptions, options_from_dict

STAGE_OPTIONS = {"pasta": PastaOptions, "qa_sft": SFTOptions, "actor_sft": SFTOptions, "grpo": GRPOOptions}
STAGE_TARGETS = {"qa_sft": "answer", "actor_sft": "action_answer"}


@dataclass
class Recipe:
    name: str
    seed: int
    run_dir: str
    data: dict
    model: dict
    stages: dict  # stage -> options dict (without model/data/out), or None when left out
    eval: dict
    source: str = ""  # the file it came from

    def enabled(self) -> list[str]:
        return [s for s in STAGES if self.stages.get(s) is not None]


def _check_keys(values: dict, allowed: set, where: str) -> None:
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping, got {values!r}")
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"unknown key {where}.{unknown[0]}; known keys: {', '.join(sorted(allowed))}")


def _one_of(values: dict, allowed: set, where: str) -> str:
    _check_keys(values, allowed, where)
    given = [k for k in values if values[k] is not None]
    if len(given) != 1:
        raise ValueError(f"{where} needs exactly one of 'path' or the generator, got {given or 'none'}")
    return given[0]


def _dataclass_keys(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def check_recipe(recipe: Recipe) -> None:
    """Raise ValueError naming the key of anything that would fail later."""
    kind = _one_of(recipe.data, {"path", "synth"}, "data")
    if kind == "path" and not Path(recipe.data["path"]).is_dir():
        raise ValueError(f"data.path: {recipe.data['path']} is not a folder")
    if kind == "synth":
        synth = dict(recipe.data["synth"])
        _check_keys(synth, _dataclass_keys(SynthConfig) | {"workers"}, "data.synth")
        synth.pop("workers", None)
        for key in ("views", "overlap", "split"):
            if key in synth:
                synth[key] = tuple(synth[key])
        SynthConfig(**synth)
    kind = _one_of(recipe.model, {"path", "hub_id", "init_tiny"}, "model")
    if kind == "path" and not (Path(recipe.model["path"]) / "config.json").is_file():
        raise ValueError(f"model.path: {recipe.model['path']} is not a checkpoint folder (no config.json)")
    if kind == "init_tiny":
        tiny = recipe.model["init_tiny"]
        _check_keys(tiny, {"family", "tokenizer", "seed", "bpe_vocab_size", "size"}, "model.init_tiny")
        _check_keys(tiny.get("size") or {}, _dataclass_keys(TinySize), "model.init_tiny.size")
        TinySize(**(tiny.get("size") or {}))
    _check_keys(recipe.stages, set(STAGES), "stages")
    for stage in recipe.enabled():
        values = dict(recipe.stages[stage])
        for fixed in ("model", "data", "out"):
            if fixed in values:
                raise ValueError(f"stages.{stage}.{fixed} is set by the pipeline; leave it out")
        if stage in STAGE_TARGETS and values.setdefault("target", STAGE_TARGETS[stage]) != STAGE_TARGETS[stage]:
            raise ValueError(f"stages.{stage}.target must be {STAGE_TARGETS[stage]!r}")
        options_from_dict(STAGE_OPTIONS[stage], {"model": "m", "data": "d", "out": "o", **values},
                          where=f"stages.{stage}")
    if "grpo" in recipe.enabled() and "actor_sft" not in recipe.enabled():
        raise ValueError("stages.grpo needs stages.actor_sft: GRPO starts from the action-then-answer cold start "
                         "(without it no completion earns a format or action reward)")
    _check_keys(recipe.eval, {"probe", "sampling", "benchmarks"}, "eval")
    _check_keys(recipe.eval.get("probe") or {}, {"split", "limit"}, "eval.probe")
    _check_keys(recipe.eval.get("sampling") or {}, {"split", "limit", "temperature", "max_new_tokens"},
                "eval.sampling")
    for k, bench in enumerate(recipe.eval.get("benchmarks") or []):
        _check_keys(bench, {"bench", "data", "limit", "prompt_style", "batch_size", "max_new_tokens", "blind"},
                    f"eval.benchmarks[{k}]")
        if "bench" not in bench:
            raise ValueError(f"eval.benchmarks[{k}] needs a 'bench'")
        if bench.get("data") and not Path(bench["data"]).exists():
            raise ValueError(f"eval.benchmarks[{k}].data: {bench['data']} does not exist")


def load_recipe(path: str | Path, run_dir: str | None = None) -> Recipe:
    """Read and check a recipe file (run_dir overrides the recipe's)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} not found")
    values = yaml.safe_load(path.read_text()) or {}
    _check_keys(values, {f.name for f in dataclasses.fields(Recipe)} - {"source"}, "recipe")
    missing = [k for k in ("data", "model", "stages") if k not in values]
    if missing:
        raise ValueError(f"recipe {path} needs the key {missing[0]!r}")
    recipe = Recipe(
        name=values.get("name", path.stem), seed=int(values.get("seed", 0)),
        run_dir=run_dir or values.get("run_dir") or f"runs/{path.stem}", data=values["data"] or {},
        model=values["model"] or {}, stages=values["stages"] or {}, eval=values.get("eval") or {},
        source=str(path),
    )
    check_recipe(recipe)
    return recipe


@dataclass
class Layout:
    """Where every step of a run writes. A training stage's folder is named by the chain of stages that
    produced its model (pasta-qa_sft, ...), so that runs which share a chain share its folders."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def base(self) -> Path:
        return self.root / "base"

    @staticmethod
    def chain_name(chain: list[str]) -> str:
        return "-".join(chain) or "base"

    def stage_dir(self, chain: list[str]) -> Path:
        return self.root / self.chain_name(chain)

    def model_of(self, chain: list[str]) -> Path:
        return self.stage_dir(chain) / "model" if chain else self.base

    def eval_dir(self, chain: list[str]) -> Path:
        return self.root / "eval" / self.chain_name(chain)
