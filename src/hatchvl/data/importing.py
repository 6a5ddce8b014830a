"""Machinery shared by the dataset importers (`spar`, `scannet`): chunked, parallel, resumable imports
with per-reason skip counts, and the file helpers they write with.

An import is split into numbered *chunks* (a slice of records, or one scene). A chunk is processed by
a pure function of (context, chunk index) that returns its manifest lines and skip counts; the result
is written atomically to `DIR/.import/chunks/<index>.jsonl` (a shard). A shard that exists is finished:
a re-run skips it, so a killed import resumes where it stopped and gives the same bytes as an
uninterrupted one. When every shard exists, `finish` streams the shards in chunk order into the split
manifests (so the output order does not depend on the number of workers), writes
`import_report.json` (skip counts per reason with one example each) and marks `dataset.json` complete.
Memory stays bounded by one chunk per worker, whatever the number of records.

Shard format: line 1 is a JSON header `{"records": n, "skips": {reason: count}, "examples": {reason:
text}}`; every further line is `<split>\\t<manifest line>`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from hatchvl.data.dataset import SPLITS, check_writable, manifest_path
from hatchvl.geometry.camera import check_pose, scale_intrinsics
from hatchvl.io import atomic_write, open_rgb, read_json, write_json

INFO_FILE = "dataset.json"
REPORT_FILE = "import_report.json"
WORK_DIR = ".import"


class Skip(Exception):
    """A record or frame left out of the import and counted under `reason` (a short snake_case key)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass
class ChunkResult:
    """What one chunk produced: manifest lines with their split, skip counts, one example per reason."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    records: int = 0
    skips: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, err: Skip) -> None:
        self.skips[err.reason] += 1
        self.examples.setdefault(err.reason, err.detail)

    def encode(self) -> bytes:
        header = {"records": self.records, "skips": dict(sorted(self.skips.items())),
                  "examples": dict(sorted(self.examples.items()))}
        body = "".join(f"{split}\t{line}\n" for split, line in self.lines)
        return (json.dumps(header) + "\n" + body).encode("utf-8")


ChunkFn = Callable[[object, int], ChunkResult]


def write_once(root: Path, rel: str, make: Callable[[], bytes]) -> str:
    """Write root/rel atomically unless it exists (files are named by content source, so an existing file
    is the same bytes); returns rel."""
    path = root / rel
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, make())
    return rel


def prepare_output(root: Path, generator: str, settings: dict) -> None:
    """Make root ready: writable, and empty or an earlier import with the same settings (which resumes).
    Raises ValueError naming the difference otherwise."""
    check_writable(root)
    info_path = root / INFO_FILE
    wanted = json.loads(json.dumps(settings))
    info = read_json(info_path)
    if info is not None:
        earlier = info.get("config") or {}
        differ = [f"{k} {earlier.get(k)!r} there, {v!r} here" for k, v in wanted.items() if earlier.get(k) != v]
        if info.get("generator") != generator or differ:
            raise ValueError(f"{root} holds a dataset made by {info.get('generator')!r} with other settings "
                             f"({'; '.join(differ) or 'generator differs'}); use a new output folder, or the "
                             f"same settings to resume")
    elif any(p.name != WORK_DIR for p in root.iterdir()):
        raise ValueError(f"{root} is not empty and holds no {INFO_FILE}; refusing to write into it")
    else:
        write_info(root, generator, settings, None)
    (root / WORK_DIR / "chunks").mkdir(parents=True, exist_ok=True)


def write_info(root: Path, generator: str, settings: dict, counts: dict | None, extra: dict | None = None) -> None:
    info = {"format": "hatchvl-dataset", "version": 1, "generator": generator, "config": settings,
            **(extra or {}), "complete": counts is not None, "samples": counts}
    write_json(root / INFO_FILE, info)


def shard_path(root: Path, index: int) -> Path:
    return root / WORK_DIR / "chunks" / f"{index:07d}.jsonl"


_WORKER: tuple[ChunkFn, object, Path] | None = None


def _init_worker(fn: ChunkFn, context: object, root: Path) -> None:
    global _WORKER
    _WORKER = (fn, context, root)


def _run_chunk(index: int) -> tuple[int, int]:
    fn, context, root = _WORKER
    result = fn(context, index)
    atomic_write(shard_path(root, index), result.encode())
    return index, result.records


def run_chunks(
    root: Path,
    fn: ChunkFn,
    context: object,
    chunks: int,
    workers: int = 1,
    progress: bool = True,
    desc: str = "import",
    unit: str = "chunk",
    chunk_sizes: Callable[[int], int] | None = None,
) -> None:
    """Run fn(context, i) for every chunk i without a shard, in `workers` processes, writing shards.

    fn and context must be picklable (module-level function, plain data). chunk_sizes(i) gives the
    progress-bar weight of chunk i (records); 1 per chunk by default.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    weight = chunk_sizes or (lambda i: 1)
    pending = [i for i in range(chunks) if not shard_path(root, i).is_file()]
    done = sum(weight(i) for i in range(chunks)) - sum(weight(i) for i in pending)
    with tqdm(total=done + sum(weight(i) for i in pending), initial=done, unit=unit, desc=desc,
              disable=not progress) as bar:
        if workers == 1 or len(pending) <= 1:
            _init_worker(fn, context, root)
            _drain(map(_run_chunk, pending), bar, weight)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(min(workers, len(pending)), _init_worker, (fn, context, root)) as pool:
                _drain(pool.imap_unordered(_run_chunk, pending), bar, weight)


