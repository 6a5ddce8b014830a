"""ScanNet exports -> the hatchvl dataset format: view pairs (or triples) sampled by overlap, supervised
by PaStA overlaps and ActoR actions (docs/dataset-format.md, "Imported datasets").

Layouts read (docs/dataset-format.md, "ScanNet exports"), detected per scene (`scannet_export`): the
Python exporter's `<scene>/{color/<i>.jpg, depth/<i>.png (uint16 mm), pose/<i>.txt (4x4 camera-to-world),
intrinsic/intrinsic_color.txt, intrinsic_depth.txt}` or the C++ exporter's `<scene>/{_info.txt,
frame-<i>.color.jpg, frame-<i>.depth.pgm (or .png), frame-<i>.pose.txt}`; both give the same dataset for
the same frames. An optional `<scene>.txt` (in the scene folder or next to it) whose `axisAlignment = ...`
line (16 numbers, row-major) maps the scan so that z points up; poses are multiplied by it.

Per scene (one chunk): the frames with a depth map, a finite rigid pose and intrinsics that fit their
images (`frames.fit_view_intrinsics`) form the candidates; a seeded
pool of `pool` of them is compared pairwise with `symmetric_overlaps` on depth subsampled to about 120
rows (selection only); view sets whose every pair has overlap mass (S.sum() / n²) within `overlap` are
drawn, `pairs_per_scene` of them. Their views are stored at depth resolution (colour resampled into the
depth camera), with overlaps at full depth resolution and the ActoR actions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import ChunkResult, Skip, finish, prepare_output, run_chunks, write_once
from hatchvl.data.format import Sample, encode_sample, npy_bytes, png_bytes
from hatchvl.data.importers.frames import (
    colour_into_depth_camera,
    fit_view_intrinsics,
    image_hw,
    read_depth_m,
    read_pose,
    read_rgb,
)
from hatchvl.data.importers.scannet_export import LAYOUTS, ExportFrame, ExportScene, is_scene, read_export_scene
from hatchvl.data.synthetic.questions import make_pose_question
from hatchvl.data.synthetic.synth import overlapping_subsets
from hatchvl.geometry.actions_text import PairActions
from hatchvl.geometry.motion import actions_from_poses, all_pairs
from hatchvl.geometry.overlap import GeoView, sample_overlaps, symmetric_overlaps

GENERATOR = "hatchvl data import-scannet"
SELECTION_ROWS = 120  # depth rows used to choose view sets (overlaps stored with samples are full size)


@dataclass(frozen=True)
class ScanNetConfig:
    """Everything that decides the imported dataset's content (workers and progress do not)."""

    root: str
    pairs_per_scene: int = 10
    overlap: tuple[float, float] = (0.1, 0.7)
    views: tuple[int, int] = (2, 2)  # min and max views per sample
    seed: int = 0
    pool: int = 30  # candidate frames per scene
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # fractions of scenes in train, val, test
    questions: bool = True  # camera-motion multiple choice where the motion allows, else view change
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    grid: int = 4
    tol_abs: float = 0.02
    tol_rel: float = 0.05

    def __post_init__(self) -> None:
        checks = [
            (self.pairs_per_scene >= 1, f"pairs_per_scene must be >= 1, got {self.pairs_per_scene}"),
            (0 <= self.overlap[0] < self.overlap[1] <= 1,
             f"overlap must be lo-hi with 0 <= lo < hi <= 1, got {self.overlap}"),
            (2 <= self.views[0] <= self.views[1] <= 5, f"views must be 2-5 (lo <= hi), got {self.views}"),
            (self.pool >= self.views[1], f"pool ({self.pool}) must be at least the most views ({self.views[1]})"),
            (len(self.split) == 3 and min(self.split) >= 0 and abs(sum(self.split) - 1) < 1e-9,
             f"split must be three fractions (train, val, test) summing to 1, got {self.split}"),
            (abs(np.linalg.norm(self.up) - 1) < 1e-6, f"up must be a unit 3-vector, got {self.up}"),
            (self.grid >= 1, f"grid must be >= 1, got {self.grid}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def find_scenes(root: Path) -> list[str]:
    """Scene folders (of either export layout), sorted; ValueError naming the layouts when none."""
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    scenes = sorted(p.name for p in root.iterdir() if p.is_dir() and is_scene(p))
    if not scenes:
        raise ValueError(f"no scenes in {root}: expected {LAYOUTS}")
    return scenes


def axis_alignment(root: Path, scene: str) -> np.ndarray | None:
    """The scene's axisAlignment matrix (4, 4) from <scene>.txt, or None when there is none."""
    for path in (root / scene / f"{scene}.txt", root / f"{scene}.txt"):
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                if line.strip().startswith("axisAlignment"):
                    values = [float(x) for x in line.split("=", 1)[1].split()]
                    if len(values) != 16:
                        raise ValueError(f"{path}: axisAlignment needs 16 numbers, got {len(values)}")
                    return np.asarray(values, dtype=np.float64).reshape(4, 4)
    return None


def scene_splits(scenes: list[str], split: tuple[float, float, float], seed: int) -> dict[str, str]:
    """A seeded permutation of the scenes: round(N val) in val, round(N test) in test, the rest train."""
    n = len(scenes)
    n_val, n_test = round(n * split[1]), round(n * split[2])
    order = np.random.default_rng(seed).permutation(n)
    out = {}
    for rank, index in enumerate(order):
        out[scenes[index]] = "val" if rank < n_val else "test" if rank < n_val + n_test else "train"
    return out


@dataclass(frozen=True)
class _Context:
    config: ScanNetConfig
    root: Path
    out: Path
    scenes: tuple[str, ...]
    splits: dict


@dataclass(frozen=True, eq=False)
class _View:
    """A pool frame: stem, c2w (4, 4) metres, colour file, K (3, 3) of the colour image and of the depth map."""

    stem: str
    c2w: np.ndarray
    colour: Path
    K_colour: np.ndarray
    K_depth: np.ndarray


def _scene_rng(config: ScanNetConfig, scene: str) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(scene.encode()).digest()[:4], "big")
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(key,)))


