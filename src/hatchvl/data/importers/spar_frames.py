"""SPAR-7M-RGBD frames (hatchvl.data.importers.spar): a record's image path resolved to its colour image,
depth map, pose and intrinsics, read, checked (intrinsics against both images), converted (colour
resampled into the depth camera, depth in metres) and stored once in the output."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import Skip, write_once
from hatchvl.data.format import check_relative_path, npy_bytes, png_bytes
from hatchvl.data.importers.frames import (
    colour_into_depth_camera,
    fit_view_intrinsics,
    read_depth_m,
    read_intrinsics,
    read_pose,
    read_rgb,
    same_aspect,
)


@dataclass(frozen=True, eq=False)
class Frame:
    """One stored view: files (relative to the output), rgb at depth resolution, depth metres, K of the
    stored image and depth, K of the original colour image and its size, c2w metres."""

    image: str
    depth_file: str
    rgb: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    K_colour: np.ndarray
    colour_hw: tuple[int, int]
    c2w: np.ndarray
    scene: str


def _find(spar: Path, source: str, rel: str) -> Path | None:
    try:
        check_relative_path(rel)
    except ValueError as err:
        raise Skip("bad_record", str(err)) from None
    for base in (spar / source / "images", spar / source, spar):
        if (base / rel).is_file():
            return base / rel
    return None


@functools.lru_cache(maxsize=256)
def _scene_intrinsics(folder: Path) -> tuple[str, tuple]:
    """How a scene stores intrinsics: ('pair', (K_colour, K_depth)), ('per_frame', ()), ('single', (K,));
    Skip('missing_intrinsics') naming the scene when its intrinsic folder holds none."""
    colour, depth = folder / "intrinsic_color.txt", folder / "intrinsic_depth.txt"
    if colour.is_file() and depth.is_file():
        return "pair", (read_intrinsics(colour), read_intrinsics(depth))
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if len(files) == 1:
        return "single", (read_intrinsics(files[0]),)
    if len(files) > 1:
        return "per_frame", ()
    raise Skip("missing_intrinsics", f"scene {folder.parent.name}: no intrinsics in {folder}: expected "
                                     f"intrinsic_color.txt and intrinsic_depth.txt (ScanNet), one <stem>.txt per "
                                     f"frame (3x3, Structured3D) or a single 4x4 file (ScanNet++)")


def frame_intrinsics(scene_dir: Path, stem: str, colour_hw, depth_hw) -> tuple[np.ndarray, np.ndarray]:
    """(K of the colour image, K of the depth map) of one frame, checked against both images with
    `fit_view_intrinsics`: a single matrix (one file, or one per frame) or two identical files are rescaled
    from the image they fit to the other; Skip('intrinsics_do_not_fit') when they fit no certain way."""
    kind, Ks = _scene_intrinsics(scene_dir / "intrinsic")
    if kind == "pair":
        K_colour, K_depth = Ks
    elif kind == "per_frame":
        path = scene_dir / "intrinsic" / f"{stem}.txt"
        if not path.is_file():
            raise Skip("missing_intrinsics", str(path))
        K_colour = K_depth = read_intrinsics(path)
    else:
        K_colour = K_depth = Ks[0]
    return fit_view_intrinsics(K_colour, K_depth, colour_hw, depth_hw, f"{scene_dir.name}/{stem}")


@functools.lru_cache(maxsize=64)
def load_frame(spar: Path, out: Path, source: str, image_rel: str, depth_rel: str | None, pose_unit_m: float) -> Frame:
    """Resolve, read, convert and store one frame (files written once); Skip with the reason when a file
    is missing or unreadable, the pose is not finite or rigid, the depth map is not a resize of the colour
    image or the intrinsics do not fit; ValueError when the layout is not SPAR-7M-RGBD's."""
    image_path = _find(spar, source, image_rel)
    if image_path is None:
        raise Skip("missing_image", f"{source}/images/{image_rel}")
    scene_dir, stem = image_path.parent.parent, image_path.stem
    for folder in ("pose", "intrinsic") + (() if depth_rel else ("image_depth",)):
        if not (scene_dir / folder).is_dir():
            raise ValueError(f"{scene_dir / folder} not found: SPAR-7M-RGBD keeps each scene as "
                             f"images/<scene>/{{image_color, image_depth, pose, intrinsic}} (is this the RGB-only "
                             f"release?)")
    if depth_rel:
        depth_path = _find(spar, source, depth_rel)
    else:
        depth_path = next((p for p in (scene_dir / "image_depth" / f"{stem}{ext}" for ext in (".png", ".npy"))
                           if p.is_file()), None)
    if depth_path is None:
        raise Skip("missing_depth", f"{source}/images/{depth_rel or f'{scene_dir.name}/image_depth/{stem}.png'}")
    c2w = read_pose(scene_dir / "pose" / f"{stem}.txt", pose_unit_m)
    depth, _ = read_depth_m(depth_path)
    rgb = read_rgb(image_path)
    colour_hw = rgb.shape[:2]
    if not same_aspect(colour_hw, depth.shape):  # every source's depth map is a resize of its colour image
        raise Skip("wrong_depth_size", f"{depth_path}: {depth.shape[1]}x{depth.shape[0]} is not a resize of its "
                                       f"colour image ({colour_hw[1]}x{colour_hw[0]})")
    K_colour, K_depth = frame_intrinsics(scene_dir, stem, colour_hw, depth.shape)
    stored = colour_into_depth_camera(rgb, K_colour, K_depth, depth.shape)
    base = f"frames/{source}/{scene_dir.name}/{stem}"
    image = write_once(out, f"{base}.png", lambda: png_bytes(stored))
    depth_file = write_once(out, f"{base}_depth.npy", lambda: npy_bytes(depth))
    return Frame(image, depth_file, stored, depth, K_depth, K_colour, colour_hw, c2w, scene_dir.name)