def _drain(results: Iterable[tuple[int, int]], bar: tqdm, weight) -> None:
    for index, _ in results:
        bar.update(weight(index))


def finish(root: Path, chunks: int, generator: str, settings: dict, extra: dict | None = None,
           report_extra: dict | None = None) -> tuple[dict[str, int], dict]:
    """Concatenate the shards (in chunk order) into the split manifests, write import_report.json and a
    complete dataset.json. Returns (samples per split, report)."""
    tmp = {split: manifest_path(root, split).with_name(f".{split}.jsonl.tmp{os.getpid()}") for split in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    skips: Counter = Counter()
    examples: dict[str, str] = {}
    records = 0
    files = {split: open(path, "w", encoding="utf-8") for split, path in tmp.items()}
    try:
        for index in range(chunks):
            with open(shard_path(root, index), encoding="utf-8") as shard:
                header = json.loads(shard.readline())
                records += header["records"]
                skips.update(header["skips"])
                for reason, text in header["examples"].items():
                    examples.setdefault(reason, text)
                for line in shard:
                    split, _, record = line.partition("\t")
                    files[split].write(record)
                    counts[split] += 1
    finally:
        for f in files.values():
            f.close()
    for split, path in tmp.items():
        os.replace(path, manifest_path(root, split))
    report = {"generator": generator, "records": records, "samples": counts,
              "skipped": dict(sorted(skips.items())), "skipped_total": sum(skips.values()),
              "examples": dict(sorted(examples.items())), **(report_extra or {})}
    write_json(root / REPORT_FILE, report)
    write_info(root, generator, settings, counts, extra)
    return counts, report


def format_report(report: dict) -> str:
    """Short text of an import report: samples per split, then skips per reason."""
    lines = [f"{report['records']} records read; samples: "
             + ", ".join(f"{k} {v}" for k, v in report["samples"].items())]
    if report["skipped"]:
        lines.append(f"skipped {report['skipped_total']}:")
        lines += [f"  {reason}: {count} (e.g. {report['examples'].get(reason, '')})"
                  for reason, count in report["skipped"].items()]
    return "\n".join(lines)


# ---- reading frames (colour, depth, pose, intrinsics) in the layouts of docs/dataset-format.md ----

DEPTH_MEDIAN_M = (0.1, 20.0)  # plausible median depth of an indoor frame, metres
MAX_TRANSLATION_M = 1000.0  # a camera farther than this from the origin means a unit mix-up


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 of an image file; Skip('unreadable_image') when it cannot be decoded."""
    try:
        return np.asarray(open_rgb(path))
    except (OSError, ValueError, SyntaxError) as err:
        raise Skip("unreadable_image", f"{path}: {err}") from None


def read_depth_m(path: Path) -> tuple[np.ndarray, str]:
    """Depth map in metres (H, W) float32 and the unit the file was found in ('mm' or 'm').

    16-bit PNG (or integer .npy): millimetres. Float (.npy, 32-bit TIFF): metres, or millimetres when
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
        if raw.dtype.itemsize < 2 or not lo <= median / 1000 <= hi:
            raise ValueError(f"depth file {path}: integer depth ({raw.dtype}) is read as millimetres, but its "
                             f"median valid value {median:g} gives {median / 1000:g} m, outside the expected "
                             f"{lo}-{hi} m; expected a 16-bit PNG in millimetres")
        unit, scale = "mm", 1e-3
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


def read_intrinsics(path: Path) -> np.ndarray:
    """K (3, 3) from a 3x3 or 4x4 intrinsics text file."""
    K = read_matrix(path, "intrinsics")[:3, :3]
    if not (np.all(np.isfinite(K)) and K[0, 0] > 0 and K[1, 1] > 0):
        raise ValueError(f"intrinsics file {path}: not a pinhole matrix with positive focal lengths: {K.tolist()}")
    return K


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
