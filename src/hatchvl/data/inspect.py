"""`hatchvl data inspect`: what a dataset in the hatchvl format holds, and whether its geometry is sound
(docs/dataset-format.md, "Inspecting a dataset").

Per split: samples by category, by answer type and by number of views. Every view of the checked samples:
its files exist, its pose is rigid (`check_pose`), its K fits its image (`intrinsics_misfit`, the
importers' own check) and its depth map is an (H, W) float32 map of the image's size. Problems are counted
per kind and view, with the first few sample ids and views named. Unlike `read_manifest`, which stops at
the first bad line, every line is read: a view whose pose or K is broken is reported and its sample
counted without geometry. Then the PaStA overlap mass (S.sum() / n², as `data synth` and the importers
select views by) of a seeded sample of view pairs, from the overlaps stored with the dataset where they
match, else computed; and a contact sheet PNG of a few samples with their listed markers ringed.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from hatchvl.data.badfiles import DECODE_ERRORS, depth_header, image_problem
from hatchvl.data.chunks import INFO_FILE, REPORT_FILE
from hatchvl.data.format import SPLITS, Sample, load_depth, manifest_path, resolve, sample_from_json
from hatchvl.data.importers.frames import intrinsics_misfit
from hatchvl.data.supervision import stored_overlaps
from hatchvl.geometry.camera import check_intrinsics, check_pose
from hatchvl.geometry.motion import all_pairs
from hatchvl.geometry.overlap import GeoView, sample_overlaps
from hatchvl.io import read_json

PROBLEMS = {  # kind -> what the report calls it
    "record": "manifest lines that do not validate",
    "files": "views with a missing or unreadable file",
    "pose": "poses that are not rigid (or not finite)",
    "intrinsics": "intrinsics that do not fit their image",
    "depth": "depth maps that are not float32 at their image's size",
}
EXAMPLES = 5  # offending sample ids / views named per kind of problem
TOL_ABS, TOL_REL = 0.02, 0.05  # PaStA tolerances (as the importers and training use by default)
SHEET_CELL_IN, SHEET_DPI, SHEET_TEXT_CELLS = 2.5, 80, 2  # contact sheet: cell inches, dots per inch, text width


@dataclass
class Problems:
    """Views (or lines) with one kind of problem: how many, in how many samples, and the first few."""

    views: int = 0
    samples: set = field(default_factory=set)
    examples: list[str] = field(default_factory=list)

    def add(self, sample_id: str, text: str) -> None:
        self.views += 1
        self.samples.add(sample_id)
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)


@dataclass
class SplitSummary:
    split: str
    total: int  # lines in the manifest
    checked: int = 0
    categories: Counter = field(default_factory=Counter)
    answer_types: Counter = field(default_factory=Counter)
    views: Counter = field(default_factory=Counter)


@dataclass
class Inspection:
    """What `inspect_dataset` found. masses: (sample id, i, j, mass) of the measured pairs."""

    root: Path
    splits: list[SplitSummary]
    views_checked: int
    problems: dict[str, Problems]
    masses: list[tuple[str, int, int, float]]
    stored_pairs: int
    grid: int
    seed: int
    sheet: Path | None
    sheet_ids: list[str]
    info: dict | None
    report: dict | None

    @property
    def ok(self) -> bool:
        return not any(p.views for p in self.problems.values())


def _lines(root: Path, split: str, limit: int, seed: int) -> tuple[int, int, Iterator[tuple[int, str]]]:
    """(lines in the manifest, lines checked, the (line number, text) checked): all, or a seeded subset of
    `limit`. The file is streamed twice (count, then read), never held whole."""
    path = manifest_path(root, split)
    with open(path, "rb") as f:
        total = sum(1 for line in f if line.strip())
    keep = None
    if 0 < limit < total:
        keep = set(np.random.default_rng([seed, SPLITS.index(split)]).choice(total, limit, replace=False).tolist())

    def lines():
        with open(path, encoding="utf-8") as f:
            index = -1
            for number, line in enumerate(f, start=1):
                if line.strip():
                    index += 1
                    if keep is None or index in keep:
                        yield number, line

    return total, total if keep is None else limit, lines()


class Reservoir:
    """A uniform sample of at most `size` items of a stream (Algorithm R), drawn with the given generator."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size, self.rng, self.items, self.seen = size, rng, [], 0

    def add(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (k := int(self.rng.integers(self.seen))) < self.size:
            self.items[k] = item


def _per_view(data: dict, key: str, shape: tuple) -> list[np.ndarray] | None:
    """The per-view matrices of a record's field, when it is a list of one `shape` matrix per image."""
    value, images = data.get(key), data.get("images")
    if not (isinstance(value, list) and isinstance(images, list) and len(value) == len(images)):
        return None
    try:
        arrays = [np.asarray(v, dtype=np.float64) for v in value]
    except (ValueError, TypeError):
        return None
    return arrays if all(a.shape == shape for a in arrays) else None


def read_record(data, where: str, problems: dict[str, Problems]) -> Sample | None:
    """The Sample of one manifest record, with each view's pose and K checked first: a broken view is added
    to problems and the sample built without geometry, so that it is still counted. None (and a 'record'
    problem) when the record does not validate otherwise."""
    sid = str(data.get("id", "?")) if isinstance(data, dict) else "?"
    broken = False
    if isinstance(data, dict):
        for key, shape, check, kind in (("c2w", (4, 4), check_pose, "pose"),
                                        ("K", (3, 3), check_intrinsics, "intrinsics")):
            for k, matrix in enumerate(_per_view(data, key, shape) or ()):
                try:
                    check(matrix, key)
                except ValueError as err:
                    problems[kind].add(sid, f"{sid} view {k}: {err}")
                    broken = True
        if broken:
            data = {k: v for k, v in data.items() if k not in ("K", "c2w", "depths")}
    try:
        return sample_from_json(data, where)
    except ValueError as err:
        problems["record"].add(where, str(err))
        return None


def _image_size(root: Path, image: str) -> tuple[int, int] | str:
    """(height, width) of an image file, or why it cannot be decoded (data/badfiles.py's check)."""
    problem = image_problem(resolve(root, image))
    if problem is None:
        try:
            with Image.open(resolve(root, image)) as im:
                return im.height, im.width
        except DECODE_ERRORS as err:
            problem = str(err)
    return f"image {image} {problem}"


def _depth_header(root: Path, path: str) -> tuple[tuple, np.dtype] | str:
    """(shape, dtype) of a depth map, read from its header, or why it cannot be read."""
    try:
        return depth_header(resolve(root, path))
    except OSError as err:
        return f"depth {path} cannot be read ({err.strerror or err})"
    except ValueError as err:
        return f"depth {path} {err}"


def check_views(root: Path, sample: Sample, problems: dict[str, Problems], sizes: dict) -> None:
    """Check each view's files, and its K and depth map against its image; what fails is added to problems.
    sizes caches image sizes and depth-map headers by path (views are shared between samples)."""
    for k, image in enumerate(sample.images):
        where = f"{sample.id} view {k}"
        if image not in sizes:
            sizes[image] = _image_size(root, image)
        if sample.depths is not None and sample.depths[k] not in sizes:
            sizes[sample.depths[k]] = _depth_header(root, sample.depths[k])
        unreadable = [sizes[p] for p in (image, *(sample.depths[k:k + 1] if sample.depths else ()))
                      if isinstance(sizes[p], str)]
        if unreadable:
            problems["files"].add(sample.id, f"{where}: {unreadable[0]}")
            continue
        hw = sizes[image]
        if sample.K is not None and (why := intrinsics_misfit(sample.K[k], hw)):
            problems["intrinsics"].add(sample.id, f"{where}: {why}")
        if sample.depths is not None:
            shape, dtype = sizes[sample.depths[k]]
            if tuple(shape) != hw or dtype != np.float32:
                size = f"{shape[1]}x{shape[0]}" if len(shape) == 2 else f"of shape {tuple(shape)}"
                problems["depth"].add(sample.id, f"{where}: depth map {size} {dtype}, image {hw[1]}x{hw[0]}")


def overlap_masses(root: Path, chosen: list[Sample], rng: np.random.Generator, grid: int,
                   problems: dict[str, Problems], progress: bool = True) -> tuple[list, int]:
    """Mass S.sum() / n² of one view pair, drawn with rng, of each sample (with geometry): ([(sample id, i,
    j, mass)], how many came from the overlaps stored with the dataset)."""
    picks = [all_pairs(s.num_views)[rng.integers(len(all_pairs(s.num_views)))] for s in chosen]
    masses, todo, stored = {}, [], 0
    for s, (i, j) in zip(chosen, picks, strict=True):
        try:
            S = stored_overlaps(root, [s], grid, TOL_ABS, TOL_REL).get(s.id)
        except ValueError as err:
            problems["files"].add(s.id, f"{s.id}: {err}")
            continue
        if S is not None:
            masses[s.id] = float(S[all_pairs(s.num_views).index((i, j))].sum()) / grid**2
            stored += 1
        else:
            todo.append((s, i, j))
    batch = 8
    for start in tqdm(range(0, len(todo), batch), desc="overlaps", unit="batch", delay=2, disable=not progress):
        views = []
        for s, i, j in todo[start:start + batch]:
            try:
                views.append([GeoView((s.depths[k], s.K[k].tobytes(), s.c2w[k].tobytes()),
                                      load_depth(root, s.depths[k]), s.K[k], s.c2w[k]) for k in (i, j)])
            except (OSError, ValueError) as err:
                problems["files"].add(s.id, f"{s.id}: {err}")
                views.append(None)
        found = sample_overlaps([v for v in views if v], grid, TOL_ABS, TOL_REL)
        for (s, _, _), v in zip(todo[start:start + batch], views, strict=True):
            if v:
                masses[s.id] = float(found.pop(0).sum()) / grid**2
    out = [(s.id, i, j, masses[s.id]) for s, (i, j) in zip(chosen, picks, strict=True) if s.id in masses]
    return out, stored


def sheet_samples(reservoirs: dict[tuple[str, bool], Reservoir], count: int) -> list[Sample]:
    """Up to count samples for the contact sheet from reservoirs keyed by (category, has markers): one
    category after another (sorted), samples with markers first within a category."""
    by_category: dict[str, list[Sample]] = {}
    for (category, _), reservoir in sorted(reservoirs.items(), key=lambda kv: (kv[0][0], not kv[0][1])):
        by_category.setdefault(category, []).extend(reservoir.items)
    chosen = []
    while len(chosen) < count and any(by_category.values()):
        for queue in by_category.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def sheet_size(views: int, rows: int) -> tuple[int, int]:
    """(width, height) in pixels of a contact sheet of `rows` samples of at most `views` views."""
    cell = round(SHEET_CELL_IN * SHEET_DPI)
    return cell * (views + SHEET_TEXT_CELLS), cell * rows


def contact_sheet(root: Path, samples: list[Sample], out: Path) -> Path:
    """One row per sample: its images, each listed marker ringed and numbered (on the image it names), and
    the sample's id, category, question, options, answer and actions (as `hatchvl data show` writes them)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    from hatchvl.data.format import load_image
    from hatchvl.data.synthetic.show import VIEW_COLOURS, sample_text

    views = max(s.num_views for s in samples)
    width, height = sheet_size(views, len(samples))
    fig = Figure(figsize=(width / SHEET_DPI, height / SHEET_DPI))
    grid = fig.add_gridspec(len(samples), views + SHEET_TEXT_CELLS, left=0.01, right=0.99, bottom=0.01, top=0.97,
                            wspace=0.05, hspace=0.25)
    for row, sample in enumerate(samples):
        for k, path in enumerate(sample.images):
            ax = fig.add_subplot(grid[row, k])
            image = load_image(root, path)
            ax.imshow(image)
            for number, m in enumerate(sample.markers):
                if m.image == k:
                    ax.add_patch(Circle((m.u, m.v), max(3.0, 0.06 * image.shape[1]), fill=False, color="yellow",
                                        lw=1.5))
                    ax.text(m.u, m.v, str(number + 1), color="yellow", fontsize=7, ha="center", va="center")
            ax.set_title(f"image {k + 1}", color=VIEW_COLOURS[k % len(VIEW_COLOURS)], fontsize=7, pad=2)
            ax.set_xticks([])
            ax.set_yticks([])
        text = fig.add_subplot(grid[row, sample.num_views:])
        text.axis("off")
        text.text(0, 1, sample_text(sample), va="top", ha="left", fontsize=6, family="monospace", clip_on=True)
    fig.savefig(out, dpi=SHEET_DPI)
    return out


def inspect_dataset(root: str | Path, split: str | None = None, limit: int = 10000, seed: int = 0,
                    out: str | Path | None = None, pairs: int = 48, grid: int = 4, sheet_rows: int = 6,
                    progress: bool = True) -> Inspection:
    """Inspect a dataset (every split with a manifest, or `split`): see the module docstring. limit: samples
    checked per split (a seeded subset when the split is larger; 0 checks all). The contact sheet goes to
    out (default DIR/inspect.png). ValueError / FileNotFoundError for what the caller gave wrong."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    if limit < 0 or pairs < 0 or grid < 1:
        raise ValueError(f"--limit and --pairs must be >= 0 and --grid >= 1, got {limit}, {pairs}, {grid}")
    out = Path(out) if out is not None else root / "inspect.png"
    if not out.parent.is_dir():
        raise ValueError(f"cannot write {out}: folder {out.parent} does not exist")
    if split is not None:
        manifest_path(root, split)  # names the splits when it is not one
        if not manifest_path(root, split).is_file():
            raise FileNotFoundError(f"{manifest_path(root, split)} not found: no {split!r} split in {root}")
    splits = [split] if split else [s for s in SPLITS if manifest_path(root, s).is_file()]
    if not splits:
        raise ValueError(f"{root} holds no manifest ({', '.join(s + '.jsonl' for s in SPLITS)}): not a hatchvl "
                         f"dataset, or one still being built (docs/dataset-format.md)")
    problems = {kind: Problems() for kind in PROBLEMS}
    summaries, sizes, views_checked = [], {}, 0
    pair_rng, sheet_rng = (np.random.default_rng([seed, k]) for k in (10, 11))
    for_pairs, for_sheet = Reservoir(pairs, pair_rng), {}
    for name in splits:
        total, checked, lines = _lines(root, name, limit, seed)
        summary = SplitSummary(name, total)
        for number, line in tqdm(lines, desc=f"inspect {name}", unit="sample", total=checked, delay=2,
                                 disable=not progress):
            summary.checked += 1
            where = f"{name}.jsonl line {number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as err:
                problems["record"].add(where, f"{where}: not valid JSON: {err}")
                continue
            before = _problem_count(problems)
            sample = read_record(data, where, problems)
            if sample is None:
                continue
            summary.categories[sample.category] += 1
            summary.answer_types[sample.answer_type] += 1
            summary.views[sample.num_views] += 1
            views_checked += sample.num_views
            check_views(root, sample, problems, sizes)
            if _problem_count(problems) == before:  # a sound sample: a candidate for the pairs and the sheet
                if sample.depths is not None and sample.num_views >= 2:
                    for_pairs.add(sample)
                key = (sample.category, bool(sample.markers))
                for_sheet.setdefault(key, Reservoir(sheet_rows, sheet_rng)).add(sample)
        summaries.append(summary)
    masses, stored = overlap_masses(root, for_pairs.items, pair_rng, grid, problems, progress)
    chosen = sheet_samples(for_sheet, sheet_rows)
    sheet = contact_sheet(root, chosen, out) if chosen else None
    return Inspection(root, summaries, views_checked, problems, masses, stored, grid, seed, sheet,
                      [s.id for s in chosen], read_json(root / INFO_FILE), read_json(root / REPORT_FILE))


def _problem_count(problems: dict[str, Problems]) -> int:
    return sum(p.views for p in problems.values())


def _counts(counter: Counter) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def format_inspection(ins: Inspection) -> str:
    """The report `hatchvl data inspect` prints."""
    info = ins.info or {}
    lines = [f"{ins.root}: made by {info.get('generator', 'an unknown generator')}"
             + ("" if info.get("complete", True) else " (dataset.json says: not complete)")]
    if ins.report:
        skipped = ins.report.get("skipped") or {}
        lines.append(f"import: {ins.report.get('records')} records read, "
                     + (f"skipped {sum(skipped.values())} ({_counts(Counter(skipped))}); see {REPORT_FILE}"
                        if skipped else "nothing skipped"))
    for s in ins.splits:
        subset = "" if s.checked == s.total else f" (checked a seeded {s.checked}, seed {ins.seed})"
        lines.append(f"{s.split}: {s.total} samples{subset}")
        if s.categories:
            lines += [f"  categories: {_counts(s.categories)}", f"  answer types: {_counts(s.answer_types)}",
                      "  views per sample: " + ", ".join(f"{v}: {n}" for v, n in sorted(s.views.items()))]
    lines.append(f"checks of {ins.views_checked} views:")
    for kind, what in PROBLEMS.items():
        p = ins.problems[kind]
        lines.append(f"  {what}: {p.views}" + (f" in {len(p.samples)} samples" if p.views else ""))
        lines += [f"    {text}" for text in p.examples]
    if ins.masses:
        m = np.array([x[3] for x in ins.masses])
        q = np.quantile(m, [0, 0.1, 0.5, 0.9, 1])
        zero = [x for x in ins.masses if x[3] == 0]
        lines.append(f"overlap mass of {len(m)} view pairs (seed {ins.seed}, grid {ins.grid}, {ins.stored_pairs} from "
                     f"stored overlaps): mean {m.mean():.3f}; min {q[0]:.3f}, 10% {q[1]:.3f}, median {q[2]:.3f}, "
                     f"90% {q[3]:.3f}, max {q[4]:.3f}; {len(zero)} pairs without overlap"
                     + (f" (first: {zero[0][0]} views {zero[0][1]}-{zero[0][2]})" if zero else ""))
    else:
        lines.append("overlap mass: no sound sample with depth maps and two or more views")
    lines.append(f"contact sheet: {ins.sheet} ({len(ins.sheet_ids)} samples)" if ins.sheet else
                 "contact sheet: no sound sample to draw")
    lines.append("no problems found" if ins.ok else "problems found (above)")
    return "\n".join(lines)

