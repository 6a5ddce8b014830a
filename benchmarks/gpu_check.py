"""The GPU check: the paper-scale path on one GPU in minutes, through the project's own code, before any
real run (docs/distributed.md, "The GPU check").

It builds a randomly initialised Qwen2.5-VL-3B-Instruct (the real configuration, 3,754,622,976 parameters,
a stand-in tokenizer over all 151,936 ids and the real processor settings; hatchvl.models.stand_in) and a
small synthetic dataset (`hatchvl data synth`'s generator), all locally, then runs each check in a process
of its own (clean peak memory, no state left by DeepSpeed):

    pasta       a few PaStA steps with activation checkpointing and the final save
    sft         QA fine-tuning steps of the whole model (bf16 loaded, fp32 masters, bf16 autocast) and the save
    grpo        GRPO steps, rollouts by transformers' generate
    grpo_vllm   the same with vLLM colocated (skipped when vllm is not installed)
    zero3_sft   one SFT run under DeepSpeed ZeRO-3 (configs/accelerate/zero3.yaml, one process), its save
                checked tensor by tensor (skipped without deepspeed)
    eval        greedy evaluation of the synthetic test split (`hatchvl eval bench`'s code)

and prints, per check, step time, tokens/s and patches/s, peak memory, MFU and the share of the trained
weight elements that changed (gpu_check_steps.py says how each is measured), then one PASS/FAIL table.
Exit status 0 when no check failed.

    python benchmarks/gpu_check.py [--out DIR] [--checks pasta,sft,...] [--timeout 300]
    python benchmarks/gpu_check.py --dry-run     # the same checks on a tiny model, on the CPU, in seconds
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import yaml
from transformers import AutoConfig

from gpu_check_steps import CHECKS, FULL, TINY, Context, device_peak, run_check, skip_reason
from hatchvl.data.synthetic.synth import SynthConfig, synthesize
from hatchvl.models.backbone import parameter_counts
from hatchvl.models.stand_in import (
    PARAMETERS_3B,
    qwen2_5_vl_3b_config,
    save_stand_in,
    stand_in_model,
    stand_in_processor,
    stand_in_tokenizer,
)
from hatchvl.models.tiny import init_tiny

ROOT = Path(__file__).resolve().parents[1]
ZERO3 = ROOT / "configs" / "accelerate" / "zero3.yaml"
COLUMNS = (("check", "{}", 10), ("result", "{}", 6), ("step s", "{:.2f}", 7), ("tokens/s", "{:,.0f}", 9),
           ("patches/s", "{:,.0f}", 10), ("peak GB", "{:.1f}", 8), ("MFU", "{:.1%}", 6), ("changed", "{:.1%}", 8))


def prepare(work: Path, dry_run: bool) -> Context:
    """The synthetic data and the start model in `work`; their parameter counts."""
    scale = TINY if dry_run else FULL
    data, base = work / "data", work / "base"
    synthesize(data, SynthConfig(scenes=scale.scenes, seed=0, size=scale.image_size, views=(2, 3),
                                 samples_per_scene=4, split=(0.5, 0.0, 0.5)),
               workers=1 if dry_run else min(8, os.cpu_count() or 1))
    if dry_run:
        init_tiny("qwen2_5_vl", base)
    else:
        config = qwen2_5_vl_3b_config()
        save_stand_in(base, config, stand_in_processor(stand_in_tokenizer()), device="cuda")
        torch.cuda.empty_cache()  # the checks' processes need the memory this one's allocator kept
    counts = parameter_counts(stand_in_model(AutoConfig.from_pretrained(base), device="meta"))
    if not dry_run and counts["total"] != PARAMETERS_3B:
        raise AssertionError(f"the stand-in has {counts['total']:,} parameters, Qwen2.5-VL-3B {PARAMETERS_3B:,}")
    params = {"language_model": counts["language_model"], "vision": counts["vision_tower"] + counts["merger"],
              "total": counts["total"]}
    # as the 3B recipe: bf16 weights, bf16 autocast; the stages keep fp32 masters of what they train
    # (train.common.keep_fp32_masters); the dry run stays in fp32 (CPUs run bf16 slowly)
    return Context(str(work), str(base), str(data), scale, params, dtype="float32" if dry_run else "bfloat16",
                   bf16=not dry_run)


def launch_config(work: Path) -> Path:
    """configs/accelerate/zero3.yaml for one process; on a machine without CUDA, DeepSpeed's CPU back end
    without mixed precision (the dry run)."""
    config = yaml.safe_load(ZERO3.read_text()) | {"num_processes": 1}
    if not torch.cuda.is_available():
        config |= {"use_cpu": True, "mixed_precision": "no"}
    path = work / "zero3.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class Worker:
    """One check in a fresh process (under accelerate launch for ZeRO-3), started at once; its log is
    work/logs/<name>.log."""

    def __init__(self, name: str, ctx: Context):
        self.name, self.skip, self.process = name, skip_reason(name), None
        if self.skip:
            return
        work = Path(ctx.work)
        context, self.result_file, self.log = work / "context.json", work / "results" / f"{name}.json", work / "logs"
        context.write_text(json.dumps(asdict(ctx)))
        self.result_file.parent.mkdir(exist_ok=True)
        self.log.mkdir(exist_ok=True)
        self.log = self.log / f"{name}.log"
        worker = [__file__, "--worker", name, "--context", str(context), "--result", str(self.result_file)]
        launcher = ["-m", "accelerate.commands.launch", "--config_file", str(launch_config(work))]
        command = [sys.executable, *(launcher if name == "zero3_sft" else []), *worker]
        with open(self.log, "w") as out:  # its own session: a timeout ends the launcher and its children
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                            start_new_session=True)

    def result(self, timeout: int) -> dict:
        if self.skip:
            return {"check": self.name, "status": "SKIP", "note": self.skip}
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return {"check": self.name, "status": "FAIL", "note": f"timed out after {timeout} s (log: {self.log})"}
        if self.result_file.is_file():
            return json.loads(self.result_file.read_text())
        tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        return {"check": self.name, "status": "FAIL", "note": f"exit status {code}: {tail[0][:200]}"}


def row(result: dict) -> str:
    cells = []
    for (_, form, width), key in zip(COLUMNS, ("check", "status", "step_s", "tokens_per_s", "patches_per_s",
                                                    "peak_gb", "mfu", "changed"), strict=True):
        value = result.get(key)
        cells.append(f"{'-' if value is None else form.format(value):>{width}}")
    return " ".join(cells) + f"  {result.get('note', '')}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="a tiny model of the same architecture on the CPU")
    parser.add_argument("--out", help="work folder, kept (default: a temporary folder, deleted)")
    parser.add_argument("--checks", default=",".join(CHECKS), help=f"comma-separated, of {', '.join(CHECKS)}")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per check")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # one check in this process (run_in_subprocess)
    parser.add_argument("--context", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        ctx = Context.from_dict(json.loads(Path(args.context).read_text()))
        result = run_check(args.worker, ctx)
        if int(os.environ.get("RANK", "0")) == 0:
            Path(args.result).write_text(json.dumps(result))
        return 0
    names = args.checks.split(",")
    if set(names) - set(CHECKS):
        parser.error(f"--checks: unknown {sorted(set(names) - set(CHECKS))}; choose from {', '.join(CHECKS)}")
    if not args.dry_run and not torch.cuda.is_available():
        parser.error("no CUDA device: run it on a GPU machine, or with --dry-run on a CPU")
    start = time.perf_counter()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpu-check-"))
    try:
        ctx = prepare(work, args.dry_run)
        device, peak = device_peak()
        print(f"GPU check on {device} (dense bf16 peak {f'{peak / 1e12:.0f} TFLOPS' if peak else 'unknown'}): "
              f"{'tiny dry run' if args.dry_run else 'Qwen2.5-VL-3B stand-in'}, {ctx.params['total']:,} parameters, "
              f"ready in {time.perf_counter() - start:.0f} s", flush=True)
        # the dry run launches only ZeRO-3, beside the other checks; on a GPU one check at a time
        background = {"zero3_sft": Worker("zero3_sft", ctx)} if args.dry_run and "zero3_sft" in names else {}
        results = []
        for name in names:
            if name in background:
                results.append(background[name].result(args.timeout))
            else:
                results.append(run_check(name, ctx) if args.dry_run else Worker(name, ctx).result(args.timeout))
            print(f"  {name}: {results[-1]['status']} ({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(" ".join(f"{title:>{width}}" for title, _, width in COLUMNS) + "  note")
    for result in results:
        print(row(result))
    print(f"\nFLOPs ~= 6 x parameters x tokens with gradients, 2 x without (generation); MFU against the dense bf16 "
          f"peak. {sum(r['status'] == 'FAIL' for r in results)} of {len(results)} checks failed, "
          f"{time.perf_counter() - start:.0f} s in all.")
    return 1 if any(r["status"] == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
