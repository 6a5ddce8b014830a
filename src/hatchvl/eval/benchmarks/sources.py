"""Images as benchmark files hold them: Hugging Face image cells in parquet, base64 text in VLMEvalKit
TSVs, relative paths in JSONL. Readers turn each into an ImageSource (encoded bytes or an existing
file); `open_image` decodes one when the model needs it.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from pathlib import Path

from PIL import Image

from hatchvl.eval.benchmarks.items import ImageSource
from hatchvl.io import open_rgb


def open_image(source: ImageSource) -> Image.Image:
    """Decode an image source to an RGB PIL image."""
    return open_rgb(io.BytesIO(source) if isinstance(source, bytes) else source)


def image_file(root: Path, relative: str, where: str) -> Path:
    """The existing file `root/relative`; ValueError naming `where` when it is missing."""
    path = root / relative
    if not path.is_file():
        raise ValueError(f"{where}: image {relative!r} not found (looked for {path})")
    return path


def hf_image(cell, root: Path, where: str) -> ImageSource:
    """One image cell of a Hugging Face parquet file.

    `datasets` stores an Image feature as a struct {bytes, path}: bytes when the image is embedded,
    else a path (taken relative to the parquet file's folder, `root`). A bare binary value (MMSI-Bench's
    `images` column) is the encoded image itself.
    """
    if isinstance(cell, bytes) and cell:
        return cell
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            return image_file(root, cell["path"], where)
    raise ValueError(f"{where}: missing image (the cell holds neither image bytes nor a path: {_short(cell)})")


def base64_images(text, where: str) -> tuple[bytes, ...]:
    """Images of a VLMEvalKit TSV `image` cell: one base64 string, or a JSON array of them."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: missing image (empty `image` cell)")
    text = text.strip()
    encoded = [text]
    if text.startswith("["):
        try:
            encoded = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: `image` cell starts with '[' but is not a JSON array ({err})") from None
        if not encoded or not all(isinstance(e, str) and e for e in encoded):
            raise ValueError(f"{where}: missing image (the `image` array must hold base64 strings)")
    images = []
    for k, value in enumerate(encoded):
        try:
            images.append(base64.b64decode("".join(value.split()), validate=True))
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}: image {k} is not valid base64") from None
    return tuple(images)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parquet_files(path: Path) -> list[Path]:
    """The parquet files of a benchmark: `path` itself, or under a folder the files named test* (the
    Hugging Face layout `data/test-00000-of-00002.parquet`), else all *.parquet files, sorted."""
    if path.is_file():
        return [path]
    files = sorted(path.rglob("*.parquet"))
    files = [f for f in files if f.name.startswith("test")] or files
    if not files:
        raise FileNotFoundError(f"no .parquet file under {path}")
    return files
