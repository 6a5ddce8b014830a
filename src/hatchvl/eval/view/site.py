"""`write_view`: the static site of one result folder, or of two of the same benchmark side by side.

The site, by default RESULT_DIR/view/: index.html (written last), data.js (the page data, loaded by a
<script> tag so that the page works from file:// with no server), assets/ (script and style),
thumbs/ (thumbnails.py) and svg/ (the camera plans). Paths inside it are relative to it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hatchvl.eval.results import TITLES
from hatchvl.eval.view.entries import NO_REWARD, REWARD_BINS, build_entries, find_data, load_items
from hatchvl.eval.view.markdown import markdown_html
from hatchvl.eval.view.records import ResultFolder, read_result_folder
from hatchvl.eval.view.thumbs import Thumbnails
from hatchvl.io import atomic_write

DATA_FILE, INDEX, SVG = "data.js", "index.html", "svg"
ASSETS = ("app.js", "style.css")
DATA_VARIABLE = "HATCHVL_VIEW"


@dataclass(frozen=True)
class Site:
    """A written site: its index.html, how many items it lists, its size in bytes and the seconds taken."""

    index: Path
    items: int
    bytes: int
    seconds: float


def _write(path: Path, data: bytes) -> None:
    """Replace path with data through a temporary file (no fsync: the site can be written again)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _run_summary(folder: ResultFolder, notes: list[str]) -> dict:
    summary = ""
    if (folder.path / "results.md").is_file():
        summary = markdown_html((folder.path / "results.md").read_text(encoding="utf-8", errors="replace"))
    results = folder.results
    return {"label": folder.label, "path": str(folder.path), "blind": folder.blind, "bench": folder.bench,
            "average": results.get("average"), "count": results.get("count", len(folder.rows)),
            "bad_lines": list(folder.bad_lines), "problems": list(folder.problems), "notes": notes,
            "summary_html": summary}


def _check_pair(folders: Sequence[ResultFolder]) -> None:
    if not 1 <= len(folders) <= 2:
        raise ValueError(f"the viewer shows one result folder, or two side by side; got {len(folders)}")
    benches = {f.bench for f in folders if f.bench is not None}
    if len(benches) > 1:
        raise ValueError(f"{folders[0].path} ({folders[0].bench}) and {folders[1].path} ({folders[1].bench}) hold "
                         "different benchmarks; side by side needs two result folders of the same benchmark")


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def write_view(dirs: Sequence[str | Path], out: str | Path | None = None, data: str | Path | None = None) -> Site:
    """Write the viewer of result folder dirs[0] (beside dirs[1] when given) into out (default
    dirs[0]/view). data: the benchmark's files when the result folders' own `data` path is not found."""
    started = time.perf_counter()
    folders = [read_result_folder(d) for d in dirs]
    _check_pair(folders)
    if data is not None and not Path(data).exists():
        raise FileNotFoundError(f"benchmark data {data} does not exist")
    out = Path(out) if out is not None else Path(dirs[0]) / "view"
    bench = next((f.bench for f in folders if f.bench), None)
    named = str(data) if data is not None else next((f.data for f in folders if f.data), None)
    found = Path(data) if data is not None else next(
        (p for f in folders if (p := find_data(f.data, f.path)) is not None), None)
    items = load_items(bench, found, named)
    out.mkdir(parents=True, exist_ok=True)
    thumbs = Thumbnails(out)
    entries, svgs, notes = build_entries(folders, items, thumbs)
    (out / SVG).mkdir(exist_ok=True)
    for name, text in svgs.items():
        (out / name).write_text(text, encoding="utf-8")  # small and made again on every write: no temp file
    for old in {p for p in (out / SVG).iterdir()} - {out / name for name in svgs}:
        old.unlink()
    thumbs.prune()
    page = {"title": TITLES.get(bench, bench or "unknown benchmark"), "bench": bench,
            "runs": [_run_summary(f, n) for f, n in zip(folders, notes, strict=True)], "problems": items.problems,
            "categories": sorted({e["category"] for e in entries}), "reward_bins": [*REWARD_BINS, NO_REWARD],
            "items": entries}
    text = json.dumps(page, ensure_ascii=False, separators=(",", ":"))
    _write(out / DATA_FILE, f"window.{DATA_VARIABLE} = {text};\n".encode())
    (out / "assets").mkdir(exist_ok=True)
    static = resources.files("hatchvl.eval.view") / "static"
    for name in ASSETS:
        _write(out / "assets" / name, (static / name).read_bytes())
    atomic_write(out / INDEX, (static / INDEX).read_bytes())
    return Site(out / INDEX, len(entries), _tree_bytes(out), time.perf_counter() - started)
