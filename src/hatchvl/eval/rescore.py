"""Score predictions against a benchmark: `rescore` reads a predictions JSONL (one `{"id": ..., "output":
"..."}` per line, from hatchvl or any other tool) and writes a result folder (results.py).

Each output is extracted and scored with the benchmark's official rule (extract.py, score.py). Items
without a prediction score 0 and are counted as missing; predictions for ids the benchmark does not
have are counted and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hatchvl.eval.benchmarks.items import Benchmark, EvalItem
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.extract import extract
from hatchvl.eval.results import write_results
from hatchvl.eval.score import aggregate, check_viewchg_rule, item_score
from hatchvl.io import checked_jsonl

EXTRACTION = "official rule applied to the content of the last <answer>...</answer> block, else to the whole output"


@dataclass(frozen=True)
class Predictions:
    """Raw outputs by item id (ids as strings), and the lines skipped ("line N: why")."""

    outputs: dict[str, str]
    skipped: tuple[str, ...] = ()


def _problem(data, seen: Mapping[str, int]) -> str | None:
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    item_id, output = data.get("id"), data.get("output")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        return f"'id' must be a string or an integer, got {item_id!r}"
    if not isinstance(output, str):
        return f"'output' must be a string, got {type(output).__name__}"
    if str(item_id) in seen:
        return f"id {str(item_id)!r} repeats line {seen[str(item_id)]}"
    return None


def read_predictions(path: str | Path, skip_bad: bool = False) -> Predictions:
    """Read a predictions JSONL. A line that is not a JSON object with a string or integer `id` and a
    string `output`, or that repeats an id, raises ValueError naming the line, or with skip_bad is
    skipped and listed. Blank lines are ignored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} not found")
    outputs: dict[str, str] = {}
    lines: dict[str, int] = {}
    skipped = []
    for number, data, problem in checked_jsonl(path.read_text(encoding="utf-8"), lambda d: _problem(d, lines)):
        if problem is not None:
            if not skip_bad:
                raise ValueError(f"{path.name} line {number}: {problem}")
            skipped.append(f"line {number}: {problem}")
            continue
        outputs[str(data["id"])] = data["output"]
        lines[str(data["id"])] = number
    return Predictions(outputs, tuple(skipped))


def score_items(items: Sequence[EvalItem], outputs: Mapping[str, str], rule: str = "authors") -> list[dict]:
    """One record per item: id, category, answer, raw output (None: missing), extracted answer, score."""
    rows = []
    for item in items:
        output = outputs.get(item.id)
        extracted = None if output is None else extract(item.scoring, output)
        score = 0.0 if output is None else item_score(item.scoring, extracted, item.answer, rule)
        rows.append({"id": item.id, "category": item.category, "answer": item.answer, "output": output,
                     "extracted": extracted, "score": score})
    return rows


def summarize(benchmark: Benchmark, rows: Sequence[dict], label: str, rule: str, **extra) -> dict:
    """The results.json content of scored rows (score_items); `extra` entries are added as they are."""
    summary = aggregate(benchmark.name, [(r["category"], r["score"]) for r in rows], rule)
    results = {
        "bench": benchmark.name, "label": label, "count": len(rows),
        "missing": sum(r["output"] is None for r in rows), "average": summary.average,
        "categories": summary.categories, "category_counts": summary.counts,
    }
    if summary.levels is not None:
        results |= {"levels": summary.levels, "viewchg_rule": rule}
    if summary.groups is not None:
        results["groups"] = summary.groups
    return results | {"extraction": EXTRACTION, **extra, "notes": list(benchmark.notes)}


def rescore(bench: str, data: str | Path, predictions: str | Path, out: str | Path, rule: str = "authors",
            skip_bad: bool = False, label: str | None = None) -> dict:
    """Score `predictions` against benchmark `bench` read from `data`; write the result folder `out`.
    label (default: the predictions file's stem) names the model in results.md and compare."""
    check_viewchg_rule(rule)
    benchmark = read_benchmark(bench, data, images=False)
    preds = read_predictions(predictions, skip_bad)
    rows = score_items(benchmark.items, preds.outputs, rule)
    known = {item.id for item in benchmark.items}
    results = summarize(
        benchmark, rows, label or Path(predictions).stem, rule, data=str(data), predictions=str(predictions),
        skipped_lines=list(preds.skipped), unknown_ids=sum(i not in known for i in preds.outputs),
    )
    write_results(out, results, rows)
    return results
