"""Wiring of the GRPO stage: prompt rows and the reward path (tests/train/test_wiring.py says why)."""

from pathlib import Path

import numpy as np
import pytest

from hatchvl.data.format import read_manifest
from hatchvl.objectives.prompts import target_text
from hatchvl.objectives.rewards import RewardConfig, reward_target
from hatchvl.train.grpo import build_grpo_trainer, reward_functions
from hatchvl.train.options import GRPOOptions
from tests.train.wiring import check_prompt, check_row_images, fresh_rows, reverse_views_of_a_row

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def grpo(tiny_model, data, tmp_path_factory):
    opts = GRPOOptions(model=str(tiny_model), data=str(data), out=str(tmp_path_factory.mktemp("grpo")),
                       batch_size=2, num_generations=2, dtype="float32")
    trainer, _, _ = build_grpo_trainer(opts)
    return trainer


def check_prompt_rows(rows: list[dict], records: list[dict], root: Path):
    """Prompt row i carries sample i's id, its views in order and its question."""
    assert len(rows) == len(records), f"{len(rows)} prompt rows for {len(records)} samples"
    for i, (row, record) in enumerate(zip(rows, records, strict=True)):
        where = f"prompt row {i} ({record['id']})"
        assert row["sample_id"] == record["id"], f"{where}: carries sample_id {row['sample_id']!r}"
        check_row_images(row["images"], record, root, where)
        check_prompt(row["prompt"], record, where)


def own_targets(root: Path, records: list[dict]) -> list[str]:
    """The target text of each manifest sample, in manifest order."""
    by_id = {s.id: s for s in read_manifest(root)}
    return [target_text(by_id[r["id"]], "action_answer") for r in records]


def trainer_rewards(trainer, rows: list[dict], texts: list[str]) -> np.ndarray:
    """(len(texts), 3) format, action and answer rewards as the GRPO trainer computes them (its reward functions,
    called with the dataset's columns) for completion texts[k] of prompt rows[k]."""
    completions = [[{"role": "assistant", "content": text}] for text in texts]
    rewards = trainer._calculate_rewards(rows, [row["prompt"] for row in rows], completions, [[] for _ in texts])
    return rewards.numpy()


def check_rewards(trainer, rows: list[dict], targets: list[str]):
    """For prompt row i, the target text of sample i (targets[i], from the manifest) is well formed, scores 1
    on the answer and about 1 on the actions, and scores more than the target of any other sample; in a batch
    of all the rows, each row's own target scores so."""
    assert trainer.reward_func_names == ["format", "action", "answer"]
    assert len(set(targets)) == len(targets), "samples with equal targets cannot tell a swap"
    for i, row in enumerate(rows):
        where = f"prompt row {i} ({row['sample_id']})"
        fmt, action, answer = trainer_rewards(trainer, [row] * len(targets), targets).T
        assert (fmt == 1).all(), f"{where}: a target is not well formed"
        assert answer[i] == 1.0, f"{where}: its own answer scores {answer[i]}"
        assert action[i] > 0.95, f"{where}: its own actions score {action[i]:.3f}"  # the text rounds the motion
        own = action[i] + answer[i]
        others = np.delete(action + answer, i)
        assert others.max() < own - 0.05, f"{where}: another sample's target scores {others.max():.3f} >= {own:.3f}"
    _, action, answer = trainer_rewards(trainer, rows, targets).T
    assert (answer == 1).all() and (action > 0.95).all(), "a batch of prompts scores rows against other samples"


def test_grpo_prompt_rows_carry_their_own_sample_id_and_views(grpo, data, records):
    check_prompt_rows(fresh_rows(grpo.train_dataset), records, data)


def test_grpo_rewards_score_each_samples_target_highest_on_its_own_prompt(grpo, data, records):
    check_rewards(grpo, fresh_rows(grpo.train_dataset), own_targets(data, records))


def test_grpo_checks_catch_swapped_ids_reversed_views_and_swapped_targets(grpo, data, records, monkeypatch):
    targets = own_targets(data, records)
    # prompts and sample ids out of step: the first and the last row (two scenes) exchange ids
    rows = fresh_rows(grpo.train_dataset)
    rows[0]["sample_id"], rows[-1]["sample_id"] = rows[-1]["sample_id"], rows[0]["sample_id"]
    with pytest.raises(AssertionError, match="prompt row 0 .*: carries sample_id"):
        check_prompt_rows(rows, records, data)
    with pytest.raises(AssertionError, match="prompt row 0 .*: its own (answer|actions) score"):
        check_rewards(grpo, rows, targets)
    # a row's views reversed
    rows = fresh_rows(grpo.train_dataset)
    reverse_views_of_a_row(rows)
    with pytest.raises(AssertionError, match="image 0 is not"):
        check_prompt_rows(rows, records, data)
    # rewards that score two samples against each other's targets
    samples = read_manifest(data)
    swapped = {s.id: reward_target(s) for s in samples}
    a, b = samples[0].id, samples[-1].id
    swapped[a], swapped[b] = swapped[b], swapped[a]
    monkeypatch.setattr(grpo, "reward_funcs", reward_functions(swapped, RewardConfig()))
    with pytest.raises(AssertionError, match="prompt row 0 .*: its own (answer|actions) score"):
        check_rewards(grpo, fresh_rows(grpo.train_dataset), targets)
