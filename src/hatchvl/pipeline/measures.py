"""Measurements taken on a stage's model when it finishes, each written once into the stage folder (a
re-run skips it): the registry (stages.py) lists which a stage gets, summaries.py reads them back.

Each takes the run's recipe, its dataset folder and the finished stage's options, and logs one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hatchvl.io import write_json
from hatchvl.pipeline.recipe import Recipe
from hatchvl.pipeline.summaries import CAPTIONS_FILE, PROBE_FILE, SAMPLING_BLIND_FILE, SAMPLING_FILE
from hatchvl.stats import format_interval
from hatchvl.train.common import final_model_dir


def measure_probe(recipe: Recipe, data_dir: Path, opts, log: Callable[[str], None]) -> None:
    """probe.json: the cross-view probe of the model before and after PaStA."""
    path = Path(opts.out) / PROBE_FILE
    spec = recipe.eval.probe
    if spec is None or path.is_file():
        return
    from hatchvl.models.loading import load_for_inference
    from hatchvl.objectives.probe import build_probe_set, run_probe

    # one probe set (held-out pairs, their S at the stage's tolerances, cell colours) for both models
    probe_set = build_probe_set(data_dir, spec.split, opts.grid, spec.limit, opts.tol_abs, opts.tol_rel,
                                cache_dir=opts.out, skip_bad=opts.skip_bad)
    before, after = (
        run_probe(*load_for_inference(model, opts.dtype), probe_set, opts.before_merger).as_dict()
        for model in (opts.model, final_model_dir(opts.out))
    )
    write_json(path, {"before": before, "after": after})
    log(f"   probe top-1 {before['top1']:.3f} -> {after['top1']:.3f} (chance {after['chance']:.3f}, "
        f"same position {after['same_position']:.3f}, colour {after['colour']:.3f})")


def measure_sampling(recipe: Recipe, data_dir: Path, opts, log: Callable[[str], None]) -> None:
    """sampling.json: format compliance and rewards of sampled completions on held-out prompts (the same
    prompts and seed after every stage that takes it, so two stages compare without prompt noise), and
    sampling-blind.json: the same prompts with each one's views swapped for another's (eval.sampling.blind)."""
    spec = recipe.eval.sampling
    if spec is None:
        return
    from hatchvl.models.loading import load_for_inference
    from hatchvl.objectives.sampling import sample_rewards

    model = processor = None
    for blind in (False, True) if spec.blind else (False,):
        path = Path(opts.out) / (SAMPLING_BLIND_FILE if blind else SAMPLING_FILE)
        if path.is_file():
            continue
        if model is None:
            model, processor = load_for_inference(final_model_dir(opts.out), opts.dtype)
        result = sample_rewards(model, processor, data_dir, split=spec.split, limit=spec.limit,
                                temperature=spec.temperature, max_new_tokens=spec.max_new_tokens, seed=recipe.seed,
                                blind=blind, skip_bad=opts.skip_bad)
        write_json(path, result.as_dict())
        log(f"   sampled{' blind' if blind else ''}: format compliance {result.format_rate:.1%} at temperature "
            f"{result.temperature}, action reward {result.action_reward:.3f}, answer reward {result.answer_reward:.3f}")


def caption_probe(recipe: Recipe, data_dir: Path, model_dir: Path, path: Path, log: Callable[[str], None],
                  dtype: str = "auto") -> None:
    """The caption probe (objectives/caption_probe.py) of one model (trained in `dtype`) into `path`, unless it
    is there."""
    spec = recipe.eval.captions
    if spec is None or path.is_file():
        return
    from hatchvl.models.loading import load_for_inference
    from hatchvl.objectives.caption_probe import held_out_views, run_caption_probe

    model, processor = load_for_inference(model_dir, dtype)
    views = held_out_views(data_dir, spec.split, spec.limit, recipe.skip_bad)
    probe = run_caption_probe(model, processor, data_dir, views, seed=recipe.seed, max_new_tokens=spec.max_new_tokens)
    write_json(path, probe.as_dict())
    log(f"   caption probe: visible objects named {probe.own['precision']:.1%} with the view vs "
        f"{probe.swapped['precision']:.1%} with another, sees {format_interval(probe.sees, probe.sees_ci, probe.note)} "
        "points")


def measure_captions(recipe: Recipe, data_dir: Path, opts, log: Callable[[str], None]) -> None:
    """captions.json: the caption probe of the stage's model."""
    caption_probe(recipe, data_dir, final_model_dir(opts.out), Path(opts.out) / CAPTIONS_FILE, log, opts.dtype)


MEASURES: dict[str, Callable] = {"captions": measure_captions, "probe": measure_probe, "sampling": measure_sampling}
