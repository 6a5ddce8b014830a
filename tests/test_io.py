"""hatchvl.io: atomic writes, JSON files and RGB images."""

import builtins
import io
import json
from datetime import date

import numpy as np
from PIL import Image

from hatchvl.io import atomic_write, open_rgb, read_json, write_json


def test_atomic_write_replaces_the_file_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    atomic_write(path, b"new bytes")
    assert path.read_bytes() == b"new bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_write_json_is_indented_with_a_trailing_newline_and_makes_folders(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"
    write_json(path, {"n": 1, "when": date(2024, 1, 2), "items": [1, 2]})
    text = path.read_text()
    assert text == json.dumps({"n": 1, "when": "2024-01-02", "items": [1, 2]}, indent=2) + "\n"
    assert read_json(path) == {"n": 1, "when": "2024-01-02", "items": [1, 2]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]


def test_read_json_of_a_missing_file_is_none(tmp_path):
    assert read_json(tmp_path / "absent.json") is None


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_open_rgb_converts_palette_and_rgba_images_and_closes_the_file(tmp_path, monkeypatch):
    palette = Image.new("P", (5, 3))
    palette.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    palette.putpixel((1, 2), 1)
    rgba = Image.new("RGBA", (5, 3), (40, 50, 60, 128))
    (tmp_path / "palette.png").write_bytes(_png(palette))
    (tmp_path / "rgba.png").write_bytes(_png(rgba))
    opened = []
    real_open = builtins.open

    def spy(*args, **kwargs):
        f = real_open(*args, **kwargs)
        opened.append(f)
        return f

    monkeypatch.setattr(builtins, "open", spy)
    for name, pixel in (("palette.png", (10, 20, 30)), ("rgba.png", (40, 50, 60))):
        image = open_rgb(tmp_path / name)
        assert image.mode == "RGB" and image.size == (5, 3)
        assert opened and all(f.closed for f in opened)
        assert image.getpixel((0, 0)) == pixel  # fully read: usable after its file is closed
    assert np.asarray(open_rgb(tmp_path / "palette.png"))[2, 1].tolist() == [200, 100, 50]


def test_open_rgb_reads_an_open_binary_file():
    image = open_rgb(io.BytesIO(_png(Image.new("L", (2, 2), 7))))
    assert image.mode == "RGB" and image.getpixel((1, 1)) == (7, 7, 7)
