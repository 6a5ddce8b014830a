"""MMSI-Bench: the hub's parquet (`MMSI_Bench.parquet`) or VLMEvalKit's TSV (`MMSI_bench.tsv`).

Parquet columns read: `id`, `images` (a list of encoded images), `question_type` (11 types), `question`
(options A-D inside the text), `answer` (a letter). TSV columns: `index` (the id), `image` (base64, or a
JSON array of base64 strings), `question`, `answer` and the type in `question_type` or `category`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq

from hatchvl.eval.benchmarks.fields import UniqueIds, check_choice, require_columns
from hatchvl.eval.benchmarks.items import MMSI_LETTER, MMSI_LETTERS, Benchmark, EvalItem, mmsi_group
from hatchvl.eval.benchmarks.sources import base64_images, hf_image, parquet_files

PARQUET_COLUMNS = ("id", "images", "question_type", "question", "answer")
TSV_COLUMNS = ("index", "image", "question", "answer")
_CSV_FIELD_LIMIT = 2**31 - 1  # base64 images make very long TSV fields


def read_mmsi(path: Path, images: bool = True) -> Benchmark:
    """All items of the MMSI-Bench parquet file(s) or TSV file at path.

    Raises ValueError naming the file, row and item for a missing column or image, an unknown question
    type, or a question without options A-D including its answer.
    """
    if path.is_file() and path.suffix.lower() == ".tsv":
        rows, notes = _tsv_rows(path, images), [f"read {path} (VLMEvalKit TSV)"]
    else:
        rows, notes = [], []
        for file in parquet_files(path):
            parquet = pq.ParquetFile(file)
            require_columns(parquet.schema_arrow.names, PARQUET_COLUMNS, str(file))
            columns = [c for c in PARQUET_COLUMNS if images or c != "images"]
            batches = parquet.iter_batches(columns=columns)
            for number, row in enumerate(row for batch in batches for row in batch.to_pylist()):
                where = f"{file.name} row {number} (item {row['id']})"
                cells = row.get("images")
                if images and not cells:
                    raise ValueError(f"{where}: missing image (empty `images` list)")
                sources = tuple(hf_image(c, file.parent, f"{where} image {k}") for k, c in enumerate(cells or ()))
                rows.append((where, row["id"], row["question_type"], row["question"], row["answer"], sources))
            notes.append(f"read {file} ({parquet.metadata.num_rows} rows)")
    ids, items = UniqueIds(), []
    for where, item_id, question_type, question, answer, sources in rows:
        items.append(_item(where, item_id, question_type, question, answer, sources))
        ids.add(items[-1].id, where)
    if not items:
        raise ValueError(f"{path}: no items")
    return Benchmark("mmsi", tuple(items), tuple(notes))


def _tsv_rows(path: Path, images: bool) -> list[tuple]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        header = reader.fieldnames or []
        require_columns(header, TSV_COLUMNS, str(path))
        type_column = next((c for c in ("question_type", "category") if c in header), None)
        if type_column is None:
            raise ValueError(f"{path}: missing column question_type (or category) (found: {', '.join(header)})")
        rows, end = [], reader.line_num  # a quoted field may span lines: name the line a row starts on
        for row in reader:
            where = f"{path.name} line {end + 1} (item {row['index']})"
            end = reader.line_num
            sources = base64_images(row["image"], where) if images else ()
            rows.append((where, row["index"], row[type_column], row["question"], row["answer"], sources))
    return rows


def _item(where: str, item_id, question_type, question, answer, sources) -> EvalItem:
    if not isinstance(question, str) or not isinstance(answer, str):
        raise ValueError(f"{where}: question and answer must be strings, got {question!r}, {answer!r}")
    if not isinstance(question_type, str) or mmsi_group(question_type) is None:
        raise ValueError(f"{where}: unknown question type {question_type!r} (expected Positional Relationship "
                         f"(...), Attribute (...), Motion (...) or MSR)")
    options = check_choice(question, answer.strip(), MMSI_LETTERS, where)
    return EvalItem(str(item_id), sources, question, answer.strip(), question_type, MMSI_LETTER, options)
