"""PaStA overlap matrices: hand-worked cases, a per-pixel reference, symmetry, and input checks."""

import numpy as np
import pytest

from hatchvl.geometry.camera import (
    intrinsics_from_fov,
    pose_from_heading,
    project_points,
    relative_pose,
    scale_intrinsics,
    unproject_points,
)
from hatchvl.geometry.overlap import (
    landing_pixels,
    overlap_matrices,
    overlap_matrix,
    symmetric_overlap,
    symmetric_overlaps,
)
from tests.geometry.reference import pixel_of, transform_points

# 8x8 images, grid 4: cells of 2x2 pixels. f = 4 px, principal point at the image centre.
K8 = np.array([[4.0, 0.0, 3.5], [0.0, 4.0, 3.5], [0.0, 0.0, 1.0]])
PLANE = np.full((8, 8), 2.0, dtype=np.float32)  # a wall 2 m in front, square to the camera


def _shift_x(metres):
    """Pose of a camera moved along its own x axis (to the right)."""
    c2w = np.eye(4)
    c2w[0, 3] = metres
    return c2w


def _cell(row, col):
    return row * 4 + col


def test_identity_pose_maps_every_cell_onto_itself():
    M = overlap_matrix(PLANE, K8, np.eye(4), PLANE, K8, np.eye(4))
    np.testing.assert_array_equal(M, np.eye(16))


def test_identity_pose_with_holes_counts_only_valid_pixels():
    depth = PLANE.copy()
    depth[0, 0] = 0.0  # cell 0 loses one of 4 pixels
    depth[0, 2] = np.nan  # cell 1 loses one
    depth[7, 7] = np.inf  # cell 15 loses one
    M = overlap_matrix(depth, K8, np.eye(4), depth, K8, np.eye(4))
    expected = np.eye(16)
    expected[0, 0] = expected[1, 1] = expected[15, 15] = 0.75
    np.testing.assert_array_equal(M, expected)


def test_translation_by_one_cell():
    # moving right by 1 m at 2 m depth shifts the image by f * 1 / 2 = 2 px = one cell to the left
    M = overlap_matrix(PLANE, K8, np.eye(4), PLANE, K8, _shift_x(1.0))
    expected = np.zeros((16, 16))
    for r in range(4):
        for c in range(1, 4):
            expected[_cell(r, c), _cell(r, c - 1)] = 1.0  # column 0 falls outside Y
    np.testing.assert_array_equal(M, expected)


def test_translation_by_half_a_cell():
    # a 1 px shift: each 2-px wide cell lands half on itself, half on its left neighbour
    M = overlap_matrix(PLANE, K8, np.eye(4), PLANE, K8, _shift_x(0.5))
    expected = np.zeros((16, 16))
    for r in range(4):
        for c in range(4):
            expected[_cell(r, c), _cell(r, c)] = 0.5
            if c > 0:
                expected[_cell(r, c), _cell(r, c - 1)] = 0.5
    np.testing.assert_array_equal(M, expected)


def test_rotation_about_the_optical_axis_permutes_cells():
    # Y is X turned 90 degrees about its optical axis: pixel (v, u) -> (7 - u, v), so cell (r, c) ->
    # (3 - c, r); a square-on wall keeps its depth
    rot = np.eye(4)
    rot[:3, :3] = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    M = overlap_matrix(PLANE, K8, np.eye(4), PLANE, K8, rot)
    expected = np.zeros((16, 16))
    for r in range(4):
        for c in range(4):
            expected[_cell(r, c), _cell(3 - c, r)] = 1.0
    np.testing.assert_array_equal(M, expected)


def test_hidden_pixels_do_not_land():
    occluded = PLANE.copy()
    occluded[:4, :4] = 1.0  # Y sees something nearer in its top-left quadrant (cells 0, 1, 4, 5)
    M = overlap_matrix(PLANE, K8, np.eye(4), occluded, K8, np.eye(4))
    expected = np.eye(16)
    for cell in (0, 1, 4, 5):
        expected[cell, cell] = 0.0
    np.testing.assert_array_equal(M, expected)


