"""Recipes are checked before any work starts, with errors that name the key."""

import pytest
import yaml

from hatchvl.config import build
from hatchvl.pipeline.recipe import load_recipe
from hatchvl.pipeline.run import select_steps
from hatchvl.pipeline.stages import STAGES

BASE = {
    "name": "t", "seed": 0,
    "data": {"synth": {"scenes": 2, "size": 64}},
    "model": {"init_tiny": {"family": "qwen2_5_vl"}},
    "stages": {"pasta": {"max_steps": 1}, "qa_sft": {"max_steps": 1}, "actor_sft": {"max_steps": 1, "fraction": 0.5},
               "grpo": {"max_steps": 1, "batch_size": 2, "num_generations": 2}},
    "eval": {"probe": {"split": "test"}, "benchmarks": [{"bench": "synthetic", "limit": 2}]},
}


def write(tmp_path, recipe):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def patched(**changes):
    recipe = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node = recipe
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    return recipe


def test_the_shipped_recipes_load(tmp_path):
    from pathlib import Path

    configs = Path(__file__).parents[2] / "configs"
    tiny = load_recipe(configs / "tiny-cpu.yaml")
    assert tiny.enabled() == ["pretrain_tower", "pretrain", "pasta", "qa_sft", "actor_sft", "grpo"]
    assert tiny.model.init_tiny.family == "qwen2_5_vl" and tiny.data.synth is not None
    sees = load_recipe(configs / "tiny-sees.yaml")
    assert sees.enabled() == tiny.enabled() and sees.stages["pretrain"]["sees_every"] > 0
    # the paper recipe points at local files that do not exist here: that must be the complaint
    with pytest.raises(ValueError, match=r"data\.path"):
        load_recipe(configs / "qwen2.5-vl-3b.yaml")
    # ... but every stage's options in it must build (a typo there would only show on the cluster)
    paper = yaml.safe_load((configs / "qwen2.5-vl-3b.yaml").read_text())
    for row in STAGES:
        if row.name in paper["stages"]:
            values = {**paper["stages"][row.name], **row.fixed, "model": "m", "data": "d", "out": "o"}
            build(row.options, values, where=f"stages.{row.name}")
    assert paper["stages"]["grpo"]["loss_type"] == "grpo"


def test_a_good_recipe_loads_and_run_dir_can_be_overridden(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE), run_dir=str(tmp_path / "run"))
    assert recipe.run_dir == str(tmp_path / "run") and recipe.enabled()[0] == "pasta"


@pytest.mark.parametrize("changes, message", [
    ({"stages.grpo.learning_rat": 1e-5},
     r"stages\.grpo: unknown key 'learning_rat' \(did you mean 'learning_rate'\?\)"),
    ({"stages.qa_sft.batch_size": "four"}, r"stages\.qa_sft\.batch_size expects int"),
    ({"stages.warmup": {}}, r"stages: unknown key 'warmup'"),
    ({"data.synth.scenes_count": 3}, r"data\.synth: unknown key 'scenes_count'"),
    ({"data.synth.size": 8}, "too small"),
    ({"data": {"path": "/nonexistent/data"}}, r"data\.path: /nonexistent/data is not a folder"),
    ({"model": {"path": "/nonexistent/model"}}, r"model\.path: /nonexistent/model is not a checkpoint"),
    ({"model": {}}, "model needs exactly one of"),
    ({"stages.actor_sft": None}, "stages.grpo needs stages.actor_sft"),
    ({"stages.grpo.batch_size": 3}, "multiple of num_generations"),
    ({"stages.grpo.batch_size": 4, "stages.grpo.limit": 1}, r"limit \(1\) is below the prompts of one step"),
    ({"stages.qa_sft.target": "action_answer"}, r"stages\.qa_sft\.target must be 'answer'"),
    ({"stages.pasta.out": "x"}, r"stages\.pasta\.out is set by the pipeline"),
    ({"eval.benchmarks": [{"bench": "synthetic", "temperature": 1}]},
     r"eval\.benchmarks\[0\]: unknown key 'temperature'"),
    ({"eval.benchmarks": [{"bench": "synthetic", "limit": "ten"}]}, r"eval\.benchmarks\[0\]\.limit expects int"),
    ({"data.synth.views": [2]}, r"data\.synth\.views expects 2 values"),
    ({"model.init_tiny.size": {"text_dim": 30}}, "model.init_tiny.size: text_dim / text_heads must be a multiple of 4"),
    ({"evals": {}}, r"Recipe: unknown key 'evals'"),
])
def test_bad_recipes_fail_naming_the_key(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        load_recipe(write(tmp_path, patched(**changes)))


def test_step_selection():
    assert select_steps(None, None) == ["data", "model", "pretrain_tower", "pretrain", "pasta", "qa_sft", "actor_sft",
                                       "grpo", "eval"]
    assert select_steps(None, "grpo") == ["grpo", "eval"]
    assert select_steps(["eval", "pasta"], None) == ["pasta", "eval"]
    with pytest.raises(ValueError, match="unknown step 'rl'"):
        select_steps(["rl"], None)
    with pytest.raises(ValueError, match="not both"):
        select_steps(["eval"], "grpo")


def test_dotted_overrides_change_any_key_before_it_is_checked(tmp_path):
    path = write(tmp_path, BASE)
    recipe = load_recipe(path, overrides={"stages.grpo.learning_rate": 1e-4, "data.synth.scenes": 3, "seed": 7,
                                          "eval.benchmarks.0.limit": 5, "stages.grpo": None})
    assert recipe.enabled() == ["pasta", "qa_sft", "actor_sft"] and recipe.seed == 7
    assert recipe.data.synth.scenes == 3 and recipe.data.synth.seed == 7  # the generator takes the recipe's seed
    assert recipe.eval.benchmarks[0].limit == 5
    assert load_recipe(path, overrides={"stages.grpo.learning_rate": 1e-4}).stages["grpo"]["learning_rate"] == 1e-4
    with pytest.raises(ValueError, match=r"stages\.grpo: unknown key 'lr'"):
        load_recipe(path, overrides={"stages.grpo.lr": 1e-4})
    with pytest.raises(ValueError, match=r"override seed\.x: seed is a value"):
        load_recipe(path, overrides={"seed.x": 1})
    assert yaml.safe_load(path.read_text()) == BASE  # the file itself is not touched


def test_pretraining_needs_a_tiny_model_and_a_dataset_with_captions(tmp_path):
    from hatchvl.data.format import encode_sample

    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"stages\.pretrain is for a tiny model built from nothing"):
        load_recipe(write(tmp_path, patched(**{"model": {"path": str(checkpoint)}, "stages.pretrain": {}})))
    data = tmp_path / "data"
    data.mkdir()
    from hatchvl.data.format import Sample

    bare = Sample(id="a", scene_id="s", category="c", question="q?", options=("x", "y"), answer="A",
                  answer_type="choice", images=("a.png",))
    (data / "train.jsonl").write_text(encode_sample(bare) + "\n")
    (data / "a.png").write_bytes(b"")
    with pytest.raises(ValueError, match=rf"stages\.pretrain needs captions, but the dataset {data} has none"):
        load_recipe(write(tmp_path, patched(**{"data": {"path": str(data)}, "stages.pretrain": {}})))
    with pytest.raises(ValueError, match=r"eval\.captions needs captions"):
        load_recipe(write(tmp_path, patched(**{"data": {"path": str(data)}, "eval.captions": {"limit": 10}})))


