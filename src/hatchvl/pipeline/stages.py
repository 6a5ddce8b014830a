"""The registry of training stages: one row per stage holds everything the recipe checker, the runner, the
report and the ablation know about it. They loop over `STAGES`; none of them names a stage.

Adding a stage means one row here and the stage's own module (its options class in train/options.py and
its run function); a new measurement also adds its function to measures.py and its summary to summaries.py.

Importing this module loads no torch: run functions are named as "module:function" and imported when the
stage runs, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hatchvl.pipeline import summaries
from hatchvl.train.options import GRPOOptions, PastaOptions, SFTOptions

Summary = Callable[[Path, "Path | None", dict], dict]  # (stage folder, previous stage's folder, stage metrics)


@dataclass(frozen=True)
class Stage:
    name: str
    options: type  # its options dataclass; a recipe's stages.<name> holds its keys less model/data/out
    run: str  # "module:function" that trains it from its options, resuming or skipping when finished
    part: str  # what it belongs to: pretrain (every ablation variant keeps it), or the HATCH part pasta, qa or
    # actor (the ablation drops whole parts)
    fixed: dict = field(default_factory=dict)  # options the stage sets itself (an SFT stage's target)
    requires: dict = field(default_factory=dict)  # stage -> why it must come before this one in a recipe
    measures: tuple[str, ...] = ()  # measurements taken on its model when it finishes (measures.MEASURES)
    summary: Summary | None = None  # its numbers in report.json, from its folder
    line: Callable[[dict], str | None] | None = None  # its line in report.md, from those numbers
    curve: str = "loss"  # what its plot shows: the training loss, or the GRPO rewards
    tiny_only: bool = False  # only for a model built from nothing (model.init_tiny), not a pretrained checkpoint

    def run_function(self) -> Callable:
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)


STAGES: tuple[Stage, ...] = (
    # the miniature's pretraining (docs/pipeline.md): its random tower first learns dense, view-invariant
    # features from the cross-view alignment loss, then the whole model learns grounded captions
    Stage("pretrain_tower", PastaOptions, "hatchvl.train.pasta:run_pasta", part="pretrain", measures=("probe",),
          summary=summaries.probe_summary, line=summaries.probe_line, tiny_only=True),
    Stage("pretrain", SFTOptions, "hatchvl.train.sft:run_sft", part="pretrain", fixed={"target": "caption"},
          measures=("captions",), summary=summaries.caption_summary, line=summaries.caption_line, tiny_only=True),
    Stage("pasta", PastaOptions, "hatchvl.train.pasta:run_pasta", part="pasta", measures=("probe",),
          summary=summaries.probe_summary, line=summaries.probe_line),
    Stage("qa_sft", SFTOptions, "hatchvl.train.sft:run_sft", part="qa", fixed={"target": "answer"}),
    Stage("actor_sft", SFTOptions, "hatchvl.train.sft:run_sft", part="actor", fixed={"target": "action_answer"},
          measures=("sampling",), summary=summaries.sampling_summary, line=summaries.sampling_line),
    Stage("grpo", GRPOOptions, "hatchvl.train.grpo:run_grpo", part="actor", measures=("sampling",),
          requires={"actor_sft": "GRPO starts from the action-then-answer cold start (without it no completion "
                                 "earns a format or action reward)"},
          summary=summaries.grpo_summary, line=summaries.grpo_line, curve="rewards"),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
STEPS = ("data", "model", *STAGE_NAMES, "eval")  # what --stages and --from choose from


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")
