"""Questions about a set of rendered views of a synthetic room, each answer computed exactly from the scene.

Six categories, modelled on the benchmarks (docs/evaluation.md):

- camera_motion (choice): how the camera moved and turned between two images (MMSI camera-camera,
  SPAR camera_motion_infer);
- object_direction (choice): where an object is from another image's viewpoint (MindCube);
- correspondence (choice): which box in image j holds the object marked in image i (SPAR
  position_matching); boxes normalised to 0-1000, origin top left;
- counting (choice): how many objects of a kind the images show, each counted once;
- depth_distance (number, metres): depth of a marked point, camera-object or object-object distance
  (SPAR's low level);
- view_change (key:value string): the camera motion in SPAR view_change_infer's form.

Images are numbered from 1 in question text. Objects named in text have a name unique in the scene;
markers resolve duplicates. An object is *visible* in a view when it covers at least
VISIBLE_FRACTION of the pixels; questions avoid objects that are barely visible.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hatchvl.data.answers import describe_view_change_keys, format_view_change
from hatchvl.data.format import LETTERS, Marker
from hatchvl.data.synthetic.render import Render
from hatchvl.data.synthetic.scene import PLURALS, Scene
from hatchvl.geometry.motion import Motion, relative_motion, signed_yaw

CATEGORIES = ("camera_motion", "object_direction", "correspondence", "counting", "depth_distance", "view_change")
VISIBLE_FRACTION = 0.002
SECTOR_MARGIN_DEG = 10.0  # directions this close to a sector boundary are not asked about
SECTORS = ("in front", "to the right", "behind", "to the left")  # centred on 0, 90, 180, -90 deg
MOVE_WORDS = {"in front": "forward", "to the right": "to the right", "behind": "backward",
              "to the left": "to the left"}


@dataclass(frozen=True)
class Question:
    """A question: text, options (choice only), answer, answer type (see format.Sample) and markers."""

    category: str
    text: str
    options: tuple[str, ...]
    answer: str
    answer_type: str
    markers: tuple[Marker, ...] = ()


def min_visible_pixels(height: int, width: int) -> int:
    return math.ceil(VISIBLE_FRACTION * height * width)


def marker_radius(height: int, width: int) -> int:
    """Radius in pixels of a drawn marker: a white disc in a black ring."""
    return max(2, round(min(height, width) / 45))


def draw_markers(rgb: np.ndarray, markers: Sequence[Marker]) -> np.ndarray:
    """Copy of rgb (H, W, 3) uint8 with each marker drawn: pixels within radius r of (u, v) turn black,
    those within 0.55 r white."""
    out = rgb.copy()
    radius = marker_radius(*rgb.shape[:2])
    v, u = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    for m in markers:
        dist = np.hypot(u - m.u, v - m.v)
        out[dist <= radius] = 0
        out[dist <= 0.55 * radius] = 255
    return out


def sector(bearing_deg: float) -> str | None:
    """Sector of a bearing (degrees, positive = right of the heading), None within the margin of a
    boundary (+-45 and +-135 degrees)."""
    a = abs(bearing_deg)
    if min(abs(a - 45), abs(a - 135)) < SECTOR_MARGIN_DEG:
        return None
    if a < 45:
        return "in front"
    if a > 135:
        return "behind"
    return "to the right" if bearing_deg > 0 else "to the left"


def heading(c2w: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Unit horizontal direction (3,) of a camera's optical axis."""
    forward = c2w[:3, 2] - np.dot(c2w[:3, 2], up) * up
    return forward / np.linalg.norm(forward)


def bbox_text(ids: np.ndarray, instance: int) -> str:
    """[x1, y1, x2, y2] of an instance's pixels, normalised to 0-1000 (x by width, y by height)."""
    rows, cols = np.nonzero(ids == instance)
    h, w = ids.shape
    x1, x2 = round(1000 * cols.min() / w), round(1000 * (cols.max() + 1) / w)
    y1, y2 = round(1000 * rows.min() / h), round(1000 * (rows.max() + 1) / h)
    return f"[{x1}, {y1}, {x2}, {y2}]"


def motion_answer(m: Motion) -> str:
    """A motion as a view_change answer (hatchvl.data.answers.format_view_change)."""
    return format_view_change({"right": m.right_m, "up": m.up_m, "forward": m.forward_m, "yaw": m.yaw_deg,
                               "pitch": m.pitch_deg})


class _PoseContext:
    """What the questions about camera motion need: the camera-to-world poses, world up, the rng."""

    def __init__(self, poses: Sequence[np.ndarray], up, rng: np.random.Generator):
        self.poses, self.rng = poses, rng
        self.up = np.asarray(up, dtype=np.float64)

    def shuffled(self, items):
        items = list(items)
        return [items[i] for i in self.rng.permutation(len(items))]

    def pairs(self):
        n = len(self.poses)
        return self.shuffled((i, j) for i in range(n) for j in range(n) if i != j)

    def choice(self, category: str, text: str, correct: str, distractors, markers=()) -> Question:
        """Multiple choice with the correct option at a uniformly random letter."""
        options = self.shuffled([correct, *distractors])
        return Question(category, text, tuple(options), LETTERS[options.index(correct)], "choice", markers)