def test_skip_bad_of_a_recipe_reaches_every_stage_and_the_evaluations(tmp_path, monkeypatch):
    from hatchvl.pipeline.run import Runner

    recipe = load_recipe(write(tmp_path, patched(skip_bad=True, **{"stages.qa_sft.skip_bad": False})),
                         run_dir=str(tmp_path / "run"))
    runner, chain = Runner(recipe), []
    for stage in STAGES:
        if stage.name in recipe.enabled():
            assert runner.stage_options(stage, chain).skip_bad is (stage.name != "qa_sft"), stage.name
            chain.append(stage.name)
    benched = []
    monkeypatch.setattr("hatchvl.eval.generate.run_bench", lambda opts: benched.append(opts) or {"average": 0.0})
    monkeypatch.setattr("hatchvl.pipeline.run.write_eval_views", lambda *args: None)  # no predictions were written
    runner.evaluate(chain)
    assert benched and all(opts.skip_bad for opts in benched)


def test_the_report_lists_skipped_samples_only_when_there_are_some(tmp_path):
    from hatchvl.io import write_json
    from hatchvl.pipeline.recipe import Layout
    from hatchvl.pipeline.report import collect, skipped_section

    recipe = load_recipe(write(tmp_path, BASE), run_dir=str(tmp_path / "run"))
    layout, chain = Layout(tmp_path / "run"), ["qa_sft"]
    bad = {"split": "train", "id": "s3", "file": "scenes/a/view01.png", "reason": "is empty"}
    write_json(layout.stage_dir(chain) / "stage.json", {"options": {}, "metrics": {"bad_samples": [bad]}})
    item = {"split": "synthetic", "id": "t7", "file": "image 0 (held in the benchmark file)", "reason": "is empty"}
    write_json(layout.eval_dir(chain) / "synthetic" / "results.json",
               {"average": 50.0, "count": 2, "categories": {}, "bad_items": [item]})
    report = collect(recipe, layout, chain)
    assert report["stages"]["qa_sft"]["bad_samples"] == [bad] and report["eval"]["synthetic"]["bad_items"] == [item]
    lines = skipped_section(report)
    assert lines[1] == "## Skipped samples"
    assert "| qa_sft | train | s3 | scenes/a/view01.png | is empty |" in lines
    assert "| eval synthetic | synthetic | t7 | image 0 (held in the benchmark file) | is empty |" in lines
    for entry in (report["stages"]["qa_sft"], report["eval"]["synthetic"]):
        entry.pop("bad_samples", None), entry.pop("bad_items", None)
    assert skipped_section(report) == []
