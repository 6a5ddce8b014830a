"""Supervised fine-tuning on TRL's SFTTrainer: QA fine-tuning (answer-only targets) and the ActoR cold
start (action-then-answer targets on a fraction of the pool).

The loss is on the completion only (TRL's prompt-completion format); images go through the model's
processor, and every field the processor returns reaches the model (TRL's vision collator keeps them,
`mm_token_type_ids` included).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hatchvl.objectives.prompts import STYLES
from hatchvl.train.common import apply_lora, is_finished, resumable, train_and_finish, trainer_arguments


@dataclass
class SFTOptions:
    """Options of `hatchvl train sft` (and the pipeline's qa_sft / actor_sft stages)."""

    model: str
    data: str
    out: str
    target: str = "answer"  # "answer" (QA fine-tuning) or "action_answer" (ActoR cold start)
    fraction: float = 1.0  # share of the split used (the paper's cold start: 0.1)
    split: str = "train"  # dataset split trained on
    seed: int = 0
    epochs: float = 1.0  # passes over the samples
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 4  # samples per device per step
    grad_accum: int = 1  # gradient accumulation steps
    learning_rate: float = 1e-5
    warmup_steps: float = 0.0  # steps, or a fraction of all steps when below 1
    lora: bool = False  # train LoRA adapters (peft), merged into the saved model at the end
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    dtype: str = "auto"  # "float32", "bfloat16", ... or the checkpoint's own
    bf16: bool = False  # mixed precision (GPUs)
    activation_checkpointing: bool = False  # recompute activations in backward to save memory
    save_steps: int = 200  # checkpoint every N steps (resumes start from the newest)
    save_total_limit: int = 2  # checkpoints kept
    logging_steps: int = 10
    deepspeed: str | None = None  # a DeepSpeed JSON config (accelerate launch / torchrun)
    extra: dict = field(default_factory=dict)  # further SFTConfig fields, passed as they are

    def __post_init__(self) -> None:
        if self.target not in STYLES:
            raise ValueError(f"target must be one of {', '.join(STYLES)}, got {self.target!r}")


def sft_config(opts: SFTOptions):
    """The TRL SFTConfig of a run."""
    from trl import SFTConfig

    return SFTConfig(**trainer_arguments(
        opts,
        gradient_accumulation_steps=opts.grad_accum,
        activation_checkpointing=opts.activation_checkpointing,
        max_length=None,  # never cut image tokens; prompts are as long as their views make them
    ))


def build_sft_trainer(opts: SFTOptions):
    """The SFTTrainer of a run, ready to train: (trainer, processor, samples)."""
    from trl import SFTTrainer

    from hatchvl.models.loading import load_model_and_processor
    from hatchvl.train.data import load_samples, sft_dataset

    samples = load_samples(opts.data, opts.split, opts.fraction, opts.seed)
    dataset = sft_dataset(opts.data, samples, opts.target)
    model, processor = load_model_and_processor(opts.model, dtype=opts.dtype)
    if opts.lora:
        model = apply_lora(model, opts.lora_r, opts.lora_alpha, opts.lora_dropout)
    trainer = resumable(SFTTrainer)(model=model, args=sft_config(opts), train_dataset=dataset,
                                    processing_class=processor)
    return trainer, processor, samples


def run_sft(opts: SFTOptions) -> dict:
    """Train, resuming from the newest checkpoint in opts.out; save the final model to out/model and
    mark the stage finished. A finished stage is left alone. Returns the training metrics."""
    if is_finished(opts.out):
        return {"skipped": "already finished"}
    trainer, processor, samples = build_sft_trainer(opts)
    return train_and_finish(trainer, processor, opts, {"samples": len(samples)})
