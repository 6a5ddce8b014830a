"""Cost of PaStA per training step beside the vision tower it trains.

For a batch of B samples with V views each (all V(V-1)/2 pairs), times
    tower:  the vision tower's forward and backward (token grids, gradient from the PaStA part),
    pasta:  supervision lookup (the cached S of the batch's samples -> one tensor) + area-weighted
            pooling to cells + the PaStA loss, forward and backward down to the token grids,
and prints pasta / tower (target <= 5%), for the tiny Qwen2.5-VL and a ~25M-parameter random Qwen2.5-VL
vision configuration. Median of repeated steps; the S come from a small synthetic dataset built in a
temporary folder and read back from the on-disk cache, as in training.

Usage: python benchmarks/bench_pasta.py [--repeats 10] [--threads N] [--configs tiny,25M]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hatchvl.data.supervision import load_supervision
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models.backbone import token_grids
from hatchvl.models.tiny import TinySize, byte_tokenizer, tiny_model, tiny_processor
from hatchvl.objectives.pasta import pasta_loss, pool_cells

CONFIGS = {  # name: (vision sizes, image side in pixels)
    "tiny": (TinySize(), 112),
    "25M": (TinySize(vision_depth=8, vision_dim=512, vision_heads=8, max_pixels=448 * 448), 224),
}
SAMPLES, VIEWS, GRID = 8, 3, 4


def lookup(items: list[np.ndarray]) -> torch.Tensor:
    """What the collator does with the cached S of a batch."""
    return torch.cat([torch.from_numpy(np.asarray(s, dtype=np.float32)) for s in items])


def step_times(model, batch, overlaps, pair_x, pair_y, weights) -> tuple[float, float]:
    """(tower forward + backward, PaStA lookup + pooling + loss forward + backward) in seconds."""
    t0 = time.perf_counter()
    grids = token_grids(model, batch["pixel_values"], batch["image_grid_thw"])
    t1 = time.perf_counter()
    leaves = [g.detach().requires_grad_() for g in grids]
    S = lookup(overlaps)
    cells = pool_cells(leaves, GRID)
    loss = pasta_loss(cells[pair_x], cells[pair_y], S, weights=weights).loss
    loss.backward()
    t2 = time.perf_counter()
    torch.autograd.backward(grids, [leaf.grad for leaf in leaves])
    t3 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    return (t1 - t0) + (t3 - t2), t2 - t1


def bench(name: str, overlaps: list[np.ndarray], repeats: int) -> dict:
    size, side = CONFIGS[name]
    tokenizer = byte_tokenizer()
    model = tiny_model("qwen2_5_vl", size, tokenizer)
    processor = tiny_processor("qwen2_5_vl", tokenizer, size)
    model.requires_grad_(False)
    model.model.visual.requires_grad_(True)
    params = sum(p.numel() for p in model.model.visual.parameters())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(SAMPLES * VIEWS)]
    batch = processor.image_processor(images=images, return_tensors="pt")
    pairs = [(s * VIEWS + i, s * VIEWS + j) for s in range(SAMPLES) for i in range(VIEWS) for j in range(i + 1, VIEWS)]
    pair_x, pair_y = torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])
    weights = torch.full((len(pairs),), 1.0 / (VIEWS * (VIEWS - 1) // 2))
    times = [step_times(model, batch, overlaps, pair_x, pair_y, weights) for _ in range(repeats + 2)][2:]
    tower = statistics.median(t[0] for t in times)
    pasta = statistics.median(t[1] for t in times)
    tokens = int(batch["image_grid_thw"].prod(-1).sum())
    return {"name": name, "params": params, "side": side, "tokens": tokens, "pairs": len(pairs),
            "tower": tower, "pasta": pasta}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    args = parser.parse_args()
    names = args.configs.split(",")
    if set(names) - set(CONFIGS):
        parser.error(f"--configs: unknown {sorted(set(names) - set(CONFIGS))}; choose from {', '.join(CONFIGS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        synthesize(data, SynthConfig(scenes=4, seed=0, size=64, samples_per_scene=8, views=(VIEWS, VIEWS),
                                     split=(1.0, 0.0, 0.0)))
        load_supervision(data, "train", GRID, cache_dir=tmp)  # write the cache
        samples, sup = load_supervision(data, "train", GRID, cache_dir=tmp)  # read it back
        overlaps = [sup.overlaps[s.id] for s in samples if s.id in sup.overlaps][:SAMPLES]
    print(f"PaStA cost per step: {SAMPLES} samples x {VIEWS} views, {GRID}x{GRID} cells, "
          f"{torch.get_num_threads()} torch threads, median of {args.repeats}")
    print(f"{'model':<6} {'vision params':>13} {'image':>7} {'patches':>8} {'pairs':>5} "
          f"{'tower f+b ms':>13} {'pasta ms':>9} {'ratio':>7}")
    for name in names:
        r = bench(name, overlaps, args.repeats)
        print(f"{r['name']:<6} {r['params'] / 1e6:>12.2f}M {r['side']:>5}px {r['tokens']:>8} {r['pairs']:>5} "
              f"{1e3 * r['tower']:>13.1f} {1e3 * r['pasta']:>9.2f} {r['pasta'] / r['tower']:>7.2%}")


if __name__ == "__main__":
    main()
