"""The run report: RUN/report.json (numbers for machines) and RUN/report.md with PNG plots (for people).

report.json keys: `settings` (the recipe in full), `wall_s` (per step), `stages.<stage>.*` (every stage:
folder, wall_s, final_loss; then what its registry row's summary adds: pipeline/summaries.py lists the
keys; `sees_curve` where the stage logged one, train/sees_curve.py), `eval.<bench>.average` and
`eval.<bench>.blind_average` (percent), `eval.<bench>.categories` and `eval.<bench>.blind_categories`,
`eval.<bench>.count`; where samples were skipped (skip_bad), `stages.<stage>.bad_samples` and
`eval.<bench>.bad_items`: each {split, id, file, reason}.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

from hatchvl.eval.sees import format_sees, sees_gaps
from hatchvl.io import atomic_write, read_json, write_json
from hatchvl.pipeline.recipe import Layout, Recipe
from hatchvl.pipeline.stages import stage
from hatchvl.pipeline.summaries import CAPTIONS_FILE, REWARD_PARTS, caption_keys, caption_line
from hatchvl.stats import format_interval
from hatchvl.train.common import stage_marker


def _history(stage_dir: Path) -> list[dict]:
    record = read_json(stage_marker(stage_dir))
    return record["metrics"].get("log_history", []) if record else []


def sees_curve(history: list[dict]) -> list[dict]:
    """The sees-curve points of a stage's log history (train/sees_curve.py): step, sees (points), its
    interval low / high (None below 50 items, then note says why), own and swapped scores, and action_sees
    where logged."""
    points = []
    for h in history:
        if "sees" in h:
            low, high = h.get("sees_ci") or (None, None)
            points.append({"step": h["step"], "sees": h["sees"], "low": low, "high": high,
                           "note": h.get("sees_note", ""), "own": h.get("sees_own"), "swapped": h.get("sees_swapped"),
                           "action_sees": h.get("action_sees")})
    return points


def moving_mean(values, window: int) -> list[float]:
    """Mean of each value and the window - 1 before it (fewer at the start)."""
    out, total = [], 0.0
    for k, v in enumerate(values):
        total += v - (values[k - window] if k >= window else 0.0)
        out.append(total / min(k + 1, window))
    return out


def collect(recipe: Recipe, layout: Layout, chain: list[str]) -> dict:
    """Gather the numbers of a run from its folders."""
    timings = read_json(layout.root / "timings.json") or {}
    settings = {"recipe": recipe.source, "name": recipe.name, "seed": recipe.seed,
                "data": asdict(recipe.data), "model": asdict(recipe.model), "stages": recipe.stages,
                "eval": asdict(recipe.eval)}
    report: dict = {"settings": settings, "stages": {}, "eval": {}, "wall_s": timings}
    for k, name in enumerate(chain):
        folder = layout.stage_dir(chain[: k + 1])
        metrics = (read_json(stage_marker(folder)) or {}).get("metrics", {})
        entry: dict = {"folder": str(folder), "wall_s": timings.get(name)}
        losses = [h["loss"] for h in metrics.get("log_history", []) if "loss" in h and "reward" not in h]
        if losses:
            entry["final_loss"] = losses[-1]
        curve = sees_curve(metrics.get("log_history", []))
        if curve:
            entry["sees_curve"] = curve
        if metrics.get("bad_samples"):
            entry["bad_samples"] = metrics["bad_samples"]
        summary = stage(name).summary
        if summary is not None:
            entry |= summary(folder, layout.stage_dir(chain[:k]) if k else None, metrics)
        report["stages"][name] = entry
    report["eval"] = eval_results(layout, chain, recipe.seed)
    final_captions = read_json(layout.eval_dir(chain) / CAPTIONS_FILE)
    if final_captions:
        report["captions"] = caption_keys(final_captions)
    return report


def _scored(folder: Path) -> list[dict]:
    path = folder / "scored.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def eval_results(layout: Layout, chain: list[str], seed: int = 0) -> dict:
    """bench -> {average, blind_average, count, categories, blind_categories, sees, sees_ci, sees_items,
    category_sees} of the model of `chain` (sees: eval/sees.py, from both runs' scored.jsonl)."""
    results: dict = {}
    kept: dict[str, list[str]] = {}  # bench -> ids that kept their own images in its blind run
    folder = layout.eval_dir(chain)
    for path in sorted(folder.glob("*/results.json")):
        name = path.parent.name
        bench = name.removesuffix("-blind")
        result = read_json(path)
        key = "blind_average" if name.endswith("-blind") else "average"
        results.setdefault(bench, {})[key] = result["average"]
        results[bench].setdefault("count", result["count"])
        results[bench]["blind_categories" if key == "blind_average" else "categories"] = result["categories"]
        if result.get("bad_items"):
            results[bench]["bad_items"] = result["bad_items"]
        if key == "blind_average":
            kept[bench] = result.get("blind_kept", [])
    for bench, entry in results.items():
        own_rows, blind_rows = _scored(folder / bench), _scored(folder / f"{bench}-blind")
        if bench not in kept or not own_rows or not blind_rows:
            continue
        gaps = sees_gaps(own_rows, blind_rows, kept=kept[bench], seed=seed)
        entry["category_sees"] = gaps.pop("categories")
        entry |= gaps
    return results


def _save(fig, path: Path) -> None:
    """A figure as a PNG, written atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    atomic_write(path, buffer.getvalue())


def plot(report: dict, layout: Layout, chain: list[str]) -> list[str]:
    """PNG plots next to the report: loss curves, GRPO rewards, probe, accuracy per category."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = layout.root / "plots"
    out.mkdir(parents=True, exist_ok=True)
    made = []
    fig = Figure(figsize=(4 * max(1, len(chain)), 3))
    for k, name in enumerate(chain):
        history = _history(layout.stage_dir(chain[: k + 1]))
        ax = fig.add_subplot(1, max(1, len(chain)), k + 1)
        if stage(name).curve == "rewards":  # noisy per-step means: faint raw lines, a moving mean over 10% of steps
            for part in REWARD_PARTS:
                points = [(h["step"], h[f"rewards/{part}/mean"]) for h in history if f"rewards/{part}/mean" in h]
                if points:
                    steps, values = zip(*points, strict=True)
                    line = ax.plot(steps, values, alpha=0.25, linewidth=0.8)[0]
                    ax.plot(steps, moving_mean(values, max(1, len(values) // 10)), color=line.get_color(), label=part)
            ax.set_ylabel("mean reward")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        else:
            points = [(h["step"], h["loss"]) for h in history if "loss" in h]
            if points:
                ax.plot(*zip(*points, strict=True))
            ax.set_ylabel("loss")
        ax.set_title(name)
        ax.set_xlabel("step")
    fig.tight_layout()
    _save(fig, out / "curves.png")
    made.append("plots/curves.png")
    curved = {name: e["sees_curve"] for name, e in report["stages"].items() if "sees_curve" in e}
    if curved:
        fig = Figure(figsize=(4 * len(curved), 3))
        for k, (name, curve) in enumerate(curved.items()):
            ax = fig.add_subplot(1, len(curved), k + 1)
            steps = [p["step"] for p in curve]
            ax.plot(steps, [p["sees"] for p in curve], marker="o")
            bounded = [p for p in curve if p["low"] is not None]
            if bounded:
                ax.fill_between([p["step"] for p in bounded], [p["low"] for p in bounded],
                                [p["high"] for p in bounded], alpha=0.2)
            ax.axhline(0, color="#888", linewidth=0.8)
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.set_ylabel("sees, points (95% CI)")
        fig.tight_layout()
        _save(fig, out / "sees.png")
        made.append("plots/sees.png")
    probed = [e for e in report["stages"].values() if "probe_after" in e]
    if probed:
        pasta = probed[-1]
        fig = Figure(figsize=(5, 3))
        ax = fig.add_subplot(1, 1, 1)
        names = ["chance", "same position", "colour", "before PaStA", "after PaStA"]
        values = [pasta[k] for k in ("probe_chance", "probe_same_position", "probe_colour", "probe_before",
                                     "probe_after")]
        ax.bar(names, values, color=["#bbb", "#bbb", "#bbb", "#7aa6d6", "#1f5fa8"])
        ax.set_ylabel("cell retrieval top-1")
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        _save(fig, out / "probe.png")
        made.append("plots/probe.png")
    for bench, result in report["eval"].items():
        cats = result.get("categories", {})
        if not cats:
            continue
        fig = Figure(figsize=(max(5, len(cats)), 3))
        ax = fig.add_subplot(1, 1, 1)
        xs = range(len(cats))
        ax.bar([x - 0.2 for x in xs], list(cats.values()), width=0.4, label="with images")
        blind = result.get("blind_categories", {})
        if blind:
            ax.bar([x + 0.2 for x in xs], [blind.get(c, 0) for c in cats], width=0.4, label="blind control")
        ax.set_xticks(list(xs), list(cats), fontsize=7, rotation=20)
        ax.set_ylabel("accuracy %")
        ax.legend(fontsize=7)
        fig.tight_layout()
        _save(fig, out / f"eval-{bench}.png")
        made.append(f"plots/eval-{bench}.png")
    return made


def markdown(report: dict, plots: list[str]) -> str:
    s, lines = report["stages"], [f"# hatchvl run: {report['settings']['name']}", ""]
    lines += [f"Recipe `{report['settings']['recipe']}`, seed {report['settings']['seed']}. Settings in full: "
              "`report.json` → `settings`.", "", "## Stages", "", "| stage | wall time | main numbers |",
              "|---|---|---|"]
    for name, e in s.items():
        line = stage(name).line
        main = line(e) if line is not None else None
        if main is None:
            main = f"final loss {e['final_loss']:.4f}" if "final_loss" in e else ""
        wall = f"{e['wall_s']:.0f} s" if e.get("wall_s") is not None else "–"
        lines.append(f"| {name} | {wall} | {main} |")
    if report["eval"]:
        lines += ["", "## Evaluation", "", "Each evaluation also runs a blind control: the same items with every "
                  "item's images swapped for another item's. A gain that survives it did not come from the images. "
                  "`sees` is the item-weighted difference in points, with its 95% paired bootstrap interval "
                  "(items that kept their own images in the blind run are left out).",
                  "", "| benchmark | items | accuracy | blind control | sees [95% CI] |", "|---|---|---|---|---|"]
        for bench, e in report["eval"].items():
            blind = f"{e['blind_average']:.1f}%" if "blind_average" in e else "–"
            sees = format_sees(e) if "sees" in e else "–"
            lines.append(f"| {bench} | {e.get('count', '–')} | {e.get('average', 0):.1f}% | {blind} | {sees} |")
        for bench, e in report["eval"].items():
            cats = e.get("categories", {})
            if cats:
                lines += ["", f"{bench} per category:", "", "| category | accuracy | blind | sees [95% CI] |",
                          "|---|---|---|---|"]
                blind, gaps = e.get("blind_categories", {}), e.get("category_sees", {})
                for c, v in cats.items():
                    other = f"{blind[c]:.1f}%" if c in blind else "–"
                    sees = format_sees(gaps[c]) if c in gaps else "–"
                    lines.append(f"| {c} | {v:.1f}% | {other} | {sees} |")
    curved = {name: e["sees_curve"] for name, e in s.items() if "sees_curve" in e}
    if curved:
        lines += ["", "## Sees during training", "", "Every few steps the model answered a fixed held-out subset "
                  "greedily, with each item's views and with another item's (caption stages: the caption probe's "
                  "visible-object precision). Scores in points.", "",
                  "| stage | step | with its views | swapped views | sees [95% CI] |", "|---|---|---|---|---|"]
        for name, curve in curved.items():
            for p in curve:
                ci = None if p["low"] is None else [p["low"], p["high"]]
                lines.append(f"| {name} | {p['step']} | {p['own']:.1f} | {p['swapped']:.1f} | "
                             f"{format_interval(p['sees'], ci, p['note'])} |")
    if "captions" in report:
        lines += ["", "## The final model's captions", "", caption_line(report["captions"]) + "."]
    lines += skipped_section(report)
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


SKIPPED_ROWS = 10  # bad samples listed per stage or benchmark in report.md (report.json has them all)


def skipped_section(report: dict) -> list[str]:
    """report.md's lines on the samples left out with skip_bad, or none when nothing was."""
    places = [(name, e["bad_samples"]) for name, e in report["stages"].items() if e.get("bad_samples")]
    places += [(f"eval {bench}", e["bad_items"]) for bench, e in report["eval"].items() if e.get("bad_items")]
    if not places:
        return []
    lines = ["", "## Skipped samples", "", "Left out with skip_bad: a file that cannot be decoded (PaStA stages: or "
             "no usable geometry). `report.json` lists them all.", "", "| where | split | sample | file | reason |",
             "|---|---|---|---|---|"]
    for where, bad in places:
        lines += [f"| {where} | {b['split']} | {b['id']} | {b['file'] or '–'} | {b['reason']} |"
                  for b in bad[:SKIPPED_ROWS]]
        if len(bad) > SKIPPED_ROWS:
            lines.append(f"| {where} | | … {len(bad) - SKIPPED_ROWS} more | | |")
    return lines


def write_report(recipe: Recipe, layout: Layout, chain: list[str]) -> dict:
    report = collect(recipe, layout, chain)
    plots = plot(report, layout, chain)
    write_json(layout.root / "report.json", report)
    atomic_write(layout.root / "report.md", markdown(report, plots).encode())
    return report
