"""What every training stage shares: the stage folder layout, finishing and resuming, LoRA, and the
final save that makes a stage's output an ordinary checkpoint for the next stage.

A stage folder holds:
    checkpoint-N/   the trainer's checkpoints (safetensors weights), for resuming
    runs/           TensorBoard event files
    model/          the final model and processor, loadable like any checkpoint
    stage.json      written last, atomically: the stage finished (options and metrics)
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from typing import TYPE_CHECKING

from hatchvl.data.dataset import atomic_write

if TYPE_CHECKING:  # transformers is imported where a stage runs, not when the CLI starts
    from transformers import PreTrainedModel, ProcessorMixin

# LoRA on the language model's attention and MLP projections only; the vision tower stays as it is.
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


def stage_marker(out: str | Path) -> Path:
    return Path(out) / "stage.json"


def is_finished(out: str | Path) -> bool:
    return stage_marker(out).is_file()


def final_model_dir(out: str | Path) -> Path:
    return Path(out) / "model"


def last_checkpoint(out: str | Path) -> str | None:
    """The newest checkpoint of an unfinished stage, to resume from (None: start afresh)."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out)) if Path(out).is_dir() else None


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
    atomic_write(stage_marker(out), (json.dumps(record, indent=2, default=str) + "\n").encode())


def train_and_finish(trainer, processor: ProcessorMixin, options, info: dict) -> dict:
    """Train (resuming from the newest checkpoint in options.out), then on the main process save the final
    model and mark the stage finished. Returns the metrics, the trainer's log history included."""
    result = trainer.train(resume_from_checkpoint=last_checkpoint(options.out))
    metrics = {**result.metrics, **info, "log_history": trainer.state.log_history}
    if trainer.is_world_process_zero():
        save_final(trainer.model, processor, options.out)
        finish(options.out, options, metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics
