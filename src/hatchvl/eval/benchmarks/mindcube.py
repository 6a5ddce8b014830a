"""MindCube-Tiny: `MindCube_tinybench.jsonl` plus its image folder, as the MindCube release lays them out.

One JSON object per line with `id`, `question` (options A-E inside the text), `images` (paths relative
to the image root) and `gt_answer` (a letter); `category`, `type` and `meta_info` are not needed. The
setting comes from the id as MindCube's own evaluation derives it (`setting_of`). The release keeps the file at
`data/raw/MindCube_tinybench.jsonl` and the images under `data/` (its inference scripts' image root),
so the image root is the file's folder or, failing that, its parent: whichever holds the first item's
first image. The root used is reported in the notes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from hatchvl.eval.benchmarks.fields import UniqueIds, check_choice
from hatchvl.eval.benchmarks.items import MINDCUBE_LETTER, MINDCUBE_LETTERS, MINDCUBE_SETTINGS, Benchmark, EvalItem
from hatchvl.eval.benchmarks.sources import image_file

JSONL_NAME = "MindCube_tinybench.jsonl"
# MindCube's evaluation tests the lower-cased id for these substrings, in this order; an id holding none
# of them is "other". Its overall accuracy leaves translation out; hatchvl's average counts every item.
ID_SETTINGS = ("around", "rotation", "translation", "among")
OTHER_SETTING = "other"


def setting_of(item_id: str) -> str:
    """The MindCube setting of an item id: the first of ID_SETTINGS found anywhere in the lower-cased id
    ("aroundnew_q1" and "Tiny_Among_3" -> around, among), else "other"."""
    lowered = item_id.lower()
    return next((s for s in ID_SETTINGS if s in lowered), OTHER_SETTING)


def find_jsonl(path: Path) -> Path:
    """The JSONL file itself, or MindCube_tinybench.jsonl in the folder, its raw/ or its data/raw/."""
    if path.is_file():
        return path
    candidates = [path / JSONL_NAME, path / "raw" / JSONL_NAME, path / "data" / "raw" / JSONL_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {JSONL_NAME} in {path} (looked for {', '.join(map(str, candidates))})")


def read_mindcube(path: Path, images: bool = True) -> Benchmark:
    """All items of the MindCube JSONL at path (the file or a folder holding it).

    Raises ValueError naming the line and item for a line that is not JSON, a missing field, a
    question without options or a missing image. Settings outside the paper's columns (translation,
    other) are kept as categories and counted in the notes.
    """
    jsonl = find_jsonl(path)
    records = []
    for number, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append((f"{jsonl.name} line {number}", json.loads(line)))
            except json.JSONDecodeError as err:
                raise ValueError(f"{jsonl.name} line {number}: not valid JSON ({err})") from None
    if not records:
        raise ValueError(f"{jsonl}: no items")
    notes = [f"read {jsonl} ({len(records)} items)"]
    root = None
    if images:
        root = _image_root(jsonl, *records[0])
        notes.append(f"image root {root}")
    ids = UniqueIds()
    items = []
    for where, data in records:
        item = _item(data, where, root)
        ids.add(item.id, where)
        items.append(item)
    notes.append(_settings_note(items))
    return Benchmark("mindcube-tiny", tuple(items), tuple(notes))


def _settings_note(items: list[EvalItem]) -> str:
    """Items per setting; settings outside the paper's columns are said to count in the average only."""
    counts = Counter(item.category for item in items)
    order = dict.fromkeys((*MINDCUBE_SETTINGS, *ID_SETTINGS, OTHER_SETTING))
    note = "settings from the ids: " + ", ".join(f"{s} {counts[s]}" for s in order if s in counts)
    extra = [s for s in order if s in counts and s not in MINDCUBE_SETTINGS]
    if extra:
        note += (f"; {', '.join(extra)}: per category only (not in the paper's columns) but counted in the average"
                 + (" (MindCube's own overall leaves translation out)" if "translation" in extra else ""))
    return note


def _fields(data, where: str) -> tuple[str, str, list[str], str]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    item_id, question, paths, answer = (data.get(k) for k in ("id", "question", "images", "gt_answer"))
    where = f"{where} (item {item_id!r})"
    for key, value, kind in (("id", item_id, str), ("question", question, str), ("gt_answer", answer, str)):
        if not isinstance(value, kind) or not value:
            raise ValueError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        raise ValueError(f"{where}: missing image (field 'images' must be a non-empty list of paths, got {paths!r})")
    return item_id, question, paths, answer


def _item(data, where: str, root: Path | None) -> EvalItem:
    item_id, question, paths, answer = _fields(data, where)
    where = f"{where} (item {item_id!r})"
    options = check_choice(question, answer, MINDCUBE_LETTERS, where)
    sources = () if root is None else tuple(image_file(root, p, where) for p in paths)
    return EvalItem(item_id, sources, question, answer, setting_of(item_id), MINDCUBE_LETTER, options)


def _image_root(jsonl: Path, where: str, data) -> Path:
    first = _fields(data, where)[2][0]
    candidates = (jsonl.parent, jsonl.parent.parent)
    for root in candidates:
        if (root / first).is_file():
            return root
    raise ValueError(f"{where}: missing image {first!r}: not under {candidates[0]} nor {candidates[1]}")
