"""SPAR-7M markers: one test per task of SPAR's draw_marker.py that draws something (named after the task),
on small records in SPAR's format; then the drawing itself, pixel by pixel, and the refusals."""

import numpy as np
import pytest

from hatchvl.data.chunks import Skip
from hatchvl.data.importers.spar_frames import Frame
from hatchvl.data.importers.spar_markers import (
    CV_BLUE,
    CV_TAG_RGB,
    NOTHING,
    PIL_RGB,
    SPAR_DRAW_TASKS,
    draw_record_markers,
    record_markers,
)
from hatchvl.geometry.camera import scale_intrinsics

H, W = 400, 600  # colour image; 0-1000 coordinates below are multiples of 5 so pixels are whole
K = np.array([[500.0, 0.0, (W - 1) / 2], [0.0, 500.0, (H - 1) / 2], [0.0, 0.0, 1.0]])
GREY = 128
RED, BLUE, GREEN, YELLOW = (PIL_RGB[c] for c in ("red", "blue", "green", "yellow"))


def _record(task: str, views: int, **markers) -> dict:
    """A SPAR-7M jsonl record (markers in SPAR's nested form: red_point [[x, y]], bbox_img_idx [[i, ...]])."""
    return {"id": 17, "type": task, "image": [f"scene0000_00/image_color/{10 * k}.jpg" for k in range(views)],
            "depth": [f"scene0000_00/image_depth/{10 * k}.png" for k in range(views)],
            "conversations": [{"from": "human", "value": "<image>\n" * views + "Q?"}, {"from": "gpt", "value": "A"}],
            **markers}


def _frame(colour_hw=(H, W), stored_hw=(H, W)) -> Frame:
    K_stored = scale_intrinsics(K, colour_hw, stored_hw) if stored_hw != colour_hw else K
    rgb = np.full((*stored_hw, 3), GREY, dtype=np.uint8)
    return Frame("frames/t.png", "frames/t_depth.npy", rgb, np.ones(stored_hw, np.float32), K_stored, K,
                 colour_hw, np.eye(4), "scene0000_00")


def _layout(rec: dict, views: int | None = None) -> list[tuple]:
    """(image, colour, kind, coords, label) of every marker, in drawing order."""
    views = views or len(rec["image"])
    return [(m.image, m.colour, m.kind, m.coords, m.label) for m in record_markers(rec, rec["type"], views)]


def _drawn(rec: dict) -> list[np.ndarray]:
    """The record's images (grey, stored camera = colour camera) with SPAR's markers drawn."""
    markers = record_markers(rec, rec["type"], len(rec["image"]))
    images = [_frame().rgb for _ in rec["image"]]
    for view in {m.image for m in markers}:
        images[view], _ = draw_record_markers(_frame(), [m for m in markers if m.image == view])
    return images


def _px(v: float, n: int) -> int:
    return int(v / 1000 * n)


def _assert_points(rec: dict, expected: list[tuple[int, tuple, list]]) -> None:
    """expected: (image, colour, [x, y]) of each point; the disc's centre has the colour, 25 px right of it
    and every other image stay grey."""
    assert _layout(rec) == [(i, c, "point", tuple(float(v) for v in xy), "") for i, c, xy in expected]
    images = _drawn(rec)
    for i, colour, (x, y) in expected:
        assert tuple(images[i][_px(y, H), _px(x, W)]) == colour
        assert tuple(images[i][_px(y, H), _px(x, W) + 25]) == (GREY,) * 3
    for i in set(range(len(images))) - {i for i, _, _ in expected}:
        assert (images[i] == GREY).all()


