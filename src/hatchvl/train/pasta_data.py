"""The PaStA stage's machinery (the stage itself reads top to bottom in `train.pasta`): the dataset and
the collator that turns samples into vision-tower inputs plus the S of each pair (hatchvl.data.supervision);
the `Trainer` subclass whose `compute_loss` is the PaStA loss; the forward swap that makes the model return
cell features; and the probe callback.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel, Trainer, TrainerCallback

from hatchvl.data.badfiles import DECODE_ERRORS, decode_error
from hatchvl.data.format import Sample, resolve
from hatchvl.data.supervision import Supervision
from hatchvl.geometry.motion import all_pairs
from hatchvl.io import open_rgb
from hatchvl.models.backbone import vision_tower
from hatchvl.objectives.pasta import cell_features, pasta_loss
from hatchvl.train.common import RenamedCheckpointResume


class PastaDataset(torch.utils.data.Dataset):
    """One item per good sample: absolute image paths and the (P, n², n²) S of its view pairs (and its
    split, to name a file that fails to decode)."""

    def __init__(self, root: str | Path, samples: Sequence[Sample], sup: Supervision):
        self.items = [
            {"id": s.id, "images": [str(resolve(root, p)) for p in s.images], "S": sup.overlaps[s.id],
             "split": sup.split}
            for s in samples if s.id in sup.overlaps
        ]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def pairs(self) -> int:
        return sum(len(item["S"]) for item in self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


class PastaCollator:
    """Samples -> vision-tower inputs and pair supervision.

    Returns pixel_values and image_grid_thw (the model's image processor on every view of the batch, in
    order), pair_x / pair_y (P,) indices of each pair's views in that order, S (P, n², n²) and
    pair_weight (P,) = 1 / (pairs of its sample), so that each sample counts once in the loss.
    """

    def __init__(self, processor):
        self.image_processor = getattr(processor, "image_processor", processor)

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        images, pair_x, pair_y, S, weights = [], [], [], [], []
        for item in items:
            offset = len(images)
            images.extend(_open(item, p) for p in item["images"])
            pairs = all_pairs(len(item["images"]))
            pair_x += [offset + i for i, _ in pairs]
            pair_y += [offset + j for _, j in pairs]
            S.append(torch.from_numpy(np.asarray(item["S"], dtype=np.float32)))
            weights += [1.0 / len(pairs)] * len(pairs)
        batch = self.image_processor(images=images, return_tensors="pt")
        return {
            "pixel_values": batch["pixel_values"],
            "image_grid_thw": batch["image_grid_thw"],
            "pair_x": torch.tensor(pair_x),
            "pair_y": torch.tensor(pair_y),
            "S": torch.cat(S),
            "pair_weight": torch.tensor(weights),
        }


def _open(item: dict, path: str):
    try:
        return open_rgb(path)
    except DECODE_ERRORS as err:
        raise decode_error(item.get("split", "?"), item["id"], path, err) from None


def train_vision_only(model: PreTrainedModel, before_merger: bool = False) -> int:
    """Freeze everything but the vision tower and its merger (requires_grad); returns the trainable count.

    Parameters that cannot reach the features stay frozen too: Qwen3-VL's deepstack mergers (they feed
    the language model only) and, with `before_merger`, the merger.
    """
    model.requires_grad_(False)
    tower = vision_tower(model)
    tower.requires_grad_(True)
    for module in getattr(tower, "deepstack_merger_list", []):
        module.requires_grad_(False)
    if before_merger:
        tower.merger.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextlib.contextmanager
def cell_forward(model: PreTrainedModel, grid: int, before_merger: bool = False):
    """Within the block, model(pixel_values=..., image_grid_thw=...) returns the (B, n², D) cell features
    (`cell_features`) instead of running the language model."""

    def forward(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor, **_) -> torch.Tensor:
        return cell_features(self, pixel_values, image_grid_thw, grid, before_merger)

    model.forward = types.MethodType(forward, model)
    try:
        yield model
    finally:
        for name in ("forward", "_original_forward"):  # accelerate keeps a copy under mixed precision
            model.__dict__.pop(name, None)


class PastaTrainer(RenamedCheckpointResume, Trainer):
    """`Trainer` whose loss is the PaStA loss of every view pair of the batch (a per-batch mean)."""

    loss_is_scaled_for_ga = False

    def __init__(self, *args, tau_target: float = 0.1, tau_pred: float = 0.1, keep_empty_rows: bool = False,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.tau_target, self.tau_pred, self.keep_empty_rows = tau_target, tau_pred, keep_empty_rows
        for callback in self.callback_handler.callbacks:
            if isinstance(callback, ProbeCallback):
                callback.trainer = self

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        cells = model(pixel_values=inputs["pixel_values"], image_grid_thw=inputs["image_grid_thw"])
        out = pasta_loss(cells[inputs["pair_x"]], cells[inputs["pair_y"]], inputs["S"], self.tau_target,
                         self.tau_pred, self.keep_empty_rows, weights=inputs["pair_weight"])
        return (out.loss, {"cells": cells}) if return_outputs else out.loss


class ProbeCallback(TrainerCallback):
    """Logs the held-out probe (`probe/top1`, `probe/same_position`, `probe/colour`) at the start of
    training and every `every` steps, through the trainer (set by `PastaTrainer`), so that it reaches
    TensorBoard and the log history."""

    def __init__(self, probe_set, processor, every: int, before_merger: bool = False):
        self.probe_set, self.processor, self.every, self.before_merger = probe_set, processor, every, before_merger
        self.trainer: Trainer | None = None  # PastaTrainer sets it

    def _log(self, model) -> None:
        from hatchvl.objectives.probe import run_probe

        result = run_probe(model, self.processor, self.probe_set, self.before_merger)
        should_log = self.trainer.control.should_log  # Trainer.log clears it: keep this step's loss log
        self.trainer.log({"probe/top1": result.top1, "probe/same_position": result.same_position,
                          "probe/colour": result.colour})
        self.trainer.control.should_log = should_log

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0:
            self._log(model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._log(model)


