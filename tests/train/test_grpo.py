"""The GRPO stage on TRL's GRPOTrainer, and both TRL stages in two processes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hatchvl.objectives.prompts import target_text
from hatchvl.objectives.rewards import RewardConfig, reward_target
from hatchvl.train.data import load_samples
from hatchvl.train.grpo import build_grpo_trainer, reward_functions, run_grpo
from hatchvl.train.options import GRPOOptions


def test_reward_functions_score_each_part_separately(tiny_data):
    samples = load_samples(tiny_data)
    targets = {s.id: reward_target(s) for s in samples}
    format_fn, action_fn, answer_fn = reward_functions(targets, RewardConfig())
    assert [f.__name__ for f in (format_fn, action_fn, answer_fn)] == ["format", "action", "answer"]
    good = [[{"role": "assistant", "content": target_text(s, "action_answer")}] for s in samples[:2]]
    wrong_answer = [[{"role": "assistant", "content": target_text(samples[0], "action_answer").replace(
        f"<answer>{samples[0].answer}</answer>", "<answer>nonsense</answer>")}]]
    ids = [s.id for s in samples[:2]]
    assert format_fn(good) == [1.0, 1.0]
    assert all(v > 0.95 for v in action_fn(good, sample_id=ids))
    assert answer_fn(good, sample_id=ids) == [1.0, 1.0]
    assert answer_fn(wrong_answer, sample_id=ids[:1]) == [0.0]
    assert action_fn(wrong_answer, sample_id=ids[:1])[0] > 0.95


def test_a_limited_prompt_pool_is_a_seeded_random_subset_in_manifest_order(tiny_data):
    def ids(**kw):
        return [s.id for s in load_samples(tiny_data, **kw)]

    everything = ids()
    pools = {seed: ids(seed=seed, limit=3) for seed in range(6)}
    for pool in pools.values():
        assert len(pool) == 3 and pool == [i for i in everything if i in pool]
    assert pools[0] == ids(seed=0, limit=3)
    assert len({tuple(pool) for pool in pools.values()}) > 1  # drawn, not the first three
    assert ids(fraction=0.5, seed=1, limit=100) == ids(fraction=0.5, seed=1)
    with pytest.raises(ValueError, match="limit must be >= 0"):
        GRPOOptions(model="m", data="d", out="o", limit=-1)


def test_a_pool_smaller_than_one_batch_of_prompts_fails_instead_of_training_nothing(tiny_model, tiny_data, tmp_path):
    opts = GRPOOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path), max_steps=2, batch_size=4,
                       num_generations=2, fraction=0.125, dtype="float32")  # 1 of the 8 training prompts
    with pytest.raises(ValueError, match=r"draws 2 prompts per .* gives 1 \(fraction 0.125, limit none"):
        build_grpo_trainer(opts)
    with pytest.raises(ValueError, match=r"limit \(1\) is below the prompts of one step"):
        GRPOOptions(model="m", data="d", out="o", batch_size=4, num_generations=2, limit=1)


def test_grpo_runs_and_logs_each_reward(tiny_model, tiny_data, tmp_path):
    opts = GRPOOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path), max_steps=2, batch_size=4,
                       num_generations=4, max_completion_length=16, dtype="float32", learning_rate=1e-4)
    metrics = run_grpo(opts)
    logged = [h for h in metrics["log_history"] if "reward" in h]
    assert len(logged) == 2
    for key in ("rewards/format/mean", "rewards/action/mean", "rewards/answer/mean", "reward"):
        assert all(0.0 <= h[key] <= 2.5 for h in logged), key
    assert json.loads((tmp_path / "stage.json").read_text())["options"]["w_format"] == 0.5
    assert (tmp_path / "model" / "model.safetensors").is_file()


def test_unscorable_data_fails_before_training(tiny_model, tiny_data, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for item in Path(tiny_data).iterdir():
        (bad / item.name).symlink_to(item)
    (bad / "train.jsonl").unlink()
    lines = (Path(tiny_data) / "train.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["answer"] = "not a letter"
    (bad / "train.jsonl").write_text("\n".join([json.dumps(record)] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match=record["id"]):
        run_grpo(GRPOOptions(model=str(tiny_model), data=str(bad), out=str(tmp_path / "out"), max_steps=1,
                             batch_size=2, num_generations=2))
    assert not (tmp_path / "out" / "stage.json").exists()


def test_multi_prompt_batch_scores_each_row_as_if_alone(tiny_model, tiny_data, tmp_path):
    """Two prompts of different lengths in one GRPO batch: TRL left-pads them, and the per-token log-probs it
    trains on must equal those of each row run alone, unpadded (positions and mm_token_type_ids line up)."""
    import torch

    opts = GRPOOptions(model=str(tiny_model), data=str(tiny_data), out=str(tmp_path), batch_size=4,
                       num_generations=2, max_completion_length=12, dtype="float32", max_steps=1)
    trainer, processor, samples = build_grpo_trainer(opts)
    rows = [trainer.train_dataset[i] for i in range(len(samples))]
    by_views: dict[int, dict] = {}
    for row in rows:
        by_views.setdefault(len(row["images"]), row)
    assert len(by_views) == 2, "the fixture should hold samples with 2 and with 3 views"
    torch.manual_seed(0)
    out = trainer._generate_and_score_completions([r for r in by_views.values() for _ in range(2)])
    assert (out["prompt_mask"] == 0).any(), "the shorter prompt should be left-padded"
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    n_keep = out["completion_ids"].size(1)
    image_tokens = (ids == processor.tokenizer.convert_tokens_to_ids(processor.image_token)).long()
    assert torch.equal(out["mm_token_type_ids"], image_tokens)
    model = trainer.model
    with torch.no_grad():
        batched, _, _ = trainer._get_per_token_logps_and_entropies(
            model, ids, mask, n_keep, pixel_values=out["pixel_values"], image_grid_thw=out["image_grid_thw"],
            num_images=out["num_images"], mm_token_type_ids=out["mm_token_type_ids"])
        images = torch.tensor([0, *out["num_images"]]).cumsum(0)
        patches = torch.cat([torch.zeros(1, dtype=torch.long), out["image_grid_thw"].prod(-1).cumsum(0)])
        for i in range(ids.size(0)):
            keep = mask[i] == 1
            a, b = images[i].item(), images[i + 1].item()
            logits = model(input_ids=ids[i][keep][None], pixel_values=out["pixel_values"][patches[a]:patches[b]],
                           image_grid_thw=out["image_grid_thw"][a:b],
                           mm_token_type_ids=image_tokens[i][keep][None]).logits[0]
            n = int(out["completion_mask"][i].sum())
            alone = torch.log_softmax(logits[-n - 1:-1], -1).gather(-1, out["completion_ids"][i][:n, None])[:, 0]
            torch.testing.assert_close(batched[i][:n], alone, atol=1e-4, rtol=0)


@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_two_processes_end_with_identical_parameters(stage, tiny_model, tiny_data, tmp_path):
    worker = Path(__file__).with_name("dist_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(worker), stage, str(tiny_model), str(tiny_data), str(tmp_path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as err:  # say where it hung
        tail = (err.stderr or b"")[-3000:]
        pytest.fail(f"torchrun did not finish in 240 s; its stderr ends:\n{tail.decode(errors='replace')}")
    assert done.returncode == 0, done.stderr[-3000:]
    digests = [(tmp_path / f"params-rank{r}.txt").read_text().split() for r in (0, 1)]
    assert digests[0][0] == "2", "training did not run with world size 2"
    assert digests[0] == digests[1]
