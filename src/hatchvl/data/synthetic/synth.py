"""Build the built-in synthetic dataset (`hatchvl data synth`): resumable, parallel over scenes.

Scene i draws all its randomness from SeedSequence(seed, spawn_key=(0, i)), so its files depend only on
(config, i), never on which process made it or when. Scenes are the chunks of the shared runner
(`hatchvl.data.chunks`), which checks the output folder and runs them in parallel. A scene is built in
`scenes/<id>.partial/` and committed by renaming that directory to `scenes/<id>/` (atomic); a re-run
skips committed scenes, deletes partial ones and rebuilds them, then writes the split manifests. An
interrupted and re-run build is therefore byte-identical to an uninterrupted one.

Per scene: a room, a pool of candidate cameras rendered once, the symmetric PaStA overlap S of every
pool pair, and samples whose 2-4 views all overlap pairwise with a *mass* S.sum() / n² (the mean row
sum of S: about the mean of the fraction of X's pixels seen in Y and of Y's seen in X) inside the
configured range.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import prepare_output, run_pool, write_info
from hatchvl.data.format import SPLITS, Sample, encode_sample, manifest_path, npy_bytes, png_bytes
from hatchvl.data.synthetic.captions import caption
from hatchvl.data.synthetic.questions import CATEGORIES, Question, draw_markers, make_question
from hatchvl.data.synthetic.render import Photometric, Render, render
from hatchvl.data.synthetic.scene import Scene, make_scene, sample_cameras, scene_to_json
from hatchvl.geometry.actions_text import PairActions
from hatchvl.geometry.camera import intrinsics_from_fov
from hatchvl.geometry.motion import actions_from_poses, all_pairs
from hatchvl.geometry.overlap import symmetric_overlaps
from hatchvl.io import atomic_write

GENERATOR = "hatchvl data synth"
UP_INFO = {"up": [0.0, 0.0, 1.0], "up_note": "world up is +z in every synthetic scene"}
MIN_CELL_PIXELS = 8
POOL_ATTEMPTS = 5  # fresh camera pools tried before a scene gives up
SUBSET_TRIES = 8  # view subsets tried per question before moving to the next category


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines the dataset's content (workers do not)."""

    scenes: int
    seed: int = 0
    views: tuple[int, int] = (2, 4)  # min and max views per sample
    size: int = 224  # square images, pixels
    samples_per_scene: int = 10
    overlap: tuple[float, float] = (0.1, 0.7)  # allowed overlap mass of every view pair of a sample
    grid: int = 4  # PaStA grid n used for the overlap mass
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train, val, test fractions of the scenes
    pool: int = 12  # candidate cameras rendered per scene
    fov_deg: float = 75.0  # horizontal field of view

    def __post_init__(self) -> None:
        checks = [
            (self.scenes >= 1, f"scenes must be >= 1, got {self.scenes}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (2 <= self.views[0] <= self.views[1], f"views must be a range lo-hi with 2 <= lo <= hi, got {self.views}"),
            (self.pool >= self.views[1], f"pool ({self.pool}) must be at least the most views ({self.views[1]})"),
            (self.grid >= 1, f"grid must be >= 1, got {self.grid}"),
            (self.size >= MIN_CELL_PIXELS * self.grid,
             f"size {self.size} is too small for a {self.grid}x{self.grid} grid: need at least "
             f"{MIN_CELL_PIXELS * self.grid} pixels ({MIN_CELL_PIXELS} per cell)"),
            (self.samples_per_scene >= 1, f"samples_per_scene must be >= 1, got {self.samples_per_scene}"),
            (0 <= self.overlap[0] < self.overlap[1] <= 1,
             f"overlap must be lo-hi with 0 <= lo < hi <= 1, got {self.overlap}"),
            (len(self.split) == 3 and min(self.split) >= 0 and self.split[0] > 0 and abs(sum(self.split) - 1) < 1e-9,
             f"split must be three fractions (train, val, test) >= 0 summing to 1 with train > 0, got {self.split}"),
            (0 < self.fov_deg < 150, f"fov_deg must be in (0, 150), got {self.fov_deg}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def scene_id(index: int) -> str:
    return f"scene{index:05d}"


def scene_splits(config: SynthConfig) -> list[str]:
    """Split of every scene: a seeded permutation puts round(N * val) scenes in val, round(N * test) in
    test and the rest in train, so no scene is in two splits."""
    n = config.scenes
    n_val, n_test = (int(np.floor(n * f + 0.5)) for f in config.split[1:])
    n_val, n_test = min(n_val, n - 1), min(n_test, max(0, n - 1 - n_val))
    order = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1,))).permutation(n)
    splits = ["train"] * n
    for rank, index in enumerate(order):
        if rank < n_val:
            splits[index] = "val"
        elif rank < n_val + n_test:
            splits[index] = "test"
    return splits


