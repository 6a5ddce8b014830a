"""`run_bench`: run a model over a benchmark and score its outputs (`hatchvl eval bench`).

Batched greedy generation with left padding. Every batch's outputs are appended to
`OUT/predictions.jsonl` (`{"id": ..., "output": ...}` lines, the `rescore` input) as soon as they
exist, with one write per batch, so an interrupted run resumes where it stopped: items already in the
file are skipped, an unfinished last line is dropped, and no item is generated or scored twice.
`OUT/run.json` records the settings; resuming with different ones is refused.

Every item's images are checked before any generation (data/badfiles.py: an empty file, a PNG or JPEG cut
short, not an image): a bad one stops the run with its benchmark, item and file named, or with skip_bad is
left out of the run and its score, and listed in results.json (`bad_items`) and its notes.

Under torchrun each rank takes items k with k % WORLD_SIZE == RANK and appends to a file of its own,
`predictions.rank<R>.jsonl` (one writer per file, so several nodes on a shared filesystem are safe); after
a barrier (gloo) rank 0 moves those lines into predictions.jsonl, deletes the shards, scores everything
and writes the result folder (results.py). An interrupted sharded run's shards are merged when it resumes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from hatchvl.data.badfiles import DECODE_ERRORS, BadSample, bad_sample_error, decode_error, image_problem
from hatchvl.eval.benchmarks.items import Benchmark, EvalItem, check_bench
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.benchmarks.sources import open_image
from hatchvl.eval.blind import blind_items
from hatchvl.eval.prompts import check_style, item_messages
from hatchvl.eval.rescore import read_predictions, score_items, summarize
from hatchvl.eval.results import blind_sources, write_results
from hatchvl.eval.score import check_viewchg_rule
from hatchvl.io import read_json, write_json
from hatchvl.models.generation import generate_texts
from hatchvl.models.loading import inference_device, load_model_and_processor

PREDICTIONS, RUN_FILE = "predictions.jsonl", "run.json"
DEFAULT_MAX_NEW_TOKENS = {"official": 100, "hatch": 1024}  # official: SPAR's published setting


@dataclass(frozen=True)
class BenchOptions:
    """model: checkpoint directory or hub id; data: the benchmark's files; out: the result folder.
    limit: only the first N items; max_new_tokens: None for the prompt style's default."""

    model: str
    bench: str
    data: str
    out: str
    limit: int | None = None
    prompt_style: str = "official"
    batch_size: int = 8
    max_new_tokens: int | None = None
    viewchg_rule: str = "authors"
    label: str | None = None
    dtype: str = "auto"
    blind: bool = False  # the blind control: every item gets another item's images (eval/blind.py)
    seed: int = 0  # of the blind control's swap
    skip_bad: bool = False  # leave out (and list) items whose images cannot be decoded, instead of stopping

    def __post_init__(self) -> None:
        check_bench(self.bench)
        check_style(self.prompt_style)
        check_viewchg_rule(self.viewchg_rule)
        if self.limit is not None and self.limit < 1 or self.batch_size < 1:
            raise ValueError(f"limit and batch_size must be >= 1, got {self.limit} and {self.batch_size}")


def run_label(opts: BenchOptions) -> str:
    """The model's name in the results: --label or the checkpoint folder's name, with " (blind)" added for a
    blind control, so that `eval compare` can put a run and its blind control side by side."""
    label = opts.label or Path(opts.model).name
    return f"{label} (blind)" if opts.blind and not label.endswith(" (blind)") else label


def _source_name(source, k: int) -> str:
    return str(source) if isinstance(source, Path) else f"image {k} (held in the benchmark file)"


def bad_items(items: Sequence[EvalItem], bench: str) -> list[BadSample]:
    """Items with an image that fails the check of data/badfiles.py, named by their first bad image."""
    bad = []
    for item in items:
        for k, source in enumerate(item.images):
            reason = image_problem(source)
            if reason is not None:
                bad.append(BadSample(bench, item.id, _source_name(source, k), reason))
                break
    return bad


def generate_batch(model, processor, items: Sequence[EvalItem], style: str, max_new_tokens: int,
                   bench: str = "benchmark") -> list[str]:
    """Greedy outputs (special tokens removed) of one left-padded batch."""
    images = []
    for item in items:
        views = []
        for k, source in enumerate(item.images):
            try:
                views.append(open_image(source))
            except DECODE_ERRORS as err:
                raise decode_error(bench, item.id, _source_name(source, k), err) from None
        images.append(views)
    return generate_texts(model, processor, [item_messages(item, style) for item in items], images, max_new_tokens)


