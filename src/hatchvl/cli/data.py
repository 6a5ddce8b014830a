"""`hatchvl data ...`: build, import and inspect datasets in the hatchvl dataset format."""

from __future__ import annotations

from pathlib import Path

import typer

from hatchvl.cli.errors import ReportingGroup
from hatchvl.data.synthetic.synth import SynthConfig, synthesize

app = typer.Typer(help="Build and inspect datasets in the hatchvl dataset format.", cls=ReportingGroup,
                  no_args_is_help=True)


def _range(text: str, kind: type, option: str) -> tuple:
    """'lo-hi' or a single value -> (lo, hi)."""
    parts = text.split("-")
    try:
        values = tuple(kind(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) not in (1, 2):
        raise ValueError(f"{option} must be 'lo-hi' or one {kind.__name__}, got {text!r}")
    return values if len(values) == 2 else values * 2


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ValueError(f"--split must be three fractions train,val,test such as 0.8,0.1,0.1, got {text!r}")
    return values


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Dataset folder; a re-run with the same settings resumes it."),
    scenes: int = typer.Option(..., "--scenes", help="Number of rooms (splits are made by room)."),
    views: str = typer.Option("2-4", "--views", help="Views per sample: 'lo-hi' or one number."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the same bytes."),
    size: int = typer.Option(224, "--size", help="Image side in pixels."),
    samples_per_scene: int = typer.Option(10, "--samples-per-scene", help="Questions per room."),
    overlap: str = typer.Option("0.1-0.7", "--overlap", help="Allowed overlap mass of every view pair."),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="Fractions of rooms in train,val,test."),
    grid: int = typer.Option(4, "--grid", help="PaStA grid n used to measure overlap."),
    pool: int = typer.Option(12, "--pool", help="Candidate cameras rendered per room."),
    fov: float = typer.Option(75.0, "--fov", help="Horizontal field of view, degrees."),
    workers: int = typer.Option(2, "--workers", help="Processes building rooms in parallel."),
) -> None:
    """Build the synthetic multi-view dataset (resumable: finished rooms are kept)."""
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    config = SynthConfig(
        scenes=scenes, seed=seed, views=_range(views, int, "--views"), size=size,
        samples_per_scene=samples_per_scene, overlap=_range(overlap, float, "--overlap"), grid=grid,
        split=_fractions(split), pool=pool, fov_deg=fov,
    )
    counts = synthesize(out, config, workers=workers, progress=True)
    typer.echo(f"wrote {sum(counts.values())} samples to {out} ("
               + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")")


