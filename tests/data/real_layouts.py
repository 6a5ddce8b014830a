"""Fixture writers for the published layouts the importers read (docs/dataset-format.md, "Imported datasets"): a ScanNet
export and a SPAR-7M-RGBD tree, with geometry from the synthetic renderer so that the truth is known.

Each frame is rendered twice from the same pose: colour at COLOUR_HW with K_COLOUR (wider field of
view, like ScanNet's colour camera), depth at DEPTH_HW with K_DEPTH. Colour is written as JPEG, depth as
a 16-bit PNG in millimetres, poses and intrinsics as 4x4 text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hatchvl.data.synthetic.render import render
from hatchvl.data.synthetic.scene import make_scene, sample_cameras
from hatchvl.geometry.camera import intrinsics_from_fov, invert_pose

COLOUR_HW = (72, 96)
DEPTH_HW = (48, 64)
K_COLOUR = intrinsics_from_fov(*COLOUR_HW, 72.0)
K_DEPTH = intrinsics_from_fov(*DEPTH_HW, 64.0)


@dataclass(frozen=True, eq=False)
class TruthFrame:
    """A rendered frame: stem, colour (H, W, 3) uint8, depth (h, w) float32 metres, true c2w (world up +z),
    and the colour the depth camera would see (h, w, 3), to check the importer's resampling."""

    stem: str
    rgb: np.ndarray
    depth: np.ndarray
    c2w: np.ndarray
    rgb_depth_camera: np.ndarray

    @property
    def depth_mm(self) -> np.ndarray:
        return np.round(self.depth * 1000).astype(np.uint16)


def render_frames(seed: int, count: int, first_stem: int = 0, step: int = 10) -> list[TruthFrame]:
    """count frames of one random synthetic room, stems first_stem, first_stem + step, ..."""
    rng = np.random.default_rng(seed)
    scene = make_scene(rng)
    frames = []
    for k, c2w in enumerate(sample_cameras(scene, rng, count)):
        colour = render(scene, K_COLOUR, c2w, *COLOUR_HW)
        depth = render(scene, K_DEPTH, c2w, *DEPTH_HW)
        frames.append(TruthFrame(str(first_stem + k * step), colour.rgb, depth.depth, c2w, depth.rgb))
    return frames


def _matrix_text(M: np.ndarray) -> str:
    return "".join(" ".join(f"{x:.9f}" for x in row) + "\n" for row in M)


def _k4(K: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = K
    return out


def write_jpg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="JPEG", quality=95)


def write_depth_png(path: Path, depth_mm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(depth_mm).save(path, format="PNG")
    with Image.open(path) as check:  # a 16-bit PNG, as ScanNet's
        assert np.asarray(check).dtype == np.uint16


def write_pose(path: Path, c2w: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_matrix_text(c2w))


def write_intrinsics(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "intrinsic_color.txt").write_text(_matrix_text(_k4(K_COLOUR)))
    (folder / "intrinsic_depth.txt").write_text(_matrix_text(_k4(K_DEPTH)))


INF_POSE = "-inf -inf -inf -inf\n" * 4


def write_scannet_scene(root: Path, scene: str, frames: list[TruthFrame], align: np.ndarray | None = None,
                        inf_pose: tuple[str, ...] = (), no_depth: tuple[str, ...] = ()) -> None:
    """<scene>/{color, depth, pose, intrinsic} of a ScanNet export. With align (the scene's axisAlignment),
    pose files hold inv(align) @ c2w so that the aligned poses are the true ones, and <scene>.txt says so.
    Frames named in inf_pose get ScanNet's -inf pose; those in no_depth get no depth file."""
    folder = root / scene
    for f in frames:
        write_jpg(folder / "color" / f"{f.stem}.jpg", f.rgb)
        if f.stem not in no_depth:
            write_depth_png(folder / "depth" / f"{f.stem}.png", f.depth_mm)
        pose = f.c2w if align is None else invert_pose(align) @ f.c2w
        write_pose(folder / "pose" / f"{f.stem}.txt", pose)
        if f.stem in inf_pose:
            (folder / "pose" / f"{f.stem}.txt").write_text(INF_POSE)
    write_intrinsics(folder / "intrinsic")
    if align is not None:
        values = " ".join(f"{x:.9f}" for x in align.ravel())
        (folder / f"{scene}.txt").write_text(f"colorHeight = {COLOUR_HW[0]}\naxisAlignment = {values}\n"
                                             f"sceneType = Living room / Lounge\n")


def axis_alignment(yaw_deg: float, shift: tuple[float, float, float]) -> np.ndarray:
    """A ScanNet-like axisAlignment: a turn about z and a translation."""
    a = np.radians(yaw_deg)
    M = np.eye(4)
    M[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    M[:3, 3] = shift
    return M


def write_spar_scene(spar: Path, source: str, scene: str, frames: list[TruthFrame],
                     inf_pose: tuple[str, ...] = (), no_depth: tuple[str, ...] = ()) -> None:
    """spar/<source>/images/<scene>/{image_color, image_depth, pose, intrinsic} (SPAR-7M-RGBD)."""
    folder = spar / source / "images" / scene
    for f in frames:
        write_jpg(folder / "image_color" / f"{f.stem}.jpg", f.rgb)
        if f.stem not in no_depth:
            write_depth_png(folder / "image_depth" / f"{f.stem}.png", f.depth_mm)
        write_pose(folder / "pose" / f"{f.stem}.txt", f.c2w)
        if f.stem in inf_pose:
            (folder / "pose" / f"{f.stem}.txt").write_text(INF_POSE)
    write_intrinsics(folder / "intrinsic")


def spar_record(rid, task: str, scene: str, stems, question: str, answer: str, placeholders: bool = True,
                with_depth: bool = True, **markers) -> dict:
    """One SPAR-7M record: conversations with or without <image> lines, image (and depth) paths relative
    to images/, markers such as red_point=[[x, y]], point_img_idx=[[0, 1]]."""
    human = ("<image>\n" * len(stems) if placeholders else "") + question
    record = {
        "id": rid, "type": task,
        "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": answer}],
        "image": [f"{scene}/image_color/{s}.jpg" for s in stems],
    }
    if with_depth:
        record["depth"] = [f"{scene}/image_depth/{s}.png" for s in stems]
    record.update(markers)
    return record


def write_spar_jsonl(spar: Path, source: str, split: str, task: str, fmt: str, records: list[dict]) -> Path:
    """spar/<source>/qa_jsonl/<split>/<task>/<fmt>/<fmt>_<N>.jsonl."""
    path = spar / source / "qa_jsonl" / split / task / fmt / f"{fmt}_{len(records)}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
