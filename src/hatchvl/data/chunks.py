"""The chunk runner every dataset builder shares (`synthetic.synth`, `importers.spar`,
`importers.scannet`): an output folder checked before any work and described by `dataset.json`, and
numbered chunks run in parallel spawned processes (`run_pool`), each a pure function of (context,
chunk index), so that the output does not depend on the number of workers and an interrupted build
resumes to the same bytes. The synthetic builder commits each chunk (a scene) as a folder; the importers
use the shards below, with per-reason skip counts, and the file helpers they write with.

An import is split into numbered *chunks* (a slice of records, or one scene). A chunk is processed by
a pure function of (context, chunk index) that returns its manifest lines and skip counts; the result
is written atomically to `DIR/.import/chunks/<index>.jsonl` (a shard). A shard that exists is finished:
a re-run skips it, so a killed import resumes where it stopped and gives the same bytes as an
uninterrupted one. When every shard exists, `finish` streams the shards in chunk order into the split
manifests (so the output order does not depend on the number of workers), writes
`import_report.json` (skip counts per reason with one example each) and marks `dataset.json` complete.
Memory stays bounded by one chunk per worker, whatever the number of records.

Shard format: line 1 is a JSON header `{"records": n, "skips": {reason: count}, "examples": {reason:
text}}`; every further line is `<split>\\t<manifest line>`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from hatchvl.data.format import SPLITS, WRITE_PROBE, check_writable, manifest_path
from hatchvl.io import atomic_write, is_temp_file, read_json, write_json

INFO_FILE = "dataset.json"
REPORT_FILE = "import_report.json"
WORK_DIR = ".import"


class Skip(Exception):
    """A record or frame left out of the import and counted under `reason` (a short snake_case key)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


@dataclass
class ChunkResult:
    """What one chunk produced: manifest lines with their split, skip counts, one example per reason."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    records: int = 0
    skips: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, err: Skip) -> None:
        self.skips[err.reason] += 1
        self.examples.setdefault(err.reason, err.detail)

    def encode(self) -> bytes:
        header = {"records": self.records, "skips": dict(sorted(self.skips.items())),
                  "examples": dict(sorted(self.examples.items()))}
        body = "".join(f"{split}\t{line}\n" for split, line in self.lines)
        return (json.dumps(header) + "\n" + body).encode("utf-8")


ChunkFn = Callable[[object, int], ChunkResult]


def write_once(root: Path, rel: str, make: Callable[[], bytes]) -> str:
    """Write root/rel atomically unless it exists (files are named by content source, so an existing file
    is the same bytes); returns rel."""
    path = root / rel
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, make())
    return rel


def prepare_output(root: Path, generator: str, settings: dict, extra: dict | None = None) -> None:
    """Make root ready: writable, and empty or an earlier build by the same generator with the same
    settings (which resumes). Raises ValueError naming the difference otherwise. A new dataset.json
    holds `extra` (see write_info)."""
    check_writable(root)
    info_path = root / INFO_FILE
    wanted = json.loads(json.dumps(settings))
    info = read_json(info_path)
    if info is not None:
        earlier = info.get("config") or {}
        differ = [f"{k} {earlier.get(k)!r} there, {v!r} here" for k, v in wanted.items() if earlier.get(k) != v]
        if info.get("generator") != generator or differ:
            raise ValueError(f"{root} holds a dataset made by {info.get('generator')!r} with other settings "
                             f"({'; '.join(differ) or 'generator differs'}); use a new output folder, or the "
                             f"same settings to resume")
    elif any(p.name not in (WORK_DIR, WRITE_PROBE) and not is_temp_file(p.name) for p in root.iterdir()):
        # (an earlier build killed before its first dataset.json leaves only these)
        raise ValueError(f"{root} is not empty and holds no {INFO_FILE}; refusing to write into it")
    else:
        write_info(root, generator, settings, None, extra)


def write_info(root: Path, generator: str, settings: dict, counts: dict | None, extra: dict | None = None) -> None:
    info = {"format": "hatchvl-dataset", "version": 1, "generator": generator, "config": settings,
            **(extra or {}), "complete": counts is not None, "samples": counts}
    write_json(root / INFO_FILE, info)


def shard_path(root: Path, index: int) -> Path:
    return root / WORK_DIR / "chunks" / f"{index:07d}.jsonl"


_WORKER: tuple[Callable[[object, int], object], object] | None = None


def _init_worker(fn: Callable[[object, int], object], context: object) -> None:
    global _WORKER
    _WORKER = (fn, context)


def _run_job(index: int) -> int:
    fn, context = _WORKER
    fn(context, index)
    return index


def run_pool(
    fn: Callable[[object, int], object],
    context: object,
    chunks: int,
    pending: list[int],
    workers: int = 1,
    progress: bool = True,
    desc: str = "import",
    unit: str = "chunk",
    chunk_sizes: Callable[[int], int] | None = None,
    on_done: Callable[[int], None] | None = None,
) -> None:
    """Run fn(context, i) for every chunk i in pending (of `chunks` in all): in this process when workers
    is 1 or at most one chunk is pending, else in that many spawned processes, in any order.

    fn and context must be picklable (module-level function, plain data); fn writes its own output.
    chunk_sizes(i) gives the progress-bar weight of chunk i (1 by default; chunks not pending count as
    done). on_done(i) is called in this process after chunk i has returned.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    weight = chunk_sizes or (lambda i: 1)
    done = sum(weight(i) for i in range(chunks)) - sum(weight(i) for i in pending)
    with tqdm(total=done + sum(weight(i) for i in pending), initial=done, unit=unit, desc=desc,
              disable=not progress) as bar:
        if workers == 1 or len(pending) <= 1:
            _init_worker(fn, context)
            _drain(map(_run_job, pending), bar, weight, on_done)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(min(workers, len(pending)), _init_worker, (fn, context)) as pool:
                _drain(pool.imap_unordered(_run_job, pending), bar, weight, on_done)


