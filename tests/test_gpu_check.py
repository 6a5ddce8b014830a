"""The GPU check (benchmarks/gpu_check.py) cannot rot: its dry run (the same checks on a tiny model of the same
architecture, on the CPU) passes, and its weight verification catches a broken save."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from gpu_check_steps import compare_weights  # noqa: E402  (benchmarks/ is not a package)


@pytest.mark.slow
def test_the_dry_run_passes_every_check_that_can_run_here():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--dry-run"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()[1:2] in (["PASS"], ["FAIL"],
                                                                                             ["SKIP"])}
    for check in ("pasta", "sft", "grpo", "eval"):
        assert rows[check].split()[1] == "PASS", rows[check]
    assert rows["grpo_vllm"].split()[1] in ("PASS", "SKIP")
    zero3 = rows["zero3_sft"].split()[1]
    assert zero3 == "PASS" or (zero3 == "SKIP" and "deepspeed is not installed" in rows["zero3_sft"])
    assert "0 of 6 checks failed" in done.stdout


def test_the_weight_check_names_a_missing_empty_or_reshaped_tensor_and_a_changed_frozen_one(tmp_path):
    start = {"visual.w": torch.zeros(4, 2), "model.w": torch.ones(3), "model.b": torch.ones(2), "lm.w": torch.ones(2)}
    (tmp_path / "start").mkdir()
    save_file(start, tmp_path / "start" / "model.safetensors")
    saved = {"visual.w": torch.tensor([[0.0, 1.0]] * 4), "model.w": torch.empty(0), "model.b": torch.ones(1, 2),
             "lm.w": torch.tensor([1.0, 2.0])}
    (tmp_path / "saved").mkdir()
    save_file(saved, tmp_path / "saved" / "model.safetensors")
    result = compare_weights(tmp_path / "start", tmp_path / "saved", trained=lambda key: key.startswith("visual."))
    assert result["changed"] == 0.5
    assert sorted(result["problems"]) == ["1 frozen tensors changed, e.g. lm.w",
                                          "model.b has shape (1, 2), the start (2,)",
                                          "model.w has shape (0,), the start (3,)"]
    del saved["visual.w"]
    save_file(saved, tmp_path / "saved" / "model.safetensors")
    assert "visual.w missing" in compare_weights(tmp_path / "start", tmp_path / "saved")["problems"]
    save_file(start, tmp_path / "saved" / "model.safetensors")
    assert compare_weights(tmp_path / "start", tmp_path / "saved") == {"problems": [], "changed": 0.0,
                                                                         "saved_dtype": "float32"}
