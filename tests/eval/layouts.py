"""Writers of small benchmark files in the exact published layouts.

- SPAR-Bench: parquet written by `datasets` with `image` a List(Image()) (cells {bytes, path}), as the
  hub's files hold it; RGBD adds per-view `depth` (H x W floats), `pose` and intrinsics (16 floats).
- MMSI-Bench: parquet with `images` a list of raw encoded images (binary), and VLMEvalKit's TSV with
  base64 images (a JSON array of base64 strings in the `image` column).
- MindCube: `data/raw/MindCube_tinybench.jsonl` with image paths relative to `data/`.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import datasets
import numpy as np
from PIL import Image

from hatchvl.data.format import Sample, write_manifest


def png_bytes(seed: int = 0, size: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


SPAR_FEATURES = {
    "id": datasets.Value("int64"), "img_type": datasets.Value("string"), "format_type": datasets.Value("string"),
    "task": datasets.Value("string"), "source": datasets.Value("string"), "image": datasets.List(datasets.Image()),
    "question": datasets.Value("string"), "answer": datasets.Value("string"),
}
RGBD_FEATURES = {
    "depth": datasets.List(datasets.List(datasets.List(datasets.Value("float32")))),
    "pose": datasets.List(datasets.List(datasets.Value("float32"))),
    "intrinsic_color": datasets.List(datasets.List(datasets.Value("float32"))),
    "intrinsic_depth": datasets.List(datasets.List(datasets.Value("float32"))),
}


def spar_row(item_id: int, task: str, answer: str, views: int = 2, question: str = "Q?") -> dict:
    """A SPAR-Bench row with `views` embedded PNG images."""
    return {
        "id": item_id, "img_type": "multi-view" if views > 1 else "single_view", "format_type": "select",
        "task": task, "source": "scannet", "question": question, "answer": answer,
        "image": [{"bytes": png_bytes(item_id * 10 + k), "path": f"{item_id}_{k}.png"} for k in range(views)],
    }


def write_spar(path: Path, rows: list[dict], depth_scale: float | None = None) -> Path:
    """Write rows as a SPAR-Bench parquet file; with depth_scale, as the RGBD variant with 4x4 depth
    maps of 1.5 * depth_scale (1000: millimetres, 1: metres)."""
    features = dict(SPAR_FEATURES)
    if depth_scale is not None:
        features |= RGBD_FEATURES
        eye = np.eye(4, dtype=np.float32).ravel().tolist()
        rows = [r | {"depth": [np.full((4, 4), 1.5 * depth_scale).tolist()] * len(r["image"]),
                     "pose": [eye] * len(r["image"]), "intrinsic_color": [eye] * len(r["image"]),
                     "intrinsic_depth": [eye] * len(r["image"])} for r in rows]
    columns = {name: [r[name] for r in rows] for name in features}
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(columns, features=datasets.Features(features)).to_parquet(str(path))
    return path


MMSI_QUESTION = "Which way is the chair from camera 1?\nOptions: A: left, B: right, C: front, D: behind"


def mmsi_row(item_id: int, question_type: str, answer: str, views: int = 2, question: str = MMSI_QUESTION) -> dict:
    return {"id": item_id, "images": [png_bytes(item_id * 10 + k) for k in range(views)],
            "question_type": question_type, "question": question, "answer": answer,
            "thought": "...", "difficulty": "easy"}


def write_mmsi_parquet(path: Path, rows: list[dict]) -> Path:
    features = datasets.Features({
        "id": datasets.Value("int64"), "images": datasets.List(datasets.Value("binary")),
        "question_type": datasets.Value("string"), "question": datasets.Value("string"),
        "answer": datasets.Value("string"), "thought": datasets.Value("string"),
        "difficulty": datasets.Value("string"),
    })
    columns = {name: [r[name] for r in rows] for name in features}
    datasets.Dataset.from_dict(columns, features=features).to_parquet(str(path))
    return path


def write_mmsi_tsv(path: Path, rows: list[dict]) -> Path:
    """VLMEvalKit's layout: index, image (JSON array of base64), question, answer, category."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["index", "image", "question", "answer", "category", "thought"])
        for r in rows:
            encoded = json.dumps([base64.b64encode(b).decode() for b in r["images"]])
            writer.writerow([r["id"], encoded, r["question"], r["answer"], r["question_type"], r["thought"]])
    return path


MINDCUBE_QUESTION = ("Based on these two views, which object is to the left of the sofa? "
                     "A. Lamp B. Plant C. Table D. Chair")


def mindcube_record(item_id: str, answer: str, views: int = 2, question: str = MINDCUBE_QUESTION) -> dict:
    return {"id": item_id, "category": ["other"], "type": "rotation" if "rotation" in item_id else "among",
            "meta_info": [], "question": question,
            "images": [f"other_all_image/{item_id}/{k}.png" for k in range(views)], "gt_answer": answer}


def write_mindcube(root: Path, records: list[dict], with_images: bool = True) -> Path:
    """The release layout: root/data/raw/MindCube_tinybench.jsonl, images under root/data/."""
    data = root / "data"
    (data / "raw").mkdir(parents=True, exist_ok=True)
    jsonl = data / "raw" / "MindCube_tinybench.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if with_images:
        for n, r in enumerate(records):
            for k, relative in enumerate(r["images"]):
                (data / relative).parent.mkdir(parents=True, exist_ok=True)
                (data / relative).write_bytes(png_bytes(n * 10 + k))
    return jsonl


def write_predictions(path: Path, outputs: dict) -> Path:
    path.write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in outputs.items()), encoding="utf-8")
    return path


def spar_rows() -> list[dict]:
    """Two items of each of 5 tasks: MV numeric, SI numeric, MV choice, view change, SI choice."""
    return [
        spar_row(1, "depth_prediction_oc_mv", "2.0"), spar_row(2, "depth_prediction_oc_mv", "4.0"),
        spar_row(3, "depth_prediction_oc", "1.0", views=1), spar_row(4, "depth_prediction_oc", "3.0", views=1),
        spar_row(5, "position_matching", "B"), spar_row(6, "position_matching", "C"),
        spar_row(7, "view_change_infer", "move_right:1.0,rotate_left:30"),
        spar_row(8, "view_change_infer", "move_forward:2.0"),
        spar_row(9, "spatial_imagination_oc", "A", views=1), spar_row(10, "spatial_imagination_oc", "D", views=1),
    ]


def write_synthetic(root: Path) -> Path:
    """A hatchvl dataset with a two-sample test split (a choice and a number), images under images/."""
    (root / "images").mkdir(parents=True)
    for k in range(3):
        (root / "images" / f"{k}.png").write_bytes(png_bytes(k))
    common = {"scene_id": "s0", "images": ("images/0.png", "images/1.png")}
    samples = [
        Sample(id="s0-0", category="camera_motion", question="Where did the camera go?", options=("left", "right"),
               answer="B", answer_type="choice", **common),
        Sample(id="s0-1", category="depth_distance", question="How far?", options=(), answer="1.5",
               answer_type="number", **common),
    ]
    write_manifest(root, "test", samples)
    return root
