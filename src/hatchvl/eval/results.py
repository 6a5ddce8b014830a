"""Result files of a scored run and the comparison of several runs.

A result folder holds `results.json` (the numbers), `results.md` (the model beside the HATCH paper's
reference rows, docs/method.md) and `scored.jsonl` (per item: raw output, extracted answer, score; in a
blind control also `images_from`, the item whose images it was shown), each written atomically (temp file +
os.replace), results.json last. `compare(dirs)` puts several folders in one Markdown table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from hatchvl.data.blind import swap_donors
from hatchvl.eval.benchmarks.items import BENCH_NAMES, MINDCUBE_SETTINGS, MMSI_GROUPS
from hatchvl.io import atomic_write, read_json

TITLES = {"spar-mv": "SPAR-Bench-MV", "spar-si": "SPAR-Bench-SI", "mindcube-tiny": "MindCube-Tiny",
          "mmsi": "MMSI-Bench", "synthetic": "synthetic test split"}
# Headline columns per benchmark: (column title, where the value lives in results.json).
HEADLINES = {
    "spar-mv": (("Low", "levels", "low"), ("Mid", "levels", "middle"), ("High", "levels", "high"),
                ("Avg", None, "average")),
    "spar-si": (("Avg", None, "average"),),
    "mindcube-tiny": tuple((s.capitalize(), "categories", s) for s in MINDCUBE_SETTINGS) + (("Avg", None, "average"),),
    "mmsi": tuple((g, "groups", g) for g in MMSI_GROUPS) + (("Avg", None, "average"),),
    "synthetic": (("Avg", None, "average"),),
}
# The HATCH paper's Table 1 (and its single-image check for SPAR-Bench-SI), in HEADLINES' column order.
REFERENCE_ROWS = {
    "spar-mv": {"Qwen2.5-VL-3B": (13.4, 26.2, 32.6, 24.9), "SpatialLadder-3B": (26.2, 33.5, 44.5, 35.8),
                "Qwen2.5-VL-72B": (26.9, 32.7, 43.6, 35.4), "HATCH-3B": (41.3, 47.4, 67.1, 53.6)},
    "spar-si": {"Qwen2.5-VL-3B": (23.9,), "HATCH-3B": (45.2,)},
    "mindcube-tiny": {"Qwen2.5-VL-3B": (46.4, 34.5, 35.3, 37.8), "SpatialLadder-3B": (56.4, 31.5, 47.8, 46.8),
                      "Qwen2.5-VL-72B": (44.8, 42.0, 41.2, 42.2), "HATCH-3B": (65.6, 31.0, 50.2, 50.2)},
    "mmsi": {"Qwen2.5-VL-3B": (27.8, 19.2, 23.3, 25.8, 25.6), "SpatialLadder-3B": (24.1, 23.1, 26.7, 20.2, 23.6),
             "Qwen2.5-VL-72B": (33.3, 38.5, 24.7, 28.8, 31.8), "HATCH-3B": (30.5, 20.8, 23.3, 24.7, 27.0)},
}
OVERALL_BENCHES = ("spar-mv", "mindcube-tiny", "mmsi")  # the paper's Overall: plain mean of their averages
VIEWCHG_NOTES = {
    "authors": "ViewChg rule: authors (error relative to the prediction; view_change_infer left out of Middle)",
    "vlmevalkit": "ViewChg rule: vlmevalkit (error relative to the truth; view_change_infer counted in Middle)",
}


def headline(results: dict) -> list[tuple[str, float | None]]:
    """(column, percent or None) of a results.json's headline columns."""
    values = []
    for column, section, key in HEADLINES[results["bench"]]:
        source = results if section is None else (results.get(section) or {})
        values.append((column, source.get(key)))
    return values


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def results_markdown(results: dict) -> str:
    """results.md: the model's headline numbers beside the paper's reference rows, then per category."""
    bench = results["bench"]
    lines = [f"# {results['label']} on {TITLES[bench]}", "",
             f"{results['count']} items, {results['missing']} without a prediction (scored as wrong). "
             "Answers extracted with the benchmark's official rule from the `<answer>` content when present, "
             "else from the whole output."]
    if "viewchg_rule" in results:
        lines += ["", VIEWCHG_NOTES[results["viewchg_rule"]] + "."]
    columns = headline(results)
    rows = [[f"{name} (paper)"] + [_cell(v) for v in values] for name, values in REFERENCE_ROWS.get(bench, {}).items()]
    rows.append([f"**{results['label']}**"] + [_cell(v) for _, v in columns])
    lines += [""] + _table(["model"] + [c for c, _ in columns], rows)
    category_rows = [[name, str(results["category_counts"][name]), _cell(value)]
                     for name, value in sorted(results["categories"].items())]
    lines += ["", "## Per category", ""] + _table(["category", "items", "score"], category_rows)
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def blind_sources(ids: Sequence[str], view_counts: Sequence[int], seed: int, name: str) -> list[str]:
    """The id of the item whose images each item was shown in the blind control of these items (in the
    order eval bench runs them): the swap of hatchvl.eval.blind.blind_items, by hatchvl.data.blind.swap_donors.
    A blind run's scored.jsonl holds it as `images_from`."""
    donors = swap_donors(list(view_counts), seed, name)
    return [ids[d] for d in donors]


