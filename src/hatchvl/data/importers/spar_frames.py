"""SPAR-7M-RGBD frames (hatchvl.data.importers.spar): a record's image path resolved to its colour image,
depth map, pose and intrinsics, read, converted (colour resampled into the depth camera, depth in
metres) and stored once in the output."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import Skip, write_once
from hatchvl.data.format import check_relative_path, npy_bytes, png_bytes
from hatchvl.data.importers.frames import colour_into_depth_camera, read_depth_m, read_intrinsics, read_pose, read_rgb
from hatchvl.geometry.camera import scale_intrinsics


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
    """How a scene stores intrinsics: ('pair', (K_colour, K_depth)), ('per_frame', ()), ('single', (K,))."""
    colour, depth = folder / "intrinsic_color.txt", folder / "intrinsic_depth.txt"
    if colour.is_file() and depth.is_file():
        return "pair", (read_intrinsics(colour), read_intrinsics(depth))
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if len(files) == 1:
        return "single", (read_intrinsics(files[0]),)
    if len(files) > 1:
        return "per_frame", ()
    raise ValueError(f"no intrinsics in {folder}: expected intrinsic_color.txt and intrinsic_depth.txt (ScanNet), "
                     f"one <stem>.txt per frame (3x3, Structured3D) or a single 4x4 file (ScanNet++)")


def _fits(K: np.ndarray, hw: tuple[int, int]) -> bool:
    """Principal point within the middle half of an image of size hw (tells which image K is for)."""
    return abs(K[0, 2] - (hw[1] - 1) / 2) <= hw[1] / 4 and abs(K[1, 2] - (hw[0] - 1) / 2) <= hw[0] / 4


def frame_intrinsics(scene_dir: Path, stem: str, colour_hw, depth_hw) -> tuple[np.ndarray, np.ndarray]:
    """(K of the colour image, K of the depth map) of one frame. A single matrix is taken to describe the
    image whose size its principal point fits (colour first) and rescaled to the other."""
    kind, Ks = _scene_intrinsics(scene_dir / "intrinsic")
    if kind == "pair":
        return Ks
    if kind == "per_frame":
        path = scene_dir / "intrinsic" / f"{stem}.txt"
        if not path.is_file():
            raise Skip("missing_intrinsics", str(path))
        K = read_intrinsics(path)
    else:
        K = Ks[0]
    if _fits(K, colour_hw):
        return K, scale_intrinsics(K, colour_hw, depth_hw)
    if _fits(K, depth_hw):
        return scale_intrinsics(K, depth_hw, colour_hw), K
    raise ValueError(f"intrinsics of {scene_dir.name}/{stem}: principal point ({K[0, 2]:g}, {K[1, 2]:g}) fits "
                     f"neither the colour image {colour_hw[1]}x{colour_hw[0]} nor the depth map "
                     f"{depth_hw[1]}x{depth_hw[0]}")


@functools.lru_cache(maxsize=64)
def load_frame(spar: Path, out: Path, source: str, image_rel: str, depth_rel: str | None, pose_unit_m: float) -> Frame:
    """Resolve, read, convert and store one frame (files written once); Skip with the reason when a file
    is missing or unreadable, ValueError when the layout is not SPAR-7M-RGBD's."""
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
    K_colour, K_depth = frame_intrinsics(scene_dir, stem, colour_hw, depth.shape)
    stored = colour_into_depth_camera(rgb, K_colour, K_depth, depth.shape)
    base = f"frames/{source}/{scene_dir.name}/{stem}"
    image = write_once(out, f"{base}.png", lambda: png_bytes(stored))
    depth_file = write_once(out, f"{base}_depth.npy", lambda: npy_bytes(depth))
    return Frame(image, depth_file, stored, depth, K_depth, K_colour, colour_hw, c2w, scene_dir.name)
