"""`hatchvl eval ...`: score predictions on the benchmarks, compare result folders, view the predictions.

The library is imported inside each command so that `--help` stays fast.
"""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from hatchvl.cli.errors import ReportingGroup
from hatchvl.eval.benchmarks.items import BENCH_NAMES

app = typer.Typer(
    help="Evaluate on SPAR-Bench (MV, SI), MindCube-Tiny, MMSI-Bench and the synthetic test split, scored with "
    "each benchmark's official rules (docs/evaluation.md); look at the predictions in a browser; probe the vision "
    "tower's cross-view retrieval.",
    cls=ReportingGroup,
    no_args_is_help=True,
)
BENCH_HELP = f"Benchmark: {', '.join(BENCH_NAMES)}."


class ViewChgRule(enum.StrEnum):
    authors = "authors"
    vlmevalkit = "vlmevalkit"


def _check_bench(bench: str) -> None:
    if bench not in BENCH_NAMES:
        raise typer.BadParameter(f"unknown benchmark {bench!r}; expected one of {', '.join(BENCH_NAMES)}",
                                 param_hint="--bench")


@app.command("rescore")
def rescore(
    bench: str = typer.Option(..., help=BENCH_HELP),
    data: Path = typer.Option(..., help="The benchmark's files (see docs/evaluation.md)."),
    predictions: Path = typer.Option(..., help='JSONL, one {"id": ..., "output": "..."} per line.'),
    out: Path = typer.Option(..., help="Result folder to write (results.json, results.md, scored.jsonl)."),
    viewchg_rule: ViewChgRule = typer.Option(
        ViewChgRule.authors, help="SPAR view_change_infer scoring: the SPAR authors' code or VLMEvalKit's."
    ),
    skip_bad_lines: bool = typer.Option(False, help="Skip (and count) prediction lines that do not parse."),
    label: str | None = typer.Option(None, help="Model name in the results (default: the predictions file name)."),
) -> None:
    """Score an existing predictions file; items without a prediction count as wrong."""
    from hatchvl.eval.rescore import rescore as run

    _check_bench(bench)
    results = run(bench, data, predictions, out, viewchg_rule.value, skip_bad_lines, label)
    typer.echo(f"{bench}: {results['average']:.1f}% over {results['count']} items "
               f"({results['missing']} missing) -> {out / 'results.json'}")
    for note in results["skipped_lines"]:
        typer.echo(f"skipped {note}", err=True)
    if results["unknown_ids"]:
        typer.echo(f"warning: {results['unknown_ids']} predictions have ids that {bench} does not have", err=True)


@app.command("compare")
def compare(dirs: list[Path] = typer.Argument(..., help="Result folders (each with a results.json).")) -> None:
    """Print one Markdown table of several result folders."""
    from hatchvl.eval.results import compare as table

    typer.echo(table(dirs), nl=False)


class PromptStyle(enum.StrEnum):
    official = "official"
    hatch = "hatch"


