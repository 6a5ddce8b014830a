"""Launched by tests/train/test_pasta.py under `torchrun --nproc_per_node 2` (gloo, CPU): two PaStA steps,
then every rank saves its trainable parameters to OUT/rank<N>.pt.

Usage: pasta_ddp_worker.py MODEL DATA OUT
"""

import sys

import torch
from transformers import TrainerCallback

from hatchvl.train.options import PastaOptions
from hatchvl.train.pasta import run_pasta


class SaveParameters(TrainerCallback):
    def __init__(self, out: str):
        self.out = out

    def on_train_end(self, args, state, control, model=None, **kwargs):
        trained = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
        torch.save(trained, f"{self.out}/rank{args.process_index}.pt")


def main() -> None:
    model, data, out = sys.argv[1:4]
    opts = PastaOptions(model=model, data=data, out=out, max_steps=2, batch_size=2, learning_rate=1e-2,
                        save_steps=100, logging_steps=1)
    run_pasta(opts, callbacks=[SaveParameters(out)])
    if torch.distributed.is_initialized():  # left to the interpreter's exit, gloo's threads can abort a rank
        torch.distributed.barrier()  # both ranks done with every collective before the group goes
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