def _assert_boxes(rec: dict, expected: list[tuple[int, tuple, list]]) -> None:
    """expected: (image, colour, [x1, y1, x2, y2]); the box's top line (PIL: 20 px running down from
    y1 - 17.5) has the colour, the box's inside stays grey, so do the images without boxes."""
    assert _layout(rec) == [(i, c, "bbox", tuple(float(v) for v in b), "") for i, c, b in expected]
    images = _drawn(rec)
    for i, colour, (x1, y1, x2, _) in expected:
        top, middle = int(y1 / 1000 * H - 17.5), _px((x1 + x2) / 2, W)
        assert tuple(images[i][top, middle]) == colour and tuple(images[i][top + 19, middle]) == colour
        assert tuple(images[i][top + 20, middle]) == (GREY,) * 3 and tuple(images[i][top - 1, middle]) == (GREY,) * 3
    for i in set(range(len(images))) - {i for i, _, _ in expected}:
        assert (images[i] == GREY).all()


# ---- single-view tasks (the importer keeps multi-view records only; the rules are SPAR's all the same) ----


def test_obj_spatial_relation_oo():
    rec = _record("obj_spatial_relation_oo", 1, red_bbox=[[100, 100, 300, 300]], blue_bbox=[[500, 500, 800, 800]])
    _assert_boxes(rec, [(0, RED, [100, 100, 300, 300]), (0, BLUE, [500, 500, 800, 800])])


def test_depth_prediction_oc():
    rec = _record("depth_prediction_oc", 1, red_point=[[200, 300]], blue_point=[[700, 600]])
    _assert_points(rec, [(0, RED, [200, 300]), (0, BLUE, [700, 600])])


def test_depth_prediction_oo():
    rec = _record("depth_prediction_oo", 1, red_point=[[200, 300]], blue_point=[[700, 600]], green_point=[[400, 800]])
    _assert_points(rec, [(0, RED, [200, 300]), (0, BLUE, [700, 600]), (0, GREEN, [400, 800])])


def test_distance_prediction_oc():
    _assert_points(_record("distance_prediction_oc", 1, red_point=[[250, 250]]), [(0, RED, [250, 250])])


def test_distance_prediction_oo():
    rec = _record("distance_prediction_oo", 1, red_point=[[250, 250]], blue_point=[[750, 750]])
    _assert_points(rec, [(0, RED, [250, 250]), (0, BLUE, [750, 750])])


def test_distance_infer_center_oo():  # single view: red, blue, green (the _mv task draws red, green, blue)
    rec = _record("distance_infer_center_oo", 1, red_point=[[200, 200]], blue_point=[[500, 500]],
                  green_point=[[800, 800]])
    _assert_points(rec, [(0, RED, [200, 200]), (0, BLUE, [500, 500]), (0, GREEN, [800, 800])])


def test_spatial_volume_infer():
    _assert_boxes(_record("spatial_volume_infer", 1, red_bbox=[[200, 200, 600, 700]]),
                  [(0, RED, [200, 200, 600, 700])])


def test_spatial_imagination_oc():
    rec = _record("spatial_imagination_oc", 1, red_bbox=[[100, 100, 200, 200]], blue_bbox=[[400, 100, 500, 200]],
                  green_bbox=[[700, 500, 900, 900]])
    _assert_boxes(rec, [(0, RED, [100, 100, 200, 200]), (0, BLUE, [400, 100, 500, 200]),
                        (0, GREEN, [700, 500, 900, 900])])


def test_spatial_imagination_oo():
    rec = _record("spatial_imagination_oo", 1, red_bbox=[[100, 100, 200, 200]], blue_bbox=[[400, 100, 500, 200]],
                  green_bbox=[[700, 100, 900, 300]], yellow_bbox=[[300, 600, 600, 900]])
    _assert_boxes(rec, [(0, RED, [100, 100, 200, 200]), (0, BLUE, [400, 100, 500, 200]),
                        (0, GREEN, [700, 100, 900, 300]), (0, YELLOW, [300, 600, 600, 900])])


# ---- multi-view tasks --------------------------------------------------------------------------------------


