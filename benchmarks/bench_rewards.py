"""Benchmark: ActoR rewards scored per second on one core, for completions with 6 view pairs (4 views).

Every completion is distinct (no cache hits across completions); one "scored completion" is the
format, action and answer rewards of one completion, as GRPO computes them.

    python benchmarks/bench_rewards.py [--completions 20000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hatchvl.data.format import Sample
from hatchvl.geometry.actions_text import PairActions, format_actions
from hatchvl.geometry.camera import pose_from_heading
from hatchvl.geometry.motion import Action, actions_from_poses, all_pairs
from hatchvl.objectives.rewards import action_reward, answer_reward, format_reward, reward_target


def make_completions(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    up = np.array([0.0, 0.0, 1.0])
    poses = [pose_from_heading(rng.uniform(0, 4, 3), rng.uniform(-180, 180), rng.uniform(-10, 10)) for _ in range(4)]
    pairs = all_pairs(4)
    truth = tuple(PairActions(i, j, tuple(actions_from_poses(poses[i], poses[j], up))) for i, j in pairs)
    sample = Sample(id="bench", scene_id="s", category="camera_motion", question="?", options=("a", "b", "c", "d"),
                    answer="C", answer_type="choice", images=tuple(f"{k}.png" for k in range(4)),
                    c2w=np.stack(poses), up=up, actions=truth)
    texts = []
    for n in range(count):
        jitter = lambda a: Action(a.name, float(max(0, round(a.value + rng.normal(0, 3)))))  # noqa: E731
        noisy = tuple(PairActions(p.src, p.dst, tuple(jitter(a) for a in p.actions)) for p in truth)
        text = f"<action>{format_actions(noisy)}</action>\n<answer>{'ABCD'[n % 4]}</answer>"
        if n % 10 == 0:  # some malformed ones
            text = text.replace('"actions"', "actions", 1)
        texts.append(text)
    return texts, reward_target(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=20000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts, target = make_completions(args.completions)
    start = time.perf_counter()
    totals = [format_reward(t) + action_reward(t, target) + answer_reward(t, target) for t in texts]
    seconds = time.perf_counter() - start
    rate = len(texts) / seconds
    print(f"ActoR rewards, {len(texts)} distinct completions with 6 view pairs, one core")
    print(f"{'what':<36}{'per second':>12}{'us each':>10}")
    print(f"{'format + action + answer reward':<36}{rate:>12.0f}{1e6 / rate:>10.1f}")
    print(f"mean summed reward {np.mean(totals):.3f}; target >= 10,000 completions per second")


if __name__ == "__main__":
    main()
