"""SPAR-7M-RGBD -> the hatchvl dataset format (docs/dataset-format.md, "Imported datasets").

Layout read (docs/dataset-format.md, "SPAR-7M-RGBD"):
`spar/<source>/qa_jsonl/{train,val}/<task>/<format>/*.jsonl` and
`spar/<source>/images/<scene>/{image_color, image_depth, pose, intrinsic}`. A record's `image` paths
are relative to `images/`; its depth, pose and intrinsics are found by the frame's stem.

Each view is stored at the depth map's resolution: the colour image is resampled into the depth
camera (`frames.colour_into_depth_camera`), so the stored depth is the source depth converted to
metres, untouched, and K is the depth intrinsics. Markers (`*_point`, `*_bbox` in 0-1000 coordinates of
the colour image) are drawn into copies of the images they belong to, as SPAR's loader draws them.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import ChunkResult, Skip, finish, prepare_output, run_chunks, write_once
from hatchvl.data.format import LETTERS, Marker, Sample, encode_sample, npy_bytes, png_bytes
from hatchvl.data.importers.spar_frames import load_frame
from hatchvl.data.importers.spar_markers import draw_record_markers, record_markers
from hatchvl.data.importers.spar_questions import parse_conversation
from hatchvl.geometry.actions_text import PairActions
from hatchvl.geometry.motion import actions_from_poses, all_pairs
from hatchvl.geometry.overlap import GeoView, sample_overlaps

GENERATOR = "hatchvl data import-spar"
SOURCES = ("scannet", "scannetpp", "structured3d", "rxr")
DEFAULT_SOURCES = ("scannet", "scannetpp", "structured3d")
MULTIVIEW_EXTRA = ("position_matching", "view_change_infer", "camera_motion_infer")
# metres per pose-translation unit; Structured3D is reported in millimetres (docs/dataset-format.md, "SPAR-7M-RGBD")
POSE_UNIT_M = {"structured3d": 1e-3}
BLOCK = 1024  # lines between recorded file offsets


@dataclass(frozen=True)
class SparConfig:
    """Everything that decides the imported dataset's content (workers and progress do not)."""

    root: str
    sources: tuple[str, ...] = DEFAULT_SOURCES
    tasks: tuple[str, ...] | str = "multiview"  # "multiview" or explicit task names
    splits: tuple[str, ...] = ("train", "val")  # SPAR splits read; each becomes ours
    sample: int | None = None  # seeded subset size over all kept records, None = all
    seed: int = 0
    test_fraction: float = 0.0  # scenes moved (by a seeded hash) from train/val into test
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)  # world up for every source (see the docs)
    grid: int = 4
    tol_abs: float = 0.02
    tol_rel: float = 0.05
    chunk_size: int = 256

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in SOURCES]
        up = np.asarray(self.up, dtype=np.float64)
        checks = [
            (self.sources and not unknown, f"sources must be some of {', '.join(SOURCES)}, got {unknown or '[]'}"),
            (self.splits and set(self.splits) <= {"train", "val"},
             f"splits must be train and/or val, got {self.splits}"),
            (self.sample is None or self.sample >= 1, f"sample must be >= 1, got {self.sample}"),
            (0 <= self.test_fraction < 1, f"test_fraction must be in [0, 1), got {self.test_fraction}"),
            (up.shape == (3,) and abs(np.linalg.norm(up) - 1) < 1e-6, f"up must be a unit 3-vector, got {self.up}"),
            (self.grid >= 1 and self.chunk_size >= 1, "grid and chunk_size must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def keeps(self, task: str) -> bool:
        if self.tasks == "multiview":
            return task.endswith("_mv") or task in MULTIVIEW_EXTRA
        return task in self.tasks


# ---- the import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What a chunk worker needs (picklable): settings, the file table and the selection."""

    config: SparConfig
    spar: Path
    out: Path
    files: tuple[tuple[str, str, str, str, tuple[int, ...]], ...]  # source, split, task, path, offsets
    starts: tuple[int, ...]  # global index of each file's first line
    total: int
    selection: np.ndarray | None

    def chunk_indices(self, chunk: int) -> np.ndarray:
        lo, hi = chunk * self.config.chunk_size, (chunk + 1) * self.config.chunk_size
        if self.selection is not None:
            return self.selection[lo:hi]
        return np.arange(lo, min(hi, self.total))

    @property
    def chunks(self) -> int:
        n = len(self.selection) if self.selection is not None else self.total
        return -(-n // self.config.chunk_size)


def find_spar_root(root: Path) -> Path:
    """The folder holding <source>/qa_jsonl: root itself or root/spar."""
    for candidate in (root, root / "spar"):
        if candidate.is_dir() and any((candidate / s / "qa_jsonl").is_dir() for s in SOURCES):
            return candidate
    raise ValueError(f"no SPAR-7M tree under {root}: expected {root}/<source>/qa_jsonl/{{train,val}}/<task>/<format>/"
                     f"*.jsonl (or the same under {root}/spar) with <source> one of {', '.join(SOURCES)}")


def list_files(spar: Path, config: SparConfig) -> list[tuple[str, str, str, Path]]:
    """(source, split, task, path) of every kept jsonl file, sorted."""
    files = []
    for source in config.sources:
        qa = spar / source / "qa_jsonl"
        if not qa.is_dir():
            raise ValueError(f"{qa} not found: expected spar/{source}/qa_jsonl/{{train,val}}/<task>/<format>/*.jsonl "
                             f"for source {source!r} (leave it out with --sources)")
        if not (spar / source / "images").is_dir():
            raise ValueError(f"{spar / source / 'images'} not found: expected spar/{source}/images/<scene>/"
                             f"{{image_color, image_depth, pose, intrinsic}}")
        for split in config.splits:
            for task_dir in sorted(p for p in (qa / split).glob("*") if p.is_dir() and config.keeps(p.name)):
                for path in sorted(task_dir.glob("*/*.jsonl")):
                    files.append((source, split, task_dir.name, path))
    if not files:
        raise ValueError(f"no jsonl files of the kept tasks ({config.tasks}) under {spar}/<source>/qa_jsonl/"
                         f"{{{','.join(config.splits)}}}/<task>/<format>/ for sources {', '.join(config.sources)}")
    return files


def line_offsets(path: Path) -> tuple[int, tuple[int, ...]]:
    """(number of lines, byte offset of every BLOCK-th line) of a text file, streaming."""
    offsets, count, position = [], 0, 0
    with open(path, "rb") as f:
        for line in f:
            if count % BLOCK == 0:
                offsets.append(position)
            position += len(line)
            count += 1
    return count, tuple(offsets)


def _read_lines(path: Path, offsets: tuple[int, ...], wanted: list[int]) -> list[bytes]:
    """The lines with the given sorted numbers, seeking to the nearest recorded offset."""
    out = []
    with open(path, "rb") as f:
        current = None
        for number in wanted:
            block = number // BLOCK
            if current is None or number < current or block * BLOCK > current:
                f.seek(offsets[block])
                current = block * BLOCK
            while current < number:
                f.readline()
                current += 1
            out.append(f.readline())
            current += 1
    return out


def _in_test(config: SparConfig, scene_id: str) -> bool:
    if config.test_fraction <= 0:
        return False
    digest = hashlib.sha256(f"{config.seed}:{scene_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < config.test_fraction


def _record(ctx: _Context, g: int, source: str, split: str, task: str, raw: bytes) -> tuple[str, Sample]:
    """(split, Sample) of one record, its marked images and overlaps written; Skip when it cannot be used."""
    try:
        rec = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Skip("bad_json", f"{source}/{split}/{task} record {g}: {err}") from None
    if not isinstance(rec, dict):
        raise Skip("bad_record", f"{source}/{task} record {g}: not a JSON object")
    task = rec.get("type") or task
    images, depths, conv = rec.get("image"), rec.get("depth"), rec.get("conversations")
    if not (isinstance(images, list) and all(isinstance(p, str) for p in images)):
        raise Skip("bad_record", f"{source}/{task} record {rec.get('id', g)}: 'image' is not a list of paths")
    if not 2 <= len(images) <= len(LETTERS):
        raise Skip("not_multiview", f"{source}/{task} record {rec.get('id', g)}: {len(images)} image(s)")
    if depths is not None and not (isinstance(depths, list) and len(depths) == len(images)
                                   and all(isinstance(p, str) for p in depths)):
        raise Skip("bad_record", f"{source}/{task} record {rec.get('id', g)}: 'depth' is not parallel to 'image'")
    try:
        human = next(t["value"] for t in conv if t.get("from") == "human")
        gpt = next(t["value"] for t in conv if t.get("from") == "gpt")
    except (TypeError, StopIteration, KeyError, AttributeError):
        raise Skip("bad_record", f"{source}/{task} record {rec.get('id', g)}: no human/gpt conversation") from None
    question, options, answer, answer_type = parse_conversation(task, str(human), str(gpt))
    markers = record_markers(rec, task, len(images))
    unit = POSE_UNIT_M.get(source, 1.0)
    frames = [load_frame(ctx.spar, ctx.out, source, img, depths[k] if depths else None, unit)
              for k, img in enumerate(images)]
    scenes = {f.scene for f in frames}
    if len(scenes) != 1:
        raise Skip("mixed_scenes", f"{source}/{task} record {rec.get('id', g)}: scenes {sorted(scenes)}")
    scene_id = f"{source}-{frames[0].scene}"
    sid = f"{source}-{g:08d}"
    up = np.asarray(ctx.config.up, dtype=np.float64)
    c2w = np.stack([f.c2w for f in frames])
    try:
        actions = tuple(PairActions(i, j, tuple(actions_from_poses(c2w[i], c2w[j], up)))
                        for i, j in all_pairs(len(frames)))
    except ValueError as err:
        raise Skip("degenerate_pose", f"{sid}: {err}") from None
    image_paths = [f.image for f in frames]
    points = []
    for view in sorted({m[2] for m in markers}):
        rgb, uv = draw_record_markers(frames[view], [m for m in markers if m[2] == view])
        image_paths[view] = write_once(ctx.out, f"marked/{source}/{frames[0].scene}/{sid}_{view}.png",
                                       lambda rgb=rgb: png_bytes(rgb))
        points += [Marker(view, u, v) for u, v in uv]
    views = [GeoView(f.depth_file, f.depth, f.K, f.c2w) for f in frames]
    config = ctx.config
    S = sample_overlaps([views], config.grid, config.tol_abs, config.tol_rel)[0]
    write_once(ctx.out, f"overlaps/{scene_id}/{sid}.npy", lambda: npy_bytes(S))
    sample = Sample(
        id=sid, scene_id=scene_id, category=task, question=question, options=options, answer=answer,
        answer_type=answer_type, images=tuple(image_paths), depths=tuple(f.depth_file for f in frames),
        K=np.stack([f.K for f in frames]), c2w=c2w, up=up, actions=actions, markers=tuple(points),
    )
    return "test" if _in_test(config, scene_id) else split, sample


def _import_chunk(ctx: _Context, chunk: int) -> ChunkResult:
    """Manifest lines of one chunk of records; each record's files (marked images, overlaps) are written
    as it is processed, so memory holds one record's frames (and the frame cache) at a time."""
    result = ChunkResult()
    by_file: dict[int, list[int]] = {}
    for g in ctx.chunk_indices(chunk).tolist():
        f = bisect.bisect_right(ctx.starts, g) - 1
        by_file.setdefault(f, []).append(g - ctx.starts[f])
    for f, numbers in by_file.items():
        source, split, task, path, offsets = ctx.files[f]
        for number, raw in zip(numbers, _read_lines(ctx.spar / path, offsets, numbers), strict=True):
            result.records += 1
            try:
                out_split, sample = _record(ctx, ctx.starts[f] + number, source, split, task, raw)
            except Skip as err:
                result.skip(err)
                continue
            result.lines.append((out_split, encode_sample(sample)))
    return result


def import_spar(
    root: str | Path,
    out: str | Path,
    sources: tuple[str, ...] | list[str] = DEFAULT_SOURCES,
    tasks: str | tuple[str, ...] = "multiview",
    sample: int | None = None,
    seed: int = 0,
    workers: int = 1,
    progress: bool = True,
    **options,
) -> dict:
    """Import SPAR-7M-RGBD records into a hatchvl dataset at out; returns the import report.

    options: the other SparConfig fields (splits, test_fraction, up, grid, tol_abs, tol_rel, chunk_size).
    Resumable: a re-run with the same settings keeps finished chunks.
    """
    spar = find_spar_root(Path(root))
    config = SparConfig(root=str(spar.resolve()), sources=tuple(sources),
                        tasks=tasks if isinstance(tasks, str) else tuple(tasks), sample=sample, seed=seed, **options)
    out = Path(out)
    settings = asdict(config)
    prepare_output(out, GENERATOR, settings)
    files = list_files(spar, config)
    table, starts, total = [], [], 0
    for source, split, task, path in files:
        count, offsets = line_offsets(path)
        table.append((source, split, task, str(path.relative_to(spar)), offsets))
        starts.append(total)
        total += count
    selection = None
    if sample is not None and sample < total:
        selection = np.sort(np.random.default_rng(seed).choice(total, size=sample, replace=False))
    ctx = _Context(config, spar, out, tuple(table), tuple(starts), total, selection)
    run_chunks(out, _import_chunk, ctx, ctx.chunks, workers=workers, progress=progress, desc="import-spar",
               unit="record", chunk_sizes=lambda i: len(ctx.chunk_indices(i)))
    extra = {"up": list(config.up), "up_note": "world up assumed for every source (option up)",
             "overlaps": {"path": "overlaps/<scene_id>/<id>.npy", "grid": config.grid, "tol_abs": config.tol_abs,
                          "tol_rel": config.tol_rel}}
    selected = len(selection) if selection is not None else total
    _, report = finish(out, ctx.chunks, GENERATOR, settings, extra,
                       {"eligible_records": total, "selected_records": selected})
    return report
