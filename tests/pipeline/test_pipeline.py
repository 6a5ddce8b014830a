"""The whole pipeline on a micro recipe: every stage, the report, resuming, step selection, the ablation."""

import json
import os

import pytest
import yaml

from hatchvl.pipeline.ablate import run_ablation
from hatchvl.pipeline.recipe import load_recipe
from hatchvl.pipeline.run import run_pipeline
from hatchvl.pipeline.summaries import heldout_rewards

MICRO = {
    "name": "micro", "seed": 0,
    "data": {"synth": {"scenes": 4, "size": 64, "views": [2, 3], "samples_per_scene": 4, "split": [0.5, 0.25, 0.25]}},
    "model": {"init_tiny": {"family": "qwen2_5_vl", "tokenizer": "bpe", "bpe_vocab_size": 320}},
    "stages": {
        "pretrain_tower": {"max_steps": 2, "batch_size": 2, "dtype": "float32"},
        "pretrain": {"max_steps": 2, "batch_size": 2, "dtype": "float32", "sees_every": 2, "sees_split": "test",
                     "sees_limit": 4, "sees_max_new_tokens": 6},
        "pasta": {"max_steps": 2, "batch_size": 2, "dtype": "float32"},
        "qa_sft": {"max_steps": 2, "batch_size": 2, "dtype": "float32", "caption_share": 0.25, "sees_every": 1,
                   "sees_split": "train", "sees_limit": 4, "sees_max_new_tokens": 4},
        "actor_sft": {"max_steps": 2, "batch_size": 2, "fraction": 0.5, "dtype": "float32"},
        "grpo": {"max_steps": 2, "batch_size": 2, "num_generations": 2, "max_completion_length": 8,
                 "limit": 3, "dtype": "float32"},
    },
    "eval": {"probe": {"split": "test", "limit": 4}, "sampling": {"split": "val", "limit": 3, "max_new_tokens": 12},
             "captions": {"split": "test", "limit": 4, "max_new_tokens": 8},
             "benchmarks": [{"bench": "synthetic", "limit": 3, "max_new_tokens": 8}]},
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    path = root / "micro.yaml"
    path.write_text(yaml.safe_dump(MICRO))
    recipe = load_recipe(path, run_dir=str(root / "run"))
    log = []
    report = run_pipeline(recipe, log=log.append)
    return recipe, root / "run", report, log


def test_report_has_every_number(finished_run):
    _, run, report, _ = finished_run
    on_disk = json.loads((run / "report.json").read_text())
    assert on_disk["stages"].keys() == {"pretrain_tower", "pretrain", "pasta", "qa_sft", "actor_sft", "grpo"}
    for captions in (on_disk["stages"]["pretrain"], on_disk["captions"]):  # after pretraining and at the end
        assert captions["caption_views"] == 4 and captions["probe_sees_ci"] is None
        assert 0 <= captions["caption_precision_own"] <= 1 and -100 <= captions["probe_sees"] <= 100
    for name in ("pretrain_tower", "pasta"):  # the cross-view probe of both towers' training
        for key in ("probe_before", "probe_after", "probe_chance", "probe_same_position", "probe_colour"):
            assert 0.0 <= on_disk["stages"][name][key] <= 1.0, (name, key)
    pasta = on_disk["stages"]["pasta"]
    assert pasta["probe_chance"] == pytest.approx(1 / 16)
    assert 0.0 <= on_disk["stages"]["actor_sft"]["format_rate"] <= 1.0
    grpo = on_disk["stages"]["grpo"]
    assert grpo["steps"] == 2 and 0.0 <= grpo["reward_start"] <= 2.5 and 0.0 <= grpo["reward_end"] <= 2.5
    cold = on_disk["stages"]["actor_sft"]
    assert grpo["heldout_total_before"] == pytest.approx(
        0.5 * cold["format_rate"] + cold["sampled_action_reward"] + cold["sampled_answer_reward"])
    assert 0.0 <= grpo["heldout_total_after"] <= 2.5 and grpo["heldout_prompts"] == 3
    synthetic = on_disk["eval"]["synthetic"]
    assert synthetic["count"] == 3 and 0 <= synthetic["average"] <= 100 and 0 <= synthetic["blind_average"] <= 100
    # 3 items: the gap without an interval, and the reason
    assert -100 <= synthetic["sees"] <= 100 and synthetic["sees_ci"] is None
    assert "fewer than 50" in synthetic["sees_note"]
    assert set(synthetic["category_sees"]) == set(synthetic["categories"])
    for stage in ("actor_sft", "grpo"):  # sampled with own and swapped views, paired by prompt
        assert -1 <= on_disk["stages"][stage]["action_sees"] <= 1 and on_disk["stages"][stage]["action_sees_ci"] is None
    assert grpo["heldout_delta"] == pytest.approx(grpo["heldout_total_after"] - grpo["heldout_total_before"])
    for step in ("data", "model", "pretrain_tower", "pretrain", "pasta", "qa_sft", "actor_sft", "grpo", "eval"):
        assert on_disk["wall_s"][step] >= 0, step
    assert on_disk["stages"]["grpo"]["wall_s"] > 0
    text = (run / "report.md").read_text()
    assert "probe top-1" in text and "blind control" in text and "format compliance" in text
    assert "held-out prompts" in text and "over 2 steps on 3 training prompts" in text
    assert "sees [95% CI]" in text and "own − swapped views" in text and "caption probe on 4" in text
    # the sees curves during training: captions in pretraining, answers in QA fine-tuning
    assert [p["step"] for p in on_disk["stages"]["pretrain"]["sees_curve"]] == [0, 2]
    curve = on_disk["stages"]["qa_sft"]["sees_curve"]
    assert [p["step"] for p in curve] == [0, 1, 2] and curve[0]["low"] is None
    assert all(p["sees"] == pytest.approx(p["own"] - p["swapped"]) for p in curve)
    assert "## Sees during training" in text and "| qa_sft | 2 |" in text and "plots/sees.png" in text
    assert grpo["prompts"] == 3
    for line in text.splitlines():
        if line.startswith("![") and "(" in line:
            assert (run / line[line.index("(") + 1: -1]).is_file(), line


def test_heldout_rewards_weigh_the_parts_as_the_grpo_stage_did(tmp_path):
    before, after = tmp_path / "cold", tmp_path / "grpo"
    for folder, (fmt, act, ans) in ((before, (0.5, 0.2, 0.25)), (after, (1.0, 0.3, 0.5))):
        folder.mkdir()
        (folder / "sampling.json").write_text(json.dumps(
            {"count": 8, "format_rate": fmt, "action_reward": act, "answer_reward": ans}))
    (after / "stage.json").write_text(json.dumps({"options": {"w_format": 1.0, "w_action": 2.0, "w_answer": 0.0}}))
    got = heldout_rewards(after, before)
    assert got["heldout_total_before"] == pytest.approx(0.5 + 0.4)
    assert got["heldout_total_after"] == pytest.approx(1.0 + 0.6)
    assert got["heldout_answer_after"] == 0.5 and got["heldout_prompts"] == 8
    assert "heldout_total_before" not in heldout_rewards(after, None)


def test_each_stage_writes_its_own_folder_chained_by_name(finished_run):
    _, run, _, _ = finished_run
    names = ("pretrain_tower", "pretrain", "pasta", "qa_sft", "actor_sft", "grpo")
    chains = tuple("-".join(names[: k + 1]) for k in range(len(names)))
    for name in ("base", "data", *chains):
        assert (run / name).is_dir(), name
    for name in chains:
        assert (run / name / "stage.json").is_file() and (run / name / "model" / "config.json").is_file()
    stage = json.loads((run / chains[3] / "stage.json").read_text())
    assert stage["options"]["model"] == str(run / chains[2] / "model")  # qa_sft starts from PaStA's model
    captions = json.loads((run / chains[1] / "stage.json").read_text())["options"]
    assert captions["target"] == "caption" and captions["model"] == str(run / chains[0] / "model")


def test_a_rerun_skips_finished_steps_and_from_reruns_selected_ones(finished_run):
    recipe, run, _, _ = finished_run
    marks = {p: os.stat(p).st_mtime_ns for p in run.glob("*/stage.json")}
    log = []
    run_pipeline(recipe, log=log.append)
    assert not [line for line in log if line.startswith("== ")], log  # nothing trained again
    assert {p: os.stat(p).st_mtime_ns for p in run.glob("*/stage.json")} == marks
    (run / "eval" / "pretrain_tower-pretrain-pasta-qa_sft-actor_sft-grpo" / "synthetic-blind" / "results.json").unlink()
    log = []
    report = run_pipeline(recipe, start="eval", log=log.append)
    assert any("synthetic-blind" in line for line in log)
    assert "blind_average" in report["eval"]["synthetic"]


def test_the_ablation_reuses_shared_stages(finished_run):
    recipe, run, _, _ = finished_run
    before = {p: os.stat(p).st_mtime_ns for p in run.glob("*/stage.json")}
    table = run_ablation(recipe, log=lambda _: None)
    assert list(table) == ["base", "qa_only", "no_pasta", "no_actor", "full"]
    for name, mark in before.items():  # the main run's stages were reused, not retrained
        assert os.stat(name).st_mtime_ns == mark
    for name in ("qa_sft", "qa_sft-actor_sft", "qa_sft-actor_sft-grpo"):  # every variant keeps the pretraining
        assert (run / f"pretrain_tower-pretrain-{name}" / "stage.json").is_file()
    assert len(list(run.glob("*/stage.json"))) == 9  # 6 main + 3 without PaStA
    text = (run / "ablation.md").read_text()
    assert "| full |" in text and "| base |" in text
    for variant in table.values():
        assert "average" in variant["eval"]["synthetic"]


def test_a_recipe_edited_after_a_stage_ran_is_refused(finished_run, tmp_path):
    recipe, run, _, _ = finished_run
    edited = load_recipe(recipe.source, run_dir=str(run))
    edited.stages["qa_sft"] = {**edited.stages["qa_sft"], "learning_rate": 0.5}
    with pytest.raises(ValueError, match=r"stages\.qa_sft: .* other options \(learning_rate\)"):
        run_pipeline(edited, log=lambda _: None)


def test_a_seeded_ablation_reports_mean_and_std_over_seeds_on_one_dataset(tmp_path):
    from hatchvl.pipeline.ablate import run_seeded_ablation

    path = tmp_path / "micro.yaml"
    micro = {**MICRO, "stages": {k: v for k, v in MICRO["stages"].items() if not k.startswith("pretrain")}}
    path.write_text(yaml.safe_dump(micro))
    summary = run_seeded_ablation(load_recipe(path, run_dir=str(tmp_path / "run")), [0, 1], log=lambda _: None)
    assert list(summary) == ["base", "qa_only", "no_pasta", "no_actor", "full"]
    mean, std = summary["full"]["synthetic"]["average"]
    assert 0 <= mean <= 100 and std >= 0 and len(summary["full"]["synthetic"]["sees"]) == 2
    assert len(summary["full"]["action_sees"]) == 2 and "action_sees" not in summary["no_actor"]
    on_disk = json.loads((tmp_path / "run" / "ablation.json").read_text())
    assert on_disk["seeds"] == [0, 1] and set(on_disk["per_seed"]) == {"0", "1"}
    for seed in (0, 1):  # each seed trained its own models on the one shared dataset
        stage = json.loads((tmp_path / "run" / f"seed-{seed}" / "pasta" / "stage.json").read_text())
        assert stage["options"]["seed"] == seed and stage["options"]["data"] == str(tmp_path / "run" / "data")
    text = (tmp_path / "run" / "ablation.md").read_text()
    assert "Mean ± std over training seeds 0, 1" in text and "| full |" in text and "Wall time" in text
