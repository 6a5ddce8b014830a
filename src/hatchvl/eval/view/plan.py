"""The cameras of an item seen from above, with the poses an output's actions compose to.

Plan coordinates are metres in the first view's heading frame (hatchvl.geometry.motion): x to its right,
y ahead; a heading is in degrees, positive to the right of the first view's heading. The true cameras come
from the true motions the action reward takes (`reward_target`: `relative_motion` of the item's poses); a
written pair (a -> b) is played from camera a with `compose_actions`, and its action reward, position and
yaw errors are those of ActoR's action reward (hatchvl.objectives.rewards.action_reward on that pair
alone), so the picture and the reward agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hatchvl.data.format import Sample
from hatchvl.geometry.actions_text import parse_actions
from hatchvl.geometry.motion import Motion, all_pairs, compose_actions, invert_motion, motion_error, relative_motion
from hatchvl.objectives.rewards import RewardConfig, RewardTarget, action_reward, reward_target


@dataclass(frozen=True)
class PlanPose:
    """A camera from above: x_m to the right of view 1's heading, y_m ahead of it, heading_deg right of it."""

    x_m: float
    y_m: float
    heading_deg: float


@dataclass(frozen=True)
class PairPlan:
    """A true view pair (src < dst, 0-based as in the action text). written: the direction the output wrote
    it in ((src, dst), (dst, src), or None: not written, reward 0); predicted / target: where that pair's
    predicted / target actions take the camera they start from; errors: predicted against the true motion."""

    src: int
    dst: int
    written: tuple[int, int] | None
    predicted: PlanPose | None
    target: PlanPose | None
    reward: float
    position_error_m: float | None
    yaw_error_deg: float | None
    pitch_error_deg: float | None


@dataclass(frozen=True)
class Plan:
    """The true cameras (one per view), every true pair, and the item's action reward (None: no output)."""

    cameras: tuple[PlanPose, ...]
    pairs: tuple[PairPlan, ...]
    reward: float | None
    parse_error: str | None = None


def has_poses(sample: Sample | None) -> bool:
    return sample is not None and sample.c2w is not None and sample.up is not None and sample.num_views >= 2


def move(start: PlanPose, motion: Motion) -> PlanPose:
    """Where `motion` (in the start camera's heading frame) takes a camera at `start`: forward is
    (sin h, cos h) and right is (cos h, -sin h) in plan coordinates, for the start heading h."""
    h = math.radians(start.heading_deg)
    return PlanPose(start.x_m + motion.forward_m * math.sin(h) + motion.right_m * math.cos(h),
                    start.y_m + motion.forward_m * math.cos(h) - motion.right_m * math.sin(h),
                    start.heading_deg + motion.yaw_deg)


def true_motions(sample: Sample) -> dict[tuple[int, int], Motion]:
    """The true motion of every pair i < j as the action reward takes it (reward_target: from the poses); for
    a sample that no reward can score (say, a bad answer) the same motions, from the poses."""
    try:
        return reward_target(sample).motions
    except ValueError:
        pairs = all_pairs(sample.num_views)
        return {(i, j): relative_motion(sample.c2w[i], sample.c2w[j], sample.up) for i, j in pairs}


def true_cameras(motions: dict[tuple[int, int], Motion], views: int) -> tuple[PlanPose, ...]:
    """Every view's camera in the first view's heading frame: view 1 at the origin, view k where the true
    motion 1 -> k takes it."""
    return (PlanPose(0.0, 0.0, 0.0), *(PlanPose(motions[0, k].right_m, motions[0, k].forward_m,
                                                motions[0, k].yaw_deg) for k in range(1, views)))


def camera_plans(sample: Sample, outputs: list[str | None], cfg: RewardConfig = RewardConfig()) -> list[Plan]:
    """The plans of an item with poses (has_poses) for several outputs (None: no prediction), the truth
    worked out once. ValueError from the geometry (a camera looking straight up) is the caller's to report."""
    motions = true_motions(sample)
    cameras = true_cameras(motions, sample.num_views)
    targets = {(p.src, p.dst): move(cameras[p.src], compose_actions(p.actions)) for p in sample.actions}
    return [_plan(sample, motions, cameras, targets, output, cfg) for output in outputs]


def camera_plan(sample: Sample, output: str | None, cfg: RewardConfig = RewardConfig()) -> Plan:
    """The plan of one output (camera_plans)."""
    return camera_plans(sample, [output], cfg)[0]


def _plan(sample: Sample, motions: dict[tuple[int, int], Motion], cameras: tuple[PlanPose, ...],
          targets: dict[tuple[int, int], PlanPose], output: str | None, cfg: RewardConfig) -> Plan:
    parsed = parse_actions(output) if output is not None and "<action>" in output else None  # as the reward reads
    written = {(p.src, p.dst): p.actions for p in parsed.pairs} if parsed is not None and parsed.ok else {}
    text = output or ""
    pairs = []
    for (i, j), truth in motions.items():
        one = RewardTarget(sample.answer, sample.answer_type, {(i, j): truth})
        direction = (i, j) if (i, j) in written else (j, i) if (j, i) in written else None
        predicted = errors = None
        if direction is not None:
            motion = compose_actions(written[direction])
            predicted = move(cameras[direction[0]], motion)
            errors = motion_error(motion, truth if direction == (i, j) else invert_motion(truth))
        pairs.append(PairPlan(i, j, direction, predicted, targets.get((i, j)), action_reward(text, one, cfg),
                              *(errors if errors is not None else (None, None, None))))
    target = RewardTarget(sample.answer, sample.answer_type, motions)
    reward = None if output is None else action_reward(output, target, cfg)
    error = None if output is None else "no <action> block" if parsed is None else parsed.error
    return Plan(cameras, tuple(pairs), reward, error)