def overlap_masses(views: list[Render], grid: int) -> np.ndarray:
    """(P, P) symmetric matrix of the overlap mass S.sum() / n² of every pair of views."""
    pairs = list(itertools.combinations(range(len(views)), 2))
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    depth, K, c2w = (np.stack([getattr(v, f) for v in views]) for f in ("depth", "K", "c2w"))
    s = symmetric_overlaps(depth[a], K[a], c2w[a], depth[b], K[b], c2w[b], grid=grid)
    mass = np.zeros((len(views), len(views)))
    mass[a, b] = mass[b, a] = s.sum(axis=(1, 2)) / grid**2
    return mass


def overlapping_subsets(mass: np.ndarray, sizes, lo: float, hi: float) -> dict[int, list[tuple[int, ...]]]:
    """For each size, every subset of views (sorted indices) whose pairs all have lo <= mass <= hi."""
    ok = (mass >= lo) & (mass <= hi)
    return {
        k: [c for c in itertools.combinations(range(len(mass)), k)
            if all(ok[i, j] for i, j in itertools.combinations(c, 2))]
        for k in sizes
    }


@dataclass(frozen=True, eq=False)
class SceneBuild:
    """A built scene in memory: the used pool views and each sample with its question and view indices."""

    scene: Scene
    views: dict[int, Render]
    samples: list[tuple[int, tuple[int, ...], Question]]  # (sample number, pool indices, question)


def build_scene(config: SynthConfig, index: int) -> SceneBuild:
    """Scene `index` of the dataset, a pure function of (config, index)."""
    streams = np.random.SeedSequence(config.seed, spawn_key=(0, index)).spawn(4)
    rng_scene, rng_cameras, rng_photo, rng_questions = (np.random.default_rng(s) for s in streams)
    scene = make_scene(rng_scene)
    K = intrinsics_from_fov(config.size, config.size, config.fov_deg)
    sizes = range(config.views[0], config.views[1] + 1)
    for _ in range(POOL_ATTEMPTS):
        poses = sample_cameras(scene, rng_cameras, config.pool)
        pool = [render(scene, K, c2w, config.size, config.size, Photometric.sample(rng_photo)) for c2w in poses]
        subsets = overlapping_subsets(overlap_masses(pool, config.grid), sizes, *config.overlap)
        if any(subsets.values()):
            break
    else:
        raise RuntimeError(f"{scene_id(index)}: no views with overlap in {config.overlap} after "
                           f"{POOL_ATTEMPTS} camera pools; widen the overlap range")
    sizes = [k for k in sizes if subsets[k]]
    order = rng_questions.permutation(len(CATEGORIES))
    samples = []
    for number in range(config.samples_per_scene):
        picked = _sample_question(scene, pool, subsets, sizes, order, number, rng_questions)
        if picked is not None:
            samples.append((number, *picked))
    used = sorted({p for _, subset, _ in samples for p in subset})
    return SceneBuild(scene, {p: pool[p] for p in used}, samples)


def _sample_question(scene, pool, subsets, sizes, order, number, rng):
    """(subset, question) for sample `number`: categories in a per-scene rotation, falling through to
    the next category when SUBSET_TRIES random subsets do not allow one."""
    for shift in range(len(CATEGORIES)):
        category = CATEGORIES[order[(number + shift) % len(CATEGORIES)]]
        for _ in range(SUBSET_TRIES):
            candidates = subsets[sizes[rng.integers(len(sizes))]]
            subset = candidates[rng.integers(len(candidates))]
            question = make_question(category, scene, [pool[p] for p in subset], rng)
            if question is not None:
                return subset, question
    return None


