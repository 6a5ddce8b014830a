"""The checks of benchmarks/gpu_check.py: each runs one stage, or the evaluation, through the project's own
entry points (hatchvl.train.pasta.run_pasta, the SFT and GRPO trainers as run_sft / run_grpo build them and
train_and_finish, hatchvl.eval.generate.run_bench) and returns what it measured.

Measurements:
- tokens and patches: global forward hooks count what goes through the language model (batch x sequence of
  its output) and the vision tower (patches) while a step runs;
- FLOPs ~= 2 * P * tokens for a forward pass without gradients (generation, reference log-probs) and
  6 * P * tokens for one with gradients (forward + backward), P the parameters of the part that ran; the
  usual approximation, without attention's sequence-length term;
- MFU: those FLOPs per second over the device's dense bf16 peak (PEAK_BF16);
- peak memory: torch.cuda.max_memory_allocated of the check's own process;
- changed: the share of the trained weight elements whose saved value differs from the start rounded to the
  saved dtype (a 16-bit copy of an fp32 master rounds most of a small update away).
The saved model is verified as the stages must leave it: every tensor of the start present, non-empty and
of the same shape.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import statistics
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import PreTrainedModel, TrainerCallback

from hatchvl.train.checkpoints import checkpoint_weight_files

# Dense bf16 peak of known devices in FLOP/s, by a part of torch.cuda.get_device_name (first match wins).
PEAK_BF16 = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12))


@dataclass(frozen=True)
class Scale:
    """Sizes of one run of the checks."""

    image_size: int  # square synthetic views, pixels
    scenes: int  # half train, half test
    steps: int  # training steps per check
    pasta_batch: int
    sft_batch: int
    prompts: int  # GRPO prompts per step
    generations: int  # GRPO completions per prompt
    completion_tokens: int
    eval_items: int
    eval_batch: int
    eval_tokens: int


FULL = Scale(image_size=448, scenes=12, steps=3, pasta_batch=4, sft_batch=2, prompts=2, generations=4,
             completion_tokens=64, eval_items=24, eval_batch=12, eval_tokens=64)
TINY = Scale(image_size=56, scenes=2, steps=2, pasta_batch=2, sft_batch=2, prompts=2, generations=2,
             completion_tokens=8, eval_items=4, eval_batch=4, eval_tokens=8)


@dataclass
class Context:
    """What every check reads: the work folder, the start model, the data, the sizes, the parameter counts
    (language_model, vision: tower and merger) and the precision of the checks that run without DeepSpeed."""

    work: str
    base: str
    data: str
    scale: Scale
    params: dict
    dtype: str
    bf16: bool

    @classmethod
    def from_dict(cls, values: dict) -> Context:
        return cls(**{**values, "scale": Scale(**values["scale"])})


def device_peak() -> tuple[str, float | None]:
    """(device name, dense bf16 peak FLOP/s or None when unknown)."""
    if not torch.cuda.is_available():
        return "cpu", None
    name = torch.cuda.get_device_name()
    return name, next((peak for part, peak in PEAK_BF16 if part in name), None)


class Meter:
    """Tokens, patches and FLOPs of the forward passes while timing, and the timed seconds (module docstring)."""

    def __init__(self, params: dict):
        self.params = params
        self.tokens = self.patches = 0
        self.flops = 0.0
        self.seconds: list[float] = []
        self._start: float | None = None
        self._handle = torch.nn.modules.module.register_module_forward_hook(self._count)

    def _count(self, module, args, output) -> None:
        if self._start is None or not isinstance(module, PreTrainedModel):
            return
        kind = module.config.model_type  # the language model's is <family>_text, the tower's <family>_vision
        if not kind.endswith(("_text", "_vision")):
            return
        hidden = output[0] if isinstance(output, tuple) else output.last_hidden_state
        vision = kind.endswith("_vision")
        count = hidden.shape[0] if vision else hidden.shape[0] * hidden.shape[1]
        if vision:
            self.patches += count
        else:
            self.tokens += count
        passes = 6 if torch.is_grad_enabled() else 2
        self.flops += passes * self.params["vision" if vision else "language_model"] * count

    def start(self) -> None:
        _synchronize()
        self._start = time.perf_counter()

    def stop(self, seconds: float | None = None) -> None:
        _synchronize()
        self.seconds.append(time.perf_counter() - self._start if seconds is None else seconds)
        self._start = None

    def close(self) -> None:
        self._handle.remove()

    def summary(self, steps: int | None = None) -> dict:
        total = sum(self.seconds)
        timed = self.seconds[1:] or self.seconds  # the first step warms up
        _, peak = device_peak()
        rate = self.flops / total if total else None
        return {
            "step_s": (total / steps if steps else statistics.median(timed)) if self.seconds else None,
            "tokens_per_s": self.tokens / total if total else None,
            "patches_per_s": self.patches / total if total else None,
            "tflops": rate / 1e12 if rate else None,
            "mfu": rate / peak if rate and peak else None,
            "peak_gb": torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else None,
        }


class StepTimer(TrainerCallback):
    """Times every optimizer step (forward, backward, update) with the meter counting."""

    def __init__(self, meter: Meter):
        self.meter = meter

    def on_step_begin(self, args, state, control, **kwargs):
        self.meter.start()

    def on_step_end(self, args, state, control, **kwargs):
        self.meter.stop()


def _synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def compare_weights(base: str | Path, saved: str | Path, trained=lambda key: True) -> dict:
    """Check the saved weights against the start's (every tensor present, non-empty, same shape) and count
    the trained elements that changed; `trained(key)` says which tensors the stage trains (the others must
    stay as they were). Returns problems (a list of strings), changed (a share) and saved_dtype."""
    problems, changed, elements, frozen_changed, dtypes = [], 0, 0, [], set()
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(safe_open(str(path), "pt")) for path in checkpoint_weight_files(saved)]
        where = {key: handle for handle in opened for key in handle.keys()}
        for path in checkpoint_weight_files(base):
            start = stack.enter_context(safe_open(str(path), "pt"))
            for key in start.keys():
                before = start.get_tensor(key)
                if key not in where:
                    problems.append(f"{key} missing")
                    continue
                after = where[key].get_tensor(key)
                dtypes.add(str(after.dtype).removeprefix("torch."))
                if after.numel() == 0 or after.shape != before.shape:
                    problems.append(f"{key} has shape {tuple(after.shape)}, the start {tuple(before.shape)}")
                    continue
                differ = int((after != before.to(after.dtype)).sum())
                if trained(key):
                    changed, elements = changed + differ, elements + before.numel()
                elif differ:
                    frozen_changed.append(key)
    if frozen_changed:
        problems.append(f"{len(frozen_changed)} frozen tensors changed, e.g. {frozen_changed[0]}")
    return {"problems": problems[:5] + ([f"... {len(problems) - 5} more"] if len(problems) > 5 else []),
            "changed": changed / elements if elements else None, "saved_dtype": "/".join(sorted(dtypes))}


def _common(ctx: Context, name: str, **overrides) -> dict:
    values = dict(model=ctx.base, data=ctx.data, out=str(Path(ctx.work) / name), max_steps=ctx.scale.steps,
                  save_steps=10**6, logging_steps=1, learning_rate=1e-5, report_to=[], dtype=ctx.dtype, bf16=ctx.bf16)
    return values | overrides


def _trained(metrics: dict, weights: dict, need_change: bool = True) -> dict:
    loss = metrics.get("train_loss")
    problems = list(weights["problems"])
    if loss is None or not math.isfinite(loss):
        problems.append(f"training loss {loss}")
    if need_change and not weights["changed"]:
        problems.append("no trained weight changed")
    return {"problems": problems, "changed": weights["changed"], "saved_dtype": weights["saved_dtype"]}


def check_pasta(ctx: Context, meter: Meter) -> dict:
    """A few PaStA steps with activation checkpointing, and the final save (only the vision tower may change)."""
    from hatchvl.train.options import PastaOptions
    from hatchvl.train.pasta import run_pasta

    opts = PastaOptions(**_common(ctx, "pasta", batch_size=ctx.scale.pasta_batch, activation_checkpointing=True))
    metrics = run_pasta(opts, callbacks=[StepTimer(meter)])
    weights = compare_weights(ctx.base, Path(opts.out) / "model", trained=lambda key: key.startswith("visual."))
    return _trained(metrics, weights)


def check_sft(ctx: Context, meter: Meter, name: str = "sft", **overrides) -> dict:
    """A few QA fine-tuning steps of the whole model (answer targets), and the final save."""
    from hatchvl.train.common import train_and_finish
    from hatchvl.train.options import SFTOptions
    from hatchvl.train.sft import build_sft_trainer

    opts = SFTOptions(**_common(ctx, name, batch_size=ctx.scale.sft_batch, activation_checkpointing=True,
                                target="answer", **overrides))
    trainer, processor, samples = build_sft_trainer(opts)
    trainer.add_callback(StepTimer(meter))
    metrics = train_and_finish(trainer, processor, opts, {"samples": len(samples)})
    return _trained(metrics, compare_weights(ctx.base, Path(opts.out) / "model"))


def check_zero3_sft(ctx: Context, meter: Meter) -> dict:
    """check_sft under DeepSpeed ZeRO-3 (launched by gpu_check.py with configs/accelerate/zero3.yaml): 16-bit
    weights, DeepSpeed's fp32 master copy, and a save that must gather the sharded parameters."""
    return check_sft(ctx, meter, name="zero3_sft", dtype="bfloat16", bf16=True)


