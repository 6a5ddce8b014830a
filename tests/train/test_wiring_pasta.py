"""Wiring of the PaStA stage: views, pairs, overlaps and cells (tests/train/test_wiring.py says why)."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.modeling_outputs import BaseModelOutputWithPooling

from hatchvl.data.supervision import load_supervision
from hatchvl.geometry.overlap import symmetric_overlap
from hatchvl.models.backbone import grids_from_tower_output
from hatchvl.models.loading import load_model_and_processor
from hatchvl.objectives.pasta import pool_cells
from hatchvl.train.pasta_data import PastaCollator, PastaDataset
from tests.train.wiring import (
    GRID,
    SIZE,
    cell_index,
    check_view_patches,
    file_pixels,
    image_processor,
    mosaic,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def pasta(tiny_model, data, records):
    """(dataset, model, processor, expected S per sample id from the manifest's geometry)."""
    samples, sup = load_supervision(data, "train", grid=GRID)
    assert not sup.bad
    dataset = PastaDataset(data, samples, sup)
    model, processor = load_model_and_processor(tiny_model, dtype="float32")
    expected = {}
    for record in records:
        depth = [np.load(data / p) for p in record["depths"]]
        assert all(d.shape == (SIZE, SIZE) for d in depth)  # K, stored for the images, fits the depth maps
        K, c2w = np.asarray(record["K"]), np.asarray(record["c2w"])
        expected[record["id"]] = [symmetric_overlap(depth[i], K[i], c2w[i], depth[j], K[j], c2w[j], grid=GRID)
                                  for i, j in itertools.combinations(range(len(depth)), 2)]
    return dataset, model, processor, expected


def check_pasta_batch(batch: dict, items: list[dict], records: list[dict], root: Path, processor, expected: dict):
    """Item b of a collated PaStA batch is the sample of records[b]: its views' patches in order, and for its
    pairs (i, j), i < j in order, pair_x / pair_y pointing at its views i and j, S the overlap recomputed from
    the manifest for those two views, and weight 1 / its pair count."""
    assert [item["id"] for item in items] == [r["id"] for r in records], "items are not the manifest's samples"
    pairs = [list(itertools.combinations(range(len(r["images"])), 2)) for r in records]
    total_views, total_pairs = sum(len(r["images"]) for r in records), sum(len(p) for p in pairs)
    assert batch["image_grid_thw"].shape[0] == total_views, "one image per view"
    assert batch["S"].shape == (total_pairs, GRID**2, GRID**2), f"S {tuple(batch['S'].shape)}"
    assert batch["pair_x"].shape == batch["pair_y"].shape == batch["pair_weight"].shape == (total_pairs,)
    counts = batch["image_grid_thw"].prod(-1)
    view, patch, pair = 0, 0, 0
    for b, (record, sample_pairs) in enumerate(zip(records, pairs, strict=True)):
        where = f"item {b} ({record['id']})"
        for (i, j), S in zip(sample_pairs, expected[record["id"]], strict=True):
            assert (int(batch["pair_x"][pair]), int(batch["pair_y"][pair])) == (view + i, view + j), \
                f"{where}: pair {pair} does not point at its views {i} and {j}"
            assert np.allclose(batch["S"][pair].numpy(), S, atol=1e-6), f"{where}: S of pair {pair} is not ({i}, {j})"
            assert float(batch["pair_weight"][pair]) == pytest.approx(1 / len(sample_pairs))
            pair += 1
        for k, path in enumerate(record["images"]):
            n = int(counts[view])
            check_view_patches(batch["pixel_values"][patch:patch + n], batch["image_grid_thw"][view], root, path,
                               processor, f"{where} view {k}")
            view, patch = view + 1, patch + n


def cell_colours(batch: dict, model, processor) -> torch.Tensor:
    """(views, n², 3) colour of every PaStA cell as the feature path sees it: each merged token's mean colour
    (the processor's merge blocks), split into grids like the merger's output and pooled to cells like the
    features."""
    ip = image_processor(processor)
    m, p = ip.merge_size, ip.patch_size
    patches = batch["pixel_values"].reshape(-1, 3, ip.temporal_patch_size * p * p).mean(-1)
    tokens = patches.reshape(-1, m * m, 3).mean(1)
    mean, std = (torch.tensor(v, dtype=tokens.dtype) for v in (ip.image_mean, ip.image_std))
    tokens = (tokens * std + mean) / ip.rescale_factor
    grids = grids_from_tower_output(model, BaseModelOutputWithPooling(pooler_output=tokens), batch["image_grid_thw"])
    return pool_cells(grids, GRID)


def check_cells_line_up(batch: dict, paths: list[str], root: Path, model, processor):
    """Cell k of every view's pooled tokens covers the pixels that S counts in cell k (`cell_of_pixels`)."""
    cells = cell_colours(batch, model, processor)
    assert cells.shape[0] == len(paths)
    for view, path in enumerate(paths):
        pixels = file_pixels(root, path).astype(np.float64)
        index = cell_index(*pixels.shape[:2])
        expected = np.stack([pixels[index == k].mean(0) for k in range(GRID**2)])
        diff = np.abs(cells[view].numpy() - expected).max()
        assert diff < 0.5, f"view {view} ({path}): pooled token cells miss the PaStA cells by {diff:.1f} levels"


def pasta_batch(dataset, processor, items=None):
    items = [dict(item) for item in dataset] if items is None else items
    return items, PastaCollator(processor)(items)


def test_pasta_batch_pairs_each_samples_views_with_their_own_overlaps(pasta, data, records, tmp_path):
    dataset, _, processor, expected = pasta
    items, batch = pasta_batch(dataset, processor)
    check_pasta_batch(batch, items, records, data, processor, expected)
    # the stage reads S from its cache when it resumes: the cached S must belong to the same samples and pairs
    load_supervision(data, "train", grid=GRID, cache_dir=tmp_path)
    samples, cached = load_supervision(data, "train", grid=GRID, cache_dir=tmp_path)
    assert cached.from_cache
    items, batch = pasta_batch(PastaDataset(data, samples, cached), processor)
    check_pasta_batch(batch, items, records, data, processor, expected)


def test_pasta_cells_line_up_with_the_image_token_grid(pasta, data, records, tmp_path):
    dataset, model, processor, _ = pasta
    _, batch = pasta_batch(dataset, processor)
    merged = batch["image_grid_thw"][:, 1:] // image_processor(processor).merge_size
    assert (merged == GRID).all(), "this data should give one merged token per PaStA cell"
    check_cells_line_up(batch, [p for r in records for p in r["images"]], data, model, processor)
    # rows and columns must not be confused: views wider than high (4 x 8 merged tokens, no resampling)
    paths = ["wide0.png", "wide1.png"]
    for number, path in enumerate(paths):
        Image.fromarray(mosaic(number, SIZE, 2 * SIZE)).save(tmp_path / path)
    item = {"id": "wide", "images": [str(tmp_path / p) for p in paths], "S": np.zeros((1, GRID**2, GRID**2))}
    _, batch = pasta_batch(dataset, processor, [item])
    assert batch["image_grid_thw"][:, 1:].tolist() == [[8, 16]] * 2
    check_cells_line_up(batch, paths, tmp_path, model, processor)


def reverse_views_of_an_item(items: list[dict]) -> None:
    item = next(item for item in items if len(item["images"]) == 3)
    item["images"] = item["images"][::-1]


def put_pairs_out_of_order(items: list[dict]) -> None:
    item = next(item for item in items if len(item["images"]) == 3)
    item["S"] = np.ascontiguousarray(item["S"][::-1])


def swap_two_samples_overlaps(items: list[dict]) -> None:
    items[0]["S"], items[-1]["S"] = items[-1]["S"], items[0]["S"]


@pytest.mark.parametrize(("fault", "message"), [
    (reverse_views_of_an_item, "view 0: pixel_values are not the patches"),
    (put_pairs_out_of_order, r"S of pair 0 is not \(0, 1\)"),
    (swap_two_samples_overlaps, r"item 0 .*S of pair 0 is not \(0, 1\)"),
])
def test_pasta_batch_check_catches_reversed_views_and_misplaced_overlaps(pasta, data, records, fault, message):
    dataset, _, processor, expected = pasta
    items = [dict(item) for item in dataset]
    fault(items)
    _, batch = pasta_batch(dataset, processor, items)
    with pytest.raises(AssertionError, match=message):
        check_pasta_batch(batch, items, records, data, processor, expected)


def test_pasta_cell_check_catches_a_transposed_token_grid(pasta, data, records):
    dataset, model, processor, _ = pasta
    _, batch = pasta_batch(dataset, processor)
    m = image_processor(processor).merge_size
    h, w = (batch["image_grid_thw"][0, 1:] // m).tolist()
    first = slice(0, h * w * m * m)  # the first view's patches: merge blocks (h, w), read as (w, h)
    blocks = batch["pixel_values"][first].reshape(h, w, m * m, -1)
    batch["pixel_values"][first] = blocks.transpose(0, 1).reshape(h * w * m * m, -1).clone()
    with pytest.raises(AssertionError, match="view 0"):
        check_cells_line_up(batch, [p for r in records for p in r["images"]], data, model, processor)