def _records(build: SceneBuild, sid: str) -> tuple[list[Sample], dict[str, np.ndarray]]:
    """Manifest records of a built scene, and the marked images they need (file name -> rgb)."""
    up = np.asarray(build.scene.up, dtype=np.float64)
    records, marked = [], {}
    for number, subset, q in build.samples:
        images = [f"scenes/{sid}/view{p:02d}.png" for p in subset]
        for m in sorted({m.image for m in q.markers}):
            name = f"q{number:02d}_image{m}.png"
            marked[name] = draw_markers(build.views[subset[m]].rgb, [x for x in q.markers if x.image == m])
            images[m] = f"scenes/{sid}/{name}"
        c2w = np.stack([build.views[p].c2w for p in subset])
        actions = tuple(PairActions(a, b, tuple(actions_from_poses(c2w[a], c2w[b], up)))
                        for a, b in all_pairs(len(subset)))
        records.append(Sample(
            id=f"{sid}-{number:02d}", scene_id=sid, category=q.category, question=q.text, options=q.options,
            answer=q.answer, answer_type=q.answer_type, images=tuple(images),
            depths=tuple(f"scenes/{sid}/view{p:02d}_depth.npy" for p in subset),
            K=np.stack([build.views[p].K for p in subset]), c2w=c2w, up=up, actions=actions, markers=q.markers,
            captions=tuple(caption(build.scene, build.views[p]) for p in subset),
        ))
    return records, marked


def write_scene(root: Path, config: SynthConfig, index: int) -> int:
    """Build scene `index` into scenes/<id>.partial/ and commit it by renaming; returns index."""
    sid = scene_id(index)
    final = root / "scenes" / sid
    partial = final.with_name(sid + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    build = build_scene(config, index)
    records, marked = _records(build, sid)
    (partial / "scene.json").write_text(json.dumps(scene_to_json(build.scene)) + "\n")
    for p, view in build.views.items():
        (partial / f"view{p:02d}.png").write_bytes(png_bytes(view.rgb))
        (partial / f"view{p:02d}_depth.npy").write_bytes(npy_bytes(view.depth))
    for name, rgb in marked.items():
        (partial / name).write_bytes(png_bytes(rgb))
    (partial / "samples.jsonl").write_text("".join(encode_sample(r) + "\n" for r in records), encoding="utf-8")
    partial.rename(final)
    return index


def _write_scene_chunk(job: tuple[Path, SynthConfig], index: int) -> int:
    return write_scene(*job, index)


def synthesize(
    root: str | Path,
    config: SynthConfig,
    workers: int = 1,
    progress: bool = False,
    on_scene_done: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Build (or finish) the dataset at root; returns the number of samples per split.

    workers > 1 builds scenes in that many processes; the output does not depend on it.
    on_scene_done(index) is called in this process after each scene is committed.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    root = Path(root)
    settings = asdict(config)
    prepare_output(root, GENERATOR, settings, UP_INFO)
    (root / "scenes").mkdir(exist_ok=True)
    for stale in (root / "scenes").glob("*.partial"):
        shutil.rmtree(stale)
    pending = [i for i in range(config.scenes) if not (root / "scenes" / scene_id(i)).is_dir()]
    run_pool(_write_scene_chunk, (root, config), config.scenes, pending, workers, progress, desc="synth",
             unit="scene", on_done=on_scene_done)
    counts = {}
    splits = scene_splits(config)
    for split in SPLITS:
        lines = [(root / "scenes" / scene_id(i) / "samples.jsonl").read_bytes()
                 for i in range(config.scenes) if splits[i] == split]
        atomic_write(manifest_path(root, split), b"".join(lines))
        counts[split] = sum(chunk.count(b"\n") for chunk in lines)
    write_info(root, GENERATOR, settings, counts, UP_INFO)
    return counts
