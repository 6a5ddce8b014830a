"""The PaStA stage (docs/pasta.md): align the vision tower's cell features of two views with their
geometric overlap. Only the vision tower and its merger train; the language model is frozen and never
runs.

Built on transformers' `Trainer` (checkpoints in safetensors, resume, TensorBoard, DDP / DeepSpeed /
FSDP by config) with one override, `compute_loss` (`pasta_data.PastaTrainer`). During the stage the
model's `forward` is the PaStA feature path (images -> vision tower -> cells), so that the wrapper a
launcher puts around the model (DDP, DeepSpeed, FSDP) sees the forward it synchronises gradients for;
the stock forward is restored afterwards, and checkpoints are ordinary Hugging Face checkpoints.

Supervision S comes from the dataset's geometry (`data.supervision.load_supervision`), computed once and
cached in the stage folder. With `probe_every` > 0 the cross-view retrieval probe (`objectives.probe`) on a
held-out split goes to TensorBoard (`probe/top1`, ...) at the start and every `probe_every` steps.

`activation_checkpointing` recomputes the vision blocks' activations in the backward pass (transformers'
own checkpointing of each block). Before training, on a CUDA machine, the memory of a step is estimated
from measured activation sizes (hatchvl.models.memory) and a step that cannot fit fails with the keys to
change. `max_pixels` caps the views' resolution; the saved processor keeps it for the stages after.

The options (`PastaOptions`) live in `train.options`, which the command line reads without torch.
"""

from __future__ import annotations

import logging

from PIL import Image
from transformers import TrainingArguments

from hatchvl.models import memory
from hatchvl.models.backbone import vision_tower
from hatchvl.models.loading import load_model_and_processor
from hatchvl.train.common import launcher_keeps_masters, run_once, train_and_finish, trainer_arguments
from hatchvl.train.options import PastaOptions
from hatchvl.train.pasta_data import (
    PastaCollator,
    PastaDataset,
    PastaTrainer,
    ProbeCallback,
    cell_forward,
    train_vision_only,
)

logger = logging.getLogger(__name__)
MEMORY_SAMPLES = 32  # samples whose view sizes set the patches per view of the memory check


def training_arguments(opts: PastaOptions):
    """The Trainer arguments of a run (train.common.trainer_arguments plus the PaStA specifics)."""
    return TrainingArguments(**trainer_arguments(
        opts,
        gradient_accumulation_steps=opts.grad_accum,
        weight_decay=opts.weight_decay,
        remove_unused_columns=False,  # the collator's fields are not the model's forward arguments
        ddp_find_unused_parameters=False,  # every trainable parameter feeds the features
        activation_checkpointing=opts.activation_checkpointing,  # the vision blocks: the LM never runs
    ))


def run_pasta(opts: PastaOptions, callbacks: list | None = None) -> dict:
    """Train, resuming from the newest checkpoint in opts.out; save the final model to out/model and mark
    the stage finished. A finished stage is left alone. Returns the training metrics.

    Raises BadSampleError (a ValueError naming the split, the sample and the file) for a sample whose files
    cannot be decoded or that has no usable geometry, unless opts.skip_bad, which skips such samples (counted
    and listed in stage.json). `callbacks`: extra `TrainerCallback`s.
    """
    return run_once(opts.out, lambda: _train_pasta(opts, callbacks))


