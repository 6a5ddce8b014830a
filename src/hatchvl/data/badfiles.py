"""Samples whose image or depth files cannot be decoded: the check every stage runs when it lists its
samples, the error that names them, and the list of those skipped with `skip_bad=true`.

The check is cheap and runs before any training, so that a skipped sample leaves the others in the order
they would have without it (the data order is drawn over the samples that remain). Per file it reads the
first and last bytes, never the pixels: an empty file; an image that is not one (PIL cannot read its
header); a PNG or JPEG without its end marker, a file cut short, which is then decoded in full to be sure
(some writers append bytes after the marker); a depth map whose .npy header does not describe an (H, W)
float32 array of the file's size. Damage inside a file whose header and end are intact is found only
when the file is decoded: `open_sample_image` names the split, the sample and the file then.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hatchvl.data.format import DECODE_ERRORS, Sample, resolve
from hatchvl.io import open_rgb

SKIP_HINT = "set skip_bad=true (`--skip-bad`, or `skip_bad: true` in a recipe) to skip such samples"
_PNG = (b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82")  # signature, end of the IEND chunk
_JPEG = (b"\xff\xd8\xff", b"\xff\xd9")  # start of image, end of image
_EDGE = 16  # bytes read at each end of a file


class BadSampleError(ValueError):
    """A sample that a stage cannot use; the message names the split, the sample and the file."""


@dataclass(frozen=True)
class BadSample:
    """A sample left out (skip_bad) or refused: where it is, and why. `file` is empty when the reason is not
    one file (a sample without geometry)."""

    split: str
    id: str
    file: str
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        what = f"{self.file} {self.reason}" if self.file else self.reason
        return f"split {self.split!r}: sample {self.id!r}: {what}"


def image_problem(source: str | Path | bytes) -> str | None:
    """Why an image file (or encoded bytes) cannot be decoded, or None; see the module docstring."""
    try:
        if isinstance(source, bytes):
            size, head, tail = len(source), source[:_EDGE], source[-_EDGE:]
        else:
            with open(source, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(_EDGE)
                f.seek(max(0, size - _EDGE))
                tail = f.read(_EDGE)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if size == 0:
        return "is empty"
    for start, end in (_PNG, _JPEG):
        if head.startswith(start):
            if tail.rstrip(b"\0").endswith(end):
                return None
            return _decode_problem(source)
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source):
            return None
    except DECODE_ERRORS as err:
        return f"is not an image PIL can read ({err})"


def _decode_problem(source: str | Path | bytes) -> str | None:
    try:
        open_rgb(io.BytesIO(source) if isinstance(source, bytes) else source)
    except DECODE_ERRORS as err:
        return f"cannot be decoded ({err})"
    return None


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def depth_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of a .npy file, read from its header (no data is read). Raises ValueError when the file
    is empty, its header is not a .npy header, or it holds fewer bytes than the header announces."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError("is empty")
        try:
            read_header = _NPY_HEADERS.get(np.lib.format.read_magic(f))
            if read_header is None:  # a newer .npy version: let numpy read the header
                depth = np.load(path, mmap_mode="r", allow_pickle=False)
                return depth.shape, depth.dtype
            shape, _, dtype = read_header(f)
        except DECODE_ERRORS as err:
            raise ValueError(f"is not a .npy file ({err})") from None
        expected = f.tell() + int(np.prod(shape)) * dtype.itemsize
    if size < expected:
        raise ValueError(f"is cut short: {size} bytes, its header announces {expected}")
    return shape, dtype


def depth_problem(path: str | Path) -> str | None:
    """Why a depth map (.npy) cannot be used, or None: its header must describe an (H, W) float32 array
    whose bytes the file holds in full."""
    try:
        shape, dtype = depth_header(path)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    except ValueError as err:
        return str(err)
    if len(shape) != 2 or dtype != np.float32:
        return f"is not an (H, W) float32 depth map: {shape} {dtype}"
    return None


def find_bad_samples(root: str | Path, split: str, samples: Sequence[Sample], depths: bool = False) -> list[BadSample]:
    """Every sample with an image (and, with `depths`, a depth map) that fails the check, in manifest order,
    named by its first bad file. Each distinct file is checked once."""
    problems: dict[str, str | None] = {}
    bad = []
    for sample in samples:
        files = [(p, image_problem) for p in sample.images]
        if depths and sample.depths is not None:
            files += [(p, depth_problem) for p in sample.depths]
        for path, check in files:
            if path not in problems:
                problems[path] = check(resolve(root, path))
            if problems[path] is not None:
                bad.append(BadSample(split, sample.id, path, problems[path]))
                break
    return bad


def bad_sample_error(root: str | Path, bad: Sequence[BadSample]) -> BadSampleError:
    """The error for the first of `bad` (the others counted), saying how to skip them."""
    more = f" ({len(bad) - 1} more bad samples)" if len(bad) > 1 else ""
    return BadSampleError(f"{root}: {bad[0].describe()}{more}; fix or remove the file, or {SKIP_HINT}")


def drop_bad_samples(root: str | Path, split: str, samples: Sequence[Sample], skip_bad: bool,
                     depths: bool = False) -> tuple[list[Sample], list[BadSample]]:
    """The samples whose files pass the check, in their order, and the bad ones. Raises BadSampleError for
    the first bad one unless skip_bad."""
    bad = find_bad_samples(root, split, samples, depths)
    if bad and not skip_bad:
        raise bad_sample_error(root, bad)
    ids = {b.id for b in bad}
    return [s for s in samples if s.id not in ids], bad


def decode_error(split: str, sample_id: str, path: str | Path, err: Exception) -> BadSampleError:
    """The error for a file that passed the check but failed to decode when used."""
    return BadSampleError(
        f"split {split!r}: sample {sample_id!r}: {path} cannot be decoded ({err}). The check before the run reads "
        "only a file's header and end, and skip_bad cannot skip a sample once the run is under way: fix or remove "
        "the file, or leave the sample out of the manifest")


def open_sample_image(root: str | Path, split: str, sample_id: str, path: str) -> Image.Image:
    """The RGB image of one of a sample's views (io.open_rgb); a file that cannot be decoded raises
    BadSampleError naming the split, the sample and the file."""
    try:
        return open_rgb(resolve(root, path))
    except DECODE_ERRORS as err:
        raise decode_error(split, sample_id, resolve(root, path), err) from None


def skip_metrics(bad: Sequence[BadSample]) -> dict:
    """What a stage records about the samples it skipped (stage.json's metrics): how many, and each one."""
    return {"skipped_samples": len(bad), "bad_samples": [b.as_dict() for b in bad]}