def test_tolerance_is_the_larger_of_absolute_and_relative():
    # Y's wall 0.09 m nearer: within 5% of 2 m (0.1 m) lands; 0.11 m does not
    assert overlap_matrix(PLANE, K8, np.eye(4), PLANE - 0.09, K8, np.eye(4)).sum() == 16
    assert overlap_matrix(PLANE, K8, np.eye(4), PLANE - 0.11, K8, np.eye(4)).sum() == 0
    assert overlap_matrix(PLANE, K8, np.eye(4), PLANE - 0.11, K8, np.eye(4), tol_abs=0.2).sum() == 16


def test_invalid_depth_in_y_never_lands():
    depth_y = PLANE.copy()
    depth_y[:, :2] = 0.0
    depth_y[:2, :] = np.nan
    M = overlap_matrix(PLANE, K8, np.eye(4), depth_y, K8, np.eye(4))
    assert M[:4].sum() == 0 and M[:, [0, 4, 8, 12]].sum() == 0
    assert M.sum() == pytest.approx(9.0)


def test_points_behind_y_do_not_land():
    behind = pose_from_heading([0, 0, 0], 0.0)
    front = pose_from_heading([4, 0, 0], 180.0)  # looking back at the first camera from 4 m
    depth = np.full((8, 8), 3.0, dtype=np.float32)
    assert overlap_matrix(depth, K8, front, depth, K8, behind).sum() == 0


def test_different_image_sizes():
    K16 = scale_intrinsics(K8, (8, 8), (16, 12))
    depth16 = np.full((16, 12), 2.0, dtype=np.float32)
    np.testing.assert_array_equal(overlap_matrix(PLANE, K8, np.eye(4), depth16, K16, np.eye(4)), np.eye(16))
    np.testing.assert_array_equal(overlap_matrix(depth16, K16, np.eye(4), PLANE, K8, np.eye(4)), np.eye(16))