def check_grpo(ctx: Context, meter: Meter, vllm: bool = False) -> dict:
    """A few GRPO steps, rollouts by transformers' generate or by vLLM colocated on the same GPU. A random
    model earns no reward, so every advantage is zero and no weight need change."""
    from hatchvl.train.common import train_and_finish
    from hatchvl.train.grpo import build_grpo_trainer
    from hatchvl.train.options import GRPOOptions

    s = ctx.scale
    extra = {"vllm_gpu_memory_utilization": 0.15} if vllm else {}  # 12 GB of 80: the 7.5 GB weights + KV cache
    opts = GRPOOptions(**_common(ctx, "grpo_vllm" if vllm else "grpo", batch_size=s.prompts * s.generations,
                                 num_generations=s.generations, max_completion_length=s.completion_tokens,
                                 loss_type="grpo", activation_checkpointing=True, use_vllm=vllm,
                                 vllm_max_model_length=4096 if vllm else None, extra=extra))
    trainer, processor, samples = build_grpo_trainer(opts)
    trainer.add_callback(StepTimer(meter))
    metrics = train_and_finish(trainer, processor, opts, {"samples": len(samples)})
    result = _trained(metrics, compare_weights(ctx.base, Path(opts.out) / "model"), need_change=False)
    flat = [h["frac_reward_zero_std"] for h in metrics["log_history"] if "frac_reward_zero_std" in h]
    notes = ["vLLM's generation is not in tokens/s or MFU" if vllm else None,
             "every group's rewards were equal: zero advantages, no update" if flat and min(flat) == 1 else None]
    result["note"] = "; ".join(filter(None, notes))
    return result


