"""The PaStA probe (docs/pasta.md, "The probe"): cross-view cell retrieval on held-out view pairs.

For a pair (X, Y) with overlap S and cell features e, every cell i of X with max_j S[i, j] > 0 is a
query; retrieval is correct when argmax_j cos(e^X_i, e^Y_j) = argmax_j S[i, j]. The same with Sᵀ from Y
to X. Reported beside the top-1 accuracy: chance (1/n²) and two trivial guesses that features encoding
only position or only colour reach —

    same position:  j = i
    colour only:    the cell j of Y whose mean RGB is nearest (Euclidean) to cell i's mean RGB.

Held-out pairs are the view pairs (i < j) of every sample of a split, each distinct pair of image files
counted once. `score_pairs` is the pure scoring; `build_probe_set` + `run_probe` run a model over a split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, ProcessorMixin

from hatchvl.data.badfiles import DECODE_ERRORS, bad_sample_error, decode_error
from hatchvl.data.format import resolve
from hatchvl.data.supervision import load_supervision
from hatchvl.geometry.camera import cell_of_pixels
from hatchvl.geometry.motion import all_pairs
from hatchvl.io import open_rgb
from hatchvl.objectives.pasta import cell_features, cosine_similarity_matrix

DIRECTIONS = ("x_to_y", "y_to_x")


@dataclass
class ProbeCounts:
    """Counts of one direction: query cells, and how many each method retrieves correctly."""

    cells: int = 0
    correct: int = 0
    same_position: int = 0
    colour: int = 0

    def __iadd__(self, other: ProbeCounts) -> ProbeCounts:
        for name in ("cells", "correct", "same_position", "colour"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def rates(self) -> dict[str, float]:
        n = max(self.cells, 1)
        return {"top1": self.correct / n, "same_position": self.same_position / n, "colour": self.colour / n}


@dataclass
class ProbeResult:
    """Accuracies over both directions (and per direction), chance, and what was counted."""

    grid: int
    pairs: int
    cells: int
    top1: float
    same_position: float
    colour: float
    chance: float
    directions: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped_samples: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def score_direction(
    feat_x: torch.Tensor, feat_y: torch.Tensor, S: torch.Tensor, colour_x: torch.Tensor, colour_y: torch.Tensor
) -> ProbeCounts:
    """Retrieval from X to Y for P pairs.

    Args:
        feat_x: (P, N, D), feat_y: (P, M, D) cell features.
        S: (P, N, M) overlaps; rows with max 0 are not queries.
        colour_x: (P, N, 3), colour_y: (P, M, 3) mean RGB of each cell.
    """
    query = S.amax(-1) > 0
    target = S.argmax(-1)
    predicted = cosine_similarity_matrix(feat_x.float(), feat_y.float()).argmax(-1)
    by_colour = torch.cdist(colour_x.double(), colour_y.double()).argmin(-1)
    same = torch.arange(S.shape[1], device=S.device).expand_as(target)
    return ProbeCounts(
        cells=int(query.sum()),
        correct=int((query & (predicted == target)).sum()),
        same_position=int((query & (same == target)).sum()),
        colour=int((query & (by_colour == target)).sum()),
    )


def score_pairs(
    feat_x: torch.Tensor, feat_y: torch.Tensor, S: torch.Tensor, colour_x: torch.Tensor, colour_y: torch.Tensor
) -> dict[str, ProbeCounts]:
    """Both directions of P pairs: X→Y with S, Y→X with Sᵀ. Shapes as `score_direction` with N = M = n²."""
    S, colour_x, colour_y = (torch.as_tensor(a) for a in (S, colour_x, colour_y))
    if not (feat_x.shape[:2] == feat_y.shape[:2] == S.shape[:2] == colour_x.shape[:2] == colour_y.shape[:2]):
        raise ValueError(f"feat_x {tuple(feat_x.shape)}, feat_y {tuple(feat_y.shape)}, S {tuple(S.shape)}, "
                         f"colour_x {tuple(colour_x.shape)}, colour_y {tuple(colour_y.shape)} must agree in (P, n²)")
    return {
        "x_to_y": score_direction(feat_x, feat_y, S, colour_x, colour_y),
        "y_to_x": score_direction(feat_y, feat_x, S.transpose(-1, -2), colour_y, colour_x),
    }


def summarize(counts: dict[str, ProbeCounts], grid: int, pairs: int, skipped: int = 0) -> ProbeResult:
    total = ProbeCounts()
    for c in counts.values():
        total += c
    return ProbeResult(grid=grid, pairs=pairs, cells=total.cells, chance=1 / grid**2, **total.rates(),
                       directions={k: {**c.rates(), "cells": c.cells} for k, c in counts.items()},
                       skipped_samples=skipped)


def cell_colours(rgb: np.ndarray, grid: int) -> np.ndarray:
    """Mean RGB of each PaStA cell: (H, W, 3) uint8 -> (n², 3) float64, cells row-major."""
    height, width = rgb.shape[:2]
    rows, cols = cell_of_pixels(height, width, grid)
    cell = (rows[:, None] * grid + cols[None, :]).ravel()
    pixels = np.bincount(cell, minlength=grid * grid)
    flat = rgb.reshape(-1, 3).astype(np.float64)
    sums = np.stack([np.bincount(cell, weights=flat[:, c], minlength=grid * grid) for c in range(3)], -1)
    return sums / pixels[:, None]


@dataclass(frozen=True, eq=False)
class ProbeSet:
    """Held-out pairs ready to score: images (absolute paths, each once), colours (I, n², 3),
    pair_x / pair_y (P,) indices into images, S (P, n², n²)."""

    grid: int
    images: list[str]
    colours: np.ndarray
    pair_x: np.ndarray
    pair_y: np.ndarray
    S: np.ndarray
    skipped_samples: int = 0


def build_probe_set(
    data: str | Path,
    split: str = "test",
    grid: int = 4,
    limit: int | None = None,
    tol_abs: float = 0.02,
    tol_rel: float = 0.05,
    cache_dir: str | Path | None = None,
    skip_bad: bool = False,
) -> ProbeSet:
    """The distinct view pairs of a split's samples (at most `limit`, in manifest order) with their S and
    cell colours. Samples without geometry are skipped and counted; so are samples whose files cannot be
    decoded (data/badfiles.py) with skip_bad, else they raise BadSampleError naming the split, sample and file."""
    samples, sup = load_supervision(data, split, grid, tol_abs, tol_rel, cache_dir)
    if sup.bad_files and not skip_bad:
        raise bad_sample_error(f"probe: {data}", sup.bad_files)
    images: dict[str, int] = {}
    owners: dict[str, str] = {}  # image path -> the first sample that shows it
    seen, pair_x, pair_y, S = set(), [], [], []
    for sample in samples:
        if sample.id not in sup.overlaps:
            continue
        paths = [str(resolve(data, p)) for p in sample.images]
        owners |= {p: sample.id for p in paths if p not in owners}
        for k, (i, j) in enumerate(all_pairs(len(paths))):
            if (paths[i], paths[j]) in seen or (limit is not None and len(S) >= limit):
                continue
            seen.add((paths[i], paths[j]))
            pair_x.append(images.setdefault(paths[i], len(images)))
            pair_y.append(images.setdefault(paths[j], len(images)))
            S.append(sup.overlaps[sample.id][k])
    if not S:
        raise ValueError(f"split {split!r} of {data} has no view pairs with geometry to probe")
    colours = np.stack([cell_colours(np.asarray(_decode(p, split, owners[p])), grid) for p in images])
    return ProbeSet(grid, list(images), colours, np.array(pair_x), np.array(pair_y), np.stack(S),
                    skipped_samples=len(sup.all_bad()))


def _decode(path: str, split: str, sample_id: str):
    try:
        return open_rgb(path)
    except DECODE_ERRORS as err:
        raise decode_error(split, sample_id, path, err) from None


@torch.no_grad()
def probe_features(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    images: list[str],
    grid: int,
    before_merger: bool = False,
    batch_images: int = 64,
) -> torch.Tensor:
    """(I, n², D) float32 cell features of image files, the model in eval mode (restored afterwards)."""
    image_processor = getattr(processor, "image_processor", processor)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        out = []
        for start in range(0, len(images), batch_images):
            batch = image_processor(images=[open_rgb(p) for p in images[start:start + batch_images]],
                                    return_tensors="pt")
            cells = cell_features(model, batch["pixel_values"].to(device), batch["image_grid_thw"].to(device),
                                  grid, before_merger)
            out.append(cells.float().cpu())
        return torch.cat(out)
    finally:
        model.train(was_training)


def run_probe(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    probe_set: ProbeSet,
    before_merger: bool = False,
    batch_images: int = 64,
) -> ProbeResult:
    """Score a model's cell features on a probe set."""
    feats = probe_features(model, processor, probe_set.images, probe_set.grid, before_merger, batch_images)
    px, py = torch.as_tensor(probe_set.pair_x), torch.as_tensor(probe_set.pair_y)
    colours = torch.as_tensor(probe_set.colours)
    counts = score_pairs(feats[px], feats[py], torch.as_tensor(probe_set.S), colours[px], colours[py])
    return summarize(counts, probe_set.grid, len(px), probe_set.skipped_samples)


