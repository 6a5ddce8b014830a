"""SPAR-7M records' markers (points and boxes in 0-1000 coordinates of the colour image), found in the
record and drawn into the stored images as SPAR's own loader draws them (hatchvl.data.importers.spar)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from hatchvl.data.chunks import Skip
from hatchvl.data.importers.frames import colour_to_depth_pixels
from hatchvl.data.importers.spar_frames import Frame

SPAR_MARKER_PX = 20  # SPAR's loader draws points of radius 20 px and boxes 20 px wide on the colour image
COLOURS = ("red", "blue", "green", "yellow")
# which slot of point_img_idx[0] / bbox_img_idx[0] each marker goes to, as SPAR's draw_marker.py does;
# tasks not listed take the present markers in COLOURS order, one slot each (points, then boxes)
MARKER_SLOTS = {
    "depth_prediction_oc_mv": (("red_point", 0), ("blue_point", 1)),
    "depth_prediction_oo_mv": (("red_point", 0), ("blue_point", 1), ("green_point", 2)),
    "distance_prediction_oc_mv": (("red_point", 0),),
    "distance_prediction_oo_mv": (("red_point", 0), ("blue_point", 1)),
    "distance_infer_center_oo_mv": (("red_point", 0), ("green_point", 1), ("blue_point", 2)),
    "obj_spatial_relation_oc_mv": (("red_bbox", 0), ("blue_bbox", 0), ("green_bbox", 0)),
    "spatial_imagination_oc_mv": (("red_bbox", 2), ("green_bbox", 0), ("blue_bbox", 1)),
    "spatial_imagination_oo_mv": (("red_bbox", 2), ("green_bbox", 0), ("blue_bbox", 1), ("yellow_bbox", 3)),
    "position_matching": (("red_bbox", 0),),
}



def _slots(rec: dict, kind: str, views: int) -> list[int]:
    value = rec.get(f"{kind}_img_idx")
    if value is None:
        return []
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    if not (isinstance(value, list) and all(isinstance(i, int) and 0 <= i < views for i in value)):
        raise Skip("bad_marker", f"{kind}_img_idx {value!r} for {views} images")
    return value


def record_markers(rec: dict, task: str, views: int) -> list[tuple[str, str, int, list[float]]]:
    """(kind 'point' or 'bbox', colour, image index, coordinates 0-1000) of every marker of a record."""
    slots = {"point": _slots(rec, "point", views), "bbox": _slots(rec, "bbox", views)}
    present = [f"{c}_{kind}" for kind in ("point", "bbox") for c in COLOURS if rec.get(f"{c}_{kind}")]
    if task in MARKER_SLOTS:
        layout = [(key, slot) for key, slot in MARKER_SLOTS[task] if key in present]
    else:
        counters = {"point": 0, "bbox": 0}
        layout = []
        for key in present:
            kind = key.rsplit("_", 1)[1]
            layout.append((key, counters[kind]))
            counters[kind] += 1
    markers = []
    for key, slot in layout:
        colour, kind = key.rsplit("_", 1)
        coords = rec[key]
        if isinstance(coords, list) and coords and isinstance(coords[0], list):
            coords = coords[0]
        size = 2 if kind == "point" else 4
        if not (isinstance(coords, list) and len(coords) == size and all(isinstance(c, (int, float)) for c in coords)):
            raise Skip("bad_marker", f"{key} {rec[key]!r}")
        idx = slots[kind]
        if idx and slot >= len(idx):
            raise Skip("bad_marker", f"{key}: no image for slot {slot} in {kind}_img_idx {idx}")
        markers.append((kind, colour, idx[slot] if idx else 0, [float(c) for c in coords]))
    return markers


def draw_record_markers(frame: Frame, markers) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The frame's stored rgb with its markers drawn as SPAR draws them (filled discs of radius 20 px,
    boxes 20 px wide grown outwards by 7/8 of that, on the colour image; scaled to the stored image), and
    the (u, v) of every point marker in stored pixels."""
    image = Image.fromarray(frame.rgb)
    draw = ImageDraw.Draw(image)
    hc, wc = frame.colour_hw
    scale = frame.K[0, 0] / frame.K_colour[0, 0]
    points = []
    for kind, colour, _, coords in markers:
        xy = np.asarray(coords, dtype=np.float64).reshape(-1, 2) / 1000 * (wc, hc)
        uv = colour_to_depth_pixels(xy, frame.K_colour, frame.K)
        if kind == "point":
            r = max(2.0, SPAR_MARKER_PX * scale)
            (u, v), = uv
            draw.ellipse([u - r, v - r, u + r, v + r], fill=colour)
            points.append((float(u), float(v)))
        else:
            width = max(1, round(SPAR_MARKER_PX * scale))
            grow = width * 7 / 8
            (u1, v1), (u2, v2) = uv
            draw.rectangle([round(u1 - grow), round(v1 - grow), round(u2 + grow), round(v2 + grow)], outline=colour,
                           width=width)
    return np.asarray(image), points