def check_grpo_vllm(ctx: Context, meter: Meter) -> dict:
    return check_grpo(ctx, meter, vllm=True)


def check_eval(ctx: Context, meter: Meter) -> dict:
    """Greedy answers to the synthetic test split through `hatchvl eval bench`'s code, timed by its own clock."""
    from hatchvl.data.format import read_manifest
    from hatchvl.eval.generate import BenchOptions, run_bench

    s = ctx.scale
    opts = BenchOptions(model=ctx.base, bench="synthetic", data=ctx.data, out=str(Path(ctx.work) / "eval"),
                        limit=s.eval_items, batch_size=s.eval_batch, max_new_tokens=s.eval_tokens,
                        dtype="bfloat16" if torch.cuda.is_available() else "float32")
    meter.start()
    results = run_bench(opts)
    meter.stop(seconds=results["generation_seconds_rank0"])
    expected = min(s.eval_items, len(read_manifest(ctx.data, "test")))
    problems = [] if results["count"] == expected and not results["missing"] else [
        f"{results['count']} items scored, {results['missing']} missing, of {expected}"]
    return {"problems": problems, "batches": math.ceil(s.eval_items / s.eval_batch)}


def skip_reason(name: str) -> str | None:
    """Why check `name` cannot run here, or None."""
    if name == "grpo_vllm" and importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (the gpu extra)"
    if name == "grpo_vllm" and not torch.cuda.is_available():
        return "vLLM needs a GPU"
    if name == "zero3_sft" and importlib.util.find_spec("deepspeed") is None:
        return "deepspeed is not installed"
    return None


CHECKS = {"pasta": check_pasta, "sft": check_sft, "grpo": check_grpo, "grpo_vllm": check_grpo_vllm,
          "zero3_sft": check_zero3_sft, "eval": check_eval}


def run_check(name: str, ctx: Context) -> dict:
    """One check in this process: its measurements and status (PASS, FAIL or SKIP) with a note."""
    reason = skip_reason(name)
    if reason:
        return {"check": name, "status": "SKIP", "note": reason}
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    meter = Meter(ctx.params)
    try:
        result = CHECKS[name](ctx, meter)
    except Exception as err:  # a failed check is a row of the table, not the end of the run
        traceback.print_exc()
        return {"check": name, "status": "FAIL", "note": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
    finally:
        meter.close()
    problems = result.pop("problems")
    batches = result.pop("batches", None)
    note = "; ".join(filter(None, [*problems, result.pop("note", None)]))
    return {"check": name, "status": "FAIL" if problems else "PASS", **meter.summary(batches), **result,
            "note": note}