def test_position_matching():  # always image 0, whatever bbox_img_idx says
    rec = _record("position_matching", 3, red_bbox=[[300, 300, 600, 600]], bbox_img_idx=[[2]])
    _assert_boxes(rec, [(0, RED, [300, 300, 600, 600])])


def test_depth_prediction_oc_mv():
    rec = _record("depth_prediction_oc_mv", 3, red_point=[[200, 300]], blue_point=[[700, 600]],
                  point_img_idx=[[2, 0]])
    _assert_points(rec, [(2, RED, [200, 300]), (0, BLUE, [700, 600])])


def test_depth_prediction_oo_mv():
    rec = _record("depth_prediction_oo_mv", 4, red_point=[[200, 300]], blue_point=[[700, 600]],
                  green_point=[[400, 400]], point_img_idx=[[1, 3, 1]])
    _assert_points(rec, [(1, RED, [200, 300]), (3, BLUE, [700, 600]), (1, GREEN, [400, 400])])


def test_distance_prediction_oc_mv():
    rec = _record("distance_prediction_oc_mv", 2, red_point=[[500, 500]], point_img_idx=[[1]])
    _assert_points(rec, [(1, RED, [500, 500])])


def test_distance_prediction_oo_mv():
    rec = _record("distance_prediction_oo_mv", 3, red_point=[[300, 400]], blue_point=[[700, 500]],
                  point_img_idx=[[1, 2]])
    _assert_points(rec, [(1, RED, [300, 400]), (2, BLUE, [700, 500])])


def test_obj_spatial_relation_oc_mv():  # the boxes present, all on bbox_img_idx[0][0]
    rec = _record("obj_spatial_relation_oc_mv", 3, red_bbox=[[100, 100, 300, 300]], green_bbox=[[500, 500, 700, 700]],
                  blue_bbox=[], bbox_img_idx=[[2, 0]])
    _assert_boxes(rec, [(2, RED, [100, 100, 300, 300]), (2, GREEN, [500, 500, 700, 700])])
    del rec["bbox_img_idx"]
    with pytest.raises(Skip, match="bbox_img_idx"):
        record_markers(rec, "obj_spatial_relation_oc_mv", 3)


def test_obj_spatial_relation_oo_mv():  # two of red, blue, green: the first on slot 0, the second on slot 1
    box1, box2 = [[100, 100, 300, 300]], [[500, 500, 700, 700]]
    for first, second in (("red", "blue"), ("red", "green"), ("blue", "green")):
        rec = _record("obj_spatial_relation_oo_mv", 3, **{f"{first}_bbox": box1, f"{second}_bbox": box2},
                      bbox_img_idx=[[2, 1]])
        _assert_boxes(rec, [(2, PIL_RGB[first], box1[0]), (1, PIL_RGB[second], box2[0])])
    three = _record("obj_spatial_relation_oo_mv", 3, red_bbox=box1, blue_bbox=box2, green_bbox=box2,
                    bbox_img_idx=[[0, 1]])
    with pytest.raises(Skip, match="two of"):  # SPAR's loader raises on it
        record_markers(three, "obj_spatial_relation_oo_mv", 3)


def test_distance_infer_center_oo_mv():  # red, green, blue on slots 0, 1, 2
    rec = _record("distance_infer_center_oo_mv", 3, red_point=[[200, 200]], blue_point=[[500, 500]],
                  green_point=[[800, 800]], point_img_idx=[[0, 1, 2]])
    _assert_points(rec, [(0, RED, [200, 200]), (1, GREEN, [800, 800]), (2, BLUE, [500, 500])])


def test_spatial_imagination_oc_mv():  # red on slot 2, green on slot 0, blue on slot 1
    rec = _record("spatial_imagination_oc_mv", 3, red_bbox=[[100, 100, 200, 200]], green_bbox=[[400, 100, 500, 200]],
                  blue_bbox=[[700, 500, 900, 900]], bbox_img_idx=[[0, 1, 2]])
    _assert_boxes(rec, [(2, RED, [100, 100, 200, 200]), (0, GREEN, [400, 100, 500, 200]),
                        (1, BLUE, [700, 500, 900, 900])])


