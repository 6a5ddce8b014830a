"""PaStA supervision of a dataset split: the overlap matrices S of every view pair of every sample.

A sample with V views has the pairs (i, j), i < j, in the order of `all_pairs`; its S is
(P, n², n²) float32 with S[k] = S(view i, view j) of docs/pasta.md ("The objective", 1-4), computed from the depth maps,
K and c2w with `symmetric_overlaps`. Samples of one scene share views, so identical pairs are computed
once. The result is cached in `<cache_dir>/pasta-supervision-<split>-<key>.npz`, written atomically; the
key hashes the split's manifest, the grid, the tolerances and the samples left out for their files (depth
files are taken to be immutable).

Bad samples are recorded with the reason: those whose image or depth files fail the check of
data/badfiles.py (run on every load, not cached, so a repaired file counts again), and those without
usable geometry (no depth maps or poses, fewer than two views, or no overlap between any pair of views —
which would give a silent zero loss; cached). The caller turns them into an error naming the sample, or a
counted skip (`check_bad`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hatchvl.data.badfiles import BadSample, BadSampleError, bad_sample_error, find_bad_samples
from hatchvl.data.format import Sample, load_depth, manifest_path, read_manifest, resolve
from hatchvl.geometry.camera import scale_intrinsics
from hatchvl.geometry.motion import all_pairs
from hatchvl.geometry.overlap import GeoView, sample_overlaps
from hatchvl.io import atomic_write, read_json

CACHE_VERSION = 2
_CHUNK = 256  # pairs per call of symmetric_overlaps


@dataclass(frozen=True)
class Supervision:
    """The S of every good sample of a split, and the bad samples with the reason.

    overlaps[sample id] is (P, n², n²) float32, P = V(V-1)/2 pairs in `all_pairs` order. bad: sample id ->
    why its geometry is unusable; bad_files: the samples left out for their files (data/badfiles.py).
    """

    overlaps: dict[str, np.ndarray]
    bad: dict[str, str]
    grid: int
    cache_file: Path | None = None
    from_cache: bool = False
    bad_files: tuple[BadSample, ...] = ()
    root: str = ""
    split: str = ""

    def all_bad(self) -> list[BadSample]:
        """Every bad sample: those left out for their files, then those without usable geometry."""
        return [*self.bad_files, *(BadSample(self.split, sid, "", reason) for sid, reason in self.bad.items())]


def supervision_key(root: str | Path, split: str, grid: int, tol_abs: float, tol_rel: float,
                    left_out: Sequence[str] = ()) -> str:
    """Hash of what S depends on: the split's manifest bytes, grid, tolerances and the ids of the samples
    left out for their files."""
    manifest = hashlib.sha256(manifest_path(root, split).read_bytes()).hexdigest()
    record = {"version": CACHE_VERSION, "manifest": manifest, "grid": grid, "tol_abs": tol_abs, "tol_rel": tol_rel,
              "left_out": sorted(left_out)}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def load_supervision(
    root: str | Path,
    split: str,
    grid: int = 4,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
    cache_dir: str | Path | None = None,
) -> tuple[list[Sample], Supervision]:
    """The split's samples and their supervision, from the cache in cache_dir when it matches, else
    computed (and cached when cache_dir is given). Samples whose files fail the check are left out of S."""
    samples = read_manifest(root, split, check_files=False)
    bad_files = find_bad_samples(root, split, samples, depths=True)
    left_out = {b.id for b in bad_files}
    where = {"bad_files": tuple(bad_files), "root": str(root), "split": split}
    cache_file = None
    if cache_dir is not None:
        key = supervision_key(root, split, grid, tol_abs, tol_rel, left_out)
        cache_file = Path(cache_dir) / f"pasta-supervision-{split}-{key}.npz"
        if cache_file.is_file():
            return samples, dataclasses.replace(_read_cache(cache_file, grid), **where)
    sup = compute_supervision(root, [s for s in samples if s.id not in left_out], grid, tol_abs, tol_rel)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        _write_cache(cache_file, sup)
    return samples, dataclasses.replace(sup, cache_file=cache_file, **where)


def compute_supervision(
    root: str | Path, samples: Sequence[Sample], grid: int = 4, tol_abs: float = 0.02, tol_rel: float = 0.05
) -> Supervision:
    """S of every pair of every sample (see the module docstring); bad samples are recorded, not raised.
    Overlaps an importer stored with the dataset (same grid and tolerances) are read, not recomputed."""
    stored = stored_overlaps(root, samples, grid, tol_abs, tol_rel)
    views, bad, depths = {}, {}, {}
    for sample in samples:
        if sample.id in stored:
            continue
        try:
            views[sample.id] = _sample_views(root, sample, depths)
        except BadSampleError as err:
            bad[sample.id] = str(err)
    # equal view keys (what S depends on) let samples of one scene share their pairs' S
    values = sample_overlaps(list(views.values()), grid, tol_abs, tol_rel, batch=_CHUNK)
    found = dict(zip(views, values, strict=True)) | stored
    overlaps = {}
    for sid, s in found.items():
        if not s.any():
            bad[sid] = ("no pair of its views overlaps (S is zero for all pairs: empty depth maps, or poses that "
                        "do not match the views?)")
        else:
            overlaps[sid] = s
    return Supervision(overlaps, bad, grid)


def stored_overlaps(root: str | Path, samples: Sequence[Sample], grid: int, tol_abs: float,
                    tol_rel: float) -> dict[str, np.ndarray]:
    """The S an importer stored with the dataset (`overlaps/<scene_id>/<id>.npy`, described under
    `overlaps` in dataset.json), for the samples that have one, when its grid and tolerances match."""
    info_file = Path(root) / "dataset.json"
    info = (read_json(info_file) or {}).get("overlaps")
    if not info or (info.get("grid"), info.get("tol_abs"), info.get("tol_rel")) != (grid, tol_abs, tol_rel):
        return {}
    found = {}
    for sample in samples:
        path = Path(root) / "overlaps" / sample.scene_id / f"{sample.id}.npy"
        if path.is_file():
            s = np.load(path, allow_pickle=False)
            pairs = len(all_pairs(sample.num_views))
            if s.shape != (pairs, grid * grid, grid * grid):
                raise ValueError(f"{path}: stored overlaps of sample {sample.id!r} have shape {s.shape}, expected "
                                 f"({pairs}, {grid * grid}, {grid * grid})")
            found[sample.id] = s.astype(np.float32, copy=False)
    return found


def _sample_views(root, sample: Sample, depths: dict[str, np.ndarray]) -> list[GeoView]:
    """The views of a sample with K at depth resolution; loads its depth maps into `depths` (shared
    between samples). Raises BadSampleError with the reason."""
    if sample.depths is None or sample.K is None or sample.c2w is None:
        raise BadSampleError("has no depth maps or camera poses; PaStA needs depths, K and c2w for every view")
    if sample.num_views < 2:
        raise BadSampleError(f"has {sample.num_views} view; PaStA needs at least two")
    views = []
    for image, depth, K, c2w in zip(sample.images, sample.depths, sample.K, sample.c2w, strict=True):
        try:
            if depth not in depths:
                depths[depth] = load_depth(root, depth)
            with Image.open(resolve(root, image)) as im:
                image_hw = (im.height, im.width)
        except (OSError, ValueError, EOFError) as err:  # files the check passed but numpy or PIL refuse
            raise BadSampleError(f"cannot read its views: {err}") from None
        depth_hw = depths[depth].shape
        # K is stored for the image; rescale it when the depth map has another resolution
        K_depth = K if image_hw == depth_hw else scale_intrinsics(K, image_hw, depth_hw)
        views.append(GeoView((depth, K_depth.tobytes(), c2w.tobytes()), depths[depth], K_depth, c2w))
    return views


def _write_cache(path: Path, sup: Supervision) -> None:
    ids = list(sup.overlaps)
    counts = [len(sup.overlaps[i]) for i in ids]
    n2 = sup.grid * sup.grid
    stacked = np.concatenate([sup.overlaps[i] for i in ids]) if ids else np.zeros((0, n2, n2), np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, ids=np.array(ids, dtype=str), counts=np.array(counts, dtype=np.int64), S=stacked,
             bad_ids=np.array(list(sup.bad), dtype=str), bad_reasons=np.array(list(sup.bad.values()), dtype=str),
             grid=np.int64(sup.grid))
    atomic_write(path, buffer.getvalue())


def _read_cache(path: Path, grid: int) -> Supervision:
    with np.load(path, allow_pickle=False) as f:
        if int(f["grid"]) != grid:
            raise ValueError(f"{path}: cache holds grid {int(f['grid'])}, expected {grid}; delete it")
        S, counts = f["S"], f["counts"]
        ends = np.cumsum(counts)
        overlaps = {str(i): S[e - c:e] for i, c, e in zip(f["ids"], counts, ends, strict=True)}
        bad = dict(zip(f["bad_ids"].tolist(), f["bad_reasons"].tolist(), strict=True))
    return Supervision(overlaps, bad, grid, path, from_cache=True)


def check_bad(sup: Supervision, skip_bad: bool, what: str = "PaStA") -> list[BadSample]:
    """Raise BadSampleError for the first bad sample (Supervision.all_bad) unless skip_bad; return them all."""
    bad = sup.all_bad()
    if bad and not skip_bad:
        raise bad_sample_error(f"{what}: {sup.root}", bad)
    return bad
