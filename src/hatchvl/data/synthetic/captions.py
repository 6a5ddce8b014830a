"""Grounded captions of rendered synthetic views, written from what the generator knows (no model, no torch).

A caption lists the objects a view shows, left to right, each with its colour, shape, horizontal
position in the image and distance from the camera, after the number of objects:

    "3 objects: purple cylinder left far; blue box centre near; red sphere right mid."
    "no objects."

They exist for the miniature's `pretrain` stage (docs/pipeline.md, "The miniature's pretraining"): a
tiny random model has never learnt to see, unlike the pretrained checkpoints HATCH starts from, and dense
per-view descriptions teach it the attributes the synthetic questions ask about (colour, shape, count,
left/right, depth) before any question fine-tuning. The generator writes one per view into the
manifest's `captions` field (docs/dataset-format.md).

Definitions (all deterministic; the same scene and render give the same text):

- An object is *visible* when its instance id (object k has id k + 1 in `Render.ids`) covers at least
  `min_pixels` pixels; the default is the question generator's threshold,
  ceil(VISIBLE_FRACTION * H * W) (hatchvl.data.synthetic.questions.min_visible_pixels), so a caption names
  exactly the objects the questions count as visible.
- Horizontal position: the mean column of the object's pixels (pixel centres u = 0 ... W - 1) as a
  fraction (u + 0.5) / W: "left" below 1/3, "right" from 2/3, else "centre".
- Distance: the median z-depth (metres) of the object's pixels with a valid depth, as a word
  ("near" below `near_m`, "far" from `far_m`, else "mid") or, with `depth="metres"`, as metres to
  0.1 ("2.3 m"). Objects without a valid depth pixel use the distance from the camera centre
  (`Render.c2w`) to the object centre.
- Order: by mean column, left to right; ties by instance id.
- Names: "<colour> <shape>" as in the scene (SceneObject.name); duplicates are listed each time.
- With `max_objects`, only the `max_objects` largest (most pixels; ties by id) are listed, still left
  to right; the leading count stays the number of visible objects.

Only numpy and the synthetic scene / render / questions modules are imported.
"""

from __future__ import annotations

import numpy as np

from hatchvl.data.synthetic.questions import min_visible_pixels
from hatchvl.data.synthetic.render import Render
from hatchvl.data.synthetic.scene import Scene

NEAR_M, FAR_M = 2.0, 3.5
DEPTH_STYLES = ("words", "metres")


def horizontal_word(mean_column: float, width: int) -> str:
    """'left', 'centre' or 'right' for a mean pixel column (0-based pixel centres) in an image of width."""
    x = (mean_column + 0.5) / width
    if x < 1 / 3:
        return "left"
    if x >= 2 / 3:
        return "right"
    return "centre"


def depth_word(depth_m: float, near_m: float = NEAR_M, far_m: float = FAR_M) -> str:
    """'near', 'mid' or 'far' for a distance in metres."""
    if depth_m < near_m:
        return "near"
    if depth_m >= far_m:
        return "far"
    return "mid"


def visible_objects(scene: Scene, view: Render, min_pixels: int | None = None) -> list[dict]:
    """The visible objects of a view, left to right: dicts with index (into scene.objects), name,
    colour, shape, pixels, column (mean pixel column), depth_m (median valid z-depth, or the distance
    from the camera to the object centre when no pixel has one)."""
    ids = np.asarray(view.ids)
    if ids.ndim != 2:
        raise ValueError(f"view.ids must be (H, W), got shape {ids.shape}")
    height, width = ids.shape
    if min_pixels is None:
        min_pixels = min_visible_pixels(height, width)
    n = len(scene.objects)
    counts = np.bincount(ids[ids > 0].ravel(), minlength=n + 1)[1:n + 1] if n else np.zeros(0, int)
    depth = np.asarray(view.depth, dtype=np.float64)
    cam = np.asarray(view.c2w, dtype=np.float64)[:3, 3]
    out = []
    for k in np.flatnonzero(counts >= max(1, min_pixels)):
        mask = ids == k + 1
        _, cols = np.nonzero(mask)
        d = depth[mask]
        d = d[np.isfinite(d) & (d > 0)]
        obj = scene.objects[int(k)]
        depth_m = float(np.median(d)) if d.size else float(np.linalg.norm(np.asarray(obj.centre) - cam))
        out.append({"index": int(k), "name": obj.name, "colour": obj.colour, "shape": obj.shape,
                    "pixels": int(counts[k]), "column": float(cols.mean()), "depth_m": depth_m})
    out.sort(key=lambda o: (o["column"], o["index"]))
    return out


def caption(
    scene: Scene,
    view: Render,
    depth: str = "words",
    min_pixels: int | None = None,
    max_objects: int | None = None,
    near_m: float = NEAR_M,
    far_m: float = FAR_M,
) -> str:
    """The caption of one rendered view of `scene` (module docstring for the format)."""
    if depth not in DEPTH_STYLES:
        raise ValueError(f"depth must be one of {', '.join(DEPTH_STYLES)}, got {depth!r}")
    if max_objects is not None and max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    objects = visible_objects(scene, view, min_pixels)
    if not objects:
        return "no objects."
    listed = objects
    if max_objects is not None and len(objects) > max_objects:
        keep = sorted(objects, key=lambda o: (-o["pixels"], o["index"]))[:max_objects]
        listed = [o for o in objects if o in keep]
    width = np.asarray(view.ids).shape[1]
    parts = []
    for o in listed:
        where = horizontal_word(o["column"], width)
        dist = depth_word(o["depth_m"], near_m, far_m) if depth == "words" else f"{o['depth_m']:.1f} m"
        parts.append(f"{o['name']} {where} {dist}")
    noun = "object" if len(objects) == 1 else "objects"
    return f"{len(objects)} {noun}: " + "; ".join(parts) + "."
