"""SPAR-Bench and SPAR-Bench-Tiny (and their RGBD variants): parquet files as published on the hub.

Columns read: `id` (int), `task` (one of the 20 task names), `question`, `answer` (string) and `image`
(a list of Hugging Face image cells; the markers a question refers to are already drawn in).
SPAR-Bench-MV keeps the 12 multi-view tasks, SPAR-Bench-SI the 8 single-view ones (items.py). RGBD
variants add per-view `depth`, `pose`, `intrinsic_color`, `intrinsic_depth`; the model sees images
only, so evaluation reads no geometry, but the depth units (undocumented) are detected from the values
of the first items and reported in the benchmark's notes. That probe reads only the `depth` pages of
those items, not the whole depth column of a row group.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from hatchvl.eval.benchmarks.fields import UniqueIds, require_columns
from hatchvl.eval.benchmarks.items import (
    SPAR_CHOICE,
    SPAR_NUMBER_FIRST,
    SPAR_NUMBER_LAST,
    SPAR_NUMBER_TASKS,
    SPAR_TASKS,
    SPAR_VIEW_CHANGE,
    SPAR_VIEW_CHANGE_TASK,
    Benchmark,
    EvalItem,
)
from hatchvl.eval.benchmarks.sources import hf_image, parquet_files
from hatchvl.eval.score import parse_spar_view_change

COLUMNS = ("id", "task", "question", "answer", "image")
RGBD_COLUMNS = ("depth", "pose", "intrinsic_color", "intrinsic_depth")
DEPTH_PROBE_ITEMS = 8  # items whose depth maps decide the units
# The probe reads pages through a buffer of this size instead of loading whole column chunks.
PROBE_BUFFER_BYTES = 1 << 16


def read_spar(path: Path, name: str, tasks: tuple[str, ...], images: bool = True) -> Benchmark:
    """The items of `tasks` in the SPAR parquet file(s) at path (a file or a folder of shards).

    images=False skips decoding the image column (enough for rescoring). Raises ValueError naming
    the file, row and item for an unknown task, a missing image or an answer its task cannot score.
    """
    items, ids, notes = [], UniqueIds(), []
    for file in parquet_files(path):
        parquet = pq.ParquetFile(file)
        present = parquet.schema_arrow.names
        require_columns(present, COLUMNS, str(file))
        columns = [c for c in COLUMNS if images or c != "image"]
        rows = (row for batch in parquet.iter_batches(columns=columns) for row in batch.to_pylist())
        for number, row in enumerate(rows):
            item = _item(row, file, number, images)
            ids.add(item.id, f"{file.name} row {number}")
            if item.category in tasks:
                items.append(item)
        notes.append(f"read {file} ({parquet.metadata.num_rows} rows)")
        if "depth" in present:
            notes.append(_depth_note(file, [c for c in RGBD_COLUMNS if c in present]))
    if not items:
        raise ValueError(f"{path}: no item of the {name} tasks ({', '.join(tasks)})")
    return Benchmark(name, tuple(items), tuple(notes))


def _item(row: dict, file: Path, number: int, images: bool) -> EvalItem:
    item_id = str(row["id"])
    where = f"{file.name} row {number} (item {item_id})"
    task, question, answer = row["task"], row["question"], row["answer"]
    if task not in SPAR_TASKS:
        raise ValueError(f"{where}: unknown task {task!r}; SPAR-Bench has {', '.join(SPAR_TASKS)}")
    if not isinstance(question, str) or not isinstance(answer, str) or not answer.strip():
        raise ValueError(f"{where}: question and answer must be non-empty strings, got {question!r}, {answer!r}")
    if task in SPAR_NUMBER_TASKS:
        scoring = SPAR_NUMBER_LAST if task.endswith("_mv") else SPAR_NUMBER_FIRST
        try:
            float(answer)
        except ValueError:
            raise ValueError(f"{where}: task {task} needs a numeric answer, got {answer!r}") from None
    elif task == SPAR_VIEW_CHANGE_TASK:
        scoring = SPAR_VIEW_CHANGE
        try:
            parse_spar_view_change(answer, "authors")
        except ValueError:
            raise ValueError(f"{where}: answer {answer!r} is not key:value,key:value") from None
    else:
        scoring = SPAR_CHOICE
    sources = ()
    if images:
        cells = row["image"]
        if not cells:
            raise ValueError(f"{where}: missing image (empty `image` list)")
        sources = tuple(hf_image(cell, file.parent, f"{where} image {k}") for k, cell in enumerate(cells))
    return EvalItem(item_id, sources, question, answer, task, scoring)


def depth_unit(values: np.ndarray) -> tuple[str, float]:
    """("millimetres" or "metres", median) from depth values of indoor views: a median of the positive
    finite values >= 100 reads as millimetres, <= 20 as metres; anything between is refused."""
    valid = values[np.isfinite(values) & (values > 0)]
    if valid.size == 0:
        raise ValueError("no positive finite depth value to tell the units from")
    median = float(np.median(valid))
    if median >= 100:
        return "millimetres", median
    if median <= 20:
        return "metres", median
    raise ValueError(f"cannot tell depth units from a median of {median:.3g} (neither metres nor millimetres)")


def first_depths(source: Path | BinaryIO, items: int = DEPTH_PROBE_ITEMS) -> list:
    """The `depth` cells of the first `items` rows of a parquet file (a path or a binary file object).

    Only the pages those rows need are read: the column chunk is not pre-buffered and pages come through
    a PROBE_BUFFER_BYTES buffer, so memory and bytes read do not grow with the row group's size.
    """
    rows: list = []
    with pq.ParquetFile(source, pre_buffer=False, buffer_size=PROBE_BUFFER_BYTES) as parquet:
        for batch in parquet.iter_batches(batch_size=items, columns=["depth"], use_threads=False):
            rows += batch.column("depth").to_pylist()[: items - len(rows)]
            if len(rows) == items:
                break
    return rows


def _depth_note(file: Path, rgbd: list[str]) -> str:
    rows = first_depths(file)
    values = [_depth_values(view) for views in rows for view in (views or [])]
    if not values:
        raise ValueError(f"{file}: RGBD file with an empty `depth` column")
    try:
        unit, median = depth_unit(np.concatenate(values))
    except ValueError as err:
        raise ValueError(f"{file}: {err}") from None
    return (f"{file.name}: RGBD columns {', '.join(rgbd)}: depth median {median:.4g} over the first {len(rows)} "
            f"items -> {unit} assumed (units undocumented); evaluation shows the model the images only")


def _depth_values(view) -> np.ndarray:
    """Values of one view's depth: an image cell (16-bit PNG) or nested lists of floats."""
    if isinstance(view, dict):
        with Image.open(io.BytesIO(view["bytes"])) as image:
            return np.asarray(image, dtype=np.float64).ravel()
    return np.asarray(view, dtype=np.float64).ravel()
