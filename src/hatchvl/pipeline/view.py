"""The pipeline's viewers: each evaluation's predictions viewer (hatchvl.eval.view) and the run-level
page RUN/view/index.html, which links them and shows report.md (its tables and plots) as HTML.

For a benchmark evaluated with its blind control, EVAL/<bench>/view puts the run and its blind control side
by side (the blind control's agreement filter, the items whose images it was shown) and
EVAL/<bench>-blind/view shows the blind control alone.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from importlib import resources
from pathlib import Path

from hatchvl.eval.view.markdown import markdown_html
from hatchvl.eval.view.records import SCORED
from hatchvl.eval.view.site import write_view
from hatchvl.io import atomic_write, read_json

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="style.css"></head>
<body><h1>{title}</h1>
<h2>Predictions</h2>
{links}
{report}
</body></html>
"""


def write_eval_views(eval_dir: Path, bench: str, log: Callable[[str], None] = print) -> None:
    """The viewers of one benchmark's evaluation folders under eval_dir (see the module docstring)."""
    own, blind = eval_dir / bench, eval_dir / f"{bench}-blind"
    has_blind = (blind / SCORED).is_file()
    sites = [([own, blind] if has_blind else [own], own / "view")] + ([([blind], blind / "view")] if has_blind else [])
    for dirs, out in sites:
        site = write_view(dirs, out)
        log(f"   viewer {site.index} ({site.items} items, {site.bytes / 1e6:.1f} MB, {site.seconds:.1f} s)")


def _links(root: Path) -> str:
    rows = []
    for index in sorted(root.glob("eval/*/*/view/index.html")):
        folder = index.parent.parent
        results = read_json(folder / "results.json") if (folder / "results.json").is_file() else None
        label = (results or {}).get("label", folder.parent.name)
        average = f"{results['average']:.1f}%" if results and isinstance(results.get("average"), (int, float)) else "–"
        target = "../" + index.relative_to(root).as_posix()
        beside = " (with its blind control)" if (folder.parent / f"{folder.name}-blind" / SCORED).is_file() else ""
        rows.append(f'<tr><td>{escape(folder.parent.name)}</td><td><a href="{escape(target)}">{escape(folder.name)}</a>'
                    f"{beside}</td><td>{escape(str(label))}</td><td>{average}</td></tr>")
    if not rows:
        return "<p>No evaluation has a viewer yet.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("model folder", "predictions viewer", "label", "accuracy"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def write_run_view(root: Path) -> Path:
    """RUN/view/index.html (and its style sheet): links to every evaluation viewer under RUN/eval, then
    RUN/report.md rendered, its plots shown from RUN/plots. Returns the page."""
    out = root / "view"
    out.mkdir(parents=True, exist_ok=True)
    report = root / "report.md"
    text = report.read_text(encoding="utf-8") if report.is_file() else "No report.md yet."
    title = text.splitlines()[0].lstrip("# ").strip() if text.startswith("# ") else f"hatchvl run {root.name}"
    body = markdown_html("\n".join(text.splitlines()[1:]) if text.startswith("# ") else text,
                         link=lambda target: "../" + target)
    style = resources.files("hatchvl.eval.view") / "static" / "style.css"
    atomic_write(out / "style.css", style.read_bytes())
    atomic_write(out / "index.html", PAGE.format(title=escape(title), links=_links(root), report=body).encode())
    return out / "index.html"