def _reference_overlap(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid, tol_abs=0.02, tol_rel=0.05):
    """The definition of docs/pasta.md ("The objective", 2-3), one pixel at a time, in float64."""
    hx, wx = depth_x.shape
    hy, wy = depth_y.shape
    T = relative_pose(c2w_x, c2w_y)
    M = np.zeros((grid * grid, grid * grid))
    for v in range(hx):
        for u in range(wx):
            i = (v * grid // hx) * grid + u * grid // wx
            z = float(depth_x[v, u])
            if not (np.isfinite(z) and z > 0):
                continue
            p = transform_points(T, unproject_points(np.array([u, v], float), np.array(z), K_x))
            uv, zy = project_points(p, K_y)
            if zy <= 0:
                continue
            r, c = pixel_of(uv)
            if not (0 <= r < hy and 0 <= c < wy):
                continue
            d = float(depth_y[r, c])
            if np.isfinite(d) and d > 0 and abs(zy - d) <= max(tol_abs, tol_rel * d):
                M[i, (r * grid // hy) * grid + c * grid // wy] += 1
    counts = np.bincount([(v * grid // hx) * grid + u * grid // wx for v in range(hx) for u in range(wx)])
    return M / counts[:, None]


def _room_depth(c2w, K, shape):
    """Exact z-depth of a camera inside a 6 x 5 x 3 m box (walls, floor, ceiling), by ray casting."""
    h, w = shape
    v, u = np.mgrid[0:h, 0:w].astype(float)
    rays = unproject_points(np.stack([u, v], -1), np.ones((h, w)), K)  # z = 1
    dirs = rays @ c2w[:3, :3].T
    origin = c2w[:3, 3]
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([6.0, 5.0, 3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dirs > 0, (hi - origin) / dirs, (lo - origin) / dirs)
    t = np.where(np.isfinite(t) & (t > 0), t, np.inf).min(-1)
    return t.astype(np.float32)  # t along a z = 1 ray is the z-depth


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_matches_per_pixel_reference(seed):
    rng = np.random.default_rng(seed)
    hx, wx, hy, wy = 18, 22, 15, 20
    K_x, K_y = intrinsics_from_fov(hx, wx, 70), intrinsics_from_fov(hy, wy, 60)
    yaw = rng.uniform(-180, 180)
    c2w_x = pose_from_heading([rng.uniform(2, 4), rng.uniform(2, 3), 1.5], yaw)
    c2w_y = pose_from_heading(c2w_x[:3, 3] + rng.uniform(-0.5, 0.5, 3), yaw + rng.uniform(-30, 30), 10)
    depth_x, depth_y = _room_depth(c2w_x, K_x, (hx, wx)), _room_depth(c2w_y, K_y, (hy, wy))
    depth_x[rng.random((hx, wx)) < 0.1] = 0  # holes
    for grid in (1, 3, 4):
        ours = overlap_matrix(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid=grid)
        ref = _reference_overlap(depth_x, K_x, c2w_x, depth_y, K_y, c2w_y, grid)
        # float32 fast path vs float64 reference: at most one pixel may fall on the other side of a
        # pixel boundary
        cell_pixels = hx * wx / grid**2
        assert np.abs(ours - ref).sum() <= 2.5 / cell_pixels
        assert (ours.sum(1) <= 1 + 1e-12).all()
        assert ref.sum() > 0.15 * grid**2  # the views share a good part of the room


def test_symmetry_and_batching():
    rng = np.random.default_rng(7)
    K = intrinsics_from_fov(12, 16, 70)
    poses = [pose_from_heading([rng.uniform(2, 4), rng.uniform(2, 3), 1.5], rng.uniform(-60, 60)) for _ in range(3)]
    depths = [_room_depth(p, K, (12, 16)) for p in poses]
    S01 = symmetric_overlap(depths[0], K, poses[0], depths[1], K, poses[1])
    S10 = symmetric_overlap(depths[1], K, poses[1], depths[0], K, poses[0])
    np.testing.assert_array_equal(S01, S10.T)
    assert S01.sum() > 0
    pairs = [(0, 1), (1, 2), (2, 0)]
    stack = [np.stack([x[a] for a, _ in pairs]) for x in (depths, [K] * 3, poses)]
    stack += [np.stack([x[b] for _, b in pairs]) for x in (depths, [K] * 3, poses)]
    batched = overlap_matrices(*stack)
    single = [overlap_matrix(depths[a], K, poses[a], depths[b], K, poses[b]) for a, b in pairs]
    np.testing.assert_array_equal(batched, np.stack(single))
    np.testing.assert_array_equal(symmetric_overlaps(*stack)[0], S01)


def test_landing_pixels_agree_with_the_matrix():
    landed, rows, cols = landing_pixels(PLANE, K8, np.eye(4), PLANE, K8, _shift_x(1.0))
    assert landed[:, 2:].all() and not landed[:, :2].any()
    np.testing.assert_array_equal(cols[:, 2:], np.tile(np.arange(6), (8, 1)))
    np.testing.assert_array_equal(rows[landed], np.repeat(np.arange(8), 6))
    assert (rows[~landed] == -1).all() and (cols[~landed] == -1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"grid": 0}, "grid must be an integer >= 1"),
        ({"grid": 9}, "grid 9 does not fit"),
        ({"tol_abs": -1.0}, "tol_abs"),
        ({"depth_x": np.ones((8, 8), np.uint16)}, "depth_x must be floating point"),
        ({"depth_y": np.ones((2, 8, 8), np.float32)}, r"depth_y must have shape \(H, W\)"),
        ({"K_y": np.eye(2)}, "K_y must have shape"),
        ({"c2w_x": np.full((4, 4), np.nan)}, "c2w_x contains non-finite"),
        ({"c2w_y": np.diag([1.0, 1.0, 3.0, 1.0])}, "c2w_y is not rigid"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = {"depth_x": PLANE, "K_x": K8, "c2w_x": np.eye(4), "depth_y": PLANE, "K_y": K8, "c2w_y": np.eye(4)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        overlap_matrix(**args)


def test_batched_shapes_must_agree():
    with pytest.raises(ValueError, match="K_x .* must match the leading shape of depth_x"):
        overlap_matrices(PLANE[None].repeat(2, 0), K8[None], np.eye(4)[None].repeat(2, 0),
                         PLANE[None].repeat(2, 0), K8[None].repeat(2, 0), np.eye(4)[None].repeat(2, 0))
