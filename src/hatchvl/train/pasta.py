"""The PaStA stage (DESIGN.md, PaStA): align the vision tower's cell features of two views with their
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

torch and transformers are imported where the stage runs, not when the CLI starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from hatchvl.train.common import is_finished, train_and_finish, trainer_arguments

logger = logging.getLogger(__name__)


@dataclass
class PastaOptions:
    """Options of `hatchvl train pasta` (and the pipeline's pasta stage).

    The learning rate defaults to a value for pretrained vision towers. A tiny random tower on a CPU
    wants far more: learning_rate 4e-3 and 7 epochs over 8000 samples met the acceptance test in under
    10 minutes (docs/pasta.md, "Measured").
    """

    model: str
    data: str
    out: str
    grid: int = 4  # PaStA cells per side (n)
    tau_target: float = 0.1  # τ1, softmax temperature of the targets S
    tau_pred: float = 0.1  # τ2, softmax temperature of the cosine similarities
    keep_empty_rows: bool = False  # keep all-zero rows of S (uniform targets) instead of masking them
    before_merger: bool = False  # features before the 2×2 merger (the merger then stays frozen)
    tol_abs: float = 0.02  # metres, depth agreement for a pixel to land
    tol_rel: float = 0.05  # fraction of the depth, likewise
    split: str = "train"
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8  # samples per step and device (each sample gives all its view pairs)
    grad_accum: int = 1
    learning_rate: float = 1e-5  # AdamW, linear decay after the warmup
    warmup_steps: float = 0.05  # steps, or a fraction of all steps when below 1
    weight_decay: float = 0.01
    seed: int = 0
    save_steps: int = 200
    save_total_limit: int = 2
    logging_steps: int = 10
    skip_bad: bool = False  # skip (and count) samples without geometry instead of failing
    probe_every: int = 0  # steps between probe measurements on probe_split (0: off)
    probe_split: str = "val"
    probe_limit: int = 0  # at most this many held-out pairs (0: all)
    dtype: str = "auto"  # "float32", "bfloat16", ... or the checkpoint's own
    bf16: bool = False  # mixed precision (GPUs)
    deepspeed: str | None = None  # a DeepSpeed JSON config (accelerate launch / torchrun)
    extra: dict = field(default_factory=dict)  # further TrainingArguments fields, passed as they are

    def __post_init__(self) -> None:
        checks = [
            (self.grid >= 1, f"grid must be >= 1, got {self.grid}"),
            (self.tau_target > 0 and self.tau_pred > 0, f"tau_target and tau_pred must be > 0, got "
                                                        f"{self.tau_target}, {self.tau_pred}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.probe_every >= 0 and self.probe_limit >= 0, "probe_every and probe_limit must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def training_arguments(opts: PastaOptions):
    """The Trainer arguments of a run (train.common.trainer_arguments plus the PaStA specifics)."""
    from transformers import TrainingArguments

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

    Raises BadSampleError (a ValueError naming the sample) for a sample without usable geometry, unless
    opts.skip_bad, which skips and counts such samples. `callbacks`: extra `TrainerCallback`s.
    """
    from hatchvl.data.supervision import check_bad, load_supervision
    from hatchvl.models.loading import load_model_and_processor
    from hatchvl.train.pasta_data import (
        PastaCollator,
        PastaDataset,
        PastaTrainer,
        ProbeCallback,
        cell_forward,
        train_vision_only,
    )

    if is_finished(opts.out):
        return {"skipped": "already finished"}
    args = training_arguments(opts)
    with args.main_process_first(desc="PaStA supervision"):
        samples, sup = load_supervision(opts.data, opts.split, opts.grid, opts.tol_abs, opts.tol_rel,
                                        cache_dir=opts.out)
        probe_set = _probe_set(opts) if opts.probe_every else None
    skipped = check_bad(sup, opts.skip_bad)
    if skipped:
        logger.warning("PaStA: skipping %d samples without usable geometry, e.g. %s", len(skipped), skipped[0])
    dataset = PastaDataset(opts.data, samples, sup)
    if len(dataset) == 0:
        raise ValueError(f"split {opts.split!r} of {opts.data} holds no sample that PaStA can use")
    model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
    trainable = train_vision_only(model, opts.before_merger)
    callbacks = list(callbacks or [])
    if probe_set is not None:
        callbacks.append(ProbeCallback(probe_set, processor, opts.probe_every, opts.before_merger))
    info = {"samples": len(dataset), "skipped_samples": len(skipped), "pairs": dataset.pairs,
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
                           opts.tol_rel, cache_dir=opts.out)
