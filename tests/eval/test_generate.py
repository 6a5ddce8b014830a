"""`hatchvl eval bench` with a tiny random model: prompts, left-padded batches, predictions appended and
resumed, sharding over two torchrun processes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from hatchvl.cli.eval import app
from hatchvl.data.format import read_manifest, write_manifest
from hatchvl.eval.benchmarks.items import EvalItem
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.generate import drop_unfinished_line, generate_batch, merge_rank_shards, rank_shard
from hatchvl.eval.prompts import item_messages, official_text
from hatchvl.models.loading import load_model_and_processor
from hatchvl.models.tiny import init_tiny
from hatchvl.objectives.prompts import prompt_messages
from tests.eval.layouts import mmsi_row, spar_rows, write_mmsi_parquet, write_spar, write_synthetic

runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return init_tiny("qwen2_5_vl", tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def mmsi(tmp_path):
    rows = [mmsi_row(k, "MSR", "ABCD"[k % 4], views=2 + k % 3) for k in range(5)]
    return write_mmsi_parquet(tmp_path / "MMSI_Bench.parquet", rows)


def _bench(tiny, data, out, *extra):
    args = ["bench", "--model", str(tiny), "--bench", "mmsi", "--data", str(data), "--out", str(out),
            "--batch-size", "2", "--max-new-tokens", "4"]
    return runner.invoke(app, args + list(extra))


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_official_prompts(tmp_path):
    mv = read_benchmark("spar-mv", write_spar(tmp_path / "s.parquet", spar_rows()), images=False).items
    by_task = {item.category: item for item in mv}
    assert official_text(by_task["depth_prediction_oc_mv"]) == (
        "\nQ?\nPlease answer the question using a single word or phrase.")
    assert official_text(by_task["position_matching"]).startswith("\nQ?\nThe values represent the bounding box")
    assert official_text(by_task["position_matching"]).endswith(
        "origin of the image.\nAnswer with the option's letter from the given choices directly.")
    assert official_text(by_task["view_change_infer"]) == "\nQ?\n\n"
    item = EvalItem("1", (b"x", b"y"), "Q? A: l, B: r", "A", "MSR", "mmsi_letter", ("A", "B"))
    assert official_text(item) == ("Q? A: l, B: r\nAnswer with the option's letter from the given choices "
                                   "directly. Enclose the option's letter within ``.")
    official, hatch = item_messages(item, "official")[0]["content"], item_messages(item, "hatch")[0]["content"]
    assert [c["type"] for c in official] == ["image", "image", "text"]
    assert [c.get("text") for c in hatch[:4:2]] == ["Image 1:", "Image 2:"] and "<action>" in hatch[-1]["text"]
    with pytest.raises(ValueError, match="unknown prompt style"):
        item_messages(item, "cot")


def test_left_padded_batches_match_single_items(tiny, mmsi):
    model, processor = load_model_and_processor(tiny)
    items = read_benchmark("mmsi", mmsi).items[:3]  # 2, 3 and 4 images: prompts of different lengths
    batched = generate_batch(model, processor, items, "official", 6)
    single = [generate_batch(model, processor, [item], "official", 6)[0] for item in items]
    assert batched == single and len(batched) == 3


def test_bench_writes_predictions_and_resumes_without_repeating(tiny, mmsi, tmp_path):
    out = tmp_path / "run"
    first = _bench(tiny, mmsi, out, "--limit", "3")
    assert first.exit_code == 0, first.output
    assert [p["id"] for p in _lines(out / "predictions.jsonl")] == ["0", "1", "2"]
    results = json.loads((out / "results.json").read_text())
    assert (results["count"], results["missing"], results["generated_rank0"]) == (3, 0, 3)
    assert results["prompt_style"] == "official" and "limited to the first 3 items" in results["notes"]
    # an interrupted write: item 3 half-written; item 0's output replaced to see that it is kept, not redone
    lines = (out / "predictions.jsonl").read_text().splitlines()
    lines[0] = json.dumps({"id": "0", "output": "``A``"})
    (out / "predictions.jsonl").write_text("\n".join(lines) + '\n{"id": "3", "outp')
    second = _bench(tiny, mmsi, out)
    assert second.exit_code == 0, second.output
    predictions = _lines(out / "predictions.jsonl")
    assert [p["id"] for p in predictions] == ["0", "1", "2", "3", "4"]  # each item once
    results = json.loads((out / "results.json").read_text())
    assert (results["count"], results["generated_rank0"]) == (5, 2)
    assert any("dropped an unfinished last line" in n for n in results["notes"])
    scored = {r["id"]: r for r in _lines(out / "scored.jsonl")}
    assert scored["0"]["extracted"] == "A" and scored["0"]["score"] == 1.0
    changed = _bench(tiny, mmsi, out, "--prompt-style", "hatch")
    assert changed.exit_code == 2 and "holds a run with other settings (prompt_style: 'official'" in changed.output


def test_a_blind_control_has_its_own_label_and_compares_with_its_run(tiny, mmsi, tmp_path):
    own, blind = tmp_path / "own", tmp_path / "blind"
    assert _bench(tiny, mmsi, own, "--limit", "4").exit_code == 0
    result = _bench(tiny, mmsi, blind, "--limit", "4", "--blind")
    assert result.exit_code == 0, result.output
    assert json.loads((blind / "results.json").read_text())["label"] == "model (blind)"
    table = runner.invoke(app, ["compare", str(own), str(blind)])
    assert table.exit_code == 0, table.output
    rows = [line.split(" | ")[0] for line in table.output.splitlines()[2:] if line.startswith("| ")]
    assert rows == ["| model", "| model (blind)"]  # one row each, below the header


def test_drop_unfinished_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "1", "output": "A"}\n{"id": "2", "output": "B"}')  # complete, unterminated
    assert not drop_unfinished_line(path) and path.read_text().endswith('"B"}\n')
    path.write_text('{"id": "1", "output": "A"}\n{"id": "2", "out')
    assert drop_unfinished_line(path) and path.read_text() == '{"id": "1", "output": "A"}\n'


def test_two_torchrun_processes_share_the_items(tiny, mmsi, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(f"""
        from hatchvl.eval.generate import BenchOptions, run_bench
        run_bench(BenchOptions(model={str(tiny)!r}, bench="mmsi", data={str(mmsi)!r}, out={str(tmp_path / 'out')!r},
                               batch_size=2, max_new_tokens=4))
    """))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p["id"] for p in _lines(tmp_path / "out" / "predictions.jsonl")) == ["0", "1", "2", "3", "4"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (results["count"], results["missing"], results["settings"]["world_size"]) == (5, 0, 2)
    assert results["generated_rank0"] == 3  # items 0, 2, 4
    assert not list((tmp_path / "out").glob("predictions.rank*.jsonl")), "rank shards are merged, then deleted"


def test_rank_shards_merge_once_and_drop_a_torn_line(tmp_path):
    """What a sharded run killed mid-merge leaves: a shard whose lines are partly in predictions.jsonl already,
    and another cut short mid-line."""
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text('{"id": "0", "output": "A"}\n')
    rank_shard(predictions, 0).write_text('{"id": "0", "output": "A"}\n{"id": "2", "output": "C"}\n')
    rank_shard(predictions, 1).write_text('{"id": "1", "output": "B"}\n{"id": "3", "outp')
    assert merge_rank_shards(predictions) == 2
    assert [(p["id"], p["output"]) for p in _lines(predictions)] == [("0", "A"), ("2", "C"), ("1", "B")]
    assert not list(tmp_path.glob("predictions.rank*.jsonl"))
    assert merge_rank_shards(predictions) == 0


def test_synthetic_bench_uses_the_training_prompts(tiny, tmp_path):
    data = write_synthetic(tmp_path / "ds")
    item = read_benchmark("synthetic", data).items[0]
    assert item_messages(item, "hatch") == prompt_messages(item.sample, "action_answer")
    assert item_messages(item, "official") == prompt_messages(item.sample, "answer")
    result = runner.invoke(app, ["bench", "--model", str(tiny), "--bench", "synthetic", "--data", str(data),
                                 "--out", str(tmp_path / "out"), "--prompt-style", "hatch", "--max-new-tokens", "3"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["bench"] == "synthetic" and results["count"] == 2 and results["prompt_style"] == "hatch"
    assert set(results["categories"]) == {"camera_motion", "depth_distance"} and "viewchg_rule" not in results


def test_an_item_whose_image_cannot_be_decoded_stops_the_run_or_is_left_out(tiny, tmp_path):
    data = write_synthetic(tmp_path / "ds")
    samples = read_manifest(data, "test")
    write_manifest(data, "test", [*samples, dataclasses.replace(samples[0], id="s1-0", images=("images/2.png",))])
    (data / "images" / "2.png").write_bytes(b"")
    args = ["bench", "--model", str(tiny), "--bench", "synthetic", "--data", str(data), "--max-new-tokens", "3"]
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "refused")])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert f"split 'synthetic': sample 's1-0': {data / 'images' / '2.png'} is empty" in refused.stderr
    assert "--skip-bad" in refused.stderr and not (tmp_path / "refused").exists()  # refused before writing
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "out"), "--skip-bad"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["count"] == 2 and results["bad_items"] == [
        {"split": "synthetic", "id": "s1-0", "file": str(data / "images" / "2.png"), "reason": "is empty"}]
    assert any("left out" in note and "s1-0" in note for note in results["notes"])
    assert {line["id"] for line in _lines(tmp_path / "out" / "predictions.jsonl")} == {"s0-0", "s0-1"}