def _valid_frames(ctx: _Context, scene: str, export: ExportScene,
                  result: ChunkResult) -> list[tuple[ExportFrame, np.ndarray]]:
    """(frame, c2w) of every frame with a depth file and a usable pose; the rest counted."""
    align = axis_alignment(ctx.root, scene)
    frames = []
    for frame in export.frames:
        result.records += 1
        try:
            if frame.depth is None:
                missing = (f"depth/{frame.stem}.png" if export.layout == "python"
                           else frame.colour.name.split(".")[0] + ".depth.pgm or .png")
                raise Skip("missing_depth", f"{scene}/{missing}")
            c2w = read_pose(frame.pose)
            frames.append((frame, c2w if align is None else align @ c2w))
        except Skip as err:
            result.skip(err)
    return frames


def _view_intrinsics(scene: str, export: ExportScene, frame: ExportFrame,
                     depth_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(K_colour, K_depth) of one frame, checked against its images (Skip('intrinsics_do_not_fit'))."""
    colour_hw = image_hw(frame.colour)
    where = f"{scene}/{frame.colour.name}"
    for name, hw, given in (("colour image", colour_hw, export.colour_hw), ("depth map", depth_hw, export.depth_hw)):
        if given is not None and tuple(hw) != given:
            raise Skip("intrinsics_do_not_fit", f"{where}: the {name} is {hw[1]}x{hw[0]} but _info.txt gives "
                                                f"the intrinsics of {given[1]}x{given[0]}")
    return fit_view_intrinsics(export.K_colour, export.K_depth, colour_hw, depth_hw, where)


def _pool_depths(scene: str, export: ExportScene, picked: list, result: ChunkResult) -> list:
    """((frame, c2w), depth metres) of the picked frames whose depth map reads and has the size most of them
    have (ties: the first frame's); the others counted as skips (`wrong_depth_size` for the size)."""
    read = []
    for frame, c2w in picked:
        try:
            read.append(((frame, c2w), read_depth_m(frame.depth, export.depth_units_per_m)[0]))
        except Skip as err:
            result.skip(err)
    if not read:
        return []
    size = Counter(depth.shape for _, depth in read).most_common(1)[0][0]
    for (frame, _), depth in read:
        if depth.shape != size:
            result.skip(Skip("wrong_depth_size", f"{scene}/{frame.depth.name}: {depth.shape[1]}x{depth.shape[0]}, "
                                                 f"the scene's other depth maps are {size[1]}x{size[0]}"))
    return [(view, depth) for view, depth in read if depth.shape == size]


def _view_sets(ctx: _Context, depths, Ks_depth, poses, rng) -> list[tuple[int, ...]]:
    """Up to pairs_per_scene distinct view sets of the pool whose pairs all have mass within overlap."""
    config = ctx.config
    step = max(1, depths[0].shape[0] // SELECTION_ROWS)
    small = np.stack([d[::step, ::step] for d in depths])
    K_small = np.array(Ks_depth)
    K_small[:, :2] /= step  # pixel u' = u / step exactly (subsampling, not resizing)
    n = len(depths)
    a, b = np.triu_indices(n, 1)
    S = symmetric_overlaps(small[a], K_small[a], poses[a], small[b], K_small[b], poses[b], grid=config.grid,
                           tol_abs=config.tol_abs, tol_rel=config.tol_rel)
    mass = np.zeros((n, n))
    mass[a, b] = mass[b, a] = S.sum(axis=(1, 2)) / config.grid**2
    subsets = overlapping_subsets(mass, range(config.views[0], config.views[1] + 1), *config.overlap)
    chosen: list[tuple[int, ...]] = []
    for _ in range(config.pairs_per_scene):
        sizes = [k for k, sets in subsets.items() if sets]
        if not sizes:
            break
        sets = subsets[sizes[rng.integers(len(sizes))]]
        chosen.append(sets.pop(rng.integers(len(sets))))
    return chosen


def _question(ctx: _Context, c2w: np.ndarray, rng: np.random.Generator):
    """A camera-motion (choice) question when asked for and the motion allows one, else a view change."""
    for category in (("camera_motion", "view_change") if ctx.config.questions else ("view_change",)):
        question = make_pose_question(category, c2w, ctx.config.up, rng)
        if question is not None:
            return question
    return None


def _import_scene(ctx: _Context, chunk: int) -> ChunkResult:
    config, scene = ctx.config, ctx.scenes[chunk]
    result = ChunkResult()
    try:
        export = read_export_scene(ctx.root / scene)
    except Skip as err:  # the whole scene: its intrinsics are missing
        result.skip(err)
        return result
    rng = _scene_rng(config, scene)
    frames = _valid_frames(ctx, scene, export, result)
    pick = np.sort(rng.choice(len(frames), size=min(config.pool, len(frames)), replace=False)) if frames else []
    pool: list[_View] = []
    depths = []
    for (frame, c2w), depth in _pool_depths(scene, export, [frames[k] for k in pick], result):
        try:
            K_colour, K_depth = _view_intrinsics(scene, export, frame, depth.shape)
        except Skip as err:
            result.skip(err)
            continue
        pool.append(_View(frame.stem, c2w, frame.colour, K_colour, K_depth))
        depths.append(depth)
    if len(pool) < config.views[0]:
        result.skip(Skip("scene_too_few_frames", f"{scene}: {len(pool)} usable frames"))
        return result
    poses = np.stack([v.c2w for v in pool])
    sets = _view_sets(ctx, depths, [v.K_depth for v in pool], poses, rng)
    if not sets:
        result.skip(Skip("scene_without_overlapping_views", f"{scene}: no view set with overlap in {config.overlap}"))
        return result
    stored: dict[int, str] = {}
    kept = []
    up = np.asarray(config.up, dtype=np.float64)
    for number, subset in enumerate(sets):
        try:
            for k in subset:
                if k not in stored:
                    view, stem = pool[k], pool[k].stem
                    rgb = colour_into_depth_camera(read_rgb(view.colour), view.K_colour, view.K_depth, depths[k].shape)
                    write_once(ctx.out, f"frames/{scene}/{stem}_depth.npy", lambda k=k: npy_bytes(depths[k]))
                    stored[k] = write_once(ctx.out, f"frames/{scene}/{stem}.png", lambda rgb=rgb: png_bytes(rgb))
            c2w = poses[list(subset)]
            actions = tuple(PairActions(i, j, tuple(actions_from_poses(c2w[i], c2w[j], up)))
                            for i, j in all_pairs(len(subset)))
        except Skip as err:
            result.skip(err)
            continue
        except ValueError as err:  # a camera looking straight up or down has no heading
            result.skip(Skip("degenerate_pose", f"{scene}: {err}"))
            continue
        question = _question(ctx, c2w, rng)
        if question is None:
            result.skip(Skip("no_motion", f"{scene}: views {[pool[k].stem for k in subset]} do not move"))
            continue
        sample = Sample(
            id=f"{scene}-{number:03d}", scene_id=scene, category=question.category, question=question.text,
            options=question.options, answer=question.answer, answer_type=question.answer_type,
            images=tuple(stored[k] for k in subset),
            depths=tuple(f"frames/{scene}/{pool[k].stem}_depth.npy" for k in subset),
            K=np.stack([pool[k].K_depth for k in subset]), c2w=c2w, up=up, actions=actions,
        )
        kept.append((sample, [GeoView(str(k), depths[k], pool[k].K_depth, poses[k]) for k in subset]))
    overlaps = sample_overlaps([views for _, views in kept], config.grid, config.tol_abs, config.tol_rel)
    for (sample, _), S in zip(kept, overlaps, strict=True):
        write_once(ctx.out, f"overlaps/{scene}/{sample.id}.npy", lambda S=S: npy_bytes(S))
        result.lines.append((ctx.splits[scene], encode_sample(sample)))
    return result


def import_scannet(
    root: str | Path,
    out: str | Path,
    pairs_per_scene: int = 10,
    overlap: tuple[float, float] = (0.1, 0.7),
    views: int | tuple[int, int] = 2,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    **options,
) -> dict:
    """Import a ScanNet export into a hatchvl dataset at out; returns the import report.

    views: a number or a (lo, hi) range of views per sample. options: the other ScanNetConfig fields
    (pool, split, questions, up, grid, tol_abs, tol_rel). Resumable: finished scenes are kept.
    """
    root = Path(root)
    views = (views, views) if isinstance(views, int) else tuple(views)
    config = ScanNetConfig(root=str(root.resolve()), pairs_per_scene=pairs_per_scene, overlap=tuple(overlap),
                           views=views, seed=seed, **options)
    scenes = find_scenes(root)
    out = Path(out)
    settings = asdict(config)
    prepare_output(out, GENERATOR, settings)
    ctx = _Context(config, root, out, tuple(scenes), scene_splits(scenes, config.split, seed))
    run_chunks(out, _import_scene, ctx, len(scenes), workers=workers, progress=progress, desc="import-scannet",
               unit="scene")
    extra = {"up": list(config.up), "up_note": "ScanNet: +z (axis-aligned when <scene>.txt gives axisAlignment)",
             "overlaps": {"path": "overlaps/<scene_id>/<id>.npy", "grid": config.grid, "tol_abs": config.tol_abs,
                          "tol_rel": config.tol_rel}}
    _, report = finish(out, len(scenes), GENERATOR, settings, extra, {"scenes": len(scenes)})
    return report

