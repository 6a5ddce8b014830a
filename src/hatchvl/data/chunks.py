"""Machinery shared by the dataset importers (`spar`, `scannet`): chunked, parallel, resumable imports
with per-reason skip counts, and the file helpers they write with.

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

from hatchvl.data.format import SPLITS, check_writable, manifest_path
from hatchvl.io import atomic_write, read_json, write_json

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


def prepare_output(root: Path, generator: str, settings: dict) -> None:
    """Make root ready: writable, and empty or an earlier import with the same settings (which resumes).
    Raises ValueError naming the difference otherwise."""
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
    elif any(p.name != WORK_DIR for p in root.iterdir()):
        raise ValueError(f"{root} is not empty and holds no {INFO_FILE}; refusing to write into it")
    else:
        write_info(root, generator, settings, None)
    (root / WORK_DIR / "chunks").mkdir(parents=True, exist_ok=True)


def write_info(root: Path, generator: str, settings: dict, counts: dict | None, extra: dict | None = None) -> None:
    info = {"format": "hatchvl-dataset", "version": 1, "generator": generator, "config": settings,
            **(extra or {}), "complete": counts is not None, "samples": counts}
    write_json(root / INFO_FILE, info)


def shard_path(root: Path, index: int) -> Path:
    return root / WORK_DIR / "chunks" / f"{index:07d}.jsonl"


_WORKER: tuple[ChunkFn, object, Path] | None = None


def _init_worker(fn: ChunkFn, context: object, root: Path) -> None:
    global _WORKER
    _WORKER = (fn, context, root)


def _run_chunk(index: int) -> tuple[int, int]:
    fn, context, root = _WORKER
    result = fn(context, index)
    atomic_write(shard_path(root, index), result.encode())
    return index, result.records


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
    """Run fn(context, i) for every chunk i without a shard, in `workers` processes, writing shards.

    fn and context must be picklable (module-level function, plain data). chunk_sizes(i) gives the
    progress-bar weight of chunk i (records); 1 per chunk by default.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    weight = chunk_sizes or (lambda i: 1)
    pending = [i for i in range(chunks) if not shard_path(root, i).is_file()]
    done = sum(weight(i) for i in range(chunks)) - sum(weight(i) for i in pending)
    with tqdm(total=done + sum(weight(i) for i in pending), initial=done, unit=unit, desc=desc,
              disable=not progress) as bar:
        if workers == 1 or len(pending) <= 1:
            _init_worker(fn, context, root)
            _drain(map(_run_chunk, pending), bar, weight)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(min(workers, len(pending)), _init_worker, (fn, context, root)) as pool:
                _drain(pool.imap_unordered(_run_chunk, pending), bar, weight)


def _drain(results: Iterable[tuple[int, int]], bar: tqdm, weight) -> None:
    for index, _ in results:
        bar.update(weight(index))


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