@app.command()
def show(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    index: int = typer.Option(0, "--index", help="Sample index within the split."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    grid: int = typer.Option(4, "--grid", help="PaStA grid n of the overlap colours."),
) -> None:
    """Draw one sample: views with PaStA overlap colours, top-down map, question and answer."""
    from hatchvl.data.synthetic.show import show_sample  # matplotlib: only when drawing

    show_sample(dataset, index, out, split=split, grid=grid)
    typer.echo(f"wrote {out}")


@app.command("inspect")
def inspect_command(
    dataset: Path = typer.Argument(..., help="Dataset folder (synthetic or imported)."),
    split: str = typer.Option(None, "--split", help="Only this split (train, val or test); default: every split."),
    limit: int = typer.Option(10000, "--limit", help="Samples checked per split: a seeded subset of a larger "
                                                    "split; 0 checks all."),
    seed: int = typer.Option(0, "--seed", help="Seed of that subset, of the overlap pairs and of the sheet's samples."),
    pairs: int = typer.Option(48, "--pairs", help="View pairs whose PaStA overlap mass is measured."),
    grid: int = typer.Option(4, "--grid", help="PaStA grid n of the overlap mass."),
    out: Path = typer.Option(None, "--out", help="Contact sheet PNG to write (default DIR/inspect.png)."),
) -> None:
    """Check a dataset, the first thing to run after an import or `data synth`.

    Prints, per split, the samples by category, answer type and number of views; checks every view of the
    checked samples (files present, pose rigid, K fitting its image, depth map float32 at the image's size)
    and names the first offending samples and views; prints the overlap mass of a seeded sample of view
    pairs; and writes a contact sheet of a few samples with their listed markers ringed.
    """
    from hatchvl.data.inspect import format_inspection, inspect_dataset

    result = inspect_dataset(dataset, split=split, limit=limit, seed=seed, out=out, pairs=pairs, grid=grid)
    typer.echo(format_inspection(result))


def _up(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise ValueError(f"--up must be three numbers x,y,z such as 0,0,1, got {text!r}")
    return values


@app.command("import-spar")
def import_spar_command(
    root: Path = typer.Option(..., "--root", help="SPAR-7M-RGBD folder (holding <source>/qa_jsonl, or spar/)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder; a re-run with the same settings resumes it."),
    sources: str = typer.Option("scannet,scannetpp,structured3d", "--sources", help="Comma-separated sources."),
    tasks: str = typer.Option("multiview", "--tasks", help="'multiview' or comma-separated task names."),
    sample: int = typer.Option(None, "--sample", help="Seeded subset of this many records (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample and --test-fraction."),
    splits: str = typer.Option("train,val", "--splits", help="SPAR splits to read (each becomes ours)."),
    test_fraction: float = typer.Option(0.0, "--test-fraction", help="Fraction of scenes moved into test."),
    up: str = typer.Option("0,0,1", "--up", help="World up of the sources' poses, x,y,z."),
    grid: int = typer.Option(4, "--grid", help="PaStA grid n of the stored overlaps."),
    workers: int = typer.Option(1, "--workers", help="Processes importing chunks in parallel."),
) -> None:
    """Import SPAR-7M-RGBD multi-view records (resumable; skips are counted in import_report.json)."""
    from hatchvl.data.chunks import format_report
    from hatchvl.data.importers.spar import import_spar

    report = import_spar(
        root, out, sources=tuple(s for s in sources.split(",") if s),
        tasks=tasks if tasks == "multiview" else tuple(t for t in tasks.split(",") if t), sample=sample,
        seed=seed, workers=workers, splits=tuple(s for s in splits.split(",") if s), test_fraction=test_fraction,
        up=_up(up), grid=grid,
    )
    typer.echo(format_report(report))
    typer.echo(f"wrote {out}")


@app.command("import-scannet")
def import_scannet_command(
    root: Path = typer.Option(..., "--root", help="ScanNet export: <scene>/{color,depth,pose,intrinsic}."),
    out: Path = typer.Option(..., "--out", help="Dataset folder; a re-run with the same settings resumes it."),
    pairs_per_scene: int = typer.Option(10, "--pairs-per-scene", help="Samples (view sets) per scene."),
    overlap: str = typer.Option("0.1-0.7", "--overlap", help="Allowed overlap mass of every view pair."),
    views: str = typer.Option("2", "--views", help="Views per sample: 'lo-hi' or one number."),
    pool: int = typer.Option(30, "--pool", help="Candidate frames per scene compared for overlap."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives the same bytes."),
    split: str = typer.Option("0.8,0.1,0.1", "--split", help="Fractions of scenes in train,val,test."),
    questions: bool = typer.Option(True, "--questions/--no-questions",
                                   help="Camera-motion multiple choice where possible (else view change)."),
    grid: int = typer.Option(4, "--grid", help="PaStA grid n of the stored overlaps."),
    workers: int = typer.Option(1, "--workers", help="Processes importing scenes in parallel."),
) -> None:
    """Sample overlapping view pairs/triples from ScanNet scenes (resumable; skips counted)."""
    from hatchvl.data.chunks import format_report
    from hatchvl.data.importers.scannet import import_scannet

    report = import_scannet(
        root, out, pairs_per_scene=pairs_per_scene, overlap=_range(overlap, float, "--overlap"),
        views=_range(views, int, "--views"), seed=seed, workers=workers, pool=pool, split=_fractions(split),
        questions=questions, grid=grid,
    )
    typer.echo(format_report(report))
    typer.echo(f"wrote {out}")
