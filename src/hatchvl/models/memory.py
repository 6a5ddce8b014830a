"""PaStA's GPU memory, from measured activation sizes (docs/distributed.md, "Memory per stage").

During PaStA the vision tower's activations dominate: every patch of every view of a step keeps, per
vision block, the tensors autograd saves for the backward pass. `SavedActivations` counts them exactly
(each saved storage once, parameters excluded) on any device, CPU included; `MEASURED` holds what it
counted on the Qwen2.5-VL vision tower, and `pasta_memory` turns that into an estimate per GPU:

    activations = patches · (blocks · per_patch_block + per_patch) + blocks · per_block + fixed
                  (with checkpointing, + one block of the plain tower: the block being recomputed)
    patches     = batch_size · views · patches per view
    weights     = trainable parameters · 4 · their bytes (weight, gradient, AdamW's two moments, all in
                  the parameter's dtype, as torch's AdamW keeps them) + frozen parameters · their bytes

With activation checkpointing a block keeps only its input; its activations are recomputed, one block at
a time, in the backward pass. The weights term assumes unsharded states (DDP); ZeRO and FSDP shard it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

GB = 1e9


@dataclass(frozen=True)
class ActivationBytes:
    """Bytes autograd keeps for the backward pass, by what they scale with.

    per_patch_block: per patch and vision block; per_patch: per patch outside the blocks (patch embedding,
    merger, pooling, loss); per_block: per block whatever the patches (e.g. autocast's bf16 copies of the
    weights); fixed: the rest.
    """

    per_patch_block: float
    per_patch: float
    per_block: float
    fixed: float

    def total(self, patches: int, blocks: int) -> float:
        return patches * (blocks * self.per_patch_block + self.per_patch) + blocks * self.per_block + self.fixed


# Measured by benchmarks/bench_pasta_memory.py (SavedActivations around the project's PaStA path,
# cell_features + pasta_loss on one view pair) on the Qwen2.5-VL-3B vision tower (hidden 1280, MLP 3420,
# 16 heads, 112-pixel windows; the same tower as the 7B), random weights, 2 and 4 blocks, 2 x 16x16 and
# 2 x 16x32 patches; CPU, torch 2.13, transformers 5.23, sdpa attention. Keys: (precision, checkpointing);
# precision "bfloat16" = bf16 weights, "autocast" = fp32 weights under bf16 autocast, "float32" = neither.
# float16 takes bfloat16's sizes.
MEASURED_VISION = {"model_type": "qwen2_5_vl_vision", "hidden_size": 1280, "intermediate_size": 3420}
MEASURED: dict[tuple[str, bool], ActivationBytes] = {
    ("bfloat16", False): ActivationBytes(65_832, 18_364, 0, 264_372),
    ("bfloat16", True): ActivationBytes(2_560, 17_724, 0, 264_372),
    ("autocast", False): ActivationBytes(68_392, 18_364, 39_372_800, 76_675_252),
    ("autocast", True): ActivationBytes(2_560, 17_724, 0, 76_675_252),
    ("float32", False): ActivationBytes(121_352, 30_960, 0, 528_696),
    ("float32", True): ActivationBytes(5_120, 30_320, 0, 528_696),
}
PRECISIONS = ("bfloat16", "autocast", "float32")


class SavedActivations:
    """Counts the bytes autograd saves for backward while the block runs: each storage once, the given
    parameters' storages (weights saved by matmuls) left out.

        with SavedActivations(model.parameters()) as saved:
            loss = forward(...)
        saved.bytes
    """

    def __init__(self, parameters=()):
        self._parameters = {p.untyped_storage().data_ptr() for p in parameters}
        self._seen: set[int] = set()
        self.bytes = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in self._parameters and pointer not in self._seen:
            self._seen.add(pointer)
            self.bytes += storage.nbytes()
        return tensor

    def __enter__(self) -> SavedActivations:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def precision_of(weights_dtype: torch.dtype | str, bf16_autocast: bool) -> str:
    """The MEASURED precision of a run: 16-bit weights, fp32 weights under bf16 autocast, or fp32."""
    name = str(weights_dtype).removeprefix("torch.")
    if name in ("bfloat16", "float16"):
        return "bfloat16"
    if name != "float32":
        raise ValueError(f"weights dtype must be float32, bfloat16 or float16, got {name!r}")
    return "autocast" if bf16_autocast else "float32"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per GPU: the vision tower's saved activations, and weights + gradients + optimizer states."""

    patches: int
    activations: float
    weights: float

    @property
    def total(self) -> float:
        return self.activations + self.weights


def pasta_memory(batch_size: int, views: int, patches_per_view: int, blocks: int, precision: str,
                 checkpointing: bool, trainable_bytes: float = 0.0, frozen_bytes: float = 0.0) -> MemoryEstimate:
    """Memory of one PaStA step per GPU (module docstring).

    Args:
        batch_size, views, patches_per_view: samples per device and step, the most views of a sample, the
            patches of a view after the processor's resizing.
        blocks: vision blocks (32 in every Qwen2.5-VL).
        precision: one of PRECISIONS (`precision_of`).
        checkpointing: the vision blocks' activations are recomputed in the backward pass.
        trainable_bytes, frozen_bytes: bytes of the trainable and of the frozen parameters as loaded.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if min(batch_size, views, patches_per_view, blocks) < 1:
        raise ValueError(f"batch_size, views, patches_per_view and blocks must be >= 1, got {batch_size}, {views}, "
                         f"{patches_per_view}, {blocks}")
    patches = batch_size * views * patches_per_view
    activations = MEASURED[precision, checkpointing].total(patches, blocks)
    if checkpointing:  # the backward pass recomputes one block at a time, with its full activations
        plain = MEASURED[precision, False]
        activations += patches * plain.per_patch_block + plain.per_block
    return MemoryEstimate(patches, activations, 4 * trainable_bytes + frozen_bytes)


def matches_measured(vision_config) -> bool:
    """Whether a vision tower is the one MEASURED was measured on (else the table does not apply)."""
    return all(getattr(vision_config, key, None) == value for key, value in MEASURED_VISION.items())


def visible_gpu_memory() -> int | None:
    """The smallest total memory of the visible CUDA devices in bytes, None without CUDA."""
    if not torch.cuda.is_available():
        return None
    return min(torch.cuda.get_device_properties(k).total_memory for k in range(torch.cuda.device_count()))
