"""Per-image token grids of a Qwen VL vision tower, in raster order, keeping gradients (for PaStA).

Inputs are what the processor returns: `pixel_values` (P, C·T·p·p), the patches of all images of a
batch, each image's patches in m×m merge-block order (m = spatial_merge_size = 2), and
`image_grid_thw` (B, 3), per image (t, h, w) in patches, t = 1 for images. Image b gives a grid

    after the merger (default): (h/m, w/m, D_out), D_out = the language model's width;
    before the merger:          (h, w, D_vis),     D_vis = the vision tower's width;

row-major over the image, row 0 at the top. The merged grid is exactly what the language model
receives at that image's <|image_pad|> positions. The pre-merger states are the tower's residual
stream after its last block, before the norm that opens every family's merger.

Family adapters say how the tower's pre-merger hidden states are ordered:
- qwen2_vl, qwen3_vl: merge-block order, as the processor emits patches;
- qwen2_5_vl: merge blocks permuted into attention windows; undone with the model's window index
  (transformers' `get_vision_window_index`, the same index the tower uses to un-permute its output).
The merger output is in raster order for every family. Qwen3-VL also injects "deepstack" features
of intermediate vision layers into early LM layers; they are not part of these grids.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.vision_utils import get_vision_window_index

from hatchvl.models.loading import check_family


def vision_tower(model: PreTrainedModel) -> nn.Module:
    """The vision tower (patch embedding, blocks and merger) of a supported model."""
    check_family(model.config.model_type, "model")
    return model.get_encoder(modality="image")


def token_grids(
    model: PreTrainedModel,
    pixel_values: torch.Tensor,
    image_grid_thw: torch.Tensor,
    before_merger: bool = False,
) -> list[torch.Tensor]:
    """Run the vision tower and return one raster-order token grid per image (with gradients).

    Args:
        model: a supported model (e.g. from `load_model_and_processor`).
        pixel_values: (P, C·T·p·p) from the processor.
        image_grid_thw: (B, 3) from the processor.
        before_merger: return the tower's last hidden states instead of the merger output.

    Returns:
        B tensors, (h_b/m, w_b/m, D_out) each, or (h_b, w_b, D_vis) with `before_merger`.
    """
    tower = vision_tower(model)
    _check_grid_thw(image_grid_thw, tower.spatial_merge_size)
    output = tower(pixel_values.to(tower.dtype), grid_thw=image_grid_thw)
    return grids_from_tower_output(model, output, image_grid_thw, before_merger=before_merger)


def grids_from_tower_output(
    model: PreTrainedModel,
    output: BaseModelOutputWithPooling,
    image_grid_thw: torch.Tensor,
    before_merger: bool = False,
) -> list[torch.Tensor]:
    """Split a vision tower's output into raster-order grids, one per image.

    Use it in a forward hook on `vision_tower(model)` to take features from the model's own forward
    pass. `output.pooler_output` (merger output) may be one tensor (N/m², D_out) or the per-image
    tuple that `get_image_features` makes of it; `output.last_hidden_state` is (N, D_vis).
    Shapes as in `token_grids`.
    """
    family = check_family(model.config.model_type, "model")
    tower = vision_tower(model)
    m = tower.spatial_merge_size
    grid_thw = _check_grid_thw(image_grid_thw, m)
    if before_merger:
        tokens = _PRE_MERGER_TO_BLOCK_ORDER[family](tower, output.last_hidden_state, grid_thw)
        per_image = tokens.split((grid_thw[:, 1] * grid_thw[:, 2]).tolist())
        return [block_to_raster(x, h, w, m) for x, (_, h, w) in zip(per_image, grid_thw.tolist(), strict=True)]
    merged = output.pooler_output
    if isinstance(merged, (tuple, list)):
        merged = torch.cat(merged)
    per_image = merged.split((grid_thw[:, 1] * grid_thw[:, 2] // m**2).tolist())
    return [x.reshape(h // m, w // m, -1) for x, (_, h, w) in zip(per_image, grid_thw.tolist(), strict=True)]


def block_to_raster(tokens: torch.Tensor, h: int, w: int, m: int) -> torch.Tensor:
    """Reorder one image's tokens from m×m merge-block order to a raster grid.

    Block order: blocks row-major over the (h/m, w/m) block grid, then row-major inside a block.

    Args:
        tokens: (h·w, D).
        h, w: grid size in tokens, multiples of m.

    Returns:
        (h, w, D), grid[r, c] = the token of row r, column c.
    """
    if tokens.shape[0] != h * w or h % m or w % m:
        raise ValueError(f"tokens must be (h·w, D) with h, w multiples of {m}; got {tuple(tokens.shape)}, {h}×{w}")
    return tokens.reshape(h // m, w // m, m, m, -1).permute(0, 2, 1, 3, 4).reshape(h, w, -1)


def _check_grid_thw(image_grid_thw: torch.Tensor, m: int) -> torch.Tensor:
    if image_grid_thw.ndim != 2 or image_grid_thw.shape[1] != 3:
        raise ValueError(f"image_grid_thw must have shape (B, 3), got {tuple(image_grid_thw.shape)}")
    if (image_grid_thw[:, 0] != 1).any():
        raise ValueError(f"image_grid_thw: t must be 1 for images (videos are not supported), got {image_grid_thw}")
    if (image_grid_thw[:, 1:] % m != 0).any():
        raise ValueError(f"image_grid_thw: h and w must be multiples of the merge size {m}, got {image_grid_thw}")
    return image_grid_thw


def _block_order(tower: nn.Module, hidden: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
    """Qwen2-VL, Qwen3-VL: the hidden states are already in merge-block order."""
    return hidden


def _undo_window_permutation(tower: nn.Module, hidden: torch.Tensor, grid_thw: torch.Tensor) -> torch.Tensor:
    """Qwen2.5-VL: (N, D) window-permuted hidden states → (N, D) in merge-block order."""
    window_index, _ = get_vision_window_index(
        grid_thw,
        spatial_merge_size=tower.spatial_merge_size,
        window_size=tower.window_size,
        patch_size=tower.patch_size,
    )
    unit = tower.spatial_merge_size**2
    blocks = hidden.reshape(-1, unit, hidden.shape[-1])
    return blocks[torch.argsort(window_index.to(hidden.device))].reshape(hidden.shape)


_PRE_MERGER_TO_BLOCK_ORDER: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "qwen2_vl": _block_order,
    "qwen2_5_vl": _undo_window_permutation,
    "qwen3_vl": _block_order,
}


def parameter_counts(model: PreTrainedModel) -> dict[str, int]:
    """Parameters of the vision tower (without merger), the merger(s) and the language model.

    Qwen3-VL's deepstack mergers count as merger; the language model includes embeddings and head.
    """
    tower = vision_tower(model)
    mergers = [tower.merger, *getattr(tower, "deepstack_merger_list", [])]
    merger = sum(p.numel() for module in mergers for p in module.parameters())
    vision = sum(p.numel() for p in tower.parameters())
    total = sum(p.numel() for p in model.parameters())
    return {"vision_tower": vision - merger, "merger": merger, "language_model": total - vision, "total": total}