@app.command("bench")
def bench(
    model: str = typer.Option(..., help="Checkpoint directory (Hugging Face layout) or hub id."),
    bench: str = typer.Option(..., help=BENCH_HELP),
    data: Path = typer.Option(..., help="The benchmark's files (see docs/evaluation.md)."),
    out: Path = typer.Option(..., help="Result folder; an interrupted run resumes from its predictions.jsonl."),
    limit: int | None = typer.Option(None, min=1, help="Evaluate only the first N items."),
    prompt_style: PromptStyle = typer.Option(
        PromptStyle.official, help="official: the benchmark's own prompt; hatch: actions, then the answer."
    ),
    batch_size: int = typer.Option(8, min=1, help="Items per generation batch (per process)."),
    max_new_tokens: int | None = typer.Option(None, min=1, help="Default: 100 (official) or 1024 (hatch)."),
    viewchg_rule: ViewChgRule = typer.Option(
        ViewChgRule.authors, help="SPAR view_change_infer scoring: the SPAR authors' code or VLMEvalKit's."
    ),
    label: str | None = typer.Option(None, help="Model name in the results (default: the checkpoint's name; a "
                                                "blind control adds ' (blind)')."),
    dtype: str = typer.Option("auto", help="torch dtype of the weights (auto: as stored)."),
    blind: bool = typer.Option(False, help="Blind control: give every item another item's images."),
    seed: int = typer.Option(0, help="Seed of the blind control's image swap."),
    view: bool = typer.Option(True, "--view/--no-view", help="Write the predictions viewer into OUT/view."),
    skip_bad: bool = typer.Option(False, help="Leave out (and list in results.json) items whose images cannot "
                                              "be decoded, instead of stopping."),
) -> None:
    """Run a model over a benchmark (greedy, batched; shard with torchrun) and score it."""
    from hatchvl.eval.generate import BenchOptions, run_bench
    from hatchvl.eval.view.site import write_view

    _check_bench(bench)
    results = run_bench(BenchOptions(
        model=model, bench=bench, data=str(data), out=str(out), limit=limit, prompt_style=prompt_style.value,
        batch_size=batch_size, max_new_tokens=max_new_tokens, viewchg_rule=viewchg_rule.value, label=label,
        dtype=dtype, blind=blind, seed=seed, skip_bad=skip_bad,
    ))
    if results is not None:
        seconds, generated = results["generation_seconds_rank0"], results["generated_rank0"]
        rate = f", {generated / seconds:.2f} items/s" if seconds else ""
        typer.echo(f"{bench}: {results['average']:.1f}% over {results['count']} items ({results['missing']} missing); "
                   f"generated {generated} on rank 0 in {seconds:.1f} s{rate} -> {out / 'results.json'}")
        if view:
            _echo_site(write_view([out]))


def _echo_site(site) -> None:
    typer.echo(f"viewer: {site.items} items, {site.bytes / 1e6:.1f} MB, written in {site.seconds:.1f} s -> "
               f"{site.index}")


@app.command("view")
def view(
    result_dir: Path = typer.Argument(..., help="Result folder of `eval bench` or `eval rescore` (with scored.jsonl)."),
    other: Path | None = typer.Argument(None, help="A second result folder of the same benchmark, shown side by "
                                                   "side (its blind control, another model)."),
    out: Path | None = typer.Option(None, help="Folder of the site (default: RESULT_DIR/view)."),
    data: Path | None = typer.Option(None, help="The benchmark's files, when the path in results.json is not found."),
) -> None:
    """Write a static HTML viewer of the predictions: open OUT/index.html in a browser, no server needed."""
    from hatchvl.eval.view.site import write_view

    _echo_site(write_view([result_dir] + ([other] if other is not None else []), out, data))


@app.command("probe")
def probe(
    model: str = typer.Option(..., "--model", help="Checkpoint folder to probe."),
    data: Path = typer.Option(..., "--data", help="Dataset folder in the hatchvl format, with depths and poses."),
    split: str = typer.Option("test", "--split", help="Held-out split: val or test."),
    grid: int = typer.Option(4, "--grid", help="PaStA cells per side."),
    limit: int | None = typer.Option(None, "--limit", help="Probe at most this many view pairs."),
    before_merger: bool = typer.Option(False, "--before-merger", help="Features before the 2x2 merger."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the result as JSON to this file."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip (and count) samples whose files cannot be decoded."),
) -> None:
    """Cross-view cell retrieval probe: top-1 accuracy against chance, "same position" and "colour only"."""
    from hatchvl.io import write_json
    from hatchvl.objectives.probe import format_table, probe_checkpoint

    result = probe_checkpoint(model, data, split=split, grid=grid, limit=limit, before_merger=before_merger,
                              skip_bad=skip_bad)
    typer.echo(format_table(result))
    if json_out is not None:
        write_json(json_out, result.as_dict())
