"""The sees curve: during training, every `sees_every` steps (and before the first), the model answers a
small fixed held-out subset twice, with each item's own views and with another item's (the blind
control's swap rule, data/blind.py), greedily. The difference is logged with its 95% paired bootstrap
interval, so a run shows *when* (if ever) its answers start to depend on the images, not only whether
they do at the end.

What is measured follows the stage's target:
- answer / action_answer (SFT, GRPO): the answer reward, own minus swapped, in points (`sees`); with
  action_answer also the action reward (`action_sees`, in reward units) and format compliance;
- caption (the miniature's pretraining): the caption probe's visible-object precision
  (objectives/caption_probe.py) and its caption loss gap.

Each point goes into the trainer's log history (so `stage.json` and the report keep it, and a resumed run
keeps the points before the checkpoint) and into TensorBoard under `sees/`. The measurement leaves the
training untouched: the model goes back to train mode, the tokenizer's padding side and the RNG states
are restored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import TrainerCallback
from transformers.integrations import TensorBoardCallback

from hatchvl.data.badfiles import drop_bad_samples
from hatchvl.data.blind import swap_donors
from hatchvl.data.format import read_manifest
from hatchvl.objectives.prompts import CAPTION
from hatchvl.stats import format_gap_keys, gap_keys, paired_gap


@dataclass(frozen=True)
class SeesCurveSpec:
    """Where and how often: `every` steps, the first `limit` items of `split`, answers of the `style`."""

    data: str | Path
    split: str
    limit: int
    every: int
    style: str  # answer, action_answer or caption
    max_new_tokens: int
    seed: int = 0
    skip_bad: bool = False  # pass over items whose images cannot be decoded (else they stop the run)


def measure_sees(model, processor, spec: SeesCurveSpec) -> dict:
    """One point of the curve (module docstring): "sees" with "sees_ci" ([low, high], None below
    stats.MIN_ITEMS_FOR_INTERVAL items, then "sees_note" says why; stats.gap_keys), "sees_own" and
    "sees_swapped", and the style's further keys."""
    if spec.style == CAPTION:
        from hatchvl.objectives.caption_probe import held_out_views, run_caption_probe

        views = held_out_views(spec.data, spec.split, spec.limit, spec.skip_bad)
        probe = run_caption_probe(model, processor, spec.data, views, seed=spec.seed,
                                  max_new_tokens=spec.max_new_tokens)
        point = {"sees": probe.sees, "sees_ci": probe.sees_ci, "sees_own": 100 * probe.own["precision"],
                 "sees_swapped": 100 * probe.swapped["precision"], "sees_loss_gap": probe.loss_gap}
        return point | ({"sees_note": probe.note} if probe.note else {})
    from hatchvl.objectives.sampling import sample_rewards

    own, swapped = (sample_rewards(model, processor, spec.data, split=spec.split, limit=spec.limit, temperature=0.0,
                                   max_new_tokens=spec.max_new_tokens, seed=spec.seed, blind=blind, style=spec.style,
                                   skip_bad=spec.skip_bad)
                    for blind in (False, True))
    point = gap_keys("sees", paired_gap(own.rewards["answer"], swapped.rewards["answer"], seed=spec.seed), 100.0)
    point |= {"sees_own": 100 * own.answer_reward, "sees_swapped": 100 * swapped.answer_reward}
    if spec.style == "action_answer":
        point |= gap_keys("action_sees", paired_gap(own.rewards["action"], swapped.rewards["action"], seed=spec.seed))
        point["format_rate"] = own.format_rate
    return point


def _scalars(point: dict) -> dict[str, float]:
    """The point's numbers as TensorBoard scalars: an interval [low, high] becomes <key>_low, <key>_high."""
    out = {}
    for key, value in point.items():
        if isinstance(value, (int, float)):
            out[key] = value
        elif isinstance(value, list):
            out[f"{key.removesuffix('_ci')}_low"], out[f"{key.removesuffix('_ci')}_high"] = value
    return out


class SeesCurveCallback(TrainerCallback):
    """Logs measure_sees(model) at step 0 and every spec.every steps (module docstring)."""

    def __init__(self, trainer, processor, spec: SeesCurveSpec):
        if spec.every < 1 or spec.limit < 1:
            raise ValueError(f"the sees curve needs every >= 1 and limit >= 1, got {spec.every} and {spec.limit}")
        if spec.style != CAPTION:  # fail before training, not at the first point: the subset must be swappable
            subset, _ = drop_bad_samples(spec.data, spec.split, read_manifest(spec.data, spec.split)[:spec.limit],
                                         spec.skip_bad)
            if not subset:
                raise ValueError(f"the sees curve's split {spec.split!r} of {spec.data} holds no samples")
            swap_donors([s.num_views for s in subset], spec.seed, name=f"the sees curve (split {spec.split!r})")
        self.trainer, self.processor, self.spec = trainer, processor, spec

    def _measure(self, state) -> None:
        if any(entry.get("step") == state.global_step and "sees" in entry for entry in state.log_history):
            return  # this step's point is there already (a resumed run)
        model = self.trainer.model
        was_training, side = model.training, self.processor.tokenizer.padding_side
        # the global states transformers.set_seed seeds (the legacy numpy one included)
        rng = (random.getstate(), np.random.get_state(), torch.get_rng_state())  # noqa: NPY002
        try:
            point = measure_sees(model, self.processor, self.spec)
        finally:
            model.train(was_training)
            self.processor.tokenizer.padding_side = side
            random.setstate(rng[0])
            np.random.set_state(rng[1])  # noqa: NPY002
            torch.set_rng_state(rng[2])
        state.log_history.append({**point, "step": state.global_step})
        tqdm.write(f"sees curve, step {state.global_step}: {point['sees_own']:.1f} with its views, "
                   f"{point['sees_swapped']:.1f} swapped, sees {format_gap_keys(point, 'sees')} points")
        for callback in self.trainer.callback_handler.callbacks:
            writer = getattr(callback, "tb_writer", None) if isinstance(callback, TensorBoardCallback) else None
            if writer is not None:
                for key, value in _scalars(point).items():
                    writer.add_scalar(f"sees/{key}", value, state.global_step)
                writer.flush()

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:
            self._measure(state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.spec.every == 0 or state.global_step == state.max_steps:
            self._measure(state)


def add_sees_curve(trainer, processor, opts, style: str) -> None:
    """Attach the sees curve to `trainer` when opts.sees_every > 0 (train/options.py, SeesCurveOptions)."""
    if opts.sees_every > 0:
        spec = SeesCurveSpec(data=opts.data, split=opts.sees_split, limit=opts.sees_limit, every=opts.sees_every,
                             style=style, max_new_tokens=opts.sees_max_new_tokens, seed=opts.seed,
                             skip_bad=opts.skip_bad)
        trainer.add_callback(SeesCurveCallback(trainer, processor, spec))
