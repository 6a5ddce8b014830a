"""Where the pipeline's measurements run (a finished stage's probe, sampled rewards and caption probe; an
evaluation's caption probe).

In a single process they run in it. Under a launcher (several ranks, or accelerate with DeepSpeed or
FSDP) the training processes are no place for them: after a ZeRO-3 Trainer, transformers would build the
next model under zero.Init, and every rank would load its own copy. There rank 0 runs them in a fresh
Python process, with the launcher's variables removed and only its own GPU visible, while the other ranks
wait at a barrier. The models load on that GPU in the stage's dtype (models.loading.load_for_inference).
The evaluations themselves stay sharded over the ranks (eval/generate.py).

`python -m hatchvl.pipeline.measure_child PAYLOAD_JSON` is that fresh process.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable

from hatchvl.train.common import accelerate_engine

LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE",
                      "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "MASTER_ADDR", "MASTER_PORT")
LAUNCHER_PREFIXES = ("ACCELERATE_", "TORCHELASTIC_", "TORCH_NCCL_", "FSDP_")


def launched(env: dict[str, str] | None = None) -> bool:
    """Whether this process was started by a launcher for several ranks, DeepSpeed or FSDP."""
    env = os.environ if env is None else env
    return int(env.get("WORLD_SIZE", "1")) > 1 or accelerate_engine(env)


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The fresh process's environment: the launcher's variables removed, only this rank's GPU visible."""
    env = dict(os.environ if env is None else env)
    child = {k: v for k, v in env.items() if k not in LAUNCHER_VARIABLES and not k.startswith(LAUNCHER_PREFIXES)}
    local = int(env.get("LOCAL_RANK", "0"))
    visible = env.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(k) for k in range(local + 1)]
    child["CUDA_VISIBLE_DEVICES"] = devices[local] if local < len(devices) else devices[0]
    return child


def run_measurements(job: dict, here: Callable[[], None]) -> None:
    """Run `here()` in this process, or under a launcher `job` (a `payload`) on rank 0 in a fresh process (see the
    module docstring) while the other ranks wait. Raises RuntimeError when the fresh process fails."""
    if not launched():
        here()
        return
    import torch

    gc.collect()  # the finished trainer's model, optimizer and engine
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if int(os.environ.get("RANK", "0")) == 0:
        cmd = [sys.executable, "-m", "hatchvl.pipeline.measure_child", json.dumps(job)]
        done = subprocess.run(cmd, env=child_environment())
        if done.returncode != 0:
            raise RuntimeError(f"the measurements ({job['what']}) of {job['chain']} failed in their own "
                               f"process (exit code {done.returncode}; its output is above)")
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def payload(what: str, recipe, chain: list[str], stage: str | None = None) -> dict:
    """What the fresh process needs: the measurements of `stage` trained on top of `chain` (what="stage"),
    or the caption probe of the model of `chain` (what="captions")."""
    values = {k: v for k, v in dataclasses.asdict(recipe).items() if k != "source"}
    return {"what": what, "recipe": values, "source": recipe.source, "stage": stage, "chain": chain}
