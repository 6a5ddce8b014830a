"""Shared pieces of the wiring tests (test_wiring_*.py): the manifest read as plain JSON, the mosaic that
names every view file and PaStA cell, and the checks of rows, prompts and targets against the manifest."""


import json
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from hatchvl.geometry.camera import cell_of_pixels

GRID = 4
SIZE = 112
TARGET = re.compile(r"^<action>(.*)</action>\n<answer>(.*)</answer>$", re.DOTALL)


# -- the data: a small synthetic split whose every view file is a unique mosaic ------------------------------


def manifest(root: Path) -> list[dict]:
    """The train split as the manifest file holds it (plain JSON, not hatchvl's reader)."""
    return [json.loads(line) for line in (root / "train.jsonl").read_text().splitlines() if line.strip()]


def file_pixels(root: Path, path: str) -> np.ndarray:
    with Image.open(root / path) as image:
        return np.asarray(image.convert("RGB"))


def cell_index(height: int, width: int) -> np.ndarray:
    """The PaStA cell of every pixel, as the overlaps count them (row-major over the GRID x GRID cells)."""
    rows, cols = cell_of_pixels(height, width, GRID)
    return rows[:, None] * GRID + cols[None, :]


def mosaic(number: int, height: int = SIZE, width: int = SIZE) -> np.ndarray:
    """Flat colour per PaStA cell; red names the file, green the cell, blue mixes both."""
    cell = cell_index(height, width)
    channels = [np.full_like(cell, 20 + 9 * number), 8 + 15 * cell, (60 + 37 * number + 71 * cell) % 256]
    return np.stack(channels, -1).astype(np.uint8)


def image_processor(processor):
    return getattr(processor, "image_processor", processor)


def unpatchify(patches: torch.Tensor, thw: torch.Tensor, processor) -> np.ndarray:
    """The (H, W, 3) uint8 image of one view's pixel_values rows: merge blocks row-major, patches row-major
    inside a block, each patch (C, T, p, p), normalised by the processor's mean and std."""
    ip = image_processor(processor)
    _, h, w = thw.tolist()
    m, p = ip.merge_size, ip.patch_size
    x = patches.reshape(h // m, w // m, m, m, 3, -1, p, p)[:, :, :, :, :, 0]
    x = x.permute(4, 0, 2, 5, 1, 3, 6).reshape(3, h * p, w * p)
    mean, std = (torch.tensor(v, dtype=x.dtype)[:, None, None] for v in (ip.image_mean, ip.image_std))
    pixels = (x * std + mean) / ip.rescale_factor
    return pixels.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def check_view_patches(patches: torch.Tensor, thw: torch.Tensor, root: Path, path: str, processor, where: str):
    """One view's rows of pixel_values and its image_grid_thw are the processor's output for the file at path."""
    pixels = file_pixels(root, path)
    expected = image_processor(processor)(images=[pixels], return_tensors="pt")
    assert torch.equal(thw, expected["image_grid_thw"][0]), f"{where}: grid {thw.tolist()} is not that of {path}"
    assert patches.shape == expected["pixel_values"].shape, f"{where}: {len(patches)} patch rows for {path}"
    assert torch.equal(patches, expected["pixel_values"]), f"{where}: pixel_values are not the patches of {path}"
    diff = np.abs(unpatchify(patches, thw, processor).astype(int) - pixels).max()
    assert diff <= 1, f"{where}: the patches decode to another image than {path} (max difference {diff})"


def check_row_images(images: list, record: dict, root: Path, where: str):
    """A dataset row's decoded images are the record's view files, in order."""
    assert len(images) == len(record["images"]), f"{where}: {len(images)} images, sample has {len(record['images'])}"
    for k, (image, path) in enumerate(zip(images, record["images"], strict=True)):
        assert np.array_equal(np.asarray(image.convert("RGB")), file_pixels(root, path)), \
            f"{where}: image {k} is not {path}"


def check_prompt(prompt: list[dict], record: dict, where: str):
    """The user turn introduces every view ("Image k:" then an image placeholder) and asks the record's question."""
    (turn,) = prompt
    blocks = turn["content"]
    expected = [block for k in range(len(record["images"])) for block in (("text", f"Image {k + 1}:"), ("image", None))]
    got = [(b["type"], b["text"] if b["type"] == "text" else None) for b in blocks[:-1]]
    assert got == expected, f"{where}: prompt blocks {got}"
    assert blocks[-1]["text"].startswith(record["question"].strip()), f"{where}: not the question of {record['id']}"


def check_target(text: str, record: dict, where: str):
    """A target text holds exactly the record's actions (as the manifest writes them) and answer."""
    match = TARGET.match(text)
    assert match, f"{where}: not an action-then-answer target: {text!r}"
    assert json.loads(match.group(1)) == record["actions"], f"{where}: actions are not those of {record['id']}"
    assert match.group(2) == record["answer"], f"{where}: answer {match.group(2)!r} is not that of {record['id']}"


def fresh_rows(dataset) -> list[dict]:
    """The dataset's rows, decoded anew (TRL's collator rewrites the rows it gets)."""
    return [dataset[i] for i in range(len(dataset))]


def reverse_views_of_a_row(rows: list[dict]) -> None:
    row = next(r for r in rows if len(r["images"]) == 3)
    row["images"] = row["images"][::-1]
