"""Activation memory of PaStA per patch and vision block, with and without activation checkpointing.

Counts the bytes autograd saves for the backward pass (hatchvl.models.memory.SavedActivations: each
storage once, weights left out) around the project's PaStA path, `cell_features` + `pasta_loss` on one
pair of views, for towers of 2 and 4 blocks and two image sizes, and solves

    saved = patches · (blocks · per_patch_block + per_patch) + blocks · per_block + fixed

for the four terms. Exact and device-independent up to the attention kernel (CPU sdpa here); the numbers
for the real Qwen2.5-VL-3B tower are hatchvl.models.memory.MEASURED. Random weights; forward passes only.

Usage: python benchmarks/bench_pasta_memory.py [--config 3b|tiny] [--precisions bfloat16,autocast,float32]
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from hatchvl.models.memory import PRECISIONS, ActivationBytes, SavedActivations
from hatchvl.models.stand_in import qwen2_5_vl_3b_config, stand_in_model
from hatchvl.models.tiny import TinySize, byte_tokenizer, tiny_model
from hatchvl.objectives.pasta import cell_features, pasta_loss
from hatchvl.train.pasta_data import train_vision_only

DEPTHS = (2, 4)
GRIDS = ((16, 16), (16, 32))  # patches per view (h, w): whole 8x8-patch attention windows
CELLS = 4


def build(config: str, depth: int):
    if config == "3b":
        return stand_in_model(qwen2_5_vl_3b_config(vision_depth=depth, text_layers=1), dtype=torch.float32)
    return tiny_model("qwen2_5_vl", TinySize(vision_depth=depth), byte_tokenizer())


def saved_bytes(model, grid: tuple[int, int], autocast: bool) -> int:
    """Bytes saved for the backward pass of the PaStA loss of one view pair of `grid` patches each."""
    h, w = grid
    tower = model.model.visual
    channels = 3 * tower.config.temporal_patch_size * tower.config.patch_size**2
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(2 * h * w, channels, generator=generator)
    S = torch.rand(1, CELLS**2, CELLS**2, generator=generator)
    context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with SavedActivations(model.parameters()) as saved, context:
        cells = cell_features(model, pixels, torch.tensor([[1, h, w]] * 2), CELLS)
        pasta_loss(cells[:1], cells[1:], S).loss.float()
    return saved.bytes


def solve(saved: dict[tuple[int, int], int]) -> ActivationBytes:
    """The four terms from saved[(blocks, patches)] at two depths and two sizes."""
    (d1, d2), (n1, n2) = DEPTHS, sorted({n for _, n in saved})
    per_patch_block = ((saved[d2, n2] - saved[d1, n2]) - (saved[d2, n1] - saved[d1, n1])) / ((d2 - d1) * (n2 - n1))
    per_block = (saved[d2, n1] - saved[d1, n1] - (d2 - d1) * per_patch_block * n1) / (d2 - d1)
    per_patch = (saved[d1, n2] - saved[d1, n1]) / (n2 - n1) - d1 * per_patch_block
    fixed = saved[d1, n1] - n1 * (d1 * per_patch_block + per_patch) - d1 * per_block
    return ActivationBytes(per_patch_block, per_patch, per_block, fixed)


def measure(config: str, precisions: list[str]) -> dict[tuple[str, bool], ActivationBytes]:
    saved = {key: {} for key in ((p, c) for p in precisions for c in (False, True))}
    for depth in DEPTHS:
        model = build(config, depth)
        train_vision_only(model)
        model.train()
        for precision in precisions:
            model.to(torch.bfloat16 if precision == "bfloat16" else torch.float32)
            for checkpointing in (False, True):
                if checkpointing:
                    model.activation_checkpointing_enable()  # what Trainer does for activation_checkpointing
                else:
                    model.activation_checkpointing_disable()
                for grid in GRIDS:
                    patches = 2 * grid[0] * grid[1]
                    saved[precision, checkpointing][depth, patches] = saved_bytes(model, grid, precision == "autocast")
    return {key: solve(values) for key, values in saved.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("3b", "tiny"), default="3b",
                        help="3b: the real Qwen2.5-VL-3B vision tower; tiny: the project's tiny tower (seconds)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help=f"comma-separated, of {PRECISIONS}")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    if set(precisions) - set(PRECISIONS):
        parser.error(f"--precisions: unknown {sorted(set(precisions) - set(PRECISIONS))}")
    start = time.perf_counter()
    results = measure(args.config, precisions)
    print(f"Saved activations of PaStA ({args.config} vision tower, {torch.get_num_threads()} torch threads, "
          f"{time.perf_counter() - start:.0f} s)")
    print(f"{'precision':<10} {'checkpointing':>13} {'KB/patch/block':>15} {'KB/patch outside':>17} "
          f"{'MB/block':>9} {'ratio':>7}")
    for (precision, checkpointing), row in results.items():
        ratio = row.per_patch_block / results[precision, False].per_patch_block
        print(f"{precision:<10} {'on' if checkpointing else 'off':>13} {row.per_patch_block / 1e3:>15.2f} "
              f"{row.per_patch / 1e3:>17.2f} {row.per_block / 1e6:>9.2f} {ratio:>7.1%}")


if __name__ == "__main__":
    main()
