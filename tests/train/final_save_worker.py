"""Launched by test_final_save.py under `accelerate launch` (2 CPU processes, gloo): one training stage
through the project's own code, then rank 0 writes the trained weights as the training processes hold them
(gathered from the ZeRO-3 or FSDP2 shards at the end of training) to OUT/reference.safetensors."""

import sys

import torch
from safetensors.torch import save_file
from transformers import TrainerCallback

from hatchvl.train.options import PastaOptions, SFTOptions


def gathered(model) -> dict[str, torch.Tensor]:
    """Every parameter whole, on every rank (a collective: all ranks call it)."""
    params = dict(model.named_parameters())
    if any(hasattr(p, "ds_id") for p in params.values()):  # ZeRO-3 partitions
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(params.values())):
            return {name: p.detach().clone() for name, p in params.items()}
    return {name: (p.full_tensor() if hasattr(p, "full_tensor") else p).detach().clone() for name, p in params.items()}


class KeepReference(TrainerCallback):
    def __init__(self, out: str):
        self.out = out

    def on_train_end(self, args, state, control, model=None, **kwargs):
        weights = gathered(model)
        if args.process_index == 0:
            save_file({k: v.contiguous() for k, v in weights.items()}, f"{self.out}/reference.safetensors")


def main(stage: str, model: str, data: str, out: str, lora: str) -> None:
    common = dict(model=model, data=data, out=out, max_steps=2, logging_steps=1, save_steps=100, dtype="float32",
                  learning_rate=1e-3, batch_size=1)
    if stage == "pasta":
        from hatchvl.train.pasta import run_pasta

        run_pasta(PastaOptions(**common, grid=2), callbacks=[KeepReference(out)])
    else:
        from hatchvl.train.common import train_and_finish
        from hatchvl.train.sft import build_sft_trainer

        opts = SFTOptions(**common, target="answer", lora=lora == "lora")
        trainer, processor, samples = build_sft_trainer(opts)
        trainer.add_callback(KeepReference(out))
        train_and_finish(trainer, processor, opts, {"samples": len(samples)})
    if torch.distributed.is_initialized():  # left to the interpreter's exit, gloo's threads can abort a rank
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:6])
