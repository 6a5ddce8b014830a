"""What every training stage shares: the stage folder layout, finishing and resuming, LoRA, and the
final save that makes a stage's output an ordinary checkpoint for the next stage.

A stage folder holds:
    checkpoint-N/   the trainer's checkpoints (safetensors weights), for resuming
    runs/           TensorBoard event files
    model/          the final model and processor, loadable like any checkpoint
    stage.json      written last, atomically: the stage finished (options and metrics)
"""

from __future__ import annotations

import functools
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from hatchvl.io import write_json
from hatchvl.train.checkpoints import checkpoint_weight_files, newest_complete_checkpoint

if TYPE_CHECKING:  # transformers is imported where a stage runs, not when the CLI starts
    from transformers import PreTrainedModel, ProcessorMixin

    from hatchvl.train.options import TrainerOptions

# LoRA on the language model's attention and MLP projections only; the vision tower stays as it is.
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def trainer_arguments(opts: TrainerOptions, **specific) -> dict:
    """The Trainer / TRL config arguments every stage shares, from the fields of `TrainerOptions` (out,
    epochs, max_steps, batch_size, learning_rate, warmup_steps, ...), then the stage's own, then opts.extra.
    Checkpoints go to out/checkpoint-N and TensorBoard logs under out/runs."""
    import torch

    shared = dict(
        output_dir=str(opts.out),
        report_to=list(opts.report_to),
        num_train_epochs=opts.epochs,
        max_steps=opts.max_steps,
        per_device_train_batch_size=opts.batch_size,
        learning_rate=opts.learning_rate,
        warmup_steps=opts.warmup_steps,
        bf16=opts.bf16,
        save_strategy="steps",
        save_steps=opts.save_steps,
        save_total_limit=opts.save_total_limit,
        logging_steps=opts.logging_steps,
        seed=opts.seed,
        data_seed=opts.seed,
        use_cpu=not torch.cuda.is_available(),
        deepspeed=opts.deepspeed,
        dataloader_num_workers=opts.dataloader_num_workers,
    )
    return {**shared, **specific, **opts.extra}


def load_checkpoint_weights(model: PreTrainedModel, checkpoint: str | Path) -> None:
    """Load a checkpoint's safetensors weights into `model` in place, renaming the keys as from_pretrained
    does (the original Qwen layout `visual.*`, `model.*` -> `model.visual.*`, `model.language_model.*`).

    Raises RuntimeError when a key is left over or a trainable parameter is missing, NotImplementedError
    for checkpoints whose tensors need converting, not only renaming (none of the supported families).
    """
    from safetensors.torch import load_file
    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import WeightConverter, WeightRenaming, rename_source_key

    transforms = get_model_conversion_mapping(model)
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    own = model.state_dict()
    state = {}
    for path in checkpoint_weight_files(checkpoint):
        for key, value in load_file(path).items():
            name, converter = rename_source_key(key, renamings, converters, model.base_model_prefix, own)
            if converter is not None:
                raise NotImplementedError(f"{checkpoint}: weight {key} needs a conversion, not a renaming")
            state[name] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    if unexpected or trainable & set(missing):
        raise RuntimeError(f"{checkpoint}: weights do not fit the model: unexpected {unexpected[:5]}, missing "
                           f"{sorted(trainable & set(missing))[:5]}")


class RenamedCheckpointResume:
    """Mixin for Trainer subclasses: resume loads the checkpoint's weights with from_pretrained's key
    renaming.

    Trainer resumes with a plain load_state_dict, so a Qwen VL checkpoint (saved in the original key
    layout, `visual.*`, `model.layers.*`) loads nothing and training silently restarts from the initial
    weights with step-N optimizer state (transformers issue #43701, open in 5.23). DeepSpeed, FSDP and
    LoRA checkpoints keep the Trainer's own loading.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        if self.is_fsdp_enabled or self.is_deepspeed_enabled or not checkpoint_weight_files(resume_from_checkpoint):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        load_checkpoint_weights(model if model is not None else self.model, resume_from_checkpoint)


@functools.cache
def resumable(trainer_class: type) -> type:
    """trainer_class with RenamedCheckpointResume mixed in (one class per trainer class)."""
    return type(trainer_class.__name__, (RenamedCheckpointResume, trainer_class), {"__module__": __name__})


def stage_marker(out: str | Path) -> Path:
    return Path(out) / "stage.json"


def is_finished(out: str | Path) -> bool:
    return stage_marker(out).is_file()


def final_model_dir(out: str | Path) -> Path:
    return Path(out) / "model"


def apply_lora(model: PreTrainedModel, r: int, alpha: int, dropout: float) -> PreTrainedModel:
    """Wrap the model with peft LoRA adapters on the language model (see LORA_TARGETS)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS,
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def save_final(model: PreTrainedModel, processor: ProcessorMixin, out: str | Path) -> Path:
    """Save the trained model (LoRA merged in) and its processor to out/model."""
    target = final_model_dir(out)
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(target)
    processor.save_pretrained(target)
    return target


def finish(out: str | Path, options, metrics: dict) -> None:
    """Mark the stage finished: stage.json with the options used and the metrics, written atomically."""
    record = {"options": asdict(options), "metrics": metrics}
    write_json(stage_marker(out), record)


def train_and_finish(trainer, processor: ProcessorMixin, options, info: dict) -> dict:
    """Train (resuming from the newest complete checkpoint in options.out, train/checkpoints.py), then on the
    main process save the final model and mark the stage finished. Returns the metrics, the trainer's log
    history included."""
    resume = newest_complete_checkpoint(options.out, move_torn=trainer.is_world_process_zero())
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, **info, "log_history": trainer.state.log_history}
    if trainer.is_world_process_zero():
        save_final(trainer.model, processor, options.out)
        finish(options.out, options, metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics
