"""Where the pipeline's measurements run: in the one process, or under a launcher on rank 0 in a fresh
process (pipeline/measure_process.py); the pipeline under torchrun with two ranks."""

import subprocess
import sys

import pytest
import yaml

from hatchvl.pipeline.measure_process import child_environment, launched


def test_launched_by_world_size_or_accelerate():
    assert not launched({}) and not launched({"WORLD_SIZE": "1"})
    assert launched({"WORLD_SIZE": "2"}) and launched({"ACCELERATE_USE_DEEPSPEED": "true"})
    assert launched({"ACCELERATE_USE_FSDP": "True"})


def test_the_fresh_process_sees_no_launcher_and_only_its_rank_gpu():
    env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "MASTER_ADDR": "node0", "MASTER_PORT": "29500",
           "ACCELERATE_USE_DEEPSPEED": "true", "TORCHELASTIC_RUN_ID": "x", "PATH": "/bin", "HF_HOME": "/hf"}
    assert child_environment(env) == {"PATH": "/bin", "HF_HOME": "/hf", "CUDA_VISIBLE_DEVICES": "1"}
    assert child_environment({**env, "CUDA_VISIBLE_DEVICES": "4,5,6"})["CUDA_VISIBLE_DEVICES"] == "5"


@pytest.mark.slow
def test_pipeline_under_two_ranks_measures_once(tiny_model, tiny_data, tmp_path):
    recipe = {
        "name": "two-ranks", "seed": 0, "data": {"path": str(tiny_data)}, "model": {"path": str(tiny_model)},
        "stages": {"pasta": {"max_steps": 2, "batch_size": 1, "dtype": "float32", "save_steps": 100}},
        "eval": {"probe": {"split": "test", "limit": 4}, "captions": {"split": "test", "limit": 4, "max_new_tokens": 4},
                 "benchmarks": [{"bench": "synthetic", "limit": 4, "max_new_tokens": 4}]},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
           "hatchvl.cli.main", "pipeline", str(path), "--run-dir", str(run)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"torchrun did not finish in 300 s; stderr ends:\n{(err.stderr or b'')[-3000:]!r}")
    assert done.returncode == 0, done.stderr[-4000:]
    # one probe and one caption probe, each printed by rank 0's fresh process; one evaluation, sharded
    assert done.stdout.count("probe top-1") == 1, done.stdout
    assert done.stdout.count("caption probe:") == 1, done.stdout
    stage = run / "pasta"
    assert (stage / "probe.json").is_file() and (stage / "model" / "model.safetensors").is_file()
    results = yaml.safe_load((run / "eval" / "pasta" / "synthetic" / "results.json").read_text())
    assert results["count"] == 4 and results["settings"]["world_size"] == 2
    assert (run / "report.md").is_file()
