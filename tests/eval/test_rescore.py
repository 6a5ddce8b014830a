"""`hatchvl eval rescore` and `hatchvl eval compare` end to end through the CLI, on fixture files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hatchvl.cli.eval import app
from hatchvl.eval.rescore import read_predictions
from tests.eval.layouts import (
    mindcube_record,
    mmsi_row,
    spar_rows,
    write_mindcube,
    write_mmsi_parquet,
    write_predictions,
    write_spar,
)

runner = CliRunner()

# Hand-scored (authors' rule): depth_prediction_oc_mv (1.0 + 0.1) / 2, position_matching (1 + 0) / 2,
# view_change_infer (1.0 + 0.82) / 2 -> average (55 + 50 + 91) / 3.
SPAR_OUTPUTS = {
    1: "The chair is about 2 meters away.", 2: "<think>far</think><answer>6</answer>", "5": "B",
    7: "move_right:1.0,rotate_left:30", 8: "move_forward:4.0", 3: "1.0", "x": "A",
}


def _rescore(tmp_path, *extra, outputs=SPAR_OUTPUTS, name="preds"):
    data = write_spar(tmp_path / "spar.parquet", spar_rows())
    predictions = write_predictions(tmp_path / f"{name}.jsonl", outputs)
    out = tmp_path / f"out-{name}"
    args = ["rescore", "--bench", "spar-mv", "--data", str(data), "--predictions", str(predictions), "--out", str(out)]
    return runner.invoke(app, args + list(extra)), out


def test_rescore_spar_mv_writes_the_result_folder(tmp_path):
    result, out = _rescore(tmp_path)
    assert result.exit_code == 0, result.output
    assert "spar-mv: 65.3% over 6 items (1 missing)" in result.output
    assert "2 predictions have ids that spar-mv does not have" in result.output
    results = json.loads((out / "results.json").read_text())
    assert results["bench"] == "spar-mv" and results["label"] == "preds" and results["viewchg_rule"] == "authors"
    assert (results["count"], results["missing"], results["unknown_ids"]) == (6, 1, 2)
    assert results["average"] == pytest.approx((55 + 50 + 91) / 3)
    assert results["categories"] == pytest.approx({"depth_prediction_oc_mv": 55, "position_matching": 50,
                                                   "view_change_infer": 91})
    assert results["levels"] == pytest.approx({"low": 55, "middle": 50, "high": None})
    scored = {r["id"]: r for r in map(json.loads, (out / "scored.jsonl").read_text().splitlines())}
    assert scored["2"]["output"] == "<think>far</think><answer>6</answer>" and scored["2"]["extracted"] == "6"
    assert scored["6"]["output"] is None and scored["6"]["score"] == 0.0
    markdown = (out / "results.md").read_text()
    assert "| HATCH-3B (paper) | 41.3 | 47.4 | 67.1 | 53.6 |" in markdown
    assert "| **preds** | 55.0 | 50.0 | – | 65.3 |" in markdown
    assert "ViewChg rule: authors" in markdown
    assert not list(out.glob(".*tmp*"))  # atomic writes leave no temp files


def test_rescore_with_the_vlmevalkit_viewchg_rule(tmp_path):
    result, out = _rescore(tmp_path, "--viewchg-rule", "vlmevalkit", "--label", "base")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["viewchg_rule"] == "vlmevalkit" and results["label"] == "base"
    assert results["categories"]["view_change_infer"] == pytest.approx(90)  # (1.0 + 0.8) / 2
    assert results["levels"]["middle"] == pytest.approx(70)  # ViewChg counted in middle


def test_a_line_that_is_not_json_names_its_line(tmp_path):
    predictions = write_predictions(tmp_path / "p.jsonl", {1: "2.0", 2: "4.0"})
    predictions.write_text(predictions.read_text() + '{"id": 5, "output": "B"\n{"id": 6, "output": "C"}\n')
    data = write_spar(tmp_path / "spar.parquet", spar_rows())
    args = ["rescore", "--bench", "spar-mv", "--data", str(data), "--predictions", str(predictions)]
    failed = runner.invoke(app, args + ["--out", str(tmp_path / "a")])
    assert failed.exit_code == 2 and "Error: p.jsonl line 3: not valid JSON" in failed.output
    assert not (tmp_path / "a").exists()
    skipped = runner.invoke(app, args + ["--out", str(tmp_path / "b"), "--skip-bad-lines"])
    assert skipped.exit_code == 0 and "skipped line 3: not valid JSON" in skipped.output
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert len(results["skipped_lines"]) == 1 and results["missing"] == 3  # items 5, 7, 8


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": 1, "output": "again"}', "line 2: id '1' repeats line 1"),
    ('{"id": 2, "output": null}', "line 2: 'output' must be a string, got NoneType"),
    ('{"id": true, "output": "B"}', "line 2: 'id' must be a string or an integer, got True"),
    ('["B"]', "line 2: expected a JSON object, got list"),
])
def test_bad_prediction_lines(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "output": "B"}\n' + line + "\n\n")
    with pytest.raises(ValueError, match=f"p.jsonl {message}"):
        read_predictions(path)
    assert read_predictions(path, skip_bad=True).outputs == {"1": "B"}


def test_unknown_benchmark_and_missing_files(tmp_path):
    result = runner.invoke(app, ["rescore", "--bench", "vsi", "--data", str(tmp_path), "--predictions",
                                 str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown benchmark 'vsi'" in result.output
    data = write_spar(tmp_path / "spar.parquet", spar_rows())
    result = runner.invoke(app, ["rescore", "--bench", "spar-mv", "--data", str(data),
                                 "--predictions", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "predictions file" in result.output and "not found" in result.output


def _mindcube_and_mmsi(tmp_path):
    """Result folders of label "m1" on MindCube-Tiny (2/3 right) and MMSI-Bench (1/2 right)."""
    write_mindcube(tmp_path / "mc", [mindcube_record("among_1", "B"), mindcube_record("around_2", "A"),
                                     mindcube_record("rotation_3", "C")])
    mmsi = write_mmsi_parquet(tmp_path / "mmsi.parquet", [mmsi_row(0, "MSR", "B"), mmsi_row(1, "Motion (Obj.)", "A")])
    runs = [("mindcube-tiny", tmp_path / "mc", {"among_1": "B. Plant", "around_2": "<answer>A</answer>"}),
            ("mmsi", mmsi, {0: "``B``", 1: "The answer is C"})]
    dirs = []
    for bench, data, outputs in runs:
        predictions = write_predictions(tmp_path / f"{bench}.jsonl", outputs)
        dirs.append(tmp_path / bench)
        result = runner.invoke(app, ["rescore", "--bench", bench, "--data", str(data), "--predictions",
                                     str(predictions), "--out", str(dirs[-1]), "--label", "m1"])
        assert result.exit_code == 0, result.output
    return dirs


def test_compare_puts_result_folders_in_one_table(tmp_path):
    dirs = _mindcube_and_mmsi(tmp_path)
    _, spar_m1 = _rescore(tmp_path, "--label", "m1", name="one")
    _, spar_m2 = _rescore(tmp_path, "--label", "m2", outputs={1: "2.0"}, name="two")
    markdown = (dirs[0] / "results.md").read_text()
    assert "| HATCH-3B (paper) | 65.6 | 31.0 | 50.2 | 50.2 |" in markdown
    assert "| **m1** | 100.0 | 0.0 | 100.0 | 66.7 |" in markdown  # around, rotation, among, over all items
    assert "| Positional | Attribute | Motion | MSR | Avg |" in (dirs[1] / "results.md").read_text()
    result = runner.invoke(app, ["compare", str(spar_m1), *map(str, dirs), str(spar_m2)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("| model | SPAR-Bench-MV Low |") and lines[0].endswith("| MMSI-Bench Avg | Overall |")
    overall = ((55 + 50 + 91) / 3 + 200 / 3 + 50) / 3
    m1 = "| m1 | 55.0 | 50.0 | – | 65.3 | 100.0 | 0.0 | 100.0 | 66.7 | – | – | 0.0 | 100.0 | 50.0 |"
    assert lines[2] == f"{m1} {overall:.1f} |"
    assert lines[3].startswith("| m2 | 50.0 |") and lines[3].endswith("| – | – |")
    assert "- m2, SPAR-Bench-MV: 5 of 6 items without a prediction (scored as wrong)" in result.output
    clash = runner.invoke(app, ["compare", str(spar_m1), str(spar_m1)])
    assert clash.exit_code == 2 and "both hold spar-mv results labelled 'm1'" in clash.output
    missing = runner.invoke(app, ["compare", str(tmp_path)])
    assert missing.exit_code == 2 and "no results.json" in missing.output