def test_spatial_imagination_oo_mv():  # red 2, green 0, blue 1, yellow 3
    rec = _record("spatial_imagination_oo_mv", 4, red_bbox=[[100, 100, 200, 200]], green_bbox=[[400, 100, 500, 200]],
                  blue_bbox=[[700, 500, 900, 900]], yellow_bbox=[[300, 600, 600, 900]], bbox_img_idx=[[0, 1, 2, 3]])
    _assert_boxes(rec, [(2, RED, [100, 100, 200, 200]), (0, GREEN, [400, 100, 500, 200]),
                        (1, BLUE, [700, 500, 900, 900]), (3, YELLOW, [300, 600, 600, 900])])


def test_spatial_imagination_map_mv():
    """bbox_list boxes on bbox_img_idx[0][i], drawn with OpenCV in blue: a 20 px line centred 20 px outside
    the box, labelled object{i} in green below its right end (above it when that leaves the image)."""
    boxes = [[300, 100, 600, 300], [500, 500, 800, 980]]
    rec = _record("spatial_imagination_map_mv", 3, bbox_list=[boxes], bbox_img_idx=[[2, 0]])
    assert _layout(rec) == [(2, CV_BLUE, "bbox", tuple(map(float, boxes[0])), "object0"),
                            (0, CV_BLUE, "bbox", tuple(map(float, boxes[1])), "object1")]
    images = _drawn(rec)
    x1, y1, x2, y2 = _px(300, W), _px(100, H), _px(600, W), _px(300, H)
    middle = (x1 + x2) // 2
    assert all(tuple(images[2][y, middle]) == CV_BLUE for y in (y1 - 30, y1 - 20, y1 - 10))
    assert tuple(images[2][y1 - 32, middle]) == (GREY,) * 3 and tuple(images[2][y1 - 8, middle]) == (GREY,) * 3
    below = images[2][y2 + 12:y2 + 80, x2 - 200:x2]
    assert ((below == (0, 255, 0)).all(axis=-1)).sum() > 200  # the green label under the box's right end
    near_bottom = images[0][_px(980, H) - 80:_px(980, H) - 12, _px(800, W) - 200:_px(800, W)]
    assert ((near_bottom == (0, 255, 0)).all(axis=-1)).sum() > 200  # no room below: the label goes above
    assert (images[1] == GREY).all()


# ---- video tasks (records with more than 10 frames are not imported; the rules are SPAR's) -------------------


def test_distance_prediction_oo_video():
    rec = _record("distance_prediction_oo_video", 4, red_point=[[300, 400]], blue_point=[[700, 500]],
                  point_img_idx=[[3, 1]])
    _assert_points(rec, [(3, RED, [300, 400]), (1, BLUE, [700, 500])])


def test_distance_infer_center_oo_video():
    """point_list points on point_img_idx[0][i]: blue discs labelled objectA, object0, object1, ... in green."""
    rec = _record("distance_infer_center_oo_video", 3, point_list=[[[200, 200], [500, 500], [700, 300]]],
                  point_img_idx=[[0, 2, 2]])
    assert [(i, c, label) for i, c, _, _, label in _layout(rec)] == [(0, CV_BLUE, "objectA"), (2, CV_BLUE, "object0"),
                                                                     (2, CV_BLUE, "object1")]
    images = _drawn(rec)
    assert tuple(images[2][_px(500, H), _px(500, W)]) == CV_BLUE
    label = images[2][_px(500, H) - 40:_px(500, H) + 20, _px(500, W) + 20:_px(500, W) + 220]
    assert ((label == (0, 255, 0)).all(axis=-1)).sum() > 200