def write_results(out_dir: str | Path, results: dict, scored: Sequence[dict]) -> Path:
    """Write scored.jsonl, results.md and results.json into out_dir (created); returns results.json. Each is
    written atomically and results.json last: where it exists (what a resumed pipeline looks for), all are."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "scored.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored).encode())
    atomic_write(out_dir / "results.md", results_markdown(results).encode())
    atomic_write(out_dir / "results.json", (json.dumps(results, indent=2, ensure_ascii=False) + "\n").encode())
    return out_dir / "results.json"


def load_results(directory: str | Path) -> dict:
    path = Path(directory) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no results.json (not a result folder)")
    try:
        results = read_json(path)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(results, dict) or results.get("bench") not in BENCH_NAMES or "label" not in results:
        raise ValueError(f"{path}: not a hatchvl results file (needs 'bench' and 'label')")
    return results


def compare(dirs: Sequence[str | Path]) -> str:
    """One Markdown table of several result folders: a row per label (model), the headline columns of
    every benchmark present, and the paper's Overall (mean of the SPAR-MV, MindCube-Tiny and MMSI
    averages) for rows that have all three. Two folders with the same label and benchmark are an error."""
    if not dirs:
        raise ValueError("compare needs at least one result folder")
    rows: dict[str, dict[str, dict]] = {}
    origin: dict[tuple[str, str], str] = {}
    for directory in dirs:
        results = load_results(directory)
        key = (results["label"], results["bench"])
        if key in origin:
            raise ValueError(f"{directory} and {origin[key]} both hold {key[1]} results labelled {key[0]!r}; "
                             "give runs distinct labels (--label)")
        origin[key] = str(directory)
        rows.setdefault(results["label"], {})[results["bench"]] = results
    benches = [b for b in BENCH_NAMES if any(b in by_bench for by_bench in rows.values())]
    overall = all(b in benches for b in OVERALL_BENCHES)
    header = ["model"] + [f"{TITLES[b]} {column}" for b in benches for column, _, _ in HEADLINES[b]]
    body, notes = [], []
    for label, by_bench in rows.items():
        cells = [label]
        for bench in benches:
            found = by_bench.get(bench)
            cells += [_cell(v) for _, v in headline(found)] if found else ["–"] * len(HEADLINES[bench])
            if found and found["missing"]:
                notes.append(f"{label}, {TITLES[bench]}: {found['missing']} of {found['count']} items without a "
                             "prediction (scored as wrong)")
            if found and "viewchg_rule" in found:
                notes.append(f"{label}, {TITLES[bench]}: {VIEWCHG_NOTES[found['viewchg_rule']]}")
        if overall:
            have = [by_bench[b]["average"] for b in OVERALL_BENCHES if b in by_bench]
            cells.append(_cell(sum(have) / 3 if len(have) == 3 else None))
        body.append(cells)
    lines = _table(header + (["Overall"] if overall else []), body)
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"
