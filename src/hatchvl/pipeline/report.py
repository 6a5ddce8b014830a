"""The run report: RUN/report.json (numbers for machines) and RUN/report.md with PNG plots (for people).

report.json keys: `settings`, `stages.<stage>.*` (pasta: probe_before, probe_after, probe_chance,
probe_same_position, probe_colour; actor_sft: format_rate; grpo: reward_start, reward_end = mean total
reward over the first and last 10% of steps, prompts = the size of its prompt pool, and
heldout_total_before/after = the same weighted total of completions sampled on fixed held-out prompts
before and after GRPO; every stage: wall_s, final_loss),
`eval.<bench>.average` and `eval.<bench>.blind_average` (percent), `eval.<bench>.categories`.
"""

from __future__ import annotations

from pathlib import Path

from hatchvl.io import atomic_write, read_json, write_json
from hatchvl.objectives.rewards import RewardConfig
from hatchvl.pipeline.recipe import Layout, Recipe


def _history(stage_dir: Path) -> list[dict]:
    record = read_json(stage_dir / "stage.json")
    return record["metrics"].get("log_history", []) if record else []


def edge_means(values: list[float], share: float = 0.1) -> tuple[float, float]:
    """Means of the first and the last `share` of a series (at least one value each)."""
    k = max(1, round(len(values) * share))
    return sum(values[:k]) / k, sum(values[-k:]) / k


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
    report: dict = {"settings": {"recipe": recipe.source, "name": recipe.name, "seed": recipe.seed,
                                 "data": recipe.data, "model": recipe.model, "stages": recipe.stages,
                                 "eval": recipe.eval},
                    "stages": {}, "eval": {}, "wall_s": timings}
    for k, stage in enumerate(chain):
        folder = layout.stage_dir(chain[: k + 1])
        metrics = (read_json(folder / "stage.json") or {}).get("metrics", {})
        history = metrics.get("log_history", [])
        entry: dict = {"folder": str(folder), "wall_s": timings.get(stage)}
        losses = [h["loss"] for h in history if "loss" in h and "reward" not in h]
        if losses:
            entry["final_loss"] = losses[-1]
        if stage == "pasta" and (probe := read_json(folder / "probe.json")):
            before, after = probe["before"], probe["after"]
            entry |= {"probe_before": before["top1"], "probe_after": after["top1"], "probe_chance": after["chance"],
                      "probe_same_position": after["same_position"], "probe_colour": after["colour"],
                      "probe_pairs": after["pairs"]}
        if stage == "actor_sft" and (sampled := read_json(folder / "sampling.json")):
            entry |= {"format_rate": sampled["format_rate"], "sampled_action_reward": sampled["action_reward"],
                      "sampled_answer_reward": sampled["answer_reward"]}
        if stage == "grpo":
            entry |= heldout_rewards(folder, layout.stage_dir(chain[:k]) if k else None)
            rewards = [h["reward"] for h in history if "reward" in h]
            if rewards:
                entry["reward_start"], entry["reward_end"] = edge_means(rewards)
                for part in ("format", "action", "answer"):
                    series = [h[f"rewards/{part}/mean"] for h in history if f"rewards/{part}/mean" in h]
                    entry[f"{part}_start"], entry[f"{part}_end"] = edge_means(series)
                entry["steps"] = len(rewards)
            if "samples" in metrics:
                entry["prompts"] = metrics["samples"]
        report["stages"][stage] = entry
    report["eval"] = eval_results(layout, chain)
    return report


def heldout_rewards(grpo_dir: Path, before_dir: Path | None) -> dict:
    """Sampled rewards on the held-out prompts before GRPO (the previous stage's sampling.json) and after it,
    weighted as the GRPO stage weighted them: heldout_{format,action,answer,total}_{before,after}."""
    record = read_json(grpo_dir / "stage.json") or {}
    options = record.get("options", {})
    default = RewardConfig()
    weights = {"format": options.get("w_format", default.w_format), "action": options.get("w_action", default.w_action),
               "answer": options.get("w_answer", default.w_answer)}
    out: dict = {}
    for when, folder in (("before", before_dir), ("after", grpo_dir)):
        sampled = read_json(folder / "sampling.json") if folder else None
        if sampled is None:
            continue
        parts = {"format": sampled["format_rate"], "action": sampled["action_reward"],
                 "answer": sampled["answer_reward"]}
        out |= {f"heldout_{part}_{when}": value for part, value in parts.items()}
        out[f"heldout_total_{when}"] = sum(weights[part] * value for part, value in parts.items())
        out["heldout_prompts"] = sampled["count"]
    return out


def eval_results(layout: Layout, chain: list[str]) -> dict:
    """bench -> {average, blind_average, count, categories, blind_categories} of the model of `chain`."""
    results: dict = {}
    for folder in sorted(layout.eval_dir(chain).glob("*/results.json")):
        name = folder.parent.name
        bench = name.removesuffix("-blind")
        result = read_json(folder)
        key = "blind_average" if name.endswith("-blind") else "average"
        results.setdefault(bench, {})[key] = result["average"]
        results[bench].setdefault("count", result["count"])
        results[bench]["blind_categories" if key == "blind_average" else "categories"] = result["categories"]
    return results


