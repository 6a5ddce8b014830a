"""`eval bench` and `pipeline` killed (SIGKILL) at fixed points, each chain named by its points, then at a
seeded sample of the points where the uninterrupted run wrote a file: every re-run finishes with the
uninterrupted run's predictions, results, data and weights (compare.py). Each attempt is a fork of this
process (harness.py)."""

import pytest
import yaml

from tests.faults.harness import RUN, Faulty, chain_id, points, sweep_id
from tests.faults.test_train_faults import _varied_rewards
from tests.pipeline.test_pipeline import MICRO

BENCH_CHAINS = [
    points(
        "close:*/.run.json.tmp*:1",  # the run's settings half written
        "append:*/predictions.jsonl:1",  # the first batch: its second line half written
        "append:*/predictions.jsonl:1",  # the re-run's first batch, cut again
        "rename:*/scored.jsonl:1",  # every prediction written, no result yet
        "close:*/.results.json.tmp*:1",
        "rename:*/results.md:1",
    ),
]
PIPELINE_CHAINS = [
    points(
        "close:*/data/..write-test.tmp*:1",  # before the dataset's first dataset.json
        "close:*/data/scenes/scene00001.partial/view*.png:1",  # a data chunk (scene) half written
        "close:*/base.partial/config.json:1",  # the base model being written
        "tensors:*/pretrain_tower/checkpoint-2/model.safetensors:1",  # a torn checkpoint
        "close:*/pretrain_tower/.probe.json.tmp*:1",  # a stage's measurement half written
        "close:*/pretrain_tower-pretrain/.captions.json.tmp*:1",
        "close:*-qa_sft/checkpoint-2/trainer_state.json:1",
        "call:accelerate.accelerator:Accelerator.clip_grad_norm_:2",  # mid-step, in actor_sft
        "close:*-actor_sft/.sampling.json.tmp*:1",
        "torch_save:*-grpo/checkpoint-2/optimizer.pt:1",
        "append:*/eval/*/synthetic/predictions.jsonl:1",  # a predictions line half written
        "rename:*/eval/*/synthetic/results.md:1",  # results.json written, results.md not yet
        "rename:*/eval/*/synthetic-blind/results.json:1",
        "close:*/eval/*/.captions.json.tmp*:1",
        "close:*/.report.json.tmp*:1",
        "rename:*/report.md:1",
    ),
]
# MICRO with a checkpoint after every step of the stages that the chain tears
RECIPE = {**MICRO, "stages": {**MICRO["stages"],
                              "pretrain_tower": {**MICRO["stages"]["pretrain_tower"], "save_steps": 1},
                              "qa_sft": {**MICRO["stages"]["qa_sft"], "save_steps": 1},
                              "grpo": {**MICRO["stages"]["grpo"], "save_steps": 1}}}


@pytest.fixture(scope="module")
def bench(tmp_path_factory, tiny_model, tiny_data, warm_imports):
    job = Faulty("eval bench", ["eval", "bench", "--model", str(tiny_model), "--bench", "synthetic", "--data",
                                str(tiny_data), "--out", RUN, "--batch-size", "2", "--max-new-tokens", "12",
                                "--dtype", "float32"], tmp_path_factory.mktemp("faults-bench"))
    job.make_reference()
    return job


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, warm_imports):
    base = tmp_path_factory.mktemp("faults-pipeline")
    (base / "micro.yaml").write_text(yaml.safe_dump(RECIPE))
    job = Faulty("pipeline", ["pipeline", str(base / "micro.yaml"), "--run-dir", RUN], base, setup=_varied_rewards)
    job.make_reference()
    return job


@pytest.mark.parametrize("chain", BENCH_CHAINS, ids=chain_id)
def test_bench_killed_at_fixed_points(bench, chain):
    bench.check_chain(chain)
    assert sum(1 for _ in (bench.run / "predictions.jsonl").open()) == 4  # every item once


@pytest.mark.parametrize("chain", PIPELINE_CHAINS, ids=chain_id)
def test_pipeline_killed_at_fixed_points(pipeline, chain):
    pipeline.check_chain(chain)


@pytest.mark.parametrize("job", ["bench", "pipeline"], ids=sweep_id)
def test_killed_at_seeded_points_of_its_own_writes(job, request):
    assert request.getfixturevalue(job).check_sweep()
