"""Fixture writers for the published layouts the importers read (docs/dataset-format.md, "Imported datasets"): a ScanNet
export (its Python or its C++ exporter's layout) and a SPAR-7M-RGBD tree, with geometry from the synthetic renderer so
that the truth is known.

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


def render_frames(seed: int, count: int, first_stem: int = 0, step: int = 10, K_depth: np.ndarray = K_DEPTH,
                  K_colour: np.ndarray = K_COLOUR, colour_hw: tuple[int, int] = COLOUR_HW) -> list[TruthFrame]:
    """count frames of one random synthetic room, stems first_stem, first_stem + step, ...; colour seen with
    K_colour at colour_hw, depth with K_depth at DEPTH_HW (by default a narrower camera than the colour one)."""
    rng = np.random.default_rng(seed)
    scene = make_scene(rng)
    frames = []
    for k, c2w in enumerate(sample_cameras(scene, rng, count)):
        colour = render(scene, K_colour, c2w, *colour_hw)
        depth = render(scene, K_depth, c2w, *DEPTH_HW)
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


def write_intrinsics(folder: Path, K_colour: np.ndarray = K_COLOUR, K_depth: np.ndarray = K_DEPTH) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "intrinsic_color.txt").write_text(_matrix_text(_k4(K_colour)))
    (folder / "intrinsic_depth.txt").write_text(_matrix_text(_k4(K_depth)))


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
        write_pose(folder / "pose" / f"{f.stem}.txt", _export_pose(f, align))
        if f.stem in inf_pose:
            (folder / "pose" / f"{f.stem}.txt").write_text(INF_POSE)
    write_intrinsics(folder / "intrinsic")
    _write_scene_meta(folder, scene, align)


def _export_pose(f: TruthFrame, align: np.ndarray | None) -> np.ndarray:
    return f.c2w if align is None else invert_pose(align) @ f.c2w


def _write_scene_meta(folder: Path, scene: str, align: np.ndarray | None) -> None:
    if align is not None:
        values = " ".join(f"{x:.9f}" for x in align.ravel())
        (folder / f"{scene}.txt").write_text(f"colorHeight = {COLOUR_HW[0]}\naxisAlignment = {values}\n"
                                             f"sceneType = Living room / Lounge\n")


def write_depth_pgm(path: Path, depth: np.ndarray, depth_shift: float = 1000.0) -> None:
    """A binary 16-bit PGM as ScanNet's C++ exporter writes it: P5 header with its comment line, big-endian."""
    header = (f"P5\n# data values are 16-bit each; depth shift is {depth_shift:g}\n"
              f"{depth.shape[1]} {depth.shape[0]}\n65535\n")
    path.write_bytes(header.encode() + depth.astype(">u2").tobytes())


def write_scannet_cpp_scene(root: Path, scene: str, frames: list[TruthFrame], depth_format: str = "pgm",
                            depth_shift: float = 1000.0, align: np.ndarray | None = None,
                            inf_pose: tuple[str, ...] = (), no_depth: tuple[str, ...] = (),
                            colour_hw: tuple[int, int] = COLOUR_HW) -> None:
    """<scene>/{_info.txt, frame-<i:06d>.color.jpg, .depth.pgm (or .png), .pose.txt} as ScanNet's C++ exporter
    (SensReader saveToImages) writes them, with the same numbers as `write_scannet_scene` (depth in units of
    1/depth_shift m, pose files without a final newline, -inf poses for the frames in inf_pose). colour_hw is
    the colour size _info.txt states."""
    folder = root / scene
    folder.mkdir(parents=True, exist_ok=True)
    k4 = {name: " ".join(f"{x:.9f}" for x in _k4(K).ravel()) for name, K in (("Color", K_COLOUR), ("Depth", K_DEPTH))}
    identity = " ".join(f"{x:g}" for x in np.eye(4).ravel())
    (folder / "_info.txt").write_text(
        f"m_versionNumber = 4\nm_sensorName = StructureSensor\nm_colorWidth = {colour_hw[1]}\n"
        f"m_colorHeight = {colour_hw[0]}\nm_depthWidth = {DEPTH_HW[1]}\nm_depthHeight = {DEPTH_HW[0]}\n"
        f"m_depthShift = {depth_shift:g}\nm_calibrationColorIntrinsic = {k4['Color']} \n"
        f"m_calibrationColorExtrinsic = {identity} \nm_calibrationDepthIntrinsic = {k4['Depth']} \n"
        f"m_calibrationDepthExtrinsic = {identity} \nm_frames.size = {len(frames)}\n")
    for f in frames:
        base = folder / f"frame-{int(f.stem):06d}"
        write_jpg(base.with_name(base.name + ".color.jpg"), f.rgb)
        if f.stem not in no_depth:
            units = np.round(f.depth * depth_shift)
            assert units.max() < 2**16, "depth_shift too large for these depths in 16 bits"
            units = units.astype(np.uint16)
            if depth_format == "pgm":
                write_depth_pgm(base.with_name(base.name + ".depth.pgm"), units, depth_shift)
            else:
                write_depth_png(base.with_name(base.name + ".depth.png"), units)
        pose = INF_POSE if f.stem in inf_pose else _matrix_text(_export_pose(f, align))
        base.with_name(base.name + ".pose.txt").write_text(pose.rstrip("\n"))
    _write_scene_meta(folder, scene, align)


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
