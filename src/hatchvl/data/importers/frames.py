"""Reading an imported dataset's frames (colour, depth, pose, intrinsics) in the layouts of
docs/dataset-format.md, with the unit checks, the check that intrinsics fit their images and the
per-reason skips the importers share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hatchvl.data.chunks import Skip
from hatchvl.geometry.camera import check_pose, scale_intrinsics
from hatchvl.io import open_rgb

DEPTH_MEDIAN_M = (0.1, 20.0)  # plausible median depth of an indoor frame, metres
MAX_TRANSLATION_M = 1000.0  # a camera farther than this from the origin means a unit mix-up
FOV_DEG = (15.0, 150.0)  # plausible field of view of a pinhole camera across either image axis, degrees
ASPECT_TOLERANCE = 0.01  # two sizes of one image (a resize) have width/height equal to 1 %


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 of an image file; Skip('unreadable_image') when it cannot be decoded."""
    try:
        return np.asarray(open_rgb(path))
    except (OSError, ValueError, SyntaxError) as err:
        raise Skip("unreadable_image", f"{path}: {err}") from None


def image_hw(path: Path) -> tuple[int, int]:
    """(H, W) of an image file from its header; Skip('unreadable_image') when it cannot be opened."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except (OSError, ValueError, SyntaxError) as err:
        raise Skip("unreadable_image", f"{path}: {err}") from None


def read_depth_m(path: Path, units_per_m: float = 1000.0) -> tuple[np.ndarray, str]:
    """Depth map in metres (H, W) float32 and the unit the file was found in ('mm', 'm' or '1/<n> m').

    16-bit PNG or PGM (or integer .npy): 1/units_per_m metres, millimetres by default (ScanNet's C++
    exporter names the divisor m_depthShift). Float (.npy, 32-bit TIFF): metres, or millimetres when
    its values say so. The unit is checked on the median of the valid (> 0, finite) values, which must
    come out in 0.1-20 m; a file outside that range raises ValueError naming what was expected (a
    layout error, not a skip). Undecodable files raise Skip('unreadable_depth'), files with no valid
    value Skip('empty_depth').
    """
    try:
        if path.suffix == ".npy":
            raw = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as image:
                raw = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as err:
        raise Skip("unreadable_depth", f"{path}: {err}") from None
    if raw.ndim != 2 or not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise ValueError(f"depth file {path}: expected a single-channel 16-bit PNG in millimetres or a float "
                         f"map, got shape {raw.shape} dtype {raw.dtype}")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(raw) & (raw > 0)
    if not valid.any():
        raise Skip("empty_depth", f"{path}: no valid depth value")
    median = float(np.median(raw[valid]))
    lo, hi = DEPTH_MEDIAN_M
    if np.issubdtype(raw.dtype, np.integer):
        unit, scale = "mm" if units_per_m == 1000 else f"1/{units_per_m:g} m", 1.0 / units_per_m
        if raw.dtype.itemsize < 2 or not lo <= median * scale <= hi:
            raise ValueError(f"depth file {path}: integer depth ({raw.dtype}) is read as {unit}, but its median "
                             f"valid value {median:g} gives {median * scale:g} m, outside the expected {lo}-{hi} m; "
                             f"expected a 16-bit PNG in millimetres" + ("" if unit == "mm" else f" ({unit})"))
    elif lo <= median <= hi:
        unit, scale = "m", 1.0
    elif lo <= median / 1000 <= hi:
        unit, scale = "mm", 1e-3
    else:
        raise ValueError(f"depth file {path}: median valid value {median:g} is neither metres nor millimetres "
                         f"of an indoor scene (expected a median of {lo}-{hi} m)")
    depth = np.where(valid, raw.astype(np.float64) * scale, 0.0).astype(np.float32)
    return depth, unit


def read_matrix(path: Path, what: str) -> np.ndarray:
    """A 3x3 or 4x4 matrix from a whitespace-separated text file (float64); ValueError otherwise."""
    try:
        matrix = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as err:
        raise ValueError(f"{what} file {path}: cannot read a matrix: {err}") from None
    if matrix.shape not in ((3, 3), (4, 4)):
        raise ValueError(f"{what} file {path}: expected a 3x3 or 4x4 matrix, got shape {matrix.shape}")
    return matrix


def pinhole(matrix: np.ndarray, what: str) -> np.ndarray:
    """K (3, 3): the upper-left block of a 3x3 or 4x4 intrinsics matrix; ValueError naming `what` when it is
    not a finite pinhole matrix with positive focal lengths."""
    K = np.asarray(matrix, dtype=np.float64)[:3, :3]
    if not (np.all(np.isfinite(K)) and K[0, 0] > 0 and K[1, 1] > 0):
        raise ValueError(f"{what}: not a pinhole matrix with positive focal lengths: {K.tolist()}")
    return K


def read_intrinsics(path: Path) -> np.ndarray:
    """K (3, 3) from a 3x3 or 4x4 intrinsics text file."""
    return pinhole(read_matrix(path, "intrinsics"), f"intrinsics file {path}")


def intrinsics_misfit(K: np.ndarray, hw: tuple[int, int]) -> str | None:
    """Why K (3, 3) cannot be the intrinsics of an image of size hw = (H, W), or None when it can.

    The principal point must lie in the middle half of the image (|cx - (W - 1)/2| <= W/4, the same for cy:
    inside it, and not near an edge as a matrix of a larger image would put it), and the fields of view
    2·atan(W / 2fx) and 2·atan(H / 2fy) within FOV_DEG.
    """
    (h, w), (fx, fy, cx, cy) = hw, (K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    if abs(cx - (w - 1) / 2) > w / 4 or abs(cy - (h - 1) / 2) > h / 4:
        return f"principal point ({cx:g}, {cy:g}) is outside the middle half of {w}x{h} pixels"
    fov = np.degrees(2 * np.arctan2([w, h], [2 * fx, 2 * fy]))
    if not (FOV_DEG[0] <= fov.min() and fov.max() <= FOV_DEG[1]):
        return (f"focal lengths ({fx:g}, {fy:g}) give a {fov[0]:.1f}x{fov[1]:.1f} degree field of view on {w}x{h} "
                f"pixels (plausible: {FOV_DEG[0]:g}-{FOV_DEG[1]:g})")
    return None


def same_aspect(a_hw: tuple[int, int], b_hw: tuple[int, int]) -> bool:
    """Whether two image sizes (H, W) have the same width/height ratio (to ASPECT_TOLERANCE): one a resize of
    the other."""
    return abs((a_hw[1] / a_hw[0]) / (b_hw[1] / b_hw[0]) - 1) <= ASPECT_TOLERANCE


def fit_view_intrinsics(K_colour: np.ndarray, K_depth: np.ndarray, colour_hw: tuple[int, int],
                        depth_hw: tuple[int, int], where: str) -> tuple[np.ndarray, np.ndarray]:
    """(K_colour, K_depth) of one view, each checked against its image with `intrinsics_misfit`.

    One fix is certain, and made: the two matrices are the same (two identical files, or one file for both)
    and the images differ in size but not in aspect ratio; then the matrix is that of the one image it fits
    (exactly one must) and is rescaled to the other with `scale_intrinsics` (ScanNet++ as released in
    SPAR-7M: both files describe the 1920x1440 colour camera, depth is 256x192). Anything else that does not
    fit raises Skip('intrinsics_do_not_fit') naming the view (`where`), the image and why.
    """
    colour_bad, depth_bad = intrinsics_misfit(K_colour, colour_hw), intrinsics_misfit(K_depth, depth_hw)
    sizes = f"colour {colour_hw[1]}x{colour_hw[0]}, depth {depth_hw[1]}x{depth_hw[0]}"
    if np.array_equal(K_colour, K_depth) and tuple(colour_hw) != tuple(depth_hw):
        if not same_aspect(colour_hw, depth_hw):
            raise Skip("intrinsics_do_not_fit", f"{where}: one matrix for colour and depth of different aspect "
                                                f"ratios ({sizes}); it cannot be rescaled from one to the other")
        if depth_bad and not colour_bad:
            return K_colour, scale_intrinsics(K_colour, colour_hw, depth_hw)
        if colour_bad and not depth_bad:
            return scale_intrinsics(K_depth, depth_hw, colour_hw), K_depth
        why = (f"it fits neither (colour: {colour_bad}; depth: {depth_bad})" if colour_bad
               else "it fits both, so which one it describes is unknown")
        raise Skip("intrinsics_do_not_fit", f"{where}: one matrix for colour and depth of different sizes "
                                            f"({sizes}); {why}")
    if colour_bad or depth_bad:
        which = f"colour image: {colour_bad}" if colour_bad else f"depth map: {depth_bad}"
        raise Skip("intrinsics_do_not_fit", f"{where}: intrinsics of the {which}")
    return K_colour, K_depth


def read_pose(path: Path, metres_per_unit: float = 1.0) -> np.ndarray:
    """Camera-to-world (4, 4) metres from a 4x4 text file whose translation is in metres_per_unit.

    Skip('missing_pose') when the file is absent, Skip('nonfinite_pose') for -inf / NaN entries (ScanNet
    marks frames without tracking that way), Skip('bad_pose') when it is not rigid. ValueError when the
    translation is implausibly large (a unit mix-up).
    """
    if not path.is_file():
        raise Skip("missing_pose", str(path))
    try:
        c2w = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise Skip("bad_pose", f"{path}: {err}") from None
    if c2w.shape == (3, 4):
        c2w = np.vstack([c2w, [0.0, 0.0, 0.0, 1.0]])
    if c2w.shape != (4, 4):
        raise Skip("bad_pose", f"{path}: expected a 4x4 matrix, got shape {c2w.shape}")
    if not np.all(np.isfinite(c2w)):
        raise Skip("nonfinite_pose", str(path))
    c2w[:3, 3] *= metres_per_unit
    try:
        c2w = check_pose(c2w, str(path))
    except ValueError as err:
        raise Skip("bad_pose", str(err)) from None
    if np.abs(c2w[:3, 3]).max() > MAX_TRANSLATION_M:
        raise ValueError(f"pose file {path}: translation {c2w[:3, 3].tolist()} m is implausible for an indoor "
                         f"scene; expected metres (give the source's pose unit, e.g. millimetres for "
                         f"Structured3D)")
    return c2w


def colour_to_depth_pixels(uv: np.ndarray, K_colour: np.ndarray, K_depth: np.ndarray) -> np.ndarray:
    """Pixel-centre coordinates (*, 2) in the colour camera -> the depth camera (same centre and axes):
    (u_d, v_d, 1) = K_d K_c^-1 (u_c, v_c, 1)."""
    uv = np.asarray(uv, dtype=np.float64)
    M = K_depth @ np.linalg.inv(K_colour)
    return uv @ M[:2, :2].T + M[:2, 2]


def colour_into_depth_camera(rgb: np.ndarray, K_colour: np.ndarray, K_depth: np.ndarray,
                             depth_hw: tuple[int, int]) -> np.ndarray:
    """Resample a colour image (Hc, Wc, 3) into the depth camera's pixels (Hd, Wd, 3), uint8.

    The colour and depth cameras are taken to share centre and orientation (one pose per frame, as in
    ScanNet's export), so the map between them is the affine K_c K_d^-1. The image is first shrunk to
    the depth size with an antialiasing filter (K_c rescaled with `scale_intrinsics`), then warped
    bilinearly when the two intrinsics still differ; pixels the colour camera did not see are black.
    """
    hd, wd = depth_hw
    image = Image.fromarray(rgb)
    K_c = K_colour
    if (image.height, image.width) != (hd, wd):
        K_c = scale_intrinsics(K_colour, (image.height, image.width), (hd, wd))
        image = image.resize((wd, hd), Image.Resampling.LANCZOS)
    M = K_c @ np.linalg.inv(K_depth)
    if np.abs(M - np.eye(3)).max() > 1e-6:
        # PIL samples output pixel edges-coordinates (x + 1/2); ours are pixel centres: shift by 1/2
        a, b, c = M[0]
        d, e, f = M[1]
        coeffs = (a, b, c + 0.5 - 0.5 * (a + b), d, e, f + 0.5 - 0.5 * (d + e))
        image = image.transform((wd, hd), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
    return np.asarray(image)