def _assert_tagged(task: str, colours: tuple[str, ...]) -> None:
    """Boxes of these colours on bbox_img_idx[0][0, 1, ...], labelled object0, object1, ... in white on a
    patch of their colour."""
    boxes = {c: [[100 + 220 * k, 100, 250 + 220 * k, 300]] for k, c in enumerate(colours)}
    rec = _record(task, 4, **{f"{c}_bbox": b for c, b in boxes.items()}, bbox_img_idx=[[3, 2, 1, 0]])
    assert _layout(rec) == [(3 - k, CV_TAG_RGB[c], "bbox", tuple(map(float, boxes[c][0])), f"object{k}")
                            for k, c in enumerate(colours)]
    images = _drawn(rec)
    for k, c in enumerate(colours):
        x1, y1, x2 = _px(boxes[c][0][0], W), _px(100, H), _px(boxes[c][0][2], W)
        assert tuple(images[3 - k][y1 - 20, (x1 + x2) // 2]) == CV_TAG_RGB[c]
        patch = images[3 - k][_px(300, H):_px(300, H) + 50, x2 - 150:x2]
        assert ((patch == 255).all(axis=-1)).sum() > 100  # white label text on the patch


def test_spatial_imagination_oo_video():
    """Green, blue, red, yellow; the OpenCV drawing takes the colours as BGR, so SPAR's yellow comes out
    RGB (0, 225, 225)."""
    assert CV_TAG_RGB["yellow"] == (0, 225, 225)
    _assert_tagged("spatial_imagination_oo_video", ("green", "blue", "red", "yellow"))


def test_spatial_imagination_oc_video():
    _assert_tagged("spatial_imagination_oc_video", ("green", "blue", "red"))


def test_obj_frame_locate():
    rec = _record("obj_frame_locate", 5, red_bbox=[[300, 300, 600, 600]], bbox_img_idx=[[4]])
    _assert_boxes(rec, [(4, RED, [300, 300, 600, 600])])


# ---- tasks without markers, unknown tasks, bad records ------------------------------------------------------


@pytest.mark.parametrize("task", sorted(NOTHING))
def test_tasks_that_spar_draws_nothing_for_get_no_markers_whatever_the_record_holds(task):
    rec = _record(task, 3, red_point=[[500, 500]], blue_bbox=[[100, 100, 200, 200]], point_img_idx=[[0]],
                  bbox_img_idx=[[1]])
    assert record_markers(rec, task, 3) == []


def test_a_task_unknown_to_spars_drawing_code_is_skipped_with_its_own_reason():
    assert {"camera_motion_infer", "view_change_infer", "distance_infer_center_oc_mv"} <= set(NOTHING)
    with pytest.raises(Skip) as err:
        record_markers(_record("depth_prediction_mv", 2, red_point=[[1, 2]]), "depth_prediction_mv", 2)
    assert err.value.reason == "unknown_task" and "depth_prediction_mv" in err.value.detail
    assert "depth_prediction_oc_mv" in SPAR_DRAW_TASKS


@pytest.mark.parametrize("markers,message", [
    ({"red_point": [[500, 500]], "point_img_idx": [[0, 1]]}, "draws blue_point"),  # SPAR reads it: KeyError there
    ({"red_point": [[500, 500]], "blue_point": [[1, 2]], "point_img_idx": [[0, 3]]}, "names no image"),
    ({"red_point": [[500, 500]], "blue_point": [[1, 2]], "point_img_idx": [[0]]}, "slot 1"),
    ({"red_point": [[500]], "blue_point": [[1, 2]], "point_img_idx": [[0, 1]]}, "expected 2 numbers"),
    ({"red_point": [["a", 1]], "blue_point": [[1, 2]], "point_img_idx": [[0, 1]]}, "expected 2 numbers"),
])
def test_records_spars_code_would_fail_on_are_skipped_as_bad_marker(markers, message):
    with pytest.raises(Skip, match=message) as err:
        record_markers(_record("depth_prediction_oc_mv", 2, **markers), "depth_prediction_oc_mv", 2)
    assert err.value.reason == "bad_marker" and "record 17" in err.value.detail
    with pytest.raises(Skip, match="x2 < x1"):
        record_markers(_record("spatial_volume_infer", 1, red_bbox=[[600, 100, 500, 200]]), "spatial_volume_infer", 1)


# ---- the drawing ----------------------------------------------------------------------------------------------


def test_at_the_colour_cameras_own_resolution_the_drawing_is_spars_pixel_for_pixel():
    """A disc of radius 20 around int(x·W/1000), int(y·H/1000); a box line 20 px wide running inwards from
    int(x1·W/1000 - 17.5) ... int(x2·W/1000 + 17.5); nothing else changes."""
    rec = _record("distance_prediction_oo", 1, red_point=[[333, 777]], blue_point=[[911, 123]])
    image = _drawn(rec)[0]
    x, y = np.meshgrid(np.arange(W), np.arange(H))
    untouched = np.ones((H, W), dtype=bool)
    for (px, py), colour in (((333, 777), RED), ((911, 123), BLUE)):
        d2 = (x - int(px / 1000 * W)) ** 2 + (y - int(py / 1000 * H)) ** 2
        assert (image[d2 <= 19 ** 2] == colour).all()
        untouched &= d2 >= 21 ** 2
    assert (image[untouched] == GREY).all()
    box = _drawn(_record("spatial_volume_infer", 1, red_bbox=[[111, 222, 777, 888]]))[0]
    x0, y0, x1, y1 = int(111 / 1000 * W - 17.5), int(222 / 1000 * H - 17.5), int(777 / 1000 * W + 17.5), int(
        888 / 1000 * H + 17.5)
    outer = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    inner = (x >= x0 + 20) & (x <= x1 - 20) & (y >= y0 + 20) & (y <= y1 - 20)
    assert (box[outer & ~inner] == RED).all() and (box[~outer | inner] == GREY).all()


def test_markers_are_carried_into_the_depth_camera_like_the_colour_image():
    """ScanNet-like: colour 968x1296 and depth 480x640 with different intrinsics. A point listed in
    `markers` is at K_depth K_colour^-1 of SPAR's colour pixel, and its disc keeps SPAR's size in colour
    pixels (radius 20 · fx_depth / fx_colour)."""
    K_colour = np.array([[1170.2, 0.0, 647.7], [0.0, 1170.2, 483.8], [0.0, 0.0, 1.0]])
    K_depth = np.array([[577.6, 0.0, 318.9], [0.0, 578.7, 242.7], [0.0, 0.0, 1.0]])
    rgb = np.full((480, 640, 3), GREY, dtype=np.uint8)
    frame = Frame("frames/t.png", "frames/t_depth.npy", rgb, np.ones((480, 640), np.float32), K_depth, K_colour,
                  (968, 1296), np.eye(4), "scene0000_00")
    rec = _record("distance_prediction_oc_mv", 2, red_point=[[400, 600]], point_img_idx=[[1]])
    image, points = draw_record_markers(frame, record_markers(rec, rec["type"], 2))
    x, y = int(400 / 1000 * 1296), int(600 / 1000 * 968)
    expected = K_depth @ np.linalg.inv(K_colour) @ np.array([x, y, 1.0])
    np.testing.assert_allclose(points, [expected[:2]], atol=1e-9)
    u, v = (int(round(c)) for c in expected[:2])
    radius = 20 * K_depth[0, 0] / K_colour[0, 0]  # about 9.9 stored pixels
    assert tuple(image[v, u]) == RED and tuple(image[v, u + int(radius) - 1]) == RED
    assert tuple(image[v, u + int(radius) + 2]) == (GREY,) * 3
    assert (image[:, : u - 12] == GREY).all() and (image[: v - 12] == GREY).all()  # the rest is untouched
