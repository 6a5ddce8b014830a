"""SPAR-Bench RGBD depth-unit detection reads only the first items' depth pages, whatever the row group size."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.benchmarks.spar import DEPTH_PROBE_ITEMS, first_depths
from tests.eval.layouts import spar_row, write_spar


class CountingFile(io.RawIOBase):
    """A read-only binary file that counts the bytes read through it."""

    def __init__(self, path: Path):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer) -> int:
        n = self._file.readinto(buffer)
        self.bytes_read += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def _depth_map(row: int, hw=(32, 48)) -> list:
    """One view's depth as SPAR-Bench-RGBD stores it: H lists of W floats, here whole millimetres."""
    return np.random.default_rng(row).integers(500, 4000, hw).astype(np.float64).tolist()


def _write_rgbd_depths(path: Path, rows: int, row_group_size: int) -> list:
    """A parquet file with `id` and a per-row list of two depth maps, in row groups of row_group_size.

    Pages are 16 KiB so that, as in the published files (a 640x480 view spans several 1 MiB pages), a
    row's depth spans several pages: a scaled-down copy of their layout.
    """
    depth = [[_depth_map(2 * r), _depth_map(2 * r + 1)] for r in range(rows)]
    pq.write_table(pa.table({"id": list(range(rows)), "depth": depth}), path, row_group_size=row_group_size,
                   data_page_size=1 << 14)
    return depth


def test_the_probe_reads_a_small_part_of_one_large_row_group(tmp_path):
    path = tmp_path / "rgbd.parquet"
    depth = _write_rgbd_depths(path, rows=480, row_group_size=480)
    assert pq.ParquetFile(path).metadata.num_row_groups == 1
    size = path.stat().st_size

    whole = CountingFile(path)  # what reading the row group's depth column costs
    pq.ParquetFile(whole).read_row_group(0, columns=["depth"])
    assert whole.bytes_read > 0.9 * size

    probe = CountingFile(path)
    rows = first_depths(probe)
    assert rows == depth[:DEPTH_PROBE_ITEMS]
    assert probe.bytes_read < 0.1 * size, (probe.bytes_read, size)


def test_the_probe_collects_its_items_across_small_row_groups(tmp_path):
    path = tmp_path / "rgbd.parquet"
    depth = _write_rgbd_depths(path, rows=11, row_group_size=3)
    assert first_depths(path) == depth[:DEPTH_PROBE_ITEMS]
    assert first_depths(path, items=20) == depth  # a file shorter than the probe gives all its rows


def test_the_benchmark_notes_give_the_units_from_the_first_items(tmp_path):
    rows = [spar_row(k, "depth_prediction_oc_mv", "2.0") for k in range(1, 13)]
    path = write_spar(tmp_path / "rgbd.parquet", rows, depth_scale=1000)
    (note,) = [n for n in read_benchmark("spar-mv", path, images=False).notes if "RGBD" in n]
    assert f"over the first {DEPTH_PROBE_ITEMS} items -> millimetres assumed" in note