def _drain(indices: Iterable[int], bar: tqdm, weight: Callable[[int], int], on_done) -> None:
    for index in indices:
        bar.update(weight(index))
        if on_done is not None:
            on_done(index)


def _write_shard(job: tuple[ChunkFn, object, Path], index: int) -> None:
    fn, context, root = job
    atomic_write(shard_path(root, index), fn(context, index).encode())


def run_chunks(
    root: Path,
    fn: ChunkFn,
    context: object,
    chunks: int,
    workers: int = 1,
    progress: bool = True,
    desc: str = "import",
    unit: str = "chunk",
    chunk_sizes: Callable[[int], int] | None = None,
) -> None:
    """Run fn(context, i) for every chunk i without a shard, in `workers` processes (`run_pool`), writing
    each ChunkResult as chunk i's shard. chunk_sizes(i) gives the progress-bar weight of chunk i (records)."""
    (root / WORK_DIR / "chunks").mkdir(parents=True, exist_ok=True)
    pending = [i for i in range(chunks) if not shard_path(root, i).is_file()]
    run_pool(_write_shard, (fn, context, root), chunks, pending, workers, progress, desc, unit, chunk_sizes)


def finish(root: Path, chunks: int, generator: str, settings: dict, extra: dict | None = None,
           report_extra: dict | None = None) -> tuple[dict[str, int], dict]:
    """Concatenate the shards (in chunk order) into the split manifests, write import_report.json and a
    complete dataset.json. Returns (samples per split, report)."""
    tmp = {split: manifest_path(root, split).with_name(f".{split}.jsonl.tmp{os.getpid()}") for split in SPLITS}
    counts = dict.fromkeys(SPLITS, 0)
    skips: Counter = Counter()
    examples: dict[str, str] = {}
    records = 0
    files = {split: open(path, "w", encoding="utf-8") for split, path in tmp.items()}
    try:
        for index in range(chunks):
            with open(shard_path(root, index), encoding="utf-8") as shard:
                header = json.loads(shard.readline())
                records += header["records"]
                skips.update(header["skips"])
                for reason, text in header["examples"].items():
                    examples.setdefault(reason, text)
                for line in shard:
                    split, _, record = line.partition("\t")
                    files[split].write(record)
                    counts[split] += 1
    finally:
        for f in files.values():
            f.close()
    for split, path in tmp.items():
        os.replace(path, manifest_path(root, split))
    report = {"generator": generator, "records": records, "samples": counts,
              "skipped": dict(sorted(skips.items())), "skipped_total": sum(skips.values()),
              "examples": dict(sorted(examples.items())), **(report_extra or {})}
    write_json(root / REPORT_FILE, report)
    write_info(root, generator, settings, counts, extra)
    return counts, report


def format_report(report: dict) -> str:
    """Short text of an import report: samples per split, then skips per reason."""
    lines = [f"{report['records']} records read; samples: "
             + ", ".join(f"{k} {v}" for k, v in report["samples"].items())]
    if report["skipped"]:
        lines.append(f"skipped {report['skipped_total']}:")
        lines += [f"  {reason}: {count} (e.g. {report['examples'].get(reason, '')})"
                  for reason, count in report["skipped"].items()]
    return "\n".join(lines)
