"""What the report says about each kind of stage: the numbers it takes from a finished stage folder
(`stages.<stage>.*` in report.json) and the line it writes in report.md. Pure functions of files already
written; the stage registry (stages.py) names which one each stage uses.

Keys: pretrain: probe_sees (points of visible-object precision, own view − another view) with
probe_sees_ci, caption_loss_gap (nats/token), caption_{count_correct,precision,first_visible,loss}_{own,swapped},
caption_views; pasta: probe_before, probe_after, probe_chance, probe_same_position, probe_colour, probe_pairs;
actor_sft: format_rate, sampled_action_reward, sampled_answer_reward; grpo: reward_start, reward_end = mean
total reward over the first and last 10% of steps (and the same for each part), steps, prompts = the size of
its prompt pool, heldout_{format,action,answer,total}_{before,after} = sampled rewards on fixed held-out
prompts before and after the stage, weighted as the stage weighted them, heldout_prompts, heldout_delta
(after − before) with its 95% paired bootstrap interval heldout_delta_ci; after every stage that samples,
action_sees and answer_sees (mean sampled reward with the prompts' own views − with swapped views) with
their intervals (`_ci`; `_note` says why one is missing).
"""

from __future__ import annotations

from pathlib import Path

from hatchvl.io import read_json
from hatchvl.objectives.rewards import RewardConfig
from hatchvl.stats import Gap, format_gap_keys, gap_keys, paired_gap
from hatchvl.train.common import stage_marker

PROBE_FILE = "probe.json"  # the PaStA probe before and after the stage (measures.measure_probe)
SAMPLING_FILE = "sampling.json"  # sampled completions' rewards on held-out prompts (measures.measure_sampling)
SAMPLING_BLIND_FILE = "sampling-blind.json"  # the same with every prompt's views swapped for another's
CAPTIONS_FILE = "captions.json"  # the caption probe of the stage's model (measures.measure_captions)
REWARD_PARTS = ("format", "action", "answer")


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def edge_means(values: list[float], share: float = 0.1) -> tuple[float, float]:
    """Means of the first and the last `share` of a series (at least one value each)."""
    k = max(1, round(len(values) * share))
    return sum(values[:k]) / k, sum(values[-k:]) / k


# --- pretraining: the caption probe ------------------------------------------------------------------
def caption_keys(probe: dict) -> dict:
    """report.json keys of a caption probe record (objectives/caption_probe.py)."""
    out = {"probe_sees": probe["sees"], "probe_sees_ci": probe["sees_ci"], "caption_loss_gap": probe["loss_gap"],
           "caption_views": probe["views"]}
    for kind in ("own", "swapped"):
        out |= {f"caption_{key}_{kind}": value for key, value in probe[kind].items()}
    if probe.get("note"):
        out["probe_sees_note"] = probe["note"]
    return out


def caption_summary(folder: Path, previous: Path | None, metrics: dict) -> dict:
    probe = read_json(folder / CAPTIONS_FILE)
    return caption_keys(probe) if probe else {}


def caption_line(e: dict) -> str | None:
    if "probe_sees" not in e:
        return None
    sees = format_gap_keys(e, "probe_sees")
    return (f"caption probe on {e['caption_views']} held-out views, own vs swapped view: objects named that are "
            f"visible {pct(e['caption_precision_own'])} vs {pct(e['caption_precision_swapped'])}, sees "
            f"**{sees}** points; count right {pct(e['caption_count_correct_own'])} vs "
            f"{pct(e['caption_count_correct_swapped'])}; caption loss {e['caption_loss_gap']:+.3f} nats/token "
            "lower with the view")


# --- PaStA: the cross-view probe -------------------------------------------------------------------
def probe_summary(folder: Path, previous: Path | None, metrics: dict) -> dict:
    probe = read_json(folder / PROBE_FILE)
    if probe is None:
        return {}
    before, after = probe["before"], probe["after"]
    return {"probe_before": before["top1"], "probe_after": after["top1"], "probe_chance": after["chance"],
            "probe_same_position": after["same_position"], "probe_colour": after["colour"],
            "probe_pairs": after["pairs"]}


def probe_line(e: dict) -> str | None:
    if "probe_after" not in e:
        return None
    return (f"probe top-1 {pct(e['probe_before'])} → **{pct(e['probe_after'])}** (chance "
            f"{pct(e['probe_chance'])}, same position {pct(e['probe_same_position'])}, colour only "
            f"{pct(e['probe_colour'])}; {e['probe_pairs']} held-out pairs)")


def _paired(a: dict, b: dict, weights: dict[str, float], seed: int = 0) -> Gap:
    """The paired gap of two sampling records on the same prompts: sum_part weights[part] * reward, a - b."""
    if a.get("ids") != b.get("ids") or not a.get("rewards") or not b.get("rewards"):
        raise ValueError("sampling records to compare must hold per-prompt rewards of the same prompts")
    def total(record):
        return [sum(weights[p] * record["rewards"][p][k] for p in weights) for k in range(len(record["ids"]))]
    return paired_gap(total(a), total(b), seed=seed)