def probe_checkpoint(
    model: str | Path,
    data: str | Path,
    split: str = "test",
    grid: int = 4,
    limit: int | None = None,
    before_merger: bool = False,
    dtype: str = "float32",
    skip_bad: bool = False,
) -> ProbeResult:
    """Load a checkpoint (`load_model_and_processor`) and probe it on a split."""
    from hatchvl.models.loading import load_model_and_processor

    probe_set = build_probe_set(data, split, grid, limit, skip_bad=skip_bad)
    loaded, processor = load_model_and_processor(model, dtype=dtype)
    return run_probe(loaded, processor, probe_set, before_merger)


def format_table(result: ProbeResult) -> str:
    """A small text table: one row per method, columns both directions, X→Y, Y→X."""
    d = result.directions
    rows = [("probe top-1", "top1"), ("same position", "same_position"), ("colour only", "colour")]
    lines = [f"{'method':<15} {'both':>7} {'X->Y':>7} {'Y->X':>7}"]
    for label, key in rows:
        lines.append(f"{label:<15} {getattr(result, key):>7.3f} {d['x_to_y'][key]:>7.3f} {d['y_to_x'][key]:>7.3f}")
    lines.append(f"{'chance':<15} {result.chance:>7.3f}")
    lines.append(f"{result.pairs} pairs, {result.cells} query cells, grid {result.grid}x{result.grid}"
                 + (f", {result.skipped_samples} bad samples skipped" if result.skipped_samples else ""))
    return "\n".join(lines)
