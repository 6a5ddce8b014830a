"""Supervised fine-tuning on TRL's SFTTrainer: QA fine-tuning (answer-only targets) and the ActoR cold
start (action-then-answer targets on a fraction of the pool).

The loss is on the completion only (TRL's prompt-completion format); images go through the model's
processor, and every field the processor returns reaches the model (TRL's vision collator keeps them,
`mm_token_type_ids` included).
"""

from __future__ import annotations

from trl import SFTConfig, SFTTrainer

from hatchvl.data.badfiles import skip_metrics
from hatchvl.models.loading import load_model_and_processor
from hatchvl.train.common import apply_lora, resumable, run_once, train_and_finish, trainer_arguments
from hatchvl.train.data import load_samples, sft_dataset, usable_samples
from hatchvl.train.options import SFTOptions
from hatchvl.train.sees_curve import add_sees_curve


def sft_config(opts: SFTOptions):
    """The TRL SFTConfig of a run."""
    return SFTConfig(**trainer_arguments(
        opts,
        gradient_accumulation_steps=opts.grad_accum,
        activation_checkpointing=opts.activation_checkpointing,
        max_length=None,  # never cut image tokens; prompts are as long as their views make them
    ))


def sft_samples(opts: SFTOptions):
    """The samples a run trains on, and the bad ones it skips (train.data.usable_samples)."""
    samples = load_samples(opts.data, opts.split, opts.fraction, opts.seed)
    return usable_samples(opts.data, opts.split, samples, opts.skip_bad, "SFT")


def build_sft_trainer(opts: SFTOptions, samples=None):
    """The SFTTrainer of a run, ready to train: (trainer, processor, samples); samples: sft_samples' by default."""
    samples = sft_samples(opts)[0] if samples is None else samples
    dataset = sft_dataset(opts.data, samples, opts.target, opts.caption_share, opts.seed, opts.split)
    model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
    if opts.lora:
        model = apply_lora(model, opts.lora_r, opts.lora_alpha, opts.lora_dropout)
    trainer = resumable(SFTTrainer)(model=model, args=sft_config(opts), train_dataset=dataset,
                                    processing_class=processor)
    add_sees_curve(trainer, processor, opts, opts.target)
    return trainer, processor, samples


def run_sft(opts: SFTOptions) -> dict:
    """Train, resuming from the newest checkpoint in opts.out; save the final model to out/model and
    mark the stage finished. A finished stage is left alone. Returns the training metrics."""
    def train() -> dict:
        samples, bad = sft_samples(opts)
        trainer, processor, samples = build_sft_trainer(opts, samples)
        return train_and_finish(trainer, processor, opts, {"samples": len(samples), **skip_metrics(bad)})

    return run_once(opts.out, train)
