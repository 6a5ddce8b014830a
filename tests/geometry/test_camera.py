"""Camera maths against kornia as an independent oracle, plus intrinsics scaling and input checks (and the
tests' own reference maths, tests.geometry.reference, on which the overlap tests rely)."""

import kornia.geometry as kg
import numpy as np
import pytest
import torch
from kornia.geometry.camera import project_points as kornia_project
from kornia.geometry.camera import unproject_points as kornia_unproject

from hatchvl.geometry.camera import (
    backproject_depth,
    check_intrinsics,
    check_pose,
    intrinsics_from_fov,
    pose_from_heading,
    project_points,
    relative_pose,
    scale_intrinsics,
    unproject_points,
)
from tests.geometry.reference import pixel_of, transform_points

K = np.array([[300.0, 0.0, 161.3], [0.0, 310.0, 118.7], [0.0, 0.0, 1.0]])


def _t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def test_projection_matches_kornia():
    rng = np.random.default_rng(0)
    points = rng.uniform([-2, -2, 0.5], [2, 2, 6], (500, 3))
    uv, z = project_points(points, K)
    expected = kornia_project(_t(points), _t(K)[None].expand(500, 3, 3)).numpy()
    np.testing.assert_allclose(uv, expected, atol=1e-5)
    np.testing.assert_allclose(z, points[:, 2])


def test_unprojection_matches_kornia_and_inverts_projection():
    rng = np.random.default_rng(1)
    uv = rng.uniform(0, 320, (400, 2))
    z = rng.uniform(0.3, 8.0, 400)
    ours = unproject_points(uv, z, K)
    theirs = kornia_unproject(_t(uv), _t(z)[:, None], _t(K)[None].expand(400, 3, 3)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    back, zz = project_points(ours, K)
    np.testing.assert_allclose(back, uv, atol=1e-9)
    np.testing.assert_allclose(zz, z)


def test_backprojected_depth_matches_kornia():
    depth = np.random.default_rng(2).uniform(0.5, 4.0, (24, 32)).astype(np.float32)
    ours = backproject_depth(depth, K)
    theirs = kg.depth.depth_to_3d_v2(_t(depth)[None], _t(K)[None])[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_relative_pose_and_transform_match_kornia():
    c2w_x = pose_from_heading([0.3, -1.0, 1.5], 40.0, 5.0)
    c2w_y = pose_from_heading([1.2, 0.4, 1.4], -70.0, -8.0)
    ours = relative_pose(c2w_x, c2w_y)
    theirs = kg.linalg.relative_transformation(_t(c2w_y)[None], _t(c2w_x)[None])[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    points = np.random.default_rng(3).normal(size=(50, 3))
    np.testing.assert_allclose(
        transform_points(ours, points), kg.linalg.transform_points(_t(ours)[None], _t(points)[None])[0].numpy(),
        atol=1e-5,
    )
    # the same world point seen from both cameras
    world = transform_points(c2w_x, points)
    np.testing.assert_allclose(transform_points(np.linalg.inv(c2w_y), world), transform_points(ours, points),
                               atol=1e-9)


def test_pixel_centre_convention():
    # coordinates within half a pixel of the centre fall in that pixel
    assert pixel_of(np.array([3.0, 7.0])).tolist() == [7, 3]
    assert pixel_of(np.array([3.49, 6.51])).tolist() == [7, 3]
    assert pixel_of(np.array([3.5, 6.5])).tolist() == [7, 4]
    assert pixel_of(np.array([-0.5, -0.51])).tolist() == [-1, 0]


def test_scale_intrinsics_maps_the_same_ray_to_the_same_relative_place():
    K2 = scale_intrinsics(K, (240, 320), (480, 640))
    # a 3D point projects to u in the small image and to (u + 1/2) * 2 - 1/2 in the large one
    point = np.array([0.4, -0.2, 2.0])
    (u1, v1), _ = project_points(point, K)
    (u2, v2), _ = project_points(point, K2)
    assert u2 == pytest.approx((u1 + 0.5) * 2 - 0.5)
    assert v2 == pytest.approx((v1 + 0.5) * 2 - 0.5)
    # the image centre stays the image centre
    Kc = intrinsics_from_fov(240, 320, 60.0)
    Kc2 = scale_intrinsics(Kc, (240, 320), (96, 112))
    assert Kc2[0, 2] == pytest.approx((112 - 1) / 2) and Kc2[1, 2] == pytest.approx((96 - 1) / 2)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.full((4, 4), np.nan), "non-finite"),
        (np.diag([2.0, 1.0, 1.0, 1.0]), "not rigid"),
        (np.diag([-1.0, 1.0, 1.0, 1.0]), "reflection"),
        (np.eye(3), r"shape \(\*, 4, 4\)"),
        (np.vstack([np.eye(4)[:3], [[0, 0, 1, 1]]]), "last row"),
    ],
)
def test_bad_pose_is_named(bad, message):
    with pytest.raises(ValueError, match=f"my_pose.*{message}|{message}.*"):
        check_pose(bad, "my_pose")
    with pytest.raises(ValueError, match="my_pose"):
        check_pose(bad, "my_pose")


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 3)), "focal"),
        (np.array([[1.0, 0, 0], [0, 1, 0], [0, 0, 2]]), r"\[\[fx"),
        (np.array([[1.0, 0, np.inf], [0, 1, 0], [0, 0, 1]]), "non-finite"),
        (np.eye(4), "shape"),
    ],
)
def test_bad_intrinsics_are_named(bad, message):
    with pytest.raises(ValueError, match=f"K_x.*{message}"):
        check_intrinsics(bad, "K_x")


def test_bad_depth_is_named():
    with pytest.raises(ValueError, match="depth.*floating point"):
        backproject_depth(np.ones((4, 4), dtype=np.uint16), K)
    with pytest.raises(ValueError, match="depth.*shape"):
        backproject_depth(np.ones(4, dtype=np.float32), K)