class _Context(_PoseContext):
    """What every question maker needs: the views, visible pixel counts, unique names, the rng."""

    def __init__(self, scene: Scene, views: Sequence[Render], rng: np.random.Generator):
        super().__init__([v.c2w for v in views], scene.up, rng)
        self.scene, self.views = scene, views
        n = len(scene.objects)
        self.counts = np.stack([np.bincount(v.ids[v.ids > 0], minlength=n + 1)[1:] for v in views])
        self.visible = self.counts >= min_visible_pixels(*views[0].ids.shape)
        names = Counter(o.name for o in scene.objects)
        self.unique = [k for k, o in enumerate(scene.objects) if names[o.name] == 1]

    def marker_on(self, view: int, obj: int) -> Marker | None:
        """A marker at a random pixel of obj whose whole marker disc lies on obj, or None."""
        ids = self.views[view].ids
        r = marker_radius(*ids.shape)
        mask = np.pad((ids == obj + 1).astype(np.int32), r)
        c = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        k = 2 * r + 1
        inside = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) == k * k
        rows, cols = np.nonzero(inside)
        if len(rows) == 0:
            return None
        pick = self.rng.integers(len(rows))
        return Marker(view, float(cols[pick]), float(rows[pick]))


def _motion_phrase(dist: float, yaw_deg: float, move: str, side: str) -> str:
    return (f"It moved about {dist:.1f} m, mostly {MOVE_WORDS[move]}, and turned about {abs(yaw_deg):.0f} "
            f"degrees to the {side}.")


def _camera_motion(ctx: _PoseContext) -> Question | None:
    for i, j in ctx.pairs():
        m = relative_motion(ctx.poses[i], ctx.poses[j], ctx.up)
        dist = math.hypot(m.forward_m, m.right_m)
        direction = sector(math.degrees(math.atan2(m.right_m, m.forward_m)))
        if dist < 0.3 or direction is None or not 15 <= abs(m.yaw_deg) <= 165:
            continue
        turn = "right" if m.yaw_deg > 0 else "left"
        others = [_motion_phrase(dist, m.yaw_deg, d, s) for d in SECTORS for s in ("left", "right")
                  if (d, s) != (direction, turn)]
        text = (f"Image {i + 1} and image {j + 1} were taken by the same camera, first image {i + 1}, then "
                f"image {j + 1}. Relative to the way it faced in image {i + 1}, how did the camera move?")
        correct = _motion_phrase(dist, m.yaw_deg, direction, turn)
        return ctx.choice("camera_motion", text, correct, ctx.shuffled(others)[:3])
    return None


def _object_direction(ctx: _Context) -> Question | None:
    for j in ctx.shuffled(range(len(ctx.views))):
        c2w = ctx.views[j].c2w
        for k in ctx.shuffled(ctx.unique):
            if not np.delete(ctx.visible[:, k], j).any():
                continue
            to_obj = np.asarray(ctx.scene.objects[k].centre) - c2w[:3, 3]
            to_obj -= np.dot(to_obj, ctx.up) * ctx.up
            if np.linalg.norm(to_obj) < 0.5:
                continue
            answer = sector(signed_yaw(heading(c2w, ctx.up), to_obj / np.linalg.norm(to_obj), ctx.up))
            if answer is None:
                continue
            text = (f"From the viewpoint of image {j + 1}, where is the {ctx.scene.objects[k].name}? Imagine "
                    f"standing where image {j + 1} was taken, facing the way its camera faces.")
            return ctx.choice("object_direction", text, answer, [s for s in SECTORS if s != answer])
    return None


def _correspondence(ctx: _Context) -> Question | None:
    for i, j in ctx.pairs():
        seen_j = list(np.flatnonzero(ctx.visible[j]))
        for k in ctx.shuffled(np.flatnonzero(ctx.visible[i] & ctx.visible[j])):
            others = [o for o in seen_j if o != k]
            marker = ctx.marker_on(i, k) if len(others) >= 3 else None
            if marker is None:
                continue
            boxes = [bbox_text(ctx.views[j].ids, o + 1) for o in [k, *ctx.shuffled(others)[:3]]]
            if len(set(boxes)) < 4:
                continue
            text = (f"In image {i + 1} a point on an object is marked with a white dot in a black ring. "
                    f"Which box in image {j + 1} holds the same object? Boxes are [x1, y1, x2, y2] in "
                    f"image {j + 1}, normalised to 0-1000 with the origin at the top left.")
            return ctx.choice("correspondence", text, boxes[0], boxes[1:], (marker,))
    return None


