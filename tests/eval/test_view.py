"""The predictions viewer's page data and site: one entry per item with paths inside the site, bad input
(malformed lines, no images) still giving a page, the blind control's shown items, the run-level page."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from hatchvl.cli.main import app
from hatchvl.data.format import read_manifest
from hatchvl.eval.benchmarks.readers import read_benchmark
from hatchvl.eval.blind import blind_items
from hatchvl.eval.results import blind_sources
from hatchvl.eval.view.markdown import markdown_html
from hatchvl.eval.view.site import DATA_VARIABLE, write_view
from hatchvl.io import open_rgb
from hatchvl.pipeline.view import write_eval_views, write_run_view
from tests.eval.viewer_setup import HOSTILE, make_evaluation


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    return make_evaluation(tmp_path_factory.mktemp("viewer"))


def page_data(site) -> dict:
    text = (site / "data.js").read_text(encoding="utf-8")
    prefix = f"window.{DATA_VARIABLE} = "
    assert text.startswith(prefix) and text.endswith(";\n")
    return json.loads(text[len(prefix):-2])


def test_one_entry_per_item_with_paths_inside_the_site(evaluation, tmp_path):
    data, own, _ = evaluation
    site = write_view([own], tmp_path / "site")
    page = page_data(tmp_path / "site")
    samples = read_manifest(data, "test")
    assert site.items == len(page["items"]) == len(samples) and site.bytes > 0
    assert [e["id"] for e in page["items"]] == [s.id for s in samples]
    for entry, sample in zip(page["items"], samples, strict=True):
        assert entry["question"] == sample.question and len(entry["images"]) == sample.num_views
        paths = [i["src"] for i in entry["images"]] + [r["svg"] for r in entry["runs"] if r and "svg" in r]
        for path in paths:
            assert not path.startswith(("/", "file:")) and ".." not in path and (tmp_path / "site" / path).is_file()
    first = page["items"][0]["runs"][0]
    assert first["status"] == "correct" and first["reward"] > 0.9 and first["bin"] == "0.75–1"
    assert page["items"][-1]["runs"][0]["status"] == "missing"
    markers = [i["markers"] for e in page["items"] for i in e["images"] if "markers" in i]
    assert markers and all(0 <= x <= 100 and 0 <= y <= 100 for m in markers for x, y in m)
    made = sorted(p.stat().st_mtime_ns for p in (tmp_path / "site" / "thumbs").iterdir())
    write_view([own], tmp_path / "site")  # the thumbnails are made once
    assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "site" / "thumbs").iterdir()) == made


def test_model_output_stays_text(evaluation, tmp_path):
    _, own, _ = evaluation
    write_view([own], tmp_path / "site")
    page = page_data(tmp_path / "site")
    assert any(HOSTILE in (r["output"] or "") for e in page["items"] for r in e["runs"])
    assert "<script>" not in (tmp_path / "site" / "index.html").read_text().replace('<script src="', "")
    assert "textContent" in (tmp_path / "site" / "assets" / "app.js").read_text()
    html = markdown_html(f"# {HOSTILE} on **x**\n\n| model |\n|---|\n| [a](javascript:alert(1)) |")
    assert "<script>" not in html and "&lt;script&gt;" in html and "javascript:" not in html


def test_bad_lines_and_a_folder_without_images_still_give_a_page(evaluation, tmp_path):
    data, own, _ = evaluation
    broken = tmp_path / "broken"
    shutil.copytree(own, broken)
    lines = (broken / "scored.jsonl").read_text().splitlines()
    lines[2] = lines[2][:40]  # cut short
    lines[3] = json.dumps({"id": None, "output": "x"})
    (broken / "scored.jsonl").write_text("\n".join(lines) + "\n")
    results = json.loads((broken / "results.json").read_text()) | {"data": str(tmp_path / "elsewhere")}
    (broken / "results.json").write_text(json.dumps(results))
    site = write_view([broken])
    page = page_data(broken / "view")
    assert site.items == len(lines) - 2
    assert [b.split(":")[0] for b in page["runs"][0]["bad_lines"]] == ["line 3", "line 4"]
    assert all(e["images"] == [] and e["question"] is None for e in page["items"])
    assert "not found (give --data)" in page["problems"][0]

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    first = read_manifest(copy, "test")[0]
    (copy / first.images[1]).unlink()
    write_view([own], tmp_path / "site", data=copy)
    images = page_data(tmp_path / "site")["items"][0]["images"]
    assert "src" in images[0] and "not found" in images[1]["missing"]


def test_the_blind_control_shows_whose_images_it_was_shown(evaluation, tmp_path):
    data, own, blind = evaluation
    items = read_benchmark("synthetic", data).items
    swapped, _ = blind_items(items, seed=0, name="synthetic")
    sources = blind_sources([i.id for i in items], [len(i.images) for i in items], 0, "synthetic")
    by_id = {i.id: i for i in items}
    assert [by_id[s].images for s in sources] == [s.images for s in swapped]  # the swap eval bench makes

    write_view([own, blind], tmp_path / "site")
    page = page_data(tmp_path / "site")
    assert [r["label"] for r in page["runs"]] == ["tiny", "tiny (blind)"] and page["runs"][1]["blind"]
    assert "worked out again" in page["runs"][1]["notes"][0]  # written without images_from
    for entry, source in zip(page["items"], sources, strict=True):
        assert entry["runs"][1]["shown"]["id"] == source and entry["agree"] is True
    lines = (blind / "scored.jsonl").read_text().splitlines()
    recorded = [json.loads(line) | {"images_from": "other"} for line in lines]
    (tmp_path / "blind").mkdir()
    for name in ("results.json", "run.json"):
        shutil.copy(blind / name, tmp_path / "blind" / name)
    (tmp_path / "blind" / "scored.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recorded))
    write_view([tmp_path / "blind"], tmp_path / "site2")
    assert {e["runs"][0]["shown"]["id"] for e in page_data(tmp_path / "site2")["items"]} == {"other"}


def test_the_command_writes_the_site_and_refuses_two_benchmarks(evaluation, tmp_path):
    _, own, _ = evaluation
    result = CliRunner().invoke(app, ["eval", "view", str(own), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0 and "viewer: 12 items" in result.output
    assert (tmp_path / "site" / "index.html").is_file()
    other = tmp_path / "other"
    shutil.copytree(own, other)
    results = json.loads((other / "results.json").read_text()) | {"bench": "mmsi"}
    (other / "results.json").write_text(json.dumps(results))
    result = CliRunner().invoke(app, ["eval", "view", str(own), str(other), "--out", str(tmp_path / "two")])
    assert result.exit_code == 2 and "different benchmarks" in result.output
    result = CliRunner().invoke(app, ["eval", "view", str(tmp_path)])
    assert result.exit_code == 2 and "no scored.jsonl" in result.output


def test_the_run_page_links_each_viewer_and_shows_the_report(evaluation, tmp_path):
    _, own, blind = evaluation
    root = tmp_path / "run"
    for folder in (own, blind):
        shutil.copytree(folder, root / "eval" / "chain" / folder.name)
    (root / "report.md").write_text("# hatchvl run: demo\n\n| benchmark | accuracy |\n|---|---|\n"
                                    "| synthetic | 50.0% |\n\n## Plots\n\n![plots/curves.png](plots/curves.png)\n")
    write_eval_views(root / "eval" / "chain", "synthetic", log=lambda line: None)
    side = page_data(root / "eval" / "chain" / "synthetic" / "view")
    assert len(side["runs"]) == 2 and (root / "eval" / "chain" / "synthetic-blind" / "view" / "index.html").is_file()
    html = write_run_view(root).read_text()
    assert '<a href="../eval/chain/synthetic/view/index.html">' in html
    assert '<a href="../eval/chain/synthetic-blind/view/index.html">' in html
    assert "<td>synthetic</td><td>50.0%</td>" in html and '<img src="../plots/curves.png"' in html


def test_eval_bench_writes_the_viewer_unless_told_not_to(evaluation, tmp_path, monkeypatch):
    import hatchvl.eval.generate as generate

    _, own, _ = evaluation

    def scored(opts):  # stands in for the model run: the result folder it would write
        shutil.copytree(own, opts.out, dirs_exist_ok=True)
        return json.loads((own / "results.json").read_text()) | {"generated_rank0": 0, "generation_seconds_rank0": 0}

    monkeypatch.setattr(generate, "run_bench", scored)
    args = ["eval", "bench", "--model", "m", "--bench", "synthetic", "--data", str(tmp_path)]
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")]).exit_code == 0
    assert page_data(tmp_path / "a" / "view")["items"]
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b"), "--no-view"]).exit_code == 0
    assert (tmp_path / "b" / "results.json").is_file() and not (tmp_path / "b" / "view").exists()


def test_a_blind_bench_run_records_whose_images_each_item_was_shown(evaluation, tmp_path, monkeypatch):
    import hatchvl.eval.generate as generate

    data, _, _ = evaluation

    class Model:  # generation is not under test here: every output is "A"
        def to(self, device):
            return self

        def eval(self):
            return self

    seen = []
    monkeypatch.setattr(generate, "load_model_and_processor", lambda model, dtype: (Model(), None))
    monkeypatch.setattr(generate, "item_messages", lambda item, style: item.id)
    monkeypatch.setattr(generate, "generate_texts",
                        lambda model, processor, ids, images, n: seen.extend(images) or ["A"] * len(ids))
    out = tmp_path / "blind"
    generate.run_bench(generate.BenchOptions(model="m", bench="synthetic", data=str(data), out=str(out), blind=True))
    rows = [json.loads(line) for line in (out / "scored.jsonl").read_text().splitlines()]
    by_id = {item.id: item for item in read_benchmark("synthetic", data).items}
    shown = [[open_rgb(by_id[r["images_from"]].images[k]).tobytes() for k in range(len(views))]
             for r, views in zip(rows, seen, strict=True)]
    assert shown == [[view.tobytes() for view in views] for views in seen]
    assert any(r["images_from"] != r["id"] for r in rows)
