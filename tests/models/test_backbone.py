"""Backbone adapters, checked against the models themselves: grids equal what the LM receives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.vision_utils import get_vision_window_index

from hatchvl.models.backbone import (
    block_to_raster,
    grids_from_tower_output,
    parameter_counts,
    token_grids,
    vision_tower,
)
from hatchvl.models.loading import SUPPORTED_FAMILIES

# Three images of different sizes in a batch of two chats (two images, then one).
SIZES = [[(112, 168), (224, 224)], [(140, 112)]]


def raster_to_block(grid: torch.Tensor, m: int) -> torch.Tensor:
    """Inverse of `block_to_raster`, to feed a grid back to the merger: (h, w, D) grid -> (h·w, D) tokens
    in merge-block order."""
    h, w, d = grid.shape
    if h % m or w % m:
        raise ValueError(f"grid must have rows and columns that are multiples of {m}, got {tuple(grid.shape)}")
    return grid.reshape(h // m, m, w // m, m, d).permute(0, 2, 1, 3, 4).reshape(h * w, d)


@pytest.fixture
def batch(tiny_loaded, random_image, chat_batch):
    def make(family):
        _, processor = tiny_loaded[family]
        images = [[random_image(h, w, seed=10 * i + j) for j, (h, w) in enumerate(s)] for i, s in enumerate(SIZES)]
        return chat_batch(processor, images)

    return make


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_merged_grids_equal_language_model_image_embeddings(family, tiny_loaded, batch):
    model, _ = tiny_loaded[family]
    inputs = batch(family)
    seen = {}
    hook = model.get_decoder().register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(embeds=kwargs["inputs_embeds"]), with_kwargs=True
    )
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        hook.remove()
    image_positions = inputs["input_ids"] == model.config.image_token_id
    received = seen["embeds"][image_positions]

    with torch.no_grad():
        grids = token_grids(model, inputs["pixel_values"], inputs["image_grid_thw"])

    assert len(grids) == 3
    for grid, (_, h, w) in zip(grids, inputs["image_grid_thw"].tolist(), strict=True):
        assert grid.shape == (h // 2, w // 2, model.config.text_config.hidden_size)
    assert len({g.shape for g in grids}) == 3
    ours = torch.cat([g.reshape(-1, g.shape[-1]) for g in grids])
    torch.testing.assert_close(ours, received, rtol=0, atol=1e-6)


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_pre_merger_grid_merges_to_the_merged_grid(family, tiny_loaded, batch):
    model, _ = tiny_loaded[family]
    inputs = batch(family)
    tower = vision_tower(model)
    vision_config = model.config.vision_config
    width = vision_config.embed_dim if family == "qwen2_vl" else vision_config.hidden_size
    with torch.no_grad():
        merged = token_grids(model, inputs["pixel_values"], inputs["image_grid_thw"])
        pre = token_grids(model, inputs["pixel_values"], inputs["image_grid_thw"], before_merger=True)
        for grid, pre_grid, (_, h, w) in zip(merged, pre, inputs["image_grid_thw"].tolist(), strict=True):
            assert pre_grid.shape == (h, w, width)
            remerged = tower.merger(raster_to_block(pre_grid, 2)).reshape(grid.shape)
            torch.testing.assert_close(remerged, grid, rtol=0, atol=1e-5)


def test_qwen2_5_pre_merger_states_are_window_permuted_and_get_unpermuted(tiny_loaded, batch):
    model, _ = tiny_loaded["qwen2_5_vl"]
    inputs = batch("qwen2_5_vl")
    tower = vision_tower(model)
    grid_thw = inputs["image_grid_thw"]
    window_index, _ = get_vision_window_index(grid_thw, 2, tower.window_size, tower.patch_size)
    assert not torch.equal(window_index, torch.arange(len(window_index))), "sizes must span several windows"

    with torch.no_grad():
        output = tower(inputs["pixel_values"], grid_thw=grid_thw)
        # Merging the raw (permuted) states gives the merged tokens in window order, not raster order.
        raw_merged = tower.merger(output.last_hidden_state)
        assert not torch.allclose(raw_merged, output.pooler_output)
        pre = grids_from_tower_output(model, output, grid_thw, before_merger=True)
        remerged = torch.cat([tower.merger(raster_to_block(g, 2)) for g in pre])
    torch.testing.assert_close(remerged, output.pooler_output, rtol=0, atol=1e-5)


def test_block_to_raster_puts_processor_patches_where_they_are_in_the_image(tiny_loaded, random_image):
    _, processor = tiny_loaded["qwen2_5_vl"]
    image = random_image(112, 168)  # multiples of 28 within the pixel limits: no resize
    out = processor.image_processor([image], return_tensors="pt")
    (_, h, w), p = out["image_grid_thw"][0].tolist(), 14
    grid = block_to_raster(out["pixel_values"], h, w, 2).reshape(h, w, 3, 2, p, p)[:, :, :, 0]
    rebuilt = grid.permute(2, 0, 3, 1, 4).reshape(3, h * p, w * p)
    mean = torch.tensor(processor.image_processor.image_mean).view(3, 1, 1)
    std = torch.tensor(processor.image_processor.image_std).view(3, 1, 1)
    expected = (torch.from_numpy(np.array(image)).permute(2, 0, 1) / 255 - mean) / std
    torch.testing.assert_close(rebuilt, expected, rtol=0, atol=1e-5)


def test_raster_to_block_inverts_block_to_raster():
    tokens = torch.arange(6 * 4 * 2, dtype=torch.float32).reshape(24, 2)
    torch.testing.assert_close(raster_to_block(block_to_raster(tokens, 6, 4, 2), 2), tokens)
    grid = block_to_raster(torch.arange(8.0)[:, None], 2, 4, 2)[..., 0]
    assert grid.tolist() == [[0, 1, 4, 5], [2, 3, 6, 7]]


@pytest.mark.parametrize("family", SUPPORTED_FAMILIES)
def test_grids_keep_gradients_into_the_tower_only(family, tiny_loaded, batch):
    model, _ = tiny_loaded[family]
    inputs = batch(family)
    model.zero_grad(set_to_none=True)
    grids = token_grids(model, inputs["pixel_values"], inputs["image_grid_thw"])
    sum(g.square().sum() for g in grids).backward()
    tower = vision_tower(model)
    assert tower.patch_embed.proj.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in tower.merger.parameters())
    assert all(p.grad is None for p in model.get_decoder().parameters())
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("before_merger", [False, True])
def test_grids_from_a_tower_hook_equal_token_grids(before_merger, tiny_loaded, batch):
    model, _ = tiny_loaded["qwen2_5_vl"]
    inputs = batch("qwen2_5_vl")
    captured = []
    hook = vision_tower(model).register_forward_hook(
        lambda module, args, kwargs, output: captured.append(
            grids_from_tower_output(model, output, kwargs["grid_thw"], before_merger=before_merger)
        ),
        with_kwargs=True,
    )
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        hook.remove()
    with torch.no_grad():
        expected = token_grids(model, inputs["pixel_values"], inputs["image_grid_thw"], before_merger=before_merger)
    assert len(captured) == 1
    for got, want in zip(captured[0], expected, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_video_grids_are_rejected(tiny_loaded, batch):
    model, _ = tiny_loaded["qwen2_vl"]
    inputs = batch("qwen2_vl")
    video_like = inputs["image_grid_thw"].clone()
    video_like[0, 0] = 2
    with pytest.raises(ValueError, match="image_grid_thw"):
        token_grids(model, inputs["pixel_values"], video_like)


def test_parameter_counts_add_up(tiny_loaded):
    for model, _ in tiny_loaded.values():
        counts = parameter_counts(model)
        assert counts["vision_tower"] + counts["merger"] + counts["language_model"] == counts["total"]
        assert min(counts.values()) > 0