def _train_pasta(opts: PastaOptions, callbacks: list | None) -> dict:
    from hatchvl.data.badfiles import skip_metrics
    from hatchvl.data.supervision import check_bad, load_supervision

    args = training_arguments(opts)
    with args.main_process_first(desc="PaStA supervision"):
        samples, sup = load_supervision(opts.data, opts.split, opts.grid, opts.tol_abs, opts.tol_rel,
                                        cache_dir=opts.out)
        probe_set = _probe_set(opts) if opts.probe_every else None
    skipped = check_bad(sup, opts.skip_bad)
    if skipped:
        logger.warning("PaStA: skipping %d bad samples (skip_bad), e.g. %s", len(skipped), skipped[0].describe())
    dataset = PastaDataset(opts.data, samples, sup)
    if len(dataset) == 0:
        raise ValueError(f"split {opts.split!r} of {opts.data} holds no sample that PaStA can use")
    model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
    if opts.max_pixels:
        limit_pixels(processor, opts.max_pixels)
    trainable = train_vision_only(model, opts.before_merger)
    estimate = check_memory(opts, model, processor, dataset)
    callbacks = list(callbacks or [])
    if probe_set is not None:
        callbacks.append(ProbeCallback(probe_set, processor, opts.probe_every, opts.before_merger))
    info = {"samples": len(dataset), **skip_metrics(skipped), "pairs": dataset.pairs,
            "trainable_parameters": trainable, "supervision_cache": str(sup.cache_file),
            **({"memory_estimate_bytes": int(estimate.total)} if estimate else {})}
    with cell_forward(model, opts.grid, opts.before_merger):
        trainer = PastaTrainer(
            model=model, args=args, train_dataset=dataset, data_collator=PastaCollator(processor),
            processing_class=processor, callbacks=callbacks, tau_target=opts.tau_target,
            tau_pred=opts.tau_pred, keep_empty_rows=opts.keep_empty_rows,
        )
        return train_and_finish(trainer, processor, opts, info)


def limit_pixels(processor, max_pixels: int) -> None:
    """Cap the processor's pixels per image (its max_pixels, kept in size.longest_edge by transformers)."""
    size = processor.image_processor.size
    processor.image_processor.size = type(size)(shortest_edge=min(size.shortest_edge, max_pixels),
                                                longest_edge=max_pixels)


def check_memory(opts: PastaOptions, model, processor, dataset: PastaDataset) -> memory.MemoryEstimate | None:
    """The memory of a step per GPU from the measured activation sizes (hatchvl.models.memory); ValueError
    naming the keys when it exceeds the smallest visible GPU. None without CUDA, or for a vision tower
    other than the one measured."""
    available = memory.visible_gpu_memory()
    tower = vision_tower(model)
    if available is None or not memory.matches_measured(tower.config):
        return None
    views = max(len(item["images"]) for item in dataset.items)
    sizes = {_image_size(path) for item in dataset.items[:MEMORY_SAMPLES] for path in item["images"]}
    image_processor = processor.image_processor
    patches = max(image_processor.get_number_of_image_patches(h, w, {}) for w, h in sizes)
    size = {p: (getattr(p, "ds_numel", None) or p.numel()) * p.element_size() for p in model.parameters()}
    trainable = sum(n for p, n in size.items() if p.requires_grad)  # ds_numel: unsharded under ZeRO-3's zero.Init
    frozen = sum(n for p, n in size.items() if not p.requires_grad)
    precision = memory.precision_of(tower.dtype, opts.bf16)
    if precision == "bfloat16" and not launcher_keeps_masters(opts):  # train.common.keep_fp32_masters upcasts
        trainable, precision = trainable * 4 // tower.dtype.itemsize, "autocast"
    estimate = memory.pasta_memory(opts.batch_size, views, patches, tower.config.depth, precision,
                                   opts.activation_checkpointing, trainable, frozen)
    if estimate.total > available:
        raise ValueError(
            f"PaStA needs about {estimate.total / memory.GB:.1f} GB per GPU, the smallest visible GPU has "
            f"{available / memory.GB:.1f} GB: activations {estimate.activations / memory.GB:.1f} GB for batch_size "
            f"{opts.batch_size} x views {views} (the most in a sample) x {patches} patches per view (max_pixels "
            f"{image_processor.size.longest_edge}) over {tower.config.depth} blocks with activation_checkpointing "
            f"{str(opts.activation_checkpointing).lower()}, weights, gradients and AdamW states "
            f"{estimate.weights / memory.GB:.1f} GB (docs/distributed.md, \"Memory per stage\"). Lower batch_size "
            "or max_pixels, or set activation_checkpointing: true")
    return estimate


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) from the file's header."""
    with Image.open(path) as image:
        return image.size


def _probe_set(opts: PastaOptions):
    from hatchvl.objectives.probe import build_probe_set

    return build_probe_set(opts.data, opts.probe_split, opts.grid, opts.probe_limit or None, opts.tol_abs,
                           opts.tol_rel, cache_dir=opts.out, skip_bad=opts.skip_bad)
