"""Thumbnails of the views, made once: JPEG, at most MAX_SIDE pixels a side, named by the source.

A thumbnail's name is a hash of its source's bytes, so writing the site again, or the same view shown by
several items, reuses it, and the same data gives the same site wherever it lies.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hatchvl.io import atomic_write

MAX_SIDE = 256
QUALITY = 75
FOLDER = "thumbs"


@dataclass(frozen=True)
class Thumb:
    """A view in the site: src (site-relative path) and the source's size in pixels, or, when the view
    cannot be shown, src None and missing saying why."""

    src: str | None
    width: int = 0
    height: int = 0
    missing: str | None = None


def source_key(source: Path | bytes) -> str:
    """The thumbnail's file stem for an image source (ValueError for a file that is not there)."""
    if not isinstance(source, bytes):
        try:
            source = Path(source).read_bytes()
        except OSError:
            raise ValueError(f"image file {source} not found") from None
    return hashlib.sha1(source).hexdigest()[:20]


class Thumbnails:
    """Makes the thumbnails of a site under site/thumbs/, each source once; `used` lists the files made or
    reused (the others are old and can go)."""

    def __init__(self, site: Path):
        self.folder = site / FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, Thumb] = {}  # by source key
        self.by_path: dict[str, Thumb] = {}  # files already seen in this run: no second stat

    def make(self, source: Path | bytes) -> Thumb:
        if not isinstance(source, bytes) and str(source) in self.by_path:
            return self.by_path[str(source)]
        try:
            key = source_key(source)
        except ValueError as err:
            return Thumb(None, missing=str(err))
        if key not in self.done:
            self.done[key] = self._make(source, key)
        if not isinstance(source, bytes):
            self.by_path[str(source)] = self.done[key]
        return self.done[key]

    def _make(self, source: Path | bytes, key: str) -> Thumb:
        path = self.folder / f"{key}.jpg"
        try:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                width, height = image.size  # from the header: no decoding
                if not path.is_file():
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale
                    small = image.convert("RGB")
                    small.thumbnail((MAX_SIDE, MAX_SIDE))
                    buffer = io.BytesIO()
                    small.save(buffer, "JPEG", quality=QUALITY)
                    atomic_write(path, buffer.getvalue())
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            name = "image bytes" if isinstance(source, bytes) else str(source)
            return Thumb(None, missing=f"{name} cannot be decoded ({err})")
        return Thumb(f"{FOLDER}/{path.name}", width, height)

    def prune(self) -> int:
        """Remove thumbnails this site no longer shows; returns how many."""
        keep = {Path(t.src).name for t in self.done.values() if t.src}
        old = [p for p in self.folder.glob("*.jpg") if p.name not in keep]
        for path in old:
            path.unlink()
        return len(old)
