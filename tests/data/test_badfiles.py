"""The check of a sample's files before a run (data/badfiles.py): what it finds from a file's ends and header,
what it passes, and the error and skip list built from it."""

import io

import numpy as np
import pytest
from PIL import Image

from hatchvl.data import badfiles
from hatchvl.data.badfiles import (
    BadSampleError,
    depth_problem,
    drop_bad_samples,
    find_bad_samples,
    image_problem,
    open_sample_image,
)
from hatchvl.data.format import read_manifest


def encoded(fmt: str, size: int = 24) -> bytes:
    rgb = (np.arange(size * size * 3) % 251).astype(np.uint8).reshape(size, size, 3)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_image_cut_short_is_found_and_a_whole_one_passes(fmt, tmp_path):
    whole = encoded(fmt)
    assert image_problem(whole) is None
    assert image_problem(whole + b"\0\0") is None  # padding after the end marker
    assert "cannot be decoded" in image_problem(whole[: len(whole) // 2])
    path = tmp_path / "view.img"
    path.write_bytes(whole[:-40])
    assert "cannot be decoded" in image_problem(path)


def test_an_image_with_bytes_after_its_end_marker_passes_when_it_decodes(tmp_path):
    """Some writers append data after IEND: the check decodes such a file in full instead of refusing it."""
    path = tmp_path / "extra.png"
    path.write_bytes(encoded("PNG") + b"trailing metadata")
    assert image_problem(path) is None


@pytest.mark.parametrize(("content", "reason"), [(b"", "is empty"), (b"<html>404</html>", "not an image"),
                                                 (None, "cannot be read")])
def test_empty_missing_and_non_image_files_are_found(content, reason, tmp_path):
    path = tmp_path / "view.png"
    if content is not None:
        path.write_bytes(content)
    assert reason in image_problem(path)


@pytest.mark.parametrize(("content", "reason"), [
    (npy(np.ones((6, 8), np.float32)), None),
    (b"", "is empty"),
    (npy(np.ones((6, 8), np.float32))[:-10], "is cut short"),
    (b"garbage, not numpy", "is not a .npy file"),
    (npy(np.ones((6, 8), np.float64)), "float32"),
    (npy(np.ones((2, 6, 8), np.float32)), "(H, W)"),
])
def test_a_depth_map_is_checked_from_its_header_and_size(content, reason, tmp_path):
    path = tmp_path / "depth.npy"
    path.write_bytes(content)
    problem = depth_problem(path)
    assert problem is None if reason is None else reason in problem


def test_every_sample_using_a_bad_file_is_found_once_per_file(tiny_data, tmp_path, monkeypatch):
    samples = read_manifest(tiny_data, "train")
    shared = next(p for p in samples[0].images if sum(p in s.images for s in samples) > 1)
    users = [s.id for s in samples if shared in s.images]
    checked = []
    real = badfiles.image_problem

    def counting(path):
        checked.append(path)
        return "is broken" if str(path).endswith(shared) else real(path)

    monkeypatch.setattr(badfiles, "image_problem", counting)
    bad = find_bad_samples(tiny_data, "train", samples)
    assert [b.id for b in bad] == users and {b.file for b in bad} == {shared}
    assert len(checked) == len(set(checked)), "a file shared by samples was checked twice"
    with pytest.raises(BadSampleError, match=rf"split 'train': sample '{users[0]}': {shared} is broken "
                                             rf"\({len(users) - 1} more bad samples\).*skip_bad=true"):
        drop_bad_samples(tiny_data, "train", samples, skip_bad=False)
    kept, skipped = drop_bad_samples(tiny_data, "train", samples, skip_bad=True)
    assert [s.id for s in kept] == [s.id for s in samples if s.id not in users] and skipped == bad


def test_a_file_damaged_inside_passes_the_check_and_is_named_when_decoded(tmp_path):
    data = bytearray(encoded("PNG", 48))
    start = data.find(b"IDAT") + 20
    data[start:start + 30] = bytes(b ^ 0x5A for b in data[start:start + 30])
    (tmp_path / "view.png").write_bytes(bytes(data))
    assert image_problem(tmp_path / "view.png") is None  # its signature and IEND are intact
    with pytest.raises(BadSampleError, match=r"split 'val': sample 's1': .*view.png cannot be decoded"):
        open_sample_image(tmp_path, "val", "s1", "view.png")
