"""The hatchvl dataset format (docs/dataset-format.md): the record every reader writes and every stage
reads.

A dataset is a directory holding one JSONL manifest per split (`train.jsonl`, `val.jsonl`,
`test.jsonl`), one sample per line, and the files the samples name: PNG images and depth maps as
float32 `.npy` (z-depth in metres, 0 or non-finite = no measurement). Paths in a manifest are relative
to the dataset root and may not leave it. Samples without geometry (benchmarks) leave depths, K, c2w
and up out.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from hatchvl.data.answers import ANSWER_TYPES, VIEW_CHANGE_KEYS
from hatchvl.geometry.actions_text import PairActions
from hatchvl.geometry.camera import check_intrinsics, check_pose
from hatchvl.geometry.motion import Action
from hatchvl.io import atomic_write, open_rgb

SPLITS = ("train", "val", "test")
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)  # what PIL and numpy raise for a damaged file
LETTERS = "ABCDEFGHIJ"
_VIEW_CHANGE = re.compile(rf"^(?:{'|'.join(VIEW_CHANGE_KEYS)}):\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Marker:
    """A point drawn into image `image` (0-based) at pixel-centre coordinates (u, v) = (column, row)."""

    image: int
    u: float
    v: float


@dataclass(frozen=True, eq=False)
class Sample:
    """One question about V views of a scene.

    images, depths: paths relative to the dataset root (depths None without geometry).
    K (V, 3, 3) pixels of the stored images; c2w (V, 4, 4) camera-to-world, metres (OpenCV axes);
    up (3,) unit world up. options: the choices (shown as "A. ...") when answer_type is "choice", where
    answer is a letter; a decimal number in metres for "number"; a `key:value,...` string for
    "view_change". actions: the ActoR target, one PairActions per view pair i < j (empty without
    geometry). markers: points drawn into the images that the question refers to. captions: one grounded
    description per view (the synthetic generator writes them, for the miniature's pretraining), or ().
    """

    id: str
    scene_id: str
    category: str
    question: str
    options: tuple[str, ...]
    answer: str
    answer_type: str
    images: tuple[str, ...]
    depths: tuple[str, ...] | None = None
    K: np.ndarray | None = None
    c2w: np.ndarray | None = None
    up: np.ndarray | None = None
    actions: tuple[PairActions, ...] = ()
    markers: tuple[Marker, ...] = ()
    captions: tuple[str, ...] = ()

    @property
    def num_views(self) -> int:
        return len(self.images)


def sample_to_json(sample: Sample) -> dict:
    """JSON-ready dict of a sample; keys in the documented order, geometry keys only when present."""
    data = {
        "id": sample.id, "scene_id": sample.scene_id, "category": sample.category,
        "question": sample.question, "options": list(sample.options), "answer": sample.answer,
        "answer_type": sample.answer_type, "images": list(sample.images),
    }
    if sample.depths is not None:
        data["depths"] = list(sample.depths)
    for key in ("K", "c2w", "up"):
        if getattr(sample, key) is not None:
            data[key] = np.asarray(getattr(sample, key), dtype=np.float64).tolist()
    data["actions"] = [
        {"from": p.src, "to": p.dst, "actions": [{a.name: _number(a.value)} for a in p.actions]}
        for p in sample.actions
    ]
    data["markers"] = [{"image": m.image, "u": m.u, "v": m.v} for m in sample.markers]
    if sample.captions:
        data["captions"] = list(sample.captions)
    return data


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def encode_sample(sample: Sample) -> str:
    """One manifest line (no newline)."""
    return json.dumps(sample_to_json(sample), ensure_ascii=False)


def check_relative_path(path: str) -> str:
    """Reject absolute paths and paths that leave the root once normalised; return the path."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"expected a non-empty relative path, got {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute() or "\\" in path or (pure.parts and ":" in pure.parts[0]):
        raise ValueError(f"path {path!r} must be relative to the dataset root")
    if os.path.normpath(path).split(os.sep)[0] == "..":
        raise ValueError(f"path {path!r} leaves the dataset root")
    return path


def resolve(root: str | Path, path: str) -> Path:
    """Absolute location of a manifest path under root (symlinks inside the root are followed later)."""
    return Path(root) / check_relative_path(path)


class _Reader:
    """Field access for one JSON record, with errors naming the place, the sample id and the field."""

    def __init__(self, data, where: str):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self.data, self.where = data, where
        self.sid = data.get("id", "?")

    def fail(self, field: str, message: str):
        raise ValueError(f"{self.where}: sample {self.sid!r}: field {field!r}: {message}")

    def get(self, field: str, kind, optional: bool = False):
        if field not in self.data or self.data[field] is None:
            if optional:
                return None
            self.fail(field, "missing")
        value = self.data[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            self.fail(field, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        return value

    def strings(self, field: str, optional: bool = False) -> tuple[str, ...] | None:
        values = self.get(field, list, optional)
        if values is None:
            return None
        if not all(isinstance(v, str) for v in values):
            self.fail(field, "expected a list of strings")
        return tuple(values)

    def array(self, field: str, shape: tuple, check) -> np.ndarray | None:
        value = self.get(field, list, optional=True)
        if value is None:
            return None
        try:
            array = np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError):
            self.fail(field, "expected nested lists of numbers")
        if array.shape != shape:
            self.fail(field, f"expected shape {shape}, got {array.shape}")
        try:
            return check(array)
        except ValueError as err:
            self.fail(field, str(err))


def _check_up(up: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(up)) or abs(np.linalg.norm(up) - 1) > 1e-6:
        raise ValueError(f"expected a unit vector, got {up.tolist()}")
    return up


def _actions(r: _Reader, views: int) -> tuple[PairActions, ...]:
    pairs = []
    for entry in r.get("actions", list):
        if not (isinstance(entry, dict) and set(entry) == {"from", "to", "actions"}):
            r.fail("actions", f"each entry needs exactly the keys from, to, actions, got {entry!r}")
        src, dst, steps = entry["from"], entry["to"], entry["actions"]
        if not (isinstance(src, int) and isinstance(dst, int) and 0 <= src < dst < views):
            r.fail("actions", f"need 0 <= from < to < {views} image indices, got from {src!r} to {dst!r}")
        if not isinstance(steps, list) or not all(isinstance(s, dict) and len(s) == 1 for s in steps):
            r.fail("actions", f"pair {src}->{dst}: actions must be a list of one-key objects")
        try:
            actions = tuple(Action(*next(iter(s.items()))) for s in steps)
        except ValueError as err:
            r.fail("actions", f"pair {src}->{dst}: {err}")
        pairs.append(PairActions(src, dst, actions))
    return tuple(pairs)


def _check_answer(r: _Reader, answer_type: str, options: tuple[str, ...], answer: str) -> None:
    if answer_type not in ANSWER_TYPES:
        r.fail("answer_type", f"expected one of {', '.join(ANSWER_TYPES)}, got {answer_type!r}")
    if answer_type == "choice":
        if not 2 <= len(options) <= len(LETTERS) or len(set(options)) != len(options):
            r.fail("options", f"a choice needs 2 to {len(LETTERS)} distinct options, got {len(options)}")
        if answer not in LETTERS[: len(options)]:
            r.fail("answer", f"expected a letter from A to {LETTERS[len(options) - 1]}, got {answer!r}")
        return
    if options:
        r.fail("options", f"answer_type {answer_type!r} takes no options")
    if answer_type == "number":
        try:
            ok = math.isfinite(float(answer))
        except ValueError:
            ok = False
        if not ok:
            r.fail("answer", f"expected a decimal number, got {answer!r}")
    elif not answer or not all(_VIEW_CHANGE.match(part) for part in answer.split(",")):
        r.fail("answer", f"expected key:value pairs with keys from {', '.join(VIEW_CHANGE_KEYS)}, got {answer!r}")


def sample_from_json(data: dict, where: str = "sample") -> Sample:
    """Validate one record and build a Sample; ValueError names where, the sample id and the field."""
    r = _Reader(data, where)
    sid = r.get("id", str)
    if not sid:
        r.fail("id", "must not be empty")
    images = r.strings("images")
    if not images:
        r.fail("images", "a sample needs at least one image")
    views = len(images)
    depths = r.strings("depths", optional=True)
    for field, paths in (("images", images), ("depths", depths or ())):
        for path in paths:
            try:
                check_relative_path(path)
            except ValueError as err:
                r.fail(field, str(err))
    K = r.array("K", (views, 3, 3), lambda a: check_intrinsics(a, "K"))
    c2w = r.array("c2w", (views, 4, 4), lambda a: check_pose(a, "c2w"))
    up = r.array("up", (3,), _check_up)
    if depths is not None and (len(depths) != views or K is None or c2w is None):
        r.fail("depths", f"needs one depth per image ({views}) and both K and c2w")
    options, answer, answer_type = r.strings("options"), r.get("answer", str), r.get("answer_type", str)
    _check_answer(r, answer_type, options, answer)
    markers = []
    for m in r.get("markers", list):
        ok = isinstance(m, dict) and set(m) == {"image", "u", "v"} and isinstance(m["image"], int)
        if not (ok and 0 <= m["image"] < views and all(isinstance(m[k], (int, float)) for k in "uv")):
            r.fail("markers", f"expected {{image, u, v}} with 0 <= image < {views}, got {m!r}")
        markers.append(Marker(m["image"], float(m["u"]), float(m["v"])))
    captions = r.strings("captions", optional=True) or ()
    if captions and len(captions) != views:
        r.fail("captions", f"needs one caption per image ({views}), got {len(captions)}")
    return Sample(
        id=sid, scene_id=r.get("scene_id", str), category=r.get("category", str),
        question=r.get("question", str), options=options, answer=answer, answer_type=answer_type,
        images=images, depths=depths, K=K, c2w=c2w, up=up, actions=_actions(r, views),
        markers=tuple(markers), captions=captions,
    )


def manifest_path(root: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return Path(root) / f"{split}.jsonl"


WRITE_PROBE = ".write-test"  # the file check_writable writes and removes


def check_writable(root: Path) -> None:
    """Create root if needed and check that files can be written there; ValueError naming root if not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic_write(root / WRITE_PROBE, b"")
        (root / WRITE_PROBE).unlink()
    except OSError as err:
        raise ValueError(f"cannot write the dataset to {root}: {err.strerror or err}") from None


def write_manifest(root: str | Path, split: str, samples: list[Sample]) -> Path:
    """Write a split's manifest atomically; sample ids must be unique."""
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate sample ids in split {split!r}")
    path = manifest_path(root, split)
    atomic_write(path, "".join(encode_sample(s) + "\n" for s in samples).encode("utf-8"))
    return path


def read_manifest(root: str | Path, split: str = "train", check_files: bool = True) -> list[Sample]:
    """Read and validate a split's manifest; with check_files, every named file must exist."""
    path = manifest_path(root, split)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: no {split!r} split in {root} (an unfinished dataset "
                                f"has no manifests; re-run the command that builds it)")
    samples, seen = [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where}: not valid JSON: {err}") from None
        sample = sample_from_json(data, where)
        if sample.id in seen:
            raise ValueError(f"{where}: sample {sample.id!r}: field 'id': repeats an earlier sample")
        seen.add(sample.id)
        if check_files:
            for field, paths in (("images", sample.images), ("depths", sample.depths or ())):
                missing = [p for p in paths if not resolve(root, p).is_file()]
                if missing:
                    raise ValueError(f"{where}: sample {sample.id!r}: field {field!r}: missing file {missing[0]}")
        samples.append(sample)
    return samples


def png_bytes(rgb: np.ndarray) -> bytes:
    """An image (H, W, 3) uint8 encoded as the dataset stores images."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    """An array encoded as the dataset stores depth maps (.npy, no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_image(root: str | Path, path: str) -> np.ndarray:
    """RGB image (H, W, 3) uint8 of a manifest path; ValueError naming it when it cannot be decoded."""
    try:
        return np.asarray(open_rgb(resolve(root, path)))
    except DECODE_ERRORS as err:
        raise ValueError(f"{resolve(root, path)} cannot be decoded ({err})") from None


def load_depth(root: str | Path, path: str) -> np.ndarray:
    """Depth map (H, W) float32 metres of a manifest path (.npy, read without pickle); ValueError naming it
    when it cannot be read."""
    try:
        depth = np.load(resolve(root, path), allow_pickle=False)
    except DECODE_ERRORS as err:
        raise ValueError(f"{resolve(root, path)} cannot be read as a depth map ({err})") from None
    if depth.ndim != 2 or depth.dtype != np.float32:
        raise ValueError(f"{path}: expected an (H, W) float32 depth map, got {depth.shape} {depth.dtype}")
    return depth
