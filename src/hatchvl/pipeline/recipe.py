"""Recipes: one YAML file names the data, the model, each stage's options and the evaluations.

Everything is checked when the recipe is loaded, before any work starts: unknown keys (named with their
full path, e.g. `stages.grpo: unknown key 'lr'`), wrong types, missing files and impossible combinations.
Any key can be overridden on the command line with its dotted path (`stages.grpo.learning_rate=1e-4`,
`data.synth.scenes=50`, `stages.grpo=null` to leave a stage out).

    name: tiny-cpu
    seed: 0
    run_dir: runs/tiny-cpu
    skip_bad: false                                  # true: every stage, measurement and evaluation skips
                                                     # (and lists) samples whose files cannot be decoded
    data: {synth: {scenes: 200, size: 112, ...}}     # DataSpec: {path: /data/spar-10k} or a generator
    model: {init_tiny: {family: qwen2_5_vl, ...}}    # ModelSpec: {path: ...}, {hub_id: ...} or init_tiny
    stages:                                          # the registry's stages (stages.py), in its order;
      pasta: {...}                                   # each holds its options less model/data/out,
      qa_sft: {...}                                  # a stage set to null or absent is left out
      actor_sft: {...}
      grpo: {...}
    eval:                                            # EvalSpec
      probe: {split: test, limit: 200}               # PaStA probe before and after
      sampling: {split: val, limit: 64}              # sampled rewards after the action stages
      benchmarks: [{bench: synthetic, limit: 200}]   # BenchSpec each; every one with its blind control
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hatchvl.config import ConfigError, build, set_dotted
from hatchvl.data.format import read_manifest
from hatchvl.data.synthetic.synth import SynthConfig
from hatchvl.models.tiny import TinySize
from hatchvl.pipeline.stages import STAGE_NAMES, STAGES
from hatchvl.train.common import final_model_dir

PIPELINE_FIXED = ("model", "data", "out")  # options every stage gets from the pipeline, never from a recipe


@dataclass(frozen=True)
class SynthSpec(SynthConfig):
    """The synthetic generator's settings (`hatchvl data synth`); seed defaults to the recipe's."""

    workers: int = 1  # processes; the content does not depend on it

    def config(self) -> SynthConfig:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(SynthConfig)}
        return SynthConfig(**values)


@dataclass
class DataSpec:
    path: str | None = None  # a dataset in the hatchvl format (docs/dataset-format.md)
    synth: SynthSpec | None = None  # or generate the synthetic dataset into RUN/data

    def __post_init__(self) -> None:
        _exactly_one(self, ("path", "synth"), "data")
        if self.path is not None and not Path(self.path).is_dir():
            raise ConfigError(f"data.path: {self.path} is not a folder")


@dataclass
class TinySpec:
    family: str = "qwen2_5_vl"  # qwen2_vl, qwen2_5_vl or qwen3_vl
    tokenizer: str = "byte"  # byte, or bpe trained on the training split's texts
    seed: int | None = None  # of the random weights; default: the recipe's seed
    bpe_vocab_size: int = 512
    size: TinySize = field(default_factory=TinySize)


@dataclass
class ModelSpec:
    path: str | None = None  # a local checkpoint folder
    hub_id: str | None = None  # a hub id (needs the network)
    init_tiny: TinySpec | None = None  # or a tiny random model built into RUN/base

    def __post_init__(self) -> None:
        _exactly_one(self, ("path", "hub_id", "init_tiny"), "model")
        if self.path is not None and not (Path(self.path) / "config.json").is_file():
            raise ConfigError(f"model.path: {self.path} is not a checkpoint folder (no config.json)")


@dataclass
class ProbeSpec:
    split: str = "test"
    limit: int | None = None  # view pairs


@dataclass
class SamplingSpec:
    split: str = "val"
    limit: int = 64  # prompts
    temperature: float = 1.0
    max_new_tokens: int = 256
    blind: bool = True  # also sample with every prompt's views swapped for another's (action_sees)


@dataclass
class CaptionProbeSpec:
    split: str = "test"
    limit: int = 400  # distinct held-out views
    max_new_tokens: int = 64


@dataclass
class BenchSpec:
    bench: str  # spar-mv, spar-si, mindcube-tiny, mmsi or synthetic
    data: str | None = None  # the benchmark's files; default: the recipe's dataset (synthetic)
    limit: int | None = None  # the first N items
    prompt_style: str | None = None  # default: hatch after an action stage, else official
    batch_size: int = 8
    max_new_tokens: int | None = None
    blind: bool = True  # also run the blind control (every item's images swapped for another item's)

    def __post_init__(self) -> None:
        if self.data and not Path(self.data).exists():
            raise ConfigError(f"eval.benchmarks: data {self.data} does not exist")


@dataclass
class EvalSpec:
    probe: ProbeSpec | None = None  # the PaStA probe, after a stage that measures it
    sampling: SamplingSpec | None = None  # sampled rewards, after a stage that measures them
    captions: CaptionProbeSpec | None = None  # the caption probe, after pretraining and on the final model
    benchmarks: list[BenchSpec] = field(default_factory=list)


@dataclass
class Recipe:
    name: str
    data: DataSpec
    model: ModelSpec
    stages: dict  # stage -> options dict (without model/data/out); absent or None: left out
    seed: int = 0
    run_dir: str | None = None
    skip_bad: bool = False  # every stage's default for skip_bad (a stage may set its own), and the evaluations'
    eval: EvalSpec = field(default_factory=EvalSpec)
    source: str = field(default="", init=False)  # the file it came from

    def enabled(self) -> list[str]:
        return [s.name for s in STAGES if self.stages.get(s.name) is not None]


def _exactly_one(spec, keys: tuple[str, ...], where: str) -> None:
    given = [k for k in keys if getattr(spec, k) is not None]
    if len(given) != 1:
        raise ConfigError(f"{where} needs exactly one of {', '.join(keys)}, got {', '.join(given) or 'none'}")


def check_stages(recipe: Recipe) -> None:
    """Each enabled stage's options must build (with the pipeline's own values filled in), its fixed options
    must not be set otherwise, and the stages it requires must be enabled."""
    if not isinstance(recipe.stages, dict):
        raise ConfigError(f"stages must be a mapping, got {recipe.stages!r}")
    unknown = sorted(set(recipe.stages) - set(STAGE_NAMES))
    if unknown:
        raise ConfigError(f"stages: unknown key {unknown[0]!r}; known keys: {', '.join(STAGE_NAMES)}")
    enabled = recipe.enabled()
    if recipe.eval.captions is not None:
        check_captions(recipe.data, "eval.captions")
    for stage in STAGES:
        if stage.name not in enabled:
            continue
        values = recipe.stages[stage.name]
        if not isinstance(values, dict):
            raise ConfigError(f"stages.{stage.name} must be a mapping of options, got {values!r}")
        for key in PIPELINE_FIXED:
            if key in values:
                raise ConfigError(f"stages.{stage.name}.{key} is set by the pipeline; leave it out")
        for key, value in stage.fixed.items():
            if values.get(key, value) != value:
                raise ConfigError(f"stages.{stage.name}.{key} must be {value!r}")
        if stage.tiny_only and recipe.model.init_tiny is None:
            raise ConfigError(f"stages.{stage.name} is for a tiny model built from nothing (model.init_tiny); a "
                              "pretrained checkpoint has already learnt to see: leave the stage out")
        if stage.fixed.get("target") == "caption" or values.get("caption_share"):
            check_captions(recipe.data, f"stages.{stage.name}")
        for needed, why in stage.requires.items():
            if needed not in enabled:
                raise ConfigError(f"stages.{stage.name} needs stages.{needed}: {why}")
        build(stage.options, {**dict.fromkeys(PIPELINE_FIXED, "x"), **values, **stage.fixed},
              where=f"stages.{stage.name}")


def check_captions(data: DataSpec, where: str) -> None:
    """Training on captions, or probing them, needs a dataset that has them (the synthetic generator writes them)."""
    if data.path is None:
        return
    samples = read_manifest(data.path, "train")
    if not samples or not samples[0].captions:
        raise ConfigError(f"{where} needs captions, but the dataset {data.path} has none (only `hatchvl data "
                          "synth` writes them)")


def load_recipe(path: str | Path, run_dir: str | None = None, overrides: dict | None = None) -> Recipe:
    """Read and check a recipe file. `overrides` maps dotted keys to values (`{"stages.grpo.beta": 0.1}`),
    applied before anything is checked; `run_dir` overrides the recipe's."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"recipe {path} is not valid YAML{at}: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"recipe {path} must be a mapping of keys, got {type(values).__name__}")
    values = copy.deepcopy(values)
    for dotted, value in (overrides or {}).items():
        set_dotted(values, dotted, value)
    for key in ("data", "model", "stages"):
        if values.get(key) is None:
            raise ConfigError(f"recipe {path} needs the key {key!r}")
    values.setdefault("name", path.stem)
    synth = values["data"].get("synth") if isinstance(values["data"], dict) else None
    if isinstance(synth, dict):
        synth.setdefault("seed", values.get("seed", 0))
    values["eval"] = values.get("eval") or {}
    recipe = build(Recipe, values)
    recipe.source = str(path)
    recipe.run_dir = run_dir or recipe.run_dir or f"runs/{path.stem}"
    check_stages(recipe)
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
        return final_model_dir(self.stage_dir(chain)) if chain else self.base

    def eval_dir(self, chain: list[str]) -> Path:
        return self.root / "eval" / self.chain_name(chain)
