"""ScanNet's two export layouts of a `.sens` recording, read into one description per scene for
hatchvl.data.importers.scannet (docs/dataset-format.md, "ScanNet exports").

- Python exporter (`SensReader/python/reader.py`): `<scene>/color/<i>.jpg`, `depth/<i>.png` (16-bit,
  depth shift 1000), `pose/<i>.txt`, `intrinsic/intrinsic_color.txt` and `intrinsic_depth.txt` (4x4 text).
- C++ exporter (`SensReader/c++`, `saveToImages`): one folder holding `_info.txt` and, per frame i,
  `frame-<i, 6 digits>.color.jpg` (`.color.png` for PNG-compressed recordings), `.depth.pgm` (16-bit
  binary PGM; `.depth.png` from builds and tools that write PNG) and `.pose.txt`. `_info.txt` holds
  `key = value` lines: m_colorWidth, m_colorHeight, m_depthWidth, m_depthHeight, m_depthShift (depth units
  per metre) and m_calibrationColorIntrinsic / m_calibrationDepthIntrinsic (16 numbers, row-major).

Frame i gets the stem `str(i)` in both layouts, so the same frames give the same dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hatchvl.data.chunks import Skip
from hatchvl.data.importers.frames import pinhole, read_intrinsics

INFO_FILE = "_info.txt"
PYTHON_DEPTH_UNITS_PER_M = 1000.0  # the Python exporter's documented depth shift
_CPP_COLOUR = re.compile(r"^frame-(\d+)\.color\.(jpg|png)$")
LAYOUTS = (f"<scene>/{{color/<i>.jpg, depth/<i>.png, pose/<i>.txt, intrinsic/intrinsic_color.txt, "
           f"intrinsic_depth.txt}} (ScanNet's Python exporter) or <scene>/{{{INFO_FILE}, frame-000000.color.jpg, "
           f"frame-000000.depth.pgm or .png, frame-000000.pose.txt}} (its C++ exporter)")


@dataclass(frozen=True)
class ExportFrame:
    """One exported frame: stem (the frame number as written by `str`), its files (depth None when absent)."""

    stem: str
    colour: Path
    depth: Path | None
    pose: Path


@dataclass(frozen=True, eq=False)
class ExportScene:
    """A scene as exported: layout ('python' or 'c++'), intrinsics (3, 3) of the colour image and the depth
    map, depth units per metre, the image sizes (H, W) the intrinsics are for when the export says (C++),
    and its frames sorted by number."""

    layout: str
    K_colour: np.ndarray
    K_depth: np.ndarray
    depth_units_per_m: float
    colour_hw: tuple[int, int] | None
    depth_hw: tuple[int, int] | None
    frames: tuple[ExportFrame, ...]


def is_scene(folder: Path) -> bool:
    """Whether a folder holds a scene in either layout."""
    return (folder / "color").is_dir() or (folder / INFO_FILE).is_file()


def read_export_scene(folder: Path) -> ExportScene:
    """The scene in `folder`, in whichever layout it is; Skip('missing_intrinsics') when an intrinsics file of
    the Python layout is missing, ValueError naming the file and what was expected when its intrinsics (or
    `_info.txt`) cannot be read."""
    if (folder / "color").is_dir():
        return _python_scene(folder)
    if (folder / INFO_FILE).is_file():
        return _cpp_scene(folder)
    raise ValueError(f"{folder} is no ScanNet export: expected {LAYOUTS}")


def _stem_key(stem: str):
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def _python_scene(folder: Path) -> ExportScene:
    for name in ("intrinsic_color.txt", "intrinsic_depth.txt"):
        if not (folder / "intrinsic" / name).is_file():
            raise Skip("missing_intrinsics", f"{folder.name}/intrinsic/{name}")
    try:
        K_colour = read_intrinsics(folder / "intrinsic" / "intrinsic_color.txt")
        K_depth = read_intrinsics(folder / "intrinsic" / "intrinsic_depth.txt")
    except ValueError as err:
        raise ValueError(f"scene {folder.name}: {err} (expected intrinsic/intrinsic_color.txt and "
                         f"intrinsic/intrinsic_depth.txt, 4x4 text)") from None
    frames = []
    for colour in sorted(folder.glob("color/*.jpg"), key=lambda p: _stem_key(p.stem)):
        depth = folder / "depth" / f"{colour.stem}.png"
        frames.append(ExportFrame(colour.stem, colour, depth if depth.is_file() else None,
                                  folder / "pose" / f"{colour.stem}.txt"))
    return ExportScene("python", K_colour, K_depth, PYTHON_DEPTH_UNITS_PER_M, None, None, tuple(frames))


def read_sens_info(path: Path) -> dict[str, str]:
    """The `key = value` lines of a C++ export's `_info.txt` (values as text, stripped)."""
    values = {}
    for line in path.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _info_numbers(info: dict[str, str], key: str, count: int, path: Path) -> list[float]:
    try:
        numbers = [float(x) for x in info[key].split()]
    except KeyError:
        raise ValueError(f"{path}: no '{key} = ...' line (expected the {INFO_FILE} of ScanNet's C++ "
                         f"exporter)") from None
    except ValueError:
        raise ValueError(f"{path}: {key} is not {count} number(s): {info[key]!r}") from None
    if len(numbers) != count:
        raise ValueError(f"{path}: {key} needs {count} number(s), got {len(numbers)}")
    return numbers


def _cpp_scene(folder: Path) -> ExportScene:
    path = folder / INFO_FILE
    info = read_sens_info(path)

    def matrix(key: str) -> np.ndarray:
        return pinhole(np.reshape(_info_numbers(info, key, 16, path), (4, 4)), f"{path} {key}")

    def size(prefix: str) -> tuple[int, int]:
        (w,), (h,) = (_info_numbers(info, f"{prefix}{axis}", 1, path) for axis in ("Width", "Height"))
        return int(h), int(w)

    (shift,) = _info_numbers(info, "m_depthShift", 1, path)
    if not shift > 0:
        raise ValueError(f"{path}: m_depthShift must be positive (depth units per metre), got {shift:g}")
    numbered: dict[int, ExportFrame] = {}
    for colour in sorted(folder.glob("frame-*.color.*")):
        match = _CPP_COLOUR.match(colour.name)
        if match is None or int(match[1]) in numbered:
            continue
        base = folder / f"frame-{match[1]}"
        depth = next((p for p in (base.with_name(f"{base.name}.depth.{ext}") for ext in ("pgm", "png"))
                      if p.is_file()), None)
        numbered[int(match[1])] = ExportFrame(str(int(match[1])), colour, depth,
                                              base.with_name(f"{base.name}.pose.txt"))
    frames = tuple(numbered[i] for i in sorted(numbered))
    return ExportScene("c++", matrix("m_calibrationColorIntrinsic"), matrix("m_calibrationDepthIntrinsic"),
                       shift, size("m_color"), size("m_depth"), frames)