def _counting(ctx: _Context) -> Question | None:
    objects = ctx.scene.objects
    kinds = {(o.colour, None) for o in objects} | {(None, o.shape) for o in objects}
    kinds |= {(o.colour, o.shape) for o in objects}
    candidates = []
    for colour, shape in sorted(kinds, key=str):
        members = [k for k, o in enumerate(objects) if colour in (None, o.colour) and shape in (None, o.shape)]
        seen = ctx.counts[:, members].max(axis=0)
        if np.any((seen > 0) & (seen < min_visible_pixels(*ctx.views[0].ids.shape))):
            continue  # a barely visible member makes the count ambiguous
        total = int(np.count_nonzero(seen))
        per_view_sum = int(ctx.visible[:, members].sum())
        if total > 0:
            candidates.append((per_view_sum > total, colour, shape, total, per_view_sum))
    if not candidates:
        return None
    tricky = [c for c in candidates if c[0]]
    _, colour, shape, total, per_view_sum = ctx.shuffled(tricky or candidates)[0]
    noun = PLURALS[shape] if shape else "objects"
    kind = f"{colour} {noun}" if colour else noun
    wrong = [per_view_sum] if per_view_sum != total else []
    wrong += [n for n in ctx.shuffled(range(max(0, total - 2), total + 4)) if n not in (total, *wrong)]
    text = (f"How many {kind} can be seen in these images in total? Count every object once, even if it "
            f"appears in several images.")
    return ctx.choice("counting", text, str(total), [str(n) for n in wrong[:3]])


def _depth_distance(ctx: _Context) -> Question | None:
    objects, views = ctx.scene.objects, ctx.views
    seen = [k for k in range(len(objects)) if ctx.visible[:, k].any()]
    named = [k for k in seen if k in ctx.unique]
    for kind in ctx.shuffled(("depth", "camera", "objects")):
        if kind == "depth":
            seen_in = [(i, k) for i in range(len(views)) for k in np.flatnonzero(ctx.visible[i])]
            for i, k in ctx.shuffled(seen_in):
                if (marker := ctx.marker_on(i, k)) is not None:
                    value = float(views[i].depth[int(marker.v), int(marker.u)])
                    text = (f"In image {i + 1} a point is marked with a white dot in a black ring. How far is "
                            f"it from the camera of image {i + 1}, measured along the camera's viewing "
                            f"direction (its depth)? Answer in metres.")
                    return Question("depth_distance", text, (), f"{value:.2f}", "number", (marker,))
        elif kind == "camera" and named:
            i, k = int(ctx.rng.integers(len(views))), ctx.shuffled(named)[0]
            value = float(np.linalg.norm(np.asarray(objects[k].centre) - views[i].c2w[:3, 3]))
            text = (f"How far is the centre of the {objects[k].name} from the camera that took image "
                    f"{i + 1}? Answer in metres.")
            return Question("depth_distance", text, (), f"{value:.2f}", "number")
        elif kind == "objects" and len(named) >= 2:
            a, b = ctx.shuffled(named)[:2]
            value = float(np.linalg.norm(np.subtract(objects[a].centre, objects[b].centre)))
            text = (f"How far apart are the centres of the {objects[a].name} and the {objects[b].name}? "
                    f"Answer in metres.")
            return Question("depth_distance", text, (), f"{value:.2f}", "number")
    return None


def _view_change(ctx: _PoseContext) -> Question | None:
    for i, j in ctx.pairs():
        answer = motion_answer(relative_motion(ctx.poses[i], ctx.poses[j], ctx.up))
        if answer:
            text = (f"How did the camera move from image {i + 1} to image {j + 1}? Answer with comma-separated "
                    f"key:value pairs relative to the camera of image {i + 1}: "
                    f"{describe_view_change_keys('in {}')}; leave out zero values.")
            return Question("view_change", text, (), answer, "view_change")
    return None


_POSE_MAKERS = {"camera_motion": _camera_motion, "view_change": _view_change}
POSE_CATEGORIES = tuple(_POSE_MAKERS)  # the categories answered from the camera poses alone
_MAKERS = {
    "camera_motion": _camera_motion, "object_direction": _object_direction,
    "correspondence": _correspondence, "counting": _counting, "depth_distance": _depth_distance,
    "view_change": _view_change,
}


def make_question(category: str, scene: Scene, views: Sequence[Render], rng: np.random.Generator) -> Question | None:
    """A question of the category about views (Renders of scene, all the same size), or None when
    these views do not allow one (for instance no object seen in two of them)."""
    if category not in _MAKERS:
        raise ValueError(f"unknown question category {category!r}; expected one of {', '.join(CATEGORIES)}")
    if len(views) < 2:
        raise ValueError(f"questions need at least two views, got {len(views)}")
    return _MAKERS[category](_Context(scene, views, rng))


def make_pose_question(category: str, c2w: Sequence[np.ndarray], up, rng: np.random.Generator) -> Question | None:
    """A question of a category in POSE_CATEGORIES about views with camera-to-world poses c2w (metres) in a
    world whose up is `up`, answered from the poses alone (no scene, no renders); None when the motion
    does not allow one. Draws from rng as make_question does for the same views."""
    if category not in _POSE_MAKERS:
        raise ValueError(f"{category!r} is not a question about poses alone; expected one of "
                         f"{', '.join(POSE_CATEGORIES)}")
    if len(c2w) < 2:
        raise ValueError(f"questions need at least two views, got {len(c2w)}")
    return _POSE_MAKERS[category](_PoseContext(c2w, up, rng))
