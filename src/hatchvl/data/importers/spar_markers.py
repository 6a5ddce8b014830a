"""SPAR-7M records' markers (hatchvl.data.importers.spar): which of a record's `*_point`, `*_bbox`,
`bbox_list` and `point_list` entries SPAR's own loader draws, on which image, in which colour and style
(the rules of SPAR's `datasets/draw_marker.py`, task by task), and the drawing itself: on a canvas at the
colour image's resolution, with SPAR's pixel arithmetic, then carried into the stored (depth-camera)
image as the colour image itself was."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hatchvl.data.chunks import Skip
from hatchvl.data.importers.frames import colour_to_depth_pixels
from hatchvl.data.importers.spar_frames import Frame

RGB = tuple[int, int, int]
# the PIL drawing uses Pillow's colour names ("green" is Pillow's #008000)
PIL_RGB: dict[str, RGB] = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 128, 0), "yellow": (255, 255, 0)}
# the OpenCV drawing writes (0, 0, 255) boxes / discs and (0, 255, 0) text into RGB arrays: blue and green
CV_BLUE, CV_GREEN, WHITE = (0, 0, 255), (0, 255, 0), (255, 255, 255)
# the *_video boxes are drawn into BGR arrays, so their colours swap channels: its "yellow" (225, 225, 0)
# comes out as RGB (0, 225, 225)
CV_TAG_RGB: dict[str, RGB] = {"green": (0, 255, 0), "blue": (0, 0, 255), "red": (255, 0, 0), "yellow": (0, 225, 225)}
RADIUS_PX = 20  # disc radius, colour-image pixels
STROKE_PX = 20  # box line width, colour-image pixels
LABEL_PX, LABEL_STROKE_PX = 64, 3  # Pillow's default font at about OpenCV's Hershey simplex, scale 2, thickness 10

# task -> (key, slot) in SPAR's drawing order; the image is <kind>_img_idx[0][slot], or image 0 for slot
# None (single-view tasks, and position_matching, which ignores bbox_img_idx)
FIXED: dict[str, tuple[tuple[str, int | None], ...]] = {
    "obj_spatial_relation_oo": (("red_bbox", None), ("blue_bbox", None)),
    "depth_prediction_oc": (("red_point", None), ("blue_point", None)),
    "depth_prediction_oo": (("red_point", None), ("blue_point", None), ("green_point", None)),
    "distance_prediction_oc": (("red_point", None),),
    "distance_prediction_oo": (("red_point", None), ("blue_point", None)),
    "distance_infer_center_oo": (("red_point", None), ("blue_point", None), ("green_point", None)),
    "spatial_volume_infer": (("red_bbox", None),),
    "spatial_imagination_oc": (("red_bbox", None), ("blue_bbox", None), ("green_bbox", None)),
    "spatial_imagination_oo": (("red_bbox", None), ("blue_bbox", None), ("green_bbox", None), ("yellow_bbox", None)),
    "position_matching": (("red_bbox", None),),
    "depth_prediction_oc_mv": (("red_point", 0), ("blue_point", 1)),
    "depth_prediction_oo_mv": (("red_point", 0), ("blue_point", 1), ("green_point", 2)),
    "distance_prediction_oc_mv": (("red_point", 0),),
    "distance_prediction_oo_mv": (("red_point", 0), ("blue_point", 1)),
    "distance_infer_center_oo_mv": (("red_point", 0), ("green_point", 1), ("blue_point", 2)),
    "spatial_imagination_oc_mv": (("red_bbox", 2), ("green_bbox", 0), ("blue_bbox", 1)),
    "spatial_imagination_oo_mv": (("red_bbox", 2), ("green_bbox", 0), ("blue_bbox", 1), ("yellow_bbox", 3)),
    "distance_prediction_oo_video": (("red_point", 0), ("blue_point", 1)),
    "obj_frame_locate": (("red_bbox", 0),),
}
# boxes drawn with OpenCV on bbox_img_idx[0][i], labelled object{i} in white on a patch of their colour
TAGGED = {"spatial_imagination_oc_video": ("green", "blue", "red"),
          "spatial_imagination_oo_video": ("green", "blue", "red", "yellow")}
# tasks with their own rules (record_markers)
SPECIAL = ("obj_spatial_relation_oc_mv", "obj_spatial_relation_oo_mv", "spatial_imagination_map_mv",
           "distance_infer_center_oo_video")
NOTHING = ("distance_infer_center_oc", "view_change_infer", "distance_infer_center_oc_mv", "camera_motion_infer",
           "appearance_order", "room_size", "obj_count", "nav", "spatial_imagination_oc_video_hard",
           "spatial_imagination_oo_video_hard")
SPAR_DRAW_TASKS = frozenset(FIXED) | frozenset(TAGGED) | frozenset(SPECIAL) | frozenset(NOTHING)


class SparMarker(NamedTuple):
    """One marker as SPAR draws it; coords are 0-1000 of the colour image: (x, y) or (x1, y1, x2, y2)."""

    kind: str  # "point" or "bbox"
    colour: RGB
    image: int  # index into the record's images
    coords: tuple[float, ...]
    style: str = "pil"  # "pil": draw_marker.py's PIL helpers; "cv2": its OpenCV drawing
    label: str = ""
    label_style: str = ""  # "text": green text beside the marker; "tag": white text on a patch of its colour


def _unwrap(value, item: type) -> list | None:
    """SPAR's [[a, b, ...]] -> [a, b, ...] (a flat [a, b, ...] is taken as it is); None when not a list.
    item: what a, b, ... are (int for image indices, list for boxes and points)."""
    if not isinstance(value, list):
        return None
    if value and isinstance(value[0], list) and (item is int or (value[0] and isinstance(value[0][0], list))):
        return value[0]
    return value


def _coords(value, size: int, what: str) -> tuple[float, ...]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not (isinstance(value, list) and len(value) == size
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in value)):
        raise Skip("bad_marker", f"{what}: expected {size} numbers, got {value!r}")
    if size == 4 and not (value[0] <= value[2] and value[1] <= value[3]):
        raise Skip("bad_marker", f"{what}: box {value!r} has x2 < x1 or y2 < y1")
    return tuple(float(c) for c in value)


def _image(rec: dict, kind: str, slot: int | None, views: int, what: str) -> int:
    if slot is None:
        return 0
    idx = _unwrap(rec.get(f"{kind}_img_idx"), int)
    if idx is None or slot >= len(idx) or not (type(idx[slot]) is int and 0 <= idx[slot] < views):
        raise Skip("bad_marker", f"{what}: {kind}_img_idx {rec.get(f'{kind}_img_idx')!r} names no image "
                                 f"(of {views}) for slot {slot}")
    return idx[slot]


def _keyed(rec: dict, key: str, image: int, what: str, colour: RGB | None = None, **style) -> SparMarker:
    colour_name, kind = key.rsplit("_", 1)
    if not rec.get(key):
        raise Skip("bad_marker", f"{what}: SPAR draws {key}, the record has none")
    coords = _coords(rec[key], 2 if kind == "point" else 4, f"{what}: {key}")
    return SparMarker(kind, colour or PIL_RGB[colour_name], image, coords, **style)


def record_markers(rec: dict, task: str, views: int) -> list[SparMarker]:
    """The markers SPAR's draw_marker.py draws for a record of `task` with `views` images, in its drawing
    order. Skip('bad_marker') where SPAR's code would fail on the record, Skip('unknown_task') for a task
    that draw_marker.py does not know (SPAR's loader refuses those)."""
    what = f"{task} record {rec.get('id', '?')}"
    if task in NOTHING:
        return []
    if task in FIXED:
        return [_keyed(rec, key, _image(rec, key.rsplit("_", 1)[1], slot, views, what), what)
                for key, slot in FIXED[task]]
    if task == "obj_spatial_relation_oc_mv":  # whichever of the three are present, all on one image
        image = _image(rec, "bbox", 0, views, what)
        return [_keyed(rec, f"{c}_bbox", image, what) for c in ("red", "blue", "green") if rec.get(f"{c}_bbox")]
    if task == "obj_spatial_relation_oo_mv":  # exactly two of the three, in this order, on slots 0 and 1
        present = [f"{c}_bbox" for c in ("red", "blue", "green") if rec.get(f"{c}_bbox")]
        if len(present) != 2:
            raise Skip("bad_marker", f"{what}: SPAR draws two of red/blue/green_bbox, the record has {present}")
        return [_keyed(rec, key, _image(rec, "bbox", slot, views, what), what) for slot, key in enumerate(present)]
    if task in TAGGED:
        return [_keyed(rec, f"{c}_bbox", _image(rec, "bbox", i, views, what), what, CV_TAG_RGB[c], style="cv2",
                       label=f"object{i}", label_style="tag") for i, c in enumerate(TAGGED[task])]
    if task in ("spatial_imagination_map_mv", "distance_infer_center_oo_video"):
        kind, size = ("bbox", 4) if task == "spatial_imagination_map_mv" else ("point", 2)
        items = _unwrap(rec.get(f"{kind}_list"), list)
        if not items:
            raise Skip("bad_marker", f"{what}: SPAR draws {kind}_list, the record has {rec.get(f'{kind}_list')!r}")
        labels = [f"object{i}" for i in range(len(items))]
        if kind == "point":  # the first point is objectA, the others object0, object1, ...
            labels = ["objectA"] + labels[:-1]
        return [SparMarker(kind, CV_BLUE, _image(rec, kind, i, views, what), _coords(c, size, f"{what}: {kind}_list"),
                           "cv2", label, "text") for i, (c, label) in enumerate(zip(items, labels, strict=True))]
    raise Skip("unknown_task", f"{what}: SPAR's draw_marker.py has no rule for task {task!r}")


# ---- drawing ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=LABEL_PX)


def _label_size(label: str) -> tuple[int, int]:
    """(width, height above the baseline) of a label, like OpenCV's getTextSize."""
    _, top, right, _ = _font().getbbox(label, anchor="ls", stroke_width=LABEL_STROKE_PX)
    return right, -top


def _scaled(m: SparMarker, wc: int, hc: int) -> list[float]:
    """The marker's 0-1000 coordinates in colour-image pixels, computed as draw_marker.py does."""
    return [c / 1000 * (wc if k % 2 == 0 else hc) for k, c in enumerate(m.coords)]


def _shapes(m: SparMarker, wc: int, hc: int) -> list[tuple]:
    """Pillow drawing calls (method, xy, options) of one marker on the colour image, with the pixel
    arithmetic of draw_marker.py (0-1000 -> pixels, then truncation to int)."""
    scaled = _scaled(m, wc, hc)
    text = {"font": _font(), "anchor": "ls", "stroke_width": LABEL_STROKE_PX}
    if m.kind == "point":
        x, y = int(scaled[0]), int(scaled[1])
        shapes = [("ellipse", (x - RADIUS_PX, y - RADIUS_PX, x + RADIUS_PX, y + RADIUS_PX), {"fill": m.colour})]
        if m.label:
            shapes.append(("text", (x + RADIUS_PX, y + RADIUS_PX), {"text": m.label, "fill": CV_GREEN, **text}))
        return shapes
    if m.style == "pil":  # the line runs inwards from a rectangle grown by 7/8 of its width
        grow = STROKE_PX * 7 / 8
        box = tuple(int(v) for v in (scaled[0] - grow, scaled[1] - grow, scaled[2] + grow, scaled[3] + grow))
        return [("rectangle", box, {"outline": m.colour, "width": STROKE_PX})]
    x1, y1, x2, y2 = (int(v) for v in scaled)
    half = STROKE_PX // 2  # OpenCV centres the line on a rectangle grown by 20 px, ends rounded
    out = (x1 - STROKE_PX - half, y1 - STROKE_PX - half, x2 + STROKE_PX + half, y2 + STROKE_PX + half)
    shapes = [("rounded_rectangle", out, {"radius": half, "outline": m.colour, "width": 2 * half + 1})]
    tw, th = _label_size(m.label)
    if m.label_style == "text":
        y = y2 + th if y2 + th <= hc else y2 - th
        shapes.append(("text", (x2 - tw, y), {"text": m.label, "fill": CV_GREEN, **text}))
    else:
        y = y2 + th if y2 + th <= hc else y2 - 5
        shapes.append(("rectangle", (x2 - tw, y - th, x2, y + 5), {"fill": m.colour}))
        shapes.append(("text", (x2 - tw, y), {"text": m.label, "fill": WHITE, **text}))
    return shapes


def _extent(method: str, xy: tuple, options: dict) -> tuple[int, int, int, int]:
    if method != "text":
        return xy
    left, top, right, bottom = options["font"].getbbox(options["text"], anchor="ls", stroke_width=LABEL_STROKE_PX)
    return xy[0] + left, xy[1] + top, xy[0] + right, xy[1] + bottom


def _paint(size: tuple[int, int], origin: tuple[int, int], shapes: list[tuple], colour_wh: tuple[int, int]
           ) -> tuple[Image.Image, Image.Image]:
    """(colours, coverage) of the shapes on a canvas of size (w, h) whose pixel (0, 0) is colour pixel
    origin; colours are premultiplied (black where nothing is drawn), and both are empty outside the
    colour image, where SPAR's drawing stops."""
    colours, coverage = Image.new("RGB", size), Image.new("L", size)
    paint, mask = ImageDraw.Draw(colours), ImageDraw.Draw(coverage)
    for method, xy, options in shapes:
        xy = tuple(v - origin[k % 2] for k, v in enumerate(xy))
        getattr(paint, method)(xy, **options)
        getattr(mask, method)(xy, **{**options, **{k: 255 for k in ("fill", "outline") if k in options}})
    w, h = size
    left, top = max(0, min(w, -origin[0])), max(0, min(h, -origin[1]))
    right, bottom = max(0, min(w, colour_wh[0] - origin[0])), max(0, min(h, colour_wh[1] - origin[1]))
    for image in (colours, coverage):
        for strip in ((0, 0, w, top), (0, bottom, w, h), (0, 0, left, h), (right, 0, w, h)):
            if strip[2] > strip[0] and strip[3] > strip[1]:
                image.paste(0, strip)
    return colours, coverage


def draw_record_markers(frame: Frame, markers) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The frame's stored rgb with its markers drawn, and the (u, v) of every point marker in stored pixels.

    The markers are drawn as SPAR draws them on the colour image (hc, wc) and carried into the stored image
    by the colour->stored map (u, v, 1) = K K_colour^-1 (x, y, 1): the block of stored pixels they reach is
    resampled (antialiased) from the drawing and composited onto the stored rgb.
    """
    hc, wc = frame.colour_hw
    A = frame.K @ np.linalg.inv(frame.K_colour)
    if abs(A[0, 1]) > 1e-9 or abs(A[1, 0]) > 1e-9:
        raise Skip("bad_marker", f"{frame.image}: colour and depth intrinsics differ in skew")
    centres = np.array([[int(c) for c in _scaled(m, wc, hc)] for m in markers if m.kind == "point"], dtype=np.float64)
    points = [(float(u), float(v)) for u, v in colour_to_depth_pixels(centres.reshape(-1, 2), frame.K_colour, frame.K)]
    shapes = [s for m in markers for s in _shapes(m, wc, hc)]
    rgb = frame.rgb
    if not shapes:
        return rgb, points
    extents = np.array([_extent(*s) for s in shapes], dtype=np.float64)
    x0, y0 = max(extents[:, 0].min(), 0), max(extents[:, 1].min(), 0)
    x1, y1 = min(extents[:, 2].max(), wc - 1), min(extents[:, 3].max(), hc - 1)
    hd, wd = rgb.shape[:2]
    # the stored pixels whose footprint meets the drawn colour pixels, and one more for the filter's reach
    u0, v0 = (max(0, math.floor(A[k, k] * (e - 0.5) + A[k, 2] + 0.5) - 1) for k, e in ((0, x0), (1, y0)))
    u1, v1 = (min(n - 1, math.ceil(A[k, k] * (e + 0.5) + A[k, 2] - 0.5) + 1) for k, e, n in ((0, x1, wd), (1, y1, hd)))
    if x1 < x0 or y1 < y0 or u1 < u0 or v1 < v0:  # drawn outside the image
        return rgb, points
    # that block's edges in Pillow's coordinates of the colour image (pixel i spans [i, i + 1])
    ex0, ex1 = ((u - A[0, 2]) / A[0, 0] + 0.5 for u in (u0 - 0.5, u1 + 0.5))
    ey0, ey1 = ((v - A[1, 2]) / A[1, 1] + 0.5 for v in (v0 - 0.5, v1 + 0.5))
    origin = (math.floor(ex0) - 1, math.floor(ey0) - 1)
    size = (math.ceil(ex1) + 1 - origin[0], math.ceil(ey1) + 1 - origin[1])
    colours, coverage = _paint(size, origin, shapes, (wc, hc))
    box, block = (ex0 - origin[0], ey0 - origin[1], ex1 - origin[0], ey1 - origin[1]), (u1 - u0 + 1, v1 - v0 + 1)
    ink = np.asarray(colours.resize(block, Image.Resampling.BILINEAR, box=box), dtype=np.float32)
    alpha = np.asarray(coverage.resize(block, Image.Resampling.BILINEAR, box=box), dtype=np.float32)[..., None] / 255
    out = rgb.copy()
    under = out[v0:v1 + 1, u0:u1 + 1].astype(np.float32)
    out[v0:v1 + 1, u0:u1 + 1] = np.clip(np.rint(under * (1 - alpha) + ink), 0, 255).astype(np.uint8)
    return out, points
