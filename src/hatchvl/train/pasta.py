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

The options (`PastaOptions`) live in `train.options`, which the command line reads without torch.
"""

from __future__ import annotations

import logging

from transformers import TrainingArguments

from hatchvl.lock import folder_lock
from hatchvl.models.loading import load_model_and_processor
from hatchvl.train.common import is_finished, train_and_finish, trainer_arguments
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


def training_arguments(opts: PastaOptions):
    """The Trainer arguments of a run (train.common.trainer_arguments plus the PaStA specifics)."""
    return TrainingArguments(**trainer_arguments(
        opts,
        gradient_accumulation_steps=opts.grad_accum,
        weight_decay=opts.weight_decay,
        remove_unused_columns=False,  # the collator's fields are not the model's forward arguments
        ddp_find_unused_parameters=False,  # every trainable parameter feeds the features
    ))


def run_pasta(opts: PastaOptions, callbacks: list | None = None) -> dict:
    """Train, resuming from the newest checkpoint in opts.out; save the final model to out/model and mark
    the stage finished. A finished stage is left alone. Returns the training metrics.

    Raises BadSampleError (a ValueError naming the split, the sample and the file) for a sample whose files
    cannot be decoded or that has no usable geometry, unless opts.skip_bad, which skips such samples (counted
    and listed in stage.json). `callbacks`: extra `TrainerCallback`s.
    """
    with folder_lock(opts.out, "stage folder"):
        if is_finished(opts.out):
            return {"skipped": "already finished"}
        return _train_pasta(opts, callbacks)


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
    trainable = train_vision_only(model, opts.before_merger)
    callbacks = list(callbacks or [])
    if probe_set is not None:
        callbacks.append(ProbeCallback(probe_set, processor, opts.probe_every, opts.before_merger))
    info = {"samples": len(dataset), **skip_metrics(skipped), "pairs": dataset.pairs,
            "trainable_parameters": trainable, "supervision_cache": str(sup.cache_file)}
    with cell_forward(model, opts.grid, opts.before_merger):
        trainer = PastaTrainer(
            model=model, args=args, train_dataset=dataset, data_collator=PastaCollator(processor),
            processing_class=processor, callbacks=callbacks, tau_target=opts.tau_target,
            tau_pred=opts.tau_pred, keep_empty_rows=opts.keep_empty_rows,
        )
        return train_and_finish(trainer, processor, opts, info)


def _probe_set(opts: PastaOptions):
    from hatchvl.objectives.probe import build_probe_set

    return build_probe_set(opts.data, opts.probe_split, opts.grid, opts.probe_limit or None, opts.tol_abs,
                           opts.tol_rel, cache_dir=opts.out, skip_bad=opts.skip_bad)