def plot(report: dict, layout: Layout, chain: list[str]) -> list[str]:
    """PNG plots next to the report: loss curves, GRPO rewards, probe, accuracy per category."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    out = layout.root / "plots"
    out.mkdir(parents=True, exist_ok=True)
    made = []
    fig = Figure(figsize=(4 * max(1, len(chain)), 3))
    for k, stage in enumerate(chain):
        history = _history(layout.stage_dir(chain[: k + 1]))
        ax = fig.add_subplot(1, max(1, len(chain)), k + 1)
        if stage == "grpo":  # per-step means are noisy: faint raw lines, a moving mean over 10% of the steps
            for part in ("format", "action", "answer"):
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
        ax.set_title(stage)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=90)
    made.append("plots/curves.png")
    pasta = report["stages"].get("pasta", {})
    if "probe_after" in pasta:
        fig = Figure(figsize=(5, 3))
        ax = fig.add_subplot(1, 1, 1)
        names = ["chance", "same position", "colour", "before PaStA", "after PaStA"]
        values = [pasta[k] for k in ("probe_chance", "probe_same_position", "probe_colour", "probe_before",
                                     "probe_after")]
        ax.bar(names, values, color=["#bbb", "#bbb", "#bbb", "#7aa6d6", "#1f5fa8"])
        ax.set_ylabel("cell retrieval top-1")
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        fig.savefig(out / "probe.png", dpi=90)
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
        fig.savefig(out / f"eval-{bench}.png", dpi=90)
        made.append(f"plots/eval-{bench}.png")
    return made


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(report: dict, plots: list[str]) -> str:
    s, lines = report["stages"], [f"# hatchvl run: {report['settings']['name']}", ""]
    lines += [f"Recipe `{report['settings']['recipe']}`, seed {report['settings']['seed']}. Settings in full: "
              "`report.json` → `settings`.", "", "## Stages", "", "| stage | wall time | main numbers |",
              "|---|---|---|"]
    for stage, e in s.items():
        if stage == "pasta" and "probe_after" in e:
            main = (f"probe top-1 {_pct(e['probe_before'])} → **{_pct(e['probe_after'])}** (chance "
                    f"{_pct(e['probe_chance'])}, same position {_pct(e['probe_same_position'])}, colour only "
                    f"{_pct(e['probe_colour'])}; {e['probe_pairs']} held-out pairs)")
        elif stage == "actor_sft" and "format_rate" in e:
            main = (f"sampled format compliance **{_pct(e['format_rate'])}** (temperature 1); action reward "
                    f"{e['sampled_action_reward']:.3f}, answer reward {e['sampled_answer_reward']:.3f}")
        elif stage == "grpo" and "reward_start" in e:
            pool = f" on a pool of {e['prompts']} prompts" if "prompts" in e else ""
            main = (f"mean total reward {e['reward_start']:.3f} → **{e['reward_end']:.3f}** over {e['steps']} "
                    f"steps{pool} "
                    f"(format {e['format_start']:.2f} → {e['format_end']:.2f}, action {e['action_start']:.3f} → "
                    f"{e['action_end']:.3f}, answer {e['answer_start']:.3f} → {e['answer_end']:.3f})")
            if "heldout_total_after" in e:
                before = f"{e['heldout_total_before']:.3f} → " if "heldout_total_before" in e else ""
                main += (f"; on {e['heldout_prompts']} held-out prompts (same prompts and seed, temperature 1): "
                         f"total {before}**{e['heldout_total_after']:.3f}**")
                if "heldout_answer_before" in e:
                    main += f" (answer {e['heldout_answer_before']:.3f} → {e['heldout_answer_after']:.3f})"
        else:
            main = f"final loss {e['final_loss']:.4f}" if "final_loss" in e else ""
        wall = f"{e['wall_s']:.0f} s" if e.get("wall_s") is not None else "–"
        lines.append(f"| {stage} | {wall} | {main} |")
    if report["eval"]:
        lines += ["", "## Evaluation", "", "Each evaluation also runs a blind control: the same items with every "
                  "item's images swapped for another item's. A gain that survives it did not come from the images.",
                  "", "| benchmark | items | accuracy | blind control |", "|---|---|---|---|"]
        for bench, e in report["eval"].items():
            blind = f"{e['blind_average']:.1f}%" if "blind_average" in e else "–"
            lines.append(f"| {bench} | {e.get('count', '–')} | {e.get('average', 0):.1f}% | {blind} |")
        for bench, e in report["eval"].items():
            cats = e.get("categories", {})
            if cats:
                lines += ["", f"{bench} per category (with images / blind):", "", "| category | accuracy | blind |",
                          "|---|---|---|"]
                blind = e.get("blind_categories", {})
                lines += [f"| {c} | {v:.1f}% | {blind[c]:.1f}% |" if c in blind else f"| {c} | {v:.1f}% | – |"
                          for c, v in cats.items()]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def write_report(recipe: Recipe, layout: Layout, chain: list[str]) -> dict:
    report = collect(recipe, layout, chain)
    plots = plot(report, layout, chain)
    write_json(layout.root / "report.json", report)
    atomic_write(layout.root / "report.md", markdown(report, plots).encode())
    return report
