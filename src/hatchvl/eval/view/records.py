"""Result folders as the viewer reads them: tolerant of bad lines and missing files, never failing on
what a model wrote.

A result folder must hold `scored.jsonl`; `results.json` and `run.json` are read when they are there and
valid. Each line of `scored.jsonl` that is not a JSON object with an `id` (a string or an integer) and
fields of the expected types, or that repeats an id, is left out and listed ("line N: why").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hatchvl.eval.benchmarks.items import BENCH_NAMES
from hatchvl.io import checked_jsonl

SCORED = "scored.jsonl"
# field -> the types a scored record may hold there (None: the field may be null)
FIELD_TYPES = {"category": (str,), "answer": (str,), "output": (str, type(None)), "extracted": (str, type(None)),
               "score": (int, float), "images_from": (str,)}


@dataclass(frozen=True)
class ResultFolder:
    """One result folder. rows: the good records of scored.jsonl in file order (ids as strings);
    bad_lines: "line N: why" for each line left out; problems: what else could not be read."""

    path: Path
    results: dict
    run: dict
    rows: tuple[dict, ...]
    bad_lines: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def bench(self) -> str | None:
        bench = self.results.get("bench") or self.run.get("bench")
        return bench if bench in BENCH_NAMES else None

    @property
    def blind(self) -> bool:
        return bool(self.run.get("blind") or (self.results.get("settings") or {}).get("blind")
                    or "blind_kept" in self.results)

    @property
    def label(self) -> str:
        return str(self.results.get("label") or self.path.resolve().name)

    @property
    def seed(self) -> int:
        seed = self.run.get("seed", (self.results.get("settings") or {}).get("seed", 0))
        return seed if isinstance(seed, int) else 0

    @property
    def data(self) -> str | None:
        data = self.results.get("data") or self.run.get("data")
        return data if isinstance(data, str) and data else None


def _problem(data, seen: dict[str, int]) -> str | None:
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    item_id = data.get("id")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        return f"'id' must be a string or an integer, got {item_id!r}"
    for field, types in FIELD_TYPES.items():
        if field in data and (not isinstance(data[field], types) or isinstance(data[field], bool)):
            return f"item {item_id!r}: {field!r} has type {type(data[field]).__name__}"
    if str(item_id) in seen:
        return f"id {str(item_id)!r} repeats line {seen[str(item_id)]}"
    return None


def read_scored(path: Path) -> tuple[list[dict], list[str]]:
    """(good records with string ids, "line N: why" for each bad line) of a scored.jsonl."""
    rows, bad, seen = [], [], {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, data, problem in checked_jsonl(text, lambda d: _problem(d, seen)):
        if problem is not None:
            bad.append(f"line {number}: {problem}")
            continue
        rows.append(data | {"id": str(data["id"])})
        seen[str(data["id"])] = number
    return rows, bad


def _read_object(path: Path, problems: list[str]) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        problems.append(f"{path.name} cannot be read ({err}); left out")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object; left out")
        return {}
    return data


def read_result_folder(path: str | Path) -> ResultFolder:
    """Read a result folder; FileNotFoundError when it has no scored.jsonl (not a result folder)."""
    path = Path(path)
    scored = path / SCORED
    if not scored.is_file():
        raise FileNotFoundError(f"{path}: no {SCORED} (not a result folder of `hatchvl eval bench` or `rescore`)")
    problems: list[str] = []
    results = _read_object(path / "results.json", problems)
    run = _read_object(path / "run.json", problems)
    rows, bad = read_scored(scored)
    if not rows:
        problems.append(f"{SCORED} holds no readable item")
    return ResultFolder(path, results, run, tuple(rows), tuple(bad), tuple(problems))

