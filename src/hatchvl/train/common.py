"""What every training stage shares: the stage folder layout, finishing and resuming, LoRA, and the
final save that makes a stage's output an ordinary checkpoint for the next stage.

A stage folder holds:
    checkpoint-N/   the trainer's checkpoints (safetensors weights), for resuming
    runs/           TensorBoard event files
    model/          the final model and processor, loadable like any checkpoint (train/final_save.py: written
                    as model.partial/ on every launcher, verified, then renamed)
    stage.json      written last, atomically: the stage finished (options and metrics)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from hatchvl.io import read_json, write_json
from hatchvl.lock import folder_lock
from hatchvl.train.checkpoints import checkpoint_key_renamer, checkpoint_weight_files, newest_complete_checkpoint
from hatchvl.train.final_save import check_final_save_possible, publish_final, save_final

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
    does (checkpoints.checkpoint_key_renamer).

    Raises RuntimeError when a key is left over or a trainable parameter is missing, NotImplementedError
    for checkpoints whose tensors need converting, not only renaming (none of the supported families).
    """
    from safetensors.torch import load_file

    rename = checkpoint_key_renamer(model)
    state = {}
    for path in checkpoint_weight_files(checkpoint):
        for key, value in load_file(path).items():
            state[rename(key)] = value
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


def run_once(out: str | Path, train: Callable[[], dict]) -> dict:
    """`train()` under the stage folder's lock (hatchvl/lock.py), unless the stage finished already: then
    {"skipped": "already finished"}, and the folder is left alone."""
    with folder_lock(out, "stage folder"):
        if is_finished(out):
            return {"skipped": "already finished"}
        return train()


def final_model_dir(out: str | Path) -> Path:
    return Path(out) / "model"


def apply_lora(model: PreTrainedModel, r: int, alpha: int, dropout: float) -> PreTrainedModel:
    """Wrap the model with peft LoRA adapters on the language model (see LORA_TARGETS)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS,
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def finish(out: str | Path, options, metrics: dict) -> None:
    """Mark the stage finished: stage.json with the options used and the metrics, written atomically."""
    record = {"options": asdict(options), "metrics": metrics}
    write_json(stage_marker(out), record)


def accelerate_engine(env: Mapping[str, str] | None = None) -> bool:
    """Whether `accelerate launch` set this process up for DeepSpeed or FSDP (its environment variables)."""
    import os

    env = os.environ if env is None else env
    return any(env.get(key, "false").lower() == "true" for key in ("ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_FSDP"))


def launcher_keeps_masters(opts: TrainerOptions) -> bool:
    """Whether DeepSpeed or FSDP will run the stage (and keep fp32 master weights), read before the Trainer
    exists: a DeepSpeed config in the options, or accelerate launch's DeepSpeed / FSDP settings."""
    return bool(opts.deepspeed) or accelerate_engine()


def engine_managed(trainer) -> bool:
    """Whether DeepSpeed or FSDP runs this trainer: they keep fp32 masters and load checkpoints in train()."""
    return trainer.is_deepspeed_enabled or trainer.is_fsdp_enabled


def keep_fp32_masters(trainer) -> int:
    """Keep the trainable weights in float32 where no DeepSpeed or FSDP master copy exists; returns how many
    parameters were upcast.

    Loaded in bfloat16 and trained by the plain Trainer (one process or DDP), AdamW would update the bf16
    weights themselves: at lr 1e-6 an update is below half a bf16 ulp for almost every element, and
    training silently stops. With fp32 trainable weights, bf16 autocast (`bf16: true`) still runs the
    matrix products in bf16. DeepSpeed (bf16 optimizer) and accelerate's FSDP2 (mixed precision) keep
    fp32 masters themselves. Frozen weights stay as loaded."""
    import torch

    if engine_managed(trainer):
        return 0
    upcast = [p for p in trainer.model.parameters() if p.requires_grad and p.dtype != torch.float32]
    for param in upcast:
        param.data = param.data.to(torch.float32)
    return len(upcast)


def _final_checkpoint(checkpoint: str | Path) -> bool:
    """Whether a complete checkpoint is the run's last (its trainer state says global_step >= max_steps)."""
    state = read_json(Path(checkpoint) / "trainer_state.json") or {}
    return state.get("max_steps", 0) > 0 and state.get("global_step", 0) >= state["max_steps"]


def train_and_finish(trainer, processor: ProcessorMixin, options, info: dict) -> dict:
    """Train (resuming from the newest complete checkpoint in options.out, train/checkpoints.py) with fp32
    master weights (keep_fp32_masters), save the final model on every rank (train/final_save.py: gathered
    under ZeRO-3 and FSDP, LoRA merged, in the dtype it was loaded in), verify it, and on the main process mark the
    stage finished. Returns the metrics, the trainer's log history included.

    Raises ValueError before training for a launcher set-up that cannot write a final model, and after
    training when the saved weights fail verification (the stage is then not marked finished)."""
    from transformers.trainer_callback import TrainerState

    check_final_save_possible(trainer)
    loaded = {p.dtype for p in trainer.model.parameters() if p.requires_grad}
    upcast = keep_fp32_masters(trainer)
    resume = newest_complete_checkpoint(options.out, move_torn=trainer.is_world_process_zero())
    if resume is not None and _final_checkpoint(resume) and not engine_managed(trainer):
        # killed after its last checkpoint (in the final save): the checkpoint holds the trained weights, and
        # Trainer.train would run one step past max_steps before it looks (transformers 5.23)
        trainer.state = TrainerState.load_from_json(str(Path(resume) / "trainer_state.json"))
        trainer._load_from_checkpoint(resume)
        run_metrics = {"resumed_from_final_checkpoint": trainer.state.global_step}
    else:
        run_metrics = trainer.train(resume_from_checkpoint=resume).metrics
    metrics = {**run_metrics, **info, "fp32_master_parameters": upcast, "log_history": trainer.state.log_history}
    if upcast and len(loaded) == 1:
        trainer.model.to(loaded.pop())  # saved as loaded: a bf16 model stays bf16 on disk
    partial = save_final(trainer, processor, options.out, options.model, options.dtype)
    if trainer.is_world_process_zero():
        publish_final(partial, options.out)
        finish(options.out, options, metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics
