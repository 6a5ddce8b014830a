"""The final save of a training stage under every launcher, and the check that what it wrote is a model.

`model.save_pretrained` on rank 0 is only right for one process or DDP. Under DeepSpeed ZeRO-3 every
rank holds empty placeholders (each parameter's data is a 0-element tensor; DeepSpeed keeps the shards
elsewhere), so rank 0 writes a "model" of empty tensors, a few KB (accelerate #2294, DeepSpeed #2413).
Under FSDP2 the parameters are DTensor shards. `Trainer.save_model`, called on every rank, gathers them:
a 16-bit model under ZeRO-3 (needs `stage3_gather_16bit_weights_on_model_save`, checked before
training), a full state dict under FSDP (the state dict type is switched to FULL_STATE_DICT for this
save; checkpoints keep the launcher's own).

LoRA is merged only after gathering: with sharded parameters, the adapters are saved (gathered) first,
then rank 0 loads the base checkpoint, applies them, merges and saves.

The model is written to `model.partial/`, verified (every tensor non-empty, names and shapes those of a
model built from the saved config), then renamed to `model/`; only then is `stage.json` written.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from hatchvl.train.checkpoints import checkpoint_key_renamer, checkpoint_weight_files, safetensors_problem

if TYPE_CHECKING:
    from transformers import ProcessorMixin, Trainer

TRAINING_ARGS_FILE = "training_args.bin"  # Trainer._save pickles its arguments beside the model; not kept


def zero_stage(trainer: Trainer) -> int | None:
    """The DeepSpeed ZeRO stage of the trainer, or None without DeepSpeed."""
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    if not trainer.is_deepspeed_enabled or plugin is None:
        return None
    return int(plugin.deepspeed_config.get("zero_optimization", {}).get("stage", 0))


def check_final_save_possible(trainer: Trainer) -> None:
    """Before training: a ZeRO-3 run must gather 16-bit weights on save, or no model can be written."""
    if zero_stage(trainer) != 3:
        return
    plugin = trainer.accelerator.state.deepspeed_plugin
    if not plugin.deepspeed_config.get("zero_optimization", {}).get("stage3_gather_16bit_weights_on_model_save"):
        raise ValueError("DeepSpeed ZeRO-3 without zero_optimization.stage3_gather_16bit_weights_on_model_save "
                         "cannot write the stage's final model: set it to true in the DeepSpeed config (in an "
                         "accelerate config: deepspeed_config.zero3_save_16bit_model: true)")


def _sharded(trainer: Trainer) -> bool:
    return trainer.is_fsdp_enabled or zero_stage(trainer) == 3


def unset_hf_deepspeed_config() -> None:
    """Leave transformers' ZeRO-3 mode (a process-wide setting that a ZeRO-3 TrainingArguments turns on)."""
    from transformers.integrations.deepspeed import unset_hf_deepspeed_config as unset

    unset()


def save_final(trainer: Trainer, processor: ProcessorMixin, out: str | Path, base_model: str, dtype: str) -> Path:
    """Write the trained model (LoRA merged in) and its processor to out/model.partial; called on every rank.
    `base_model` and `dtype`: where the stage started, to merge LoRA adapters gathered from shards."""
    partial, adapters = Path(out) / "model.partial", Path(out) / "adapters.partial"
    main = trainer.is_world_process_zero()
    for stale in (partial, adapters) if main else ():  # left by a save that was killed
        if stale.exists():
            shutil.rmtree(stale)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    model = trainer.model
    lora, sharded = hasattr(model, "merge_and_unload"), _sharded(trainer)
    if lora and sharded:
        trainer.save_model(str(adapters))  # gathered
    elif not lora:
        trainer.save_model(str(partial))
    trainer.accelerator.wait_for_everyone()
    # the last collective is done: models loaded from here on (the LoRA base below, the check of the saved
    # model, the pipeline's measurements) must not be built under ZeRO-3's zero.Init, which would wait for
    # the other ranks forever
    unset_hf_deepspeed_config()
    if main and lora:
        if sharded:
            _merge_saved_adapters(base_model, dtype, adapters, partial)
            shutil.rmtree(adapters)
        else:
            model.merge_and_unload().save_pretrained(partial)
    if main:
        (partial / TRAINING_ARGS_FILE).unlink(missing_ok=True)
        _forget_runtime_padding(processor)
        processor.save_pretrained(partial)
    trainer.accelerator.wait_for_everyone()
    return partial


def _forget_runtime_padding(processor: ProcessorMixin) -> None:
    """Clear the padding and truncation that tokenizing during training left set on the fast tokenizer: it
    would go into tokenizer.json, which would then depend on what the run last tokenized (a resumed run's
    differs from an uninterrupted one's). Each call sets its own padding anyway."""
    backend = getattr(getattr(processor, "tokenizer", processor), "backend_tokenizer", None)
    if backend is not None:
        backend.no_padding()
        backend.no_truncation()


def _merge_saved_adapters(base_model: str, dtype: str, adapters: Path, target: Path) -> None:
    from peft import PeftModel

    from hatchvl.models.loading import load_model_and_processor

    base, _ = load_model_and_processor(base_model, dtype=dtype)
    PeftModel.from_pretrained(base, str(adapters)).merge_and_unload().save_pretrained(target)


def publish_final(partial: Path, out: str | Path) -> Path:
    """Verify the saved model, then move it to out/model (replacing an older one); returns out/model."""
    verify_saved_model(partial)
    target = Path(out) / "model"
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    return target


def saved_tensor_shapes(model, folder: str | Path) -> dict[str, tuple[int, ...]]:
    """name (as in model.state_dict()) -> shape of every tensor in the folder's safetensors, read from the
    headers only, with the key renaming of from_pretrained (checkpoints.checkpoint_key_renamer)."""
    from safetensors import safe_open

    rename = checkpoint_key_renamer(model)
    shapes = {}
    for path in checkpoint_weight_files(folder):
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                shapes[rename(key)] = tuple(f.get_slice(key).get_shape())
    return shapes


def verify_saved_model(folder: str | Path) -> None:
    """Raise ValueError unless `folder` holds whole safetensors weights whose every tensor is non-empty and
    whose names and shapes are those of a model built from the folder's own config.json."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    folder = Path(folder)
    files = checkpoint_weight_files(folder)
    if not files:
        raise ValueError(f"{folder}: the final save wrote no safetensors weights")
    problems = [p for p in map(safetensors_problem, files) if p]
    if problems:
        raise ValueError(f"{folder}: the final save is torn: {'; '.join(problems)}")
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(str(folder)))
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    saved = saved_tensor_shapes(model, folder)
    empty = sorted(name for name, shape in saved.items() if 0 in shape)
    if empty:
        raise ValueError(f"{folder}: {len(empty)} of {len(saved)} saved tensors are empty (e.g. {empty[:3]}): the "
                         "parameters were not gathered before saving (DeepSpeed ZeRO-3 or FSDP); the stage is not "
                         "marked finished")
    tied = set(getattr(model, "all_tied_weights_keys", {}) or {})
    missing = sorted(set(expected) - set(saved) - tied)
    unexpected = sorted(set(saved) - set(expected))
    wrong = sorted(name for name in set(saved) & set(expected) if saved[name] != expected[name])
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {names[:3]}" for what, names in
                           (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names)
        raise ValueError(f"{folder}: the saved weights do not match the model's config ({detail}); the stage is "
                         "not marked finished")