def append_predictions(path: Path, records: Sequence[dict]) -> None:
    """Append JSON lines with a single O_APPEND write, then fsync."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(f"{path}: short write (disk full?)")
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_unfinished_line(path: Path) -> bool:
    """Truncate a last line that has no newline and is not JSON (a write cut short); True if one was."""
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return False
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:])
    except ValueError:
        with open(path, "r+b") as f:
            f.truncate(cut)
        return True
    with open(path, "ab") as f:  # complete but unterminated: terminate it
        f.write(b"\n")
    return False


def rank_shard(predictions: Path, rank: int) -> Path:
    """The file rank `rank` appends its predictions to under a launcher: one writer per file, so no two
    processes (or nodes, on a shared filesystem without atomic appends) ever append to the same file."""
    return predictions.with_name(f"{predictions.stem}.rank{rank}.jsonl")


def merge_rank_shards(predictions: Path) -> int:
    """Move the complete lines of every rank's shard into predictions.jsonl (an id already there is not
    written twice), then delete the shards; returns the number of lines moved. A merge cut short by a kill
    is finished by the next one."""
    shards = sorted(predictions.parent.glob(f"{predictions.stem}.rank*.jsonl"))
    if not shards:
        return 0
    drop_unfinished_line(predictions)
    have = set(read_predictions(predictions).outputs) if predictions.is_file() else set()
    moved = []
    for shard in shards:
        drop_unfinished_line(shard)
        for item_id, output in read_predictions(shard).outputs.items():
            if item_id not in have:
                moved.append({"id": item_id, "output": output})
                have.add(item_id)
    if moved:
        append_predictions(predictions, moved)
    for shard in shards:
        shard.unlink()
    return len(moved)


def _check_run(out: Path, settings: dict) -> None:
    path = out / RUN_FILE
    before = read_json(path)
    if before is not None:
        changed = ", ".join(f"{k}: {before.get(k)!r}" for k in settings if before.get(k) != settings[k])
        if changed:
            raise ValueError(f"{out} holds a run with other settings ({changed}); resume with the same settings "
                             "or choose another --out")
    else:
        write_json(path, settings)


def _distributed() -> tuple[int, int]:
    """(rank, world size) under torchrun, initialising a gloo group for the barriers; (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    return int(os.environ.get("RANK", "0")), world


def _barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def run_bench(opts: BenchOptions) -> dict | None:
    """Generate the missing predictions of opts.bench and score all; the results dict on rank 0, None
    on other ranks."""
    rank, world = _distributed()
    out, style = Path(opts.out), opts.prompt_style
    max_new_tokens = opts.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[style]
    benchmark = read_benchmark(opts.bench, opts.data)
    items = benchmark.items[: opts.limit]
    predictions = out / PREDICTIONS
    notes = list(benchmark.notes) + ([f"limited to the first {len(items)} items"] if opts.limit else [])
    bad = bad_items(items, opts.bench)
    if bad and not opts.skip_bad:
        raise bad_sample_error(opts.data, bad)
    if bad:
        left_out = {b.id for b in bad}
        items = [item for item in items if item.id not in left_out]
        notes.append(f"{len(bad)} item(s) left out, their images cannot be decoded (skip_bad): "
                     + ", ".join(b.id for b in bad[:5]) + (", ..." if len(bad) > 5 else ""))
    kept: list[str] = []
    sources: list[str] = []
    if opts.blind:
        sources = blind_sources([i.id for i in items], [len(i.images) for i in items], opts.seed, opts.bench)
        items, kept = blind_items(items, opts.seed, name=opts.bench)
        notes.append(f"blind control: images swapped between items (seed {opts.seed}); {len(kept)} item(s) alone "
                     "with their number of views kept their own (left out of the sees gap)")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _check_run(out, {"bench": opts.bench, "data": str(opts.data), "model": str(opts.model),
                         "prompt_style": style, "max_new_tokens": max_new_tokens, "blind": opts.blind,
                         "seed": opts.seed})
        if drop_unfinished_line(predictions):
            notes.append("dropped an unfinished last line of predictions.jsonl (an interrupted write)")
        merge_rank_shards(predictions)  # an interrupted sharded run's
    _barrier(world)
    done = read_predictions(predictions).outputs if predictions.is_file() else {}
    todo = [item for k, item in enumerate(items) if k % world == rank and item.id not in done]
    seconds = 0.0
    if todo:
        model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
        model.to(inference_device()).eval()
        start = time.perf_counter()
        batches = [todo[k: k + opts.batch_size] for k in range(0, len(todo), opts.batch_size)]
        for batch in tqdm(batches, desc=f"{opts.bench} (rank {rank})", disable=rank != 0):
            outputs = generate_batch(model, processor, batch, style, max_new_tokens, opts.bench)
            append_predictions(predictions if world == 1 else rank_shard(predictions, rank),
                               [{"id": i.id, "output": o} for i, o in zip(batch, outputs, strict=True)])
        seconds = time.perf_counter() - start
    _barrier(world)
    if rank != 0:
        return None
    merge_rank_shards(predictions)
    rows = score_items(items, read_predictions(predictions).outputs, opts.viewchg_rule)
    if opts.blind:  # which item's images each item was shown (the viewer draws them)
        rows = [row | {"images_from": source} for row, source in zip(rows, sources, strict=True)]
    limited = Benchmark(benchmark.name, items, tuple(notes))
    settings = asdict(opts) | {"max_new_tokens": max_new_tokens, "world_size": world}
    results = summarize(limited, rows, run_label(opts), opts.viewchg_rule,
                        model=str(opts.model), prompt_style=style, data=str(opts.data), settings=settings,
                        generated_rank0=len(todo), generation_seconds_rank0=seconds,
                        **({"blind_kept": kept} if opts.blind else {}),
                        **({"bad_items": [b.as_dict() for b in bad]} if bad else {}))
    write_results(out, results, rows)
    return results