def action_sees(folder: Path) -> dict:
    """action_sees / answer_sees: own minus blind mean sampled action (answer) reward, paired by prompt."""
    own, blind = read_json(folder / SAMPLING_FILE), read_json(folder / SAMPLING_BLIND_FILE)
    if own is None or blind is None or "rewards" not in own:
        return {}
    return (gap_keys("action_sees", _paired(own, blind, {"action": 1.0}))
            | gap_keys("answer_sees", _paired(own, blind, {"answer": 1.0})))


def _sees_text(e: dict) -> str:
    if "action_sees" not in e:
        return ""
    return (f"; own − swapped views: action {format_gap_keys(e, 'action_sees', 3)}, "
            f"answer {format_gap_keys(e, 'answer_sees', 3)}")


# --- the cold start: sampled completions -----------------------------------------------------------
def sampling_summary(folder: Path, previous: Path | None, metrics: dict) -> dict:
    sampled = read_json(folder / SAMPLING_FILE)
    if sampled is None:
        return {}
    return {"format_rate": sampled["format_rate"], "sampled_action_reward": sampled["action_reward"],
            "sampled_answer_reward": sampled["answer_reward"]} | action_sees(folder)


def sampling_line(e: dict) -> str | None:
    if "format_rate" not in e:
        return None
    text = (f"sampled format compliance **{pct(e['format_rate'])}** (temperature 1); action reward "
            f"{e['sampled_action_reward']:.3f}, answer reward {e['sampled_answer_reward']:.3f}")
    return text + _sees_text(e)


# --- GRPO: the reward curve and the held-out rewards before and after ------------------------------
def heldout_rewards(grpo_dir: Path, before_dir: Path | None) -> dict:
    """Sampled rewards on the held-out prompts before GRPO (the previous stage's sampling.json) and after it,
    weighted as the GRPO stage weighted them: heldout_{format,action,answer,total}_{before,after}."""
    options = (read_json(stage_marker(grpo_dir)) or {}).get("options", {})
    defaults = RewardConfig()
    weights = {part: options.get(f"w_{part}", getattr(defaults, f"w_{part}")) for part in REWARD_PARTS}
    out: dict = {}
    before = read_json(before_dir / SAMPLING_FILE) if before_dir else None
    after = read_json(grpo_dir / SAMPLING_FILE)
    for when, sampled in (("before", before), ("after", after)):
        if sampled is None:
            continue
        parts = {"format": sampled["format_rate"], "action": sampled["action_reward"],
                 "answer": sampled["answer_reward"]}
        out |= {f"heldout_{part}_{when}": value for part, value in parts.items()}
        out[f"heldout_total_{when}"] = sum(weights[part] * value for part, value in parts.items())
        out["heldout_prompts"] = sampled["count"]
    if before and after and "rewards" in before and "rewards" in after:
        out |= gap_keys("heldout_delta", _paired(after, before, weights))
    return out


def grpo_summary(folder: Path, previous: Path | None, metrics: dict) -> dict:
    entry = heldout_rewards(folder, previous) | action_sees(folder)
    history = metrics.get("log_history", [])
    rewards = [h["reward"] for h in history if "reward" in h]
    if rewards:
        entry["reward_start"], entry["reward_end"] = edge_means(rewards)
        for part in REWARD_PARTS:
            series = [h[f"rewards/{part}/mean"] for h in history if f"rewards/{part}/mean" in h]
            entry[f"{part}_start"], entry[f"{part}_end"] = edge_means(series)
        entry["steps"] = len(rewards)
    if "samples" in metrics:
        entry["prompts"] = metrics["samples"]
    return entry


def grpo_line(e: dict) -> str | None:
    if "reward_start" not in e:
        return None
    pool = f" on {e['prompts']} training prompts" if "prompts" in e else ""
    text = (f"mean total reward {e['reward_start']:.3f} → **{e['reward_end']:.3f}** over {e['steps']} "
            f"steps{pool} "
            f"(format {e['format_start']:.2f} → {e['format_end']:.2f}, action {e['action_start']:.3f} → "
            f"{e['action_end']:.3f}, answer {e['answer_start']:.3f} → {e['answer_end']:.3f})")
    if "heldout_total_after" in e:
        before = f"{e['heldout_total_before']:.3f} → " if "heldout_total_before" in e else ""
        text += (f"; on {e['heldout_prompts']} held-out prompts (same prompts and seed, temperature 1): "
                 f"total {before}**{e['heldout_total_after']:.3f}**")
        if "heldout_answer_before" in e:
            text += f" (answer {e['heldout_answer_before']:.3f} → {e['heldout_answer_after']:.3f})"
        if "heldout_delta" in e:
            text += f", change {format_gap_keys(e, 'heldout_delta', 3)}"
    return text + _sees_text(e)
