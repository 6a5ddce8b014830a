"""Run by test_distributed.py under torchrun: train a few steps of one stage, then write a digest of this
rank's parameters to OUT/params-rank<R>.txt."""

import hashlib
import os
import sys

import torch

from hatchvl.train.grpo import build_grpo_trainer
from hatchvl.train.options import GRPOOptions, SFTOptions
from hatchvl.train.sft import build_sft_trainer


def main(stage: str, model: str, data: str, out: str) -> None:
    common = dict(model=model, data=data, out=out, max_steps=2, logging_steps=1, save_steps=100, dtype="float32",
                  learning_rate=1e-3)
    if stage == "sft":
        trainer, _, _ = build_sft_trainer(SFTOptions(**common, target="action_answer", batch_size=1))
    else:
        trainer, _, _ = build_grpo_trainer(GRPOOptions(**common, batch_size=2, num_generations=2,
                                                       max_completion_length=8, temperature=1.0))
    trainer.train()
    digest = hashlib.sha256()
    for name, param in sorted(trainer.model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().to(torch.float32).contiguous().numpy().tobytes())
    rank = int(os.environ.get("RANK", "0"))
    with open(os.path.join(out, f"params-rank{rank}.txt"), "w") as f:
        f.write(f"{trainer.args.world_size} {digest.hexdigest()}\n")
    if torch.distributed.is_initialized():  # left to the interpreter's exit, gloo's threads can abort a rank
        torch.distributed.barrier()  # both ranks done with every collective before the group goes
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:5])
