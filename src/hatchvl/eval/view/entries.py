"""The viewer's page data: one entry per item, joining the benchmark's items (question, images, markers,
poses) with one or two result folders' records (output, extracted answer, score).

Nothing here fails on a bad result: a benchmark that cannot be found or read leaves questions and images
out (said in `problems`), a missing image is marked, an item's plan that cannot be drawn says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hatchvl.data.format import LETTERS, resolve
from hatchvl.eval.benchmarks.items import EvalItem, ImageSource
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.results import blind_sources
from hatchvl.eval.view.plan import Plan, camera_plans, has_poses
from hatchvl.eval.view.records import ResultFolder
from hatchvl.eval.view.svg import plan_svg, start_label
from hatchvl.eval.view.thumbs import Thumbnails

REWARD_BINS = ("0–0.25", "0.25–0.5", "0.5–0.75", "0.75–1")
NO_REWARD = "no actions drawn"


@dataclass
class Items:
    """The benchmark as the viewer found it: items by id, each one's image sources, and what went wrong."""

    items: dict[str, EvalItem] = field(default_factory=dict)
    images: dict[str, tuple[ImageSource, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def find_data(text: str | None, folder: Path) -> Path | None:
    """The benchmark data a result folder names: as written (absolute, or from the working folder), else
    relative to each folder above the result folder (a run's folders name data relative to where it ran)."""
    if not text:
        return None
    path = Path(text)
    if path.exists() or path.is_absolute():
        return path if path.exists() else None
    for parent in folder.resolve().parents:
        if (parent / path).exists():
            return parent / path
    return None


def load_items(bench: str | None, data: Path | None, named: str | None) -> Items:
    """Read the benchmark's items (questions, images, poses) for the viewer; never raises."""
    found = Items()
    if bench is None:
        found.problems.append("the benchmark is not known (no results.json or run.json names it): questions and "
                              "images left out")
        return found
    if data is None:
        found.problems.append(f"benchmark data {named!r} not found (give --data): questions and images left out"
                              if named else "no benchmark data named (give --data): questions and images left out")
        return found
    for images in (True, False) if bench != "synthetic" else (False,):  # synthetic: resolved below, file by file
        try:
            benchmark = read_benchmark(bench, data, images=images)
        except (ValueError, OSError) as err:
            found.problems.append(f"{bench} data {data}: {err}" + ("; images left out" if images else ""))
            continue
        for item in benchmark.items:
            found.items[item.id] = item
            sample = item.sample
            found.images[item.id] = (item.images if item.images or sample is None
                                     else tuple(resolve(data, p) for p in sample.images))
        break
    return found


def _thumbs(item_id: str, items: Items, thumbs: Thumbnails) -> list[dict]:
    sources = items.images.get(item_id)
    if sources is None:
        return []
    sample = items.items[item_id].sample
    shown = []
    for k, source in enumerate(sources):
        thumb = thumbs.make(source)
        if thumb.src is None:
            shown.append({"missing": thumb.missing})
            continue
        markers = [[round(100 * (m.u + 0.5) / thumb.width, 2), round(100 * (m.v + 0.5) / thumb.height, 2)]
                   for m in (sample.markers if sample is not None else ()) if m.image == k]
        image = {"src": thumb.src, "w": thumb.width, "h": thumb.height}
        shown.append(image | ({"markers": markers} if markers else {}))
    return shown


def status(row: dict) -> str:
    """correct (score 1), partial, wrong (score 0), missing (no prediction) or unscored."""
    if row.get("output") is None:
        return "missing"
    score = row.get("score")
    if not isinstance(score, (int, float)):
        return "unscored"
    return "correct" if score >= 1 else "wrong" if score <= 0 else "partial"


def reward_bin(reward: float | None) -> str:
    return NO_REWARD if reward is None else REWARD_BINS[min(int(reward * len(REWARD_BINS)), len(REWARD_BINS) - 1)]


def _plans(item: EvalItem | None, rows: list[dict | None]) -> tuple[list[Plan | None], str | None]:
    """The camera plan of each row's output (None: no poses, no row or no prediction), and why there are none
    when the geometry refuses the item."""
    outputs = [row.get("output") if row is not None else None for row in rows]
    if item is None or not has_poses(item.sample) or all(o is None for o in outputs):
        return [None] * len(rows), None
    try:
        plans = camera_plans(item.sample, outputs)
    except ValueError as err:
        return [None] * len(rows), str(err)
    return [plan if output is not None else None for plan, output in zip(plans, outputs, strict=True)], None


def _plan_fields(plan: Plan | None, name: str, svgs: dict[str, str]) -> dict:
    if plan is None:
        return {"bin": NO_REWARD}
    svgs[name] = plan_svg(plan)
    pairs = [{"pair": f"{p.src + 1}–{p.dst + 1}", "written": start_label(p.written) if p.written else None,
              "reward": round(p.reward, 4),
              **({"pos_m": round(p.position_error_m, 3), "yaw_deg": round(p.yaw_error_deg, 1),
                  "pitch_deg": round(p.pitch_error_deg, 1)} if p.written else {})} for p in plan.pairs]
    return {"reward": round(plan.reward, 4), "bin": reward_bin(plan.reward), "pairs": pairs, "svg": name,
            **({"parse_error": plan.parse_error} if plan.parse_error else {})}


def shown_sources(folder: ResultFolder, items: Items) -> tuple[dict[str, str], str | None]:
    """Item id -> the id whose images it was shown, for a blind control (scored.jsonl's images_from; for a
    folder written before that field, the swap again, from the items' view counts and the run's seed)."""
    if not folder.blind:
        return {}, None
    recorded = {r["id"]: r["images_from"] for r in folder.rows if "images_from" in r}
    if recorded:
        return recorded, None
    ids = [r["id"] for r in folder.rows]
    if not ids or any(i not in items.images for i in ids):
        return {}, "the items whose images the blind control showed are not recorded and cannot be worked out"
    try:
        sources = blind_sources(ids, [len(items.images[i]) for i in ids], folder.seed, folder.bench or "items")
    except ValueError as err:
        return {}, str(err)
    return dict(zip(ids, sources, strict=True)), (f"the items whose images were shown are not recorded in this "
                                                  f"older scored.jsonl: worked out again from the swap (seed "
                                                  f"{folder.seed})")


def _agree(a: dict | None, b: dict | None) -> bool | None:
    if a is None or b is None:
        return None
    return (a.get("extracted") or "").strip().lower() == (b.get("extracted") or "").strip().lower()


def build_entries(folders: Sequence[ResultFolder], items: Items, thumbs: Thumbnails
                  ) -> tuple[list[dict], dict[str, str], list[list[str]]]:
    """(one entry per item id found in any folder, in the first folder's order; SVG text by site path;
    each folder's own notes)."""
    by_folder = [{r["id"]: r for r in f.rows} for f in folders]
    order = list(dict.fromkeys(i for f in folders for i in (r["id"] for r in f.rows)))
    shown, notes = [], []
    for folder in folders:
        sources, note = shown_sources(folder, items)
        shown.append(sources)
        notes.append([note] if note else [])
    svgs: dict[str, str] = {}
    entries = []
    for k, item_id in enumerate(order):
        item = items.items.get(item_id)
        rows = [rows.get(item_id) for rows in by_folder]
        first = next(r for r in rows if r is not None)
        entry = {"id": item_id, "category": str(first.get("category", item.category if item else "?")),
                 "answer": first.get("answer", item.answer if item else None),
                 "question": item.question if item else None, "images": _thumbs(item_id, items, thumbs)}
        if item is not None and item.sample is not None and item.sample.options:
            entry["options"] = [[LETTERS[n], text] for n, text in enumerate(item.sample.options)]
        if item is None and items.items:
            entry["note"] = "not an item of the benchmark data read"
        runs = []
        plans, plan_error = _plans(item, rows)
        for r, (row, plan) in enumerate(zip(rows, plans, strict=True)):
            if row is None:
                runs.append(None)
                continue
            run = {"output": row.get("output"), "extracted": row.get("extracted"), "score": row.get("score"),
                   "status": status(row)} | _plan_fields(plan, f"svg/{k}-{r}.svg", svgs)
            if plan_error is not None:
                run["plan_error"] = plan_error
            source = shown[r].get(item_id)
            if source is not None:
                run["shown"] = {"id": source, "images": _thumbs(source, items, thumbs)}
            runs.append(run)
        entry["runs"] = runs
        if len(rows) == 2:
            entry["agree"] = _agree(*rows)
        entries.append(entry)
    return entries, svgs, notes
